//! Trains on a JSONL catalogue (one Genius song object per line) and scores the model against
//! the generator's truth file: the quality and speed figures of docs/BENCHMARKS.md.
//!
//! `cargo run --release -p songrec-model --example train_jsonl -- SONGS.jsonl [TRUTH.tsv]
//!  [--out MODEL] [name=value ...]`

use std::io::BufRead;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    if std::env::args().nth(1).as_deref() == Some("--load") {
        return load_only(
            &std::env::args()
                .nth(2)
                .ok_or("usage: train_jsonl --load MODEL")?,
        );
    }
    let catalogue = args
        .next()
        .ok_or("usage: train_jsonl SONGS.jsonl [TRUTH.tsv] [--out MODEL] [name=value ...]")?;
    let mut truth = None;
    let mut out = None;
    let mut params = songrec_model::TrainParams::default();
    while let Some(arg) = args.next() {
        if arg == "--out" {
            out = args.next();
        } else if let Some((name, value)) = arg.split_once('=') {
            params.set(name, value)?;
        } else {
            truth = Some(arg);
        }
    }
    let t = Instant::now();
    let reader = std::io::BufReader::new(std::fs::File::open(&catalogue)?);
    let mut songs = Vec::new();
    for line in reader.lines() {
        let value: serde_json::Value = serde_json::from_str(&line?)?;
        songs.push(parse_song(&value).ok_or("a line is not a song object")?);
    }
    eprintln!(
        "parsed {} songs in {:.2}s",
        songs.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let trained = songrec_model::train(&songs, &params)?;
    let train_seconds = t.elapsed().as_secs_f64();
    drop(songs);
    let model = trained.model;
    let mut report = serde_json::json!({
        "songs": model.len(),
        "train_seconds": train_seconds,
        "timings": trained.timings,
        "metrics": model.info().metrics,
    });
    if let Some(truth) = truth {
        let truth = songrec_model::parse_truth(&std::fs::read_to_string(truth)?)?;
        let ids: Vec<u64> = (0..model.len())
            .map(|i| model.song(i).map_or(0, |s| s.id))
            .collect();
        let tops: Vec<&[u32]> = (0..model.len())
            .map(|i| {
                model
                    .neighbour_indices(i)
                    .map_or(&[][..], |r| &r[..r.len().min(10)])
            })
            .collect();
        report["scene"] = serde_json::to_value(songrec_model::scene_report(&ids, &tops, &truth))?;
    }
    if let Some(out) = out {
        let t = Instant::now();
        let checksum = model.save(std::path::Path::new(&out))?;
        report["save_seconds"] = serde_json::json!(t.elapsed().as_secs_f64());
        report["checksum"] = serde_json::json!(checksum);
        drop(model);
        let t = Instant::now();
        let loaded = songrec_model::Model::load(std::path::Path::new(&out))?;
        report["load_seconds"] = serde_json::json!(t.elapsed().as_secs_f64());
        report["file_bytes"] = serde_json::json!(std::fs::metadata(&out)?.len());
        let r = loaded.recommend(0, 5)?;
        report["example"] = serde_json::to_value(&r)?;
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Loads a model file and reports the time and the process memory it takes (what serving pays).
fn load_only(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let model = songrec_model::Model::load(std::path::Path::new(path))?;
    let seconds = t.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.trim_start_matches(name).trim().to_string())
    };
    let t = Instant::now();
    let mut served = 0usize;
    for i in (0..model.len()).step_by(97) {
        served += model.recommend(i, 10)?.len();
    }
    let per_query_us = t.elapsed().as_secs_f64() * 1e6 / (served / 10).max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "songs": model.len(),
            "load_seconds": seconds,
            "vm_rss": field("VmRSS:"),
            "vm_hwm": field("VmHWM:"),
            "recommend_k10_us": per_query_us,
        })
    );
    Ok(())
}

/// The Genius song fields the model uses (a small reader, so the example stands alone).
fn parse_song(v: &serde_json::Value) -> Option<songrec_catalog::Song> {
    use songrec_catalog::{Album, Artist, Credit, CreditRole, Relationship, Song};
    let artist = |a: &serde_json::Value| -> Option<Artist> {
        Some(Artist {
            id: a.get("id")?.as_u64()?,
            name: a.get("name")?.as_str()?.to_string(),
        })
    };
    let mut credits = Vec::new();
    for (field, role) in [
        ("featured_artists", CreditRole::Featured),
        ("producer_artists", CreditRole::Producer),
        ("writer_artists", CreditRole::Writer),
    ] {
        for a in v
            .get(field)
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            credits.push(Credit {
                role,
                artist: artist(a)?,
            });
        }
    }
    let mut relationships = Vec::new();
    for rel in v
        .get("song_relationships")
        .and_then(|x| x.as_array())
        .into_iter()
        .flatten()
    {
        let kind = rel
            .get("relationship_type")
            .and_then(|k| k.as_str())
            .unwrap_or("related");
        for s in rel
            .get("songs")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(id) = s.get("id").and_then(|i| i.as_u64()) {
                relationships.push(Relationship {
                    kind: kind.to_string(),
                    song_id: id,
                });
            }
        }
    }
    let text = |x: Option<&serde_json::Value>| x.and_then(|x| x.as_str()).map(str::to_string);
    Some(Song {
        credits,
        album: v.get("album").and_then(|a| {
            Some(Album {
                id: a.get("id")?.as_u64()?,
                name: text(a.get("name"))?,
            })
        }),
        release_date: text(v.get("release_date")),
        release_year: v
            .pointer("/release_date_components/year")
            .and_then(|y| y.as_i64())
            .map(|y| y as i32),
        language: text(v.get("language")),
        pageviews: v.pointer("/stats/pageviews").and_then(|p| p.as_u64()),
        relationships,
        description: text(v.pointer("/description/plain")).filter(|d| d != "?"),
        url: text(v.get("url")),
        ..Song::new(
            v.get("id")?.as_u64()?,
            text(v.get("title"))?,
            artist(v.get("primary_artist")?)?,
        )
    })
}
