use std::collections::HashMap;

use songrec_catalog::{Album, Artist, Credit, CreditRole, Song};

use super::*;
use crate::features;
use crate::params::TrainParams;

/// Two scenes of six artists with four songs each; every song has one producer from its
/// scene's pool of five, so many same-scene pairs share only their artists' circles.
fn catalogue() -> Vec<Song> {
    let artist = |id: u64| Artist {
        id,
        name: format!("A{id}"),
    };
    let mut songs = Vec::new();
    for scene in 0..2u64 {
        for a in 0..6u64 {
            for s in 0..4u64 {
                let i = scene * 100 + a * 10 + s;
                songs.push(Song {
                    credits: std::iter::once(Credit {
                        role: CreditRole::Producer,
                        artist: artist(2000 + scene * 10 + (a * 4 + s * 3) % 5),
                    })
                    // A few writers working across both scenes, some much busier than others.
                    .chain((s != 3).then(|| Credit {
                        role: CreditRole::Writer,
                        artist: artist(3000 + (a * s) % 4),
                    }))
                    .collect(),
                    album: (s < 2).then(|| Album {
                        id: i / 2,
                        name: String::new(),
                    }),
                    release_year: Some(2000 + (i % 13) as i32),
                    language: Some(["en", "fr"][(i % 2) as usize].into()),
                    pageviews: (i % 9 != 0).then_some(i * 31 % 700),
                    ..Song::new(i, format!("S{i}"), artist(1000 + scene * 10 + a))
                });
            }
        }
    }
    songs
}

/// Each song's whole vector as a map, circle included, context excluded.
fn dense(v: &Vectors, i: usize) -> HashMap<u32, f32> {
    let (tokens, weights, _) = v.song(i);
    let mut m: HashMap<u32, f32> = tokens
        .iter()
        .copied()
        .zip(weights.iter().copied())
        .collect();
    let (ct, cw) = v.circle(i);
    for (t, w) in ct.iter().zip(cw) {
        m.insert(*t, w * v.inv_norm[i]);
    }
    m
}

#[test]
fn neighbours_found_through_the_index_are_the_exact_best_by_cosine() {
    let songs = catalogue();
    let refs: Vec<&Song> = songs.iter().collect();
    let params = TrainParams::default();
    let v = features::build(&refs, &params);
    let artists: Vec<u64> = songs.iter().map(|s| s.primary_artist.id).collect();
    let views: Vec<Option<u64>> = songs.iter().map(|s| s.pageviews).collect();
    let searcher = Searcher::new(&v, artists, &views, None, 1.0);
    let vectors: Vec<HashMap<u32, f32>> = (0..v.n).map(|i| dense(&v, i)).collect();
    let mut scratch = Scratch::new(&v);
    for (k, q) in [3, 8, 15, 30]
        .into_iter()
        .flat_map(|k| (0..v.n).map(move |q| (k, q)))
    {
        let hits = searcher.search(&Query::of_song(&v, q), k, &mut scratch);
        assert_eq!(hits.len(), k);
        let cosine = |c: usize| -> Option<f32> {
            let shared: Vec<f32> = vectors[q]
                .iter()
                .filter_map(|(t, w)| vectors[c].get(t).map(|x| x * w))
                .collect();
            (!shared.is_empty())
                .then(|| shared.iter().sum::<f32>() + v.context[q].dot(&v.context[c]))
        };
        let mut brute: Vec<(u32, f32)> = (0..v.n)
            .filter(|&c| c != q)
            .filter_map(|c| cosine(c).map(|s| (c as u32, s)))
            .collect();
        brute.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        brute.truncate(k);
        for (hit, want) in hits.iter().zip(&brute) {
            assert!(
                (hit.1 - want.1).abs() < 1e-5,
                "query {q}: got {hits:?}, brute force {brute:?}"
            );
        }
    }
}

#[test]
fn on_the_approximate_path_every_score_is_still_the_exact_cosine() {
    let songs = catalogue();
    let refs: Vec<&Song> = songs.iter().collect();
    let v = features::build(&refs, &TrainParams::default());
    let artists: Vec<u64> = songs.iter().map(|s| s.primary_artist.id).collect();
    let views: Vec<Option<u64>> = songs.iter().map(|s| s.pageviews).collect();
    let vectors: Vec<HashMap<u32, f32>> = (0..v.n).map(|i| dense(&v, i)).collect();
    let mut scratch = Scratch::new(&v);
    let mut checked = 0;
    // Caps that skip some credits, and some circle tokens while others are traversed.
    for cap in [4, 30] {
        let searcher = Searcher::new(&v, artists.clone(), &views, Some(cap), 1.0);
        assert!(searcher.traverse.iter().any(|t| !t));
        for q in 0..v.n {
            for hit in searcher.search(&Query::of_song(&v, q), 10, &mut scratch) {
                if hit.2 == reason::FALLBACK {
                    continue;
                }
                let c = hit.0 as usize;
                let cosine: f32 = vectors[q]
                    .iter()
                    .filter_map(|(t, w)| vectors[c].get(t).map(|x| x * w))
                    .sum::<f32>()
                    + v.context[q].dot(&v.context[c]);
                assert!(
                    (hit.1 - cosine).abs() < 1e-5,
                    "cap {cap}, query {q}, song {c}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > v.n * 10, "only {checked} scores checked");
}
