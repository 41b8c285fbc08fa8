//! Fetch benchmark against the fake Genius (in this process, on 127.0.0.1):
//!
//! 1. songs stored per second with the rate limit lifted (the client's own overhead: HTTP,
//!    JSON, conversion, SQLite writes), at two concurrencies, and the original fetcher's
//!    sequential loop (`benches/original_fetch.py`) on the same songs when python3 with
//!    `requests` is available;
//! 2. the request rate the fake server sees at `--rate 5`.
//!
//! `cargo run --release -p songrec-genius --example fetch_bench -- [SONGS] [RUNS]`

#[path = "../tests/support/fake_genius.rs"]
mod fake_genius;

use std::time::{Duration, Instant};

use fake_genius::FakeGenius;
use secrecy::SecretString;
use songrec_genius::fetch::{FetchOptions, Fetcher, NoProgress};
use songrec_genius::{ClientConfig, GeniusClient};
use songrec_store::{Store, StoreConfig};

const TOKEN: &str = "bench-token";
const ARTIST_ID: u64 = 16775;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let songs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);

    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(ARTIST_ID, "Sia", songs, 1_000_000);
    println!("fake Genius: {songs} songs in one catalogue, pages of 50, {runs} runs each\n");

    for concurrency in [4, 16] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            let (stored, elapsed) = fetch_into_fresh_store(&fake, None, concurrency, None).await;
            assert_eq!(stored, songs as u64);
            rates.push(stored as f64 / elapsed.as_secs_f64());
        }
        println!(
            "no rate limit, concurrency {concurrency:>2}: median {:>7.0} songs stored/s  (runs: {})",
            median(&mut rates),
            list(&rates)
        );
    }
    if let Some(rates) = original_loop(&fake, songs, runs) {
        let mut rates = rates;
        println!(
            "original sequential loop (Python):  median {:>7.0} songs stored/s  (runs: {})",
            median(&mut rates),
            list(&rates)
        );
    }

    println!();
    let rate_songs = 60;
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(ARTIST_ID, "Sia", rate_songs, 1_000_000);
    for run in 1..=runs.min(3) {
        let before = fake.seen().len();
        let (stored, elapsed) = fetch_into_fresh_store(&fake, Some(5.0), 4, Some(rate_songs)).await;
        let seen = &fake.seen()[before..];
        let span = seen.last().unwrap().at.duration_since(seen[0].at);
        let achieved = (seen.len() - 1) as f64 / span.as_secs_f64();
        let window = max_within(seen.iter().map(|s| s.at).collect(), Duration::from_secs(1));
        println!(
            "--rate 5, run {run}: {} requests ({stored} songs) in {:.2} s: {achieved:.3} requests/s \
             between first and last, at most {window} in any 1 s window",
            seen.len(),
            elapsed.as_secs_f64()
        );
    }
}

async fn fetch_into_fresh_store(
    fake: &FakeGenius,
    rate: Option<f64>,
    concurrency: usize,
    max_songs: Option<usize>,
) -> (u64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&StoreConfig::sqlite(&dir.path().join("songrec.db")))
        .await
        .unwrap();
    let mut config = ClientConfig::new(fake.url.parse().unwrap(), SecretString::from(TOKEN));
    config.rate = rate;
    config.concurrency = concurrency;
    let client = GeniusClient::new(config).unwrap();
    let options = FetchOptions {
        max_songs,
        concurrency,
        ..FetchOptions::default()
    };
    let fetcher = Fetcher::new(&client, &store, options, &NoProgress);
    let started = Instant::now();
    let (report, result) = fetcher.fetch_artist("Sia").await;
    let elapsed = started.elapsed();
    result.unwrap();
    store.close().await;
    (report.summary.songs_stored, elapsed)
}

/// Runs the original-style Python loop `runs` times; `None` when python3 or requests is missing.
fn original_loop(fake: &FakeGenius, songs: usize, runs: usize) -> Option<Vec<f64>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/original_fetch.py");
    let mut rates = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg(&fake.url)
            .arg(TOKEN)
            .arg(ARTIST_ID.to_string())
            .arg(dir.path().join("original.db"))
            .output()
            .ok()?;
        let elapsed = started.elapsed();
        if !out.status.success() {
            eprintln!(
                "original loop skipped: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return None;
        }
        let stored: usize = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        assert_eq!(stored, songs);
        rates.push(stored as f64 / elapsed.as_secs_f64());
    }
    Some(rates)
}

fn max_within(times: Vec<Instant>, window: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) > window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}
