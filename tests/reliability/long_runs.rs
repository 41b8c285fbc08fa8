//! Long runs through the real binary, short by default so CI runs them, full length by setting
//! their environment (docs/RELIABILITY.md records the full runs):
//!
//! - the soak: `songrec serve` under a fixed request rate while the champion changes every
//!   `SONGREC_SOAK_SWAP_SECS`, for `SONGREC_SOAK_SECS` in all: zero failed requests, every swap
//!   served, resident memory at the end within 10 % of the first swap's, p99 per window printed;
//! - the long `run`: `songrec run --every SONGREC_LONG_RUN_EVERY` on PostgreSQL against a fake
//!   Genius that throws 429 and 5xx storms, for `SONGREC_LONG_RUN_SECS`: every cycle recorded,
//!   open files, database connections and disk use flat after the first cycles.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::fake_genius::{FakeGenius, Fault};
use crate::support::{Running, TestDatabase, free_port, generate, run, songrec, text};

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A line of `/proc/PID/status` in KiB: `VmRSS` (resident), `RssAnon` (the process's own
/// memory: heap, stacks) or `RssFile` (mapped files, such as the served model).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn disk_use(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_use(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn wait_ready(base: &str, child: &mut Running) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/ready")).await
            && r.status().is_success()
        {
            return;
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("songrec exited early: {status}");
        }
        assert!(Instant::now() < until, "{base} never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn champion_version(base: &str) -> Option<u64> {
    let body: serde_json::Value = reqwest::get(format!("{base}/model"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["version"].as_u64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// One swap window of the soak: what the load saw and what the server held.
struct Window {
    requests: usize,
    p50: Duration,
    p99: Duration,
    rss_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    files: usize,
    version: Option<u64>,
}

/// Requests `/recommend/{i}?k=5` at `rate` per second (open loop: a slow answer does not slow
/// the next request down) until `stop`; returns each latency, and counts failures.
async fn load(
    base: String,
    rate: u64,
    songs: u64,
    until: Instant,
    failures: Arc<AtomicU64>,
    failure_text: Arc<std::sync::Mutex<Vec<String>>>,
) -> Vec<Duration> {
    // A fixed pool, as a load balancer keeps: the server's connections (and their buffers)
    // stay bounded, so memory growth would be the server's own.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    let mut latencies = Vec::new();
    let mut n: u64 = 0;
    while Instant::now() < until {
        ticker.tick().await;
        n += 1;
        let url = format!("{base}/recommend/{}?k=5", (n * 7919) % songs);
        let client = client.clone();
        let failures = failures.clone();
        let failure_text = failure_text.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let ok = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                Ok(r) => {
                    let mut seen = failure_text.lock().unwrap();
                    if seen.len() < 5 {
                        seen.push(format!("{url}: {}", r.status()));
                    }
                    false
                }
                Err(e) => {
                    let mut seen = failure_text.lock().unwrap();
                    if seen.len() < 5 {
                        seen.push(format!("{url}: {e}"));
                    }
                    false
                }
            };
            if !ok {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            started.elapsed()
        });
        while let Some(done) = tasks.try_join_next() {
            latencies.push(done.unwrap());
        }
    }
    while let Some(done) = tasks.join_next().await {
        latencies.push(done.unwrap());
    }
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_at_a_fixed_rate_with_a_new_champion_every_window_fails_nothing_and_keeps_memory_flat()
{
    let total = env_secs("SONGREC_SOAK_SECS", 60);
    let swap_every = env_secs("SONGREC_SOAK_SWAP_SECS", 10);
    let rate = env_secs("SONGREC_SOAK_RATE", 100);
    let songs = env_secs("SONGREC_SOAK_SONGS", 5_000);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();

    // Two versions to alternate between, each a different model file.
    let catalogue = generate(dir, songs as u32);
    let out = run(dir, &[], &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    for _ in 0..2 {
        let out = run(dir, &[], &["train", "--promote", "always"]);
        assert!(out.status.success(), "{}", text(&out));
    }

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Running(
        songrec(
            dir,
            &[("SONGREC_LOG", "warn")],
            &[
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--reload-interval",
                "1s",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_ready(&base, &mut server).await;
    let indexed = reqwest::get(format!("{base}/model"))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["recommend_songs"]
        .as_u64()
        .unwrap_or(songs)
        .max(1);

    let failures = Arc::new(AtomicU64::new(0));
    let failure_text = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut windows = Vec::new();
    let mut champion = 2;
    for _ in 0..(total / swap_every).max(2) {
        // A new champion for this window: the other version, promoted by another process as
        // an operator or a trainer would; the server picks it up by polling.
        champion = 3 - champion;
        let out = run(dir, &[], &["models", "promote", &champion.to_string()]);
        assert!(out.status.success(), "{}", text(&out));
        let until = Instant::now() + Duration::from_secs(swap_every);
        let mut latencies = load(
            base.clone(),
            rate,
            indexed,
            until,
            failures.clone(),
            failure_text.clone(),
        )
        .await;
        latencies.sort();
        let window = Window {
            requests: latencies.len(),
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
            rss_kib: rss_kib(server.pid()),
            anon_kib: status_kib(server.pid(), "RssAnon"),
            file_kib: status_kib(server.pid(), "RssFile"),
            files: open_files(server.pid()),
            version: champion_version(&base).await,
        };
        eprintln!(
            "figure: soak window {}: {} requests, p50 {:?}, p99 {:?}, RSS {} MiB (own {} MiB, \
             mapped files {} MiB), {} open files, serving v{:?}",
            windows.len() + 1,
            window.requests,
            window.p50,
            window.p99,
            window.rss_kib / 1024,
            window.anon_kib / 1024,
            window.file_kib / 1024,
            window.files,
            window.version
        );
        windows.push(window);
    }

    let failed = failures.load(Ordering::Relaxed);
    let requests: usize = windows.iter().map(|w| w.requests).sum();
    eprintln!(
        "figure: soak: {requests} requests, {failed} failed, {} swaps",
        windows.len()
    );
    assert_eq!(
        failed,
        0,
        "failed requests: {:?}",
        failure_text.lock().unwrap()
    );
    // Every window ended serving the champion promoted at its start.
    let mut expected = 2;
    for (i, window) in windows.iter().enumerate() {
        expected = 3 - expected;
        assert_eq!(window.version, Some(expected), "window {} served", i + 1);
        assert!(window.requests > 0, "window {} sent nothing", i + 1);
    }
    // The process's own memory after the last swap against after the first: flat. The mapped
    // model's pages come in as requests touch them, up to the model file's size (page cache,
    // shared, given back under pressure): bounded by that, not by time.
    // A few MiB of allocator and connection caches are noise at this size: 10 %, at least
    // 4 MiB.
    let first = windows[0].anon_kib as f64;
    let last = windows.last().unwrap().anon_kib as f64;
    assert!(
        (last - first).abs() <= (first * 0.10).max(4096.0),
        "own memory (RssAnon) moved from {first} KiB to {last} KiB"
    );
    let model_kib = disk_use(&dir.join("data/registry")) / 1024;
    let mapped = windows.iter().map(|w| w.file_kib).max().unwrap_or(0);
    assert!(
        mapped <= model_kib + 64 * 1024,
        "{mapped} KiB of mapped files, registry holds {model_kib} KiB"
    );
    assert!(server.stop().success());
}

/// Throws a storm at the fake Genius once a cycle (faults queue up per path until requests
/// take them): on each path, 429s with a short Retry-After and 5xx answers in a row. Most storms
/// are two faults deep, which `--retries 2` rides out; every third is three deep, which fails
/// the request (and so that artist's fetch).
async fn storms(
    fake: Arc<FakeGenius>,
    paths: Vec<String>,
    every: Duration,
    until: Instant,
) -> usize {
    let mut thrown = 0;
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        let depth = if round.is_multiple_of(3) { 3 } else { 2 };
        for path in &paths {
            for i in 0..depth {
                let fault = if (round + i).is_multiple_of(2) {
                    Fault::too_many_requests(1)
                } else {
                    Fault::server_error(if i % 2 == 0 { 503 } else { 500 })
                };
                fake.inject(path, fault);
                thrown += 1;
            }
        }
        tokio::time::sleep(every).await;
    }
    thrown
}

async fn connections_to(admin_url: &str, database: &str) -> i64 {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
        .bind(database)
        .fetch_one(&mut admin)
        .await
        .unwrap()
}

struct Sample {
    at: Duration,
    files: usize,
    connections: i64,
    disk: u64,
    rss_kib: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_against_a_stormy_genius_records_every_cycle_and_leaks_nothing() {
    let total = env_secs("SONGREC_LONG_RUN_SECS", 90);
    let every = std::env::var("SONGREC_LONG_RUN_EVERY").unwrap_or_else(|_| "15s".into());
    let every_secs = humantime_secs(&every);
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let admin_url = std::env::var("SONGREC_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    const TOKEN: &str = "long-run-token-0123456789";
    let fake = Arc::new(FakeGenius::start(TOKEN).await);
    let artists = [("Sia", 16775), ("Beck", 1421), ("Bjork", 2287)];
    let mut paths = vec!["/search".to_string()];
    for (i, (name, id)) in artists.iter().enumerate() {
        fake.add_artist(*id, name, 30, 8_000_000 + 1_000 * i as u64);
        paths.push(format!("/artists/{id}/songs"));
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let data = dir.join("data");
    let catalogue = generate(dir, 300);
    let url = db.url_with_password("unused");
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("GENIUS_API_TOKEN", TOKEN),
        ("GENIUS_API_BASE_URL", fake.url.as_str()),
        ("SONGREC_LOG", "warn"),
    ];
    let out = run(dir, &env, &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.join("run.log");
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec![
        "run",
        "--every",
        &every,
        "--addr",
        &addr,
        "--reload-interval",
        "2s",
        "--always-train",
        "--max-songs",
        "0",
        "--rate",
        "0",
        "--retries",
        "2",
        "--refresh-after",
        "1s",
    ];
    for (name, _) in &artists {
        args.extend(["--artist", name]);
    }
    let mut runner = Running(
        songrec(dir, &env, &args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_ready(&base, &mut runner).await;

    let started = Instant::now();
    let until = started + Duration::from_secs(total);
    let storm = tokio::spawn(storms(
        fake.clone(),
        paths,
        Duration::from_secs(every_secs),
        until,
    ));
    let mut samples = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(every_secs.max(1))).await;
        let sample = Sample {
            at: started.elapsed(),
            files: open_files(runner.pid()),
            connections: connections_to(&admin_url, &db.name).await,
            disk: disk_use(&data),
            rss_kib: rss_kib(runner.pid()),
        };
        eprintln!(
            "figure: long run at {:>5.0?}: {} open files, {} connections, {} KiB on disk, RSS {} MiB",
            sample.at,
            sample.files,
            sample.connections,
            sample.disk / 1024,
            sample.rss_kib / 1024
        );
        samples.push(sample);
        // The server keeps answering whatever the cycle is doing.
        assert!(
            champion_version(&base).await.is_some(),
            "the server stopped serving: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let thrown = storm.await.unwrap();
    let status = runner.stop();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "run exited {status}: {log_text}");

    // Every cycle left its record; most succeeded despite the storms.
    let cycles: Vec<(String,)> = {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_as("SELECT status FROM pipeline_cycles ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    // Each cycle the process ran printed its verdict line; each must have its row.
    let ran = log_text.lines().filter(|l| l.starts_with("cycle ")).count();
    eprintln!(
        "figure: long run: {total} s at {every}: {ran} cycles ran ({} slots), {} recorded, \
         {thrown} faults thrown, statuses {:?}",
        total / every_secs.max(1),
        cycles.len(),
        count_statuses(&cycles)
    );
    for failure in log_text
        .lines()
        .filter(|l| l.starts_with("cycle failed"))
        .take(3)
    {
        eprintln!("figure: long run, a failed cycle: {failure}");
    }
    assert!(ran >= 2, "only {ran} cycles in {total} s: {log_text}");
    assert_eq!(cycles.len(), ran, "cycles ran vs recorded: {log_text}");

    // Flat after the first third of the run: the last sample against the most the first third
    // saw. A single sample is a snapshot (between two cycles the pool may hold one connection,
    // during one five), so the first third's highest is what a leak would grow beyond.
    let middle = &samples[samples.len() / 3];
    let early = &samples[..=samples.len() / 3];
    let last = samples.last().unwrap();
    let early_files = early.iter().map(|s| s.files).max().unwrap_or(0);
    let early_connections = early.iter().map(|s| s.connections).max().unwrap_or(0);
    assert!(
        last.files <= early_files + 4,
        "open files grew from at most {early_files} to {}",
        last.files
    );
    assert!(
        last.connections <= early_connections.max(1) + 2,
        "database connections grew from at most {early_connections} to {}",
        last.connections
    );
    assert!(
        last.connections <= 8 + 1,
        "{} connections, more than --db-max-connections",
        last.connections
    );
    // Disk grows by at most the kept versions' files (retention prunes the rest).
    eprintln!(
        "figure: long run disk from {} KiB to {} KiB, RSS from {} MiB to {} MiB",
        middle.disk / 1024,
        last.disk / 1024,
        middle.rss_kib / 1024,
        last.rss_kib / 1024
    );
}

fn count_statuses(cycles: &[(String,)]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (status,) in cycles {
        match counts.iter_mut().find(|(s, _)| s == status) {
            Some((_, n)) => *n += 1,
            None => counts.push((status.clone(), 1)),
        }
    }
    counts
}

/// Seconds of a `10s` / `1m` duration (the forms the tests are given).
fn humantime_secs(text: &str) -> u64 {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number.parse().expect("a duration like 10s or 1m");
    match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        other => panic!("unknown unit {other}"),
    }
}
