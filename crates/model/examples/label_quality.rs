//! Trains on real Genius song objects (JSON Lines, as `xz -dc dev_songs.jsonl.xz` gives them)
//! in memory and scores the model against a labels file: a quick loop for feature work. The
//! figures in docs go through `songrec import`, `songrec train` and `songrec eval --labels`.
//!
//! `cargo run --release -p songrec-model --example label_quality -- SONGS.jsonl LABELS.tsv
//!  [name=value ...] [--show N]`

use std::io::BufRead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (songs_path, labels_path) = match (args.first(), args.get(1)) {
        (Some(s), Some(l)) => (s, l),
        _ => return Err("usage: label_quality SONGS.jsonl LABELS.tsv [name=value ...]".into()),
    };
    let mut params = songrec_model::TrainParams::default();
    let mut show = 0usize;
    let mut dump: Option<String> = None;
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        if arg == "--dump" {
            dump = Some(rest.next().ok_or("--dump FILE")?.clone());
        } else if arg == "--show" {
            show = rest.next().ok_or("--show N")?.parse()?;
        } else if let Some((name, value)) = arg.split_once('=') {
            params.set(name, value)?;
        }
    }
    let reader = std::io::BufReader::new(std::fs::File::open(songs_path)?);
    let mut songs = Vec::new();
    for line in reader.lines() {
        let value: serde_json::Value = serde_json::from_str(&line?)?;
        songs.push(songrec_genius::parse_song_value(value)?);
    }
    let t = std::time::Instant::now();
    let trained = songrec_model::train(&songs, &params)?;
    let seconds = t.elapsed().as_secs_f64();
    let model = trained.model;
    let labels = songrec_model::parse_labels(&std::fs::read_to_string(labels_path)?)?;
    let ids: Vec<u64> = (0..model.len())
        .map(|i| model.song(i).map_or(0, |s| s.id))
        .collect();
    let tops: Vec<&[u32]> = (0..model.len())
        .map(|i| {
            model
                .neighbour_indices(i)
                .map_or(&[][..], |row| &row[..row.len().min(10)])
        })
        .collect();
    let report = songrec_model::label_report(&ids, &tops, &labels, None);
    println!(
        "{}",
        serde_json::json!({
            "report": report,
            "heldout_hit_rate_at_10": model.info().metrics.get("heldout_hit_rate_at_10"),
            "train_seconds": seconds,
        })
    );
    if let Some(path) = dump {
        let mut out = String::new();
        for (q, top) in tops.iter().enumerate() {
            let ids: Vec<String> = top.iter().map(|&c| ids[c as usize].to_string()).collect();
            out.push_str(&format!("{}\t{}\n", ids_of(&model, q), ids.join(",")));
        }
        std::fs::write(path, out)?;
    }
    for i in (0..model.len())
        .step_by((model.len() / show.max(1)).max(1))
        .take(show)
    {
        let song = model.song(i).ok_or("song")?;
        println!("\n{} — {}", song.title, song.artist);
        for rec in model.recommend(i, 10.min(model.max_k()))? {
            let label = labels.rows.get(&rec.song.id).map(|r| r.scene);
            println!(
                "  {:.3} {} — {} [{:?}] {}",
                rec.score,
                rec.song.title,
                rec.song.artist,
                label,
                rec.reasons.join("; ")
            );
        }
    }
    Ok(())
}

fn ids_of(model: &songrec_model::Model, i: usize) -> u64 {
    model.song(i).map_or(0, |s| s.id)
}
