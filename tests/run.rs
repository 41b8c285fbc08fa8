//! `songrec run`, the real binary: fetch from a fake Genius, train, promote and serve on a timer.

#[path = "../crates/genius/tests/support/fake_genius.rs"]
mod fake_genius;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use fake_genius::FakeGenius;
use serde_json::Value;

const TOKEN: &str = "scheduler-test-token-0123456789abcdef";

fn songrec(fake: &FakeGenius, data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_songrec"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .current_dir(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("SONGREC_FETCH_RATE")
        .env_remove("RUST_LOG")
        .env("SONGREC_LOG", "info")
        .env("GENIUS_API_TOKEN", TOKEN)
        .env("GENIUS_API_BASE_URL", &fake.url);
    command
}

fn finished(mut command: Command) -> Output {
    command.output().expect("run songrec")
}

/// Sends SIGTERM to `child` and checks that it stops cleanly (exit 0).
fn stop_with_sigterm(child: &mut std::process::Child) {
    let killed = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::task::block_in_place(|| child.wait()).expect("wait");
    assert!(
        status.success(),
        "SIGTERM stops songrec run cleanly: {status:?}"
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

fn versions(fake: &FakeGenius, data_dir: &Path) -> usize {
    let out = finished(songrec(fake, data_dir, &["models", "list", "--json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).expect("models list --json");
    list.as_array().expect("a list").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_fetches_and_trains_and_a_cycle_with_nothing_new_does_not_retrain() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 25, 1000);
    let dir = tempfile::tempdir().unwrap();
    let once = ["run", "--once", "--artist", "Sia", "--rate", "0"];

    let fake_ref = &fake;
    let out = tokio::task::block_in_place(|| finished(songrec(fake_ref, dir.path(), &once)));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("25 stored"), "{stderr}");
    assert!(stderr.contains("trained version 1 on 25 songs"), "{stderr}");
    assert_eq!(
        tokio::task::block_in_place(|| versions(fake_ref, dir.path())),
        1
    );

    let out = tokio::task::block_in_place(|| finished(songrec(fake_ref, dir.path(), &once)));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("0 fetched"),
        "every song is fresh: {stderr}"
    );
    assert!(stderr.contains("not training"), "{stderr}");
    assert_eq!(
        tokio::task::block_in_place(|| versions(fake_ref, dir.path())),
        1,
        "no new version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_champion_it_trains_and_stops_on_sigterm() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 12, 1000);
    let dir = tempfile::tempdir().unwrap();
    let mut child = songrec(
        &fake,
        dir.path(),
        &[
            "run",
            "--artist",
            "Sia",
            "--rate",
            "0",
            "--addr",
            "127.0.0.1:0",
            "--reload-interval",
            "100ms",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start songrec run");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = tokio::task::block_in_place(|| {
        loop {
            let line = lines
                .next()
                .expect("run exited before serving")
                .expect("read stderr");
            if let Some(rest) = line.split("serving on http://").nth(1) {
                break format!("http://{}", rest.split('/').next().unwrap_or(rest));
            }
        }
    });
    std::thread::spawn(move || for _ in lines {});

    // The first cycle runs at start; the server picks its champion up without restart.
    let mut answer = None;
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(format!("{base}/recommend/0?k=3")).await
            && response.status() == 200
        {
            answer = Some(response.json::<Value>().await.expect("json"));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let answer = answer.expect("the trained champion is served");
    assert_eq!(
        answer["recommended_song_ids"].as_array().map(Vec::len),
        Some(3)
    );

    // The cycle is recorded, and counted in this process's metrics, once it has finished.
    let mut pipeline = Value::Null;
    for _ in 0..200 {
        pipeline = get_json(&format!("{base}/pipeline")).await.1;
        if pipeline["cycles"].as_array().is_some_and(|c| !c.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let cycle = &pipeline["cycles"][0];
    assert_eq!(cycle["status"], "succeeded", "{pipeline}");
    assert_eq!(cycle["steps"][1]["step"], "train");
    assert!(cycle["steps"][1]["seconds"].as_f64().is_some());
    assert_eq!(pipeline["schedule"], "every 1h");
    let next = pipeline["next_run"]
        .as_str()
        .expect("the next run is planned");
    assert!(next.ends_with(":00:00Z"), "on the hour: {next}");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "songrec_pipeline_step_total{step=\"fetch\",status=\"succeeded\"} 1",
        "songrec_pipeline_step_total{step=\"train\",status=\"succeeded\"} 1",
        "songrec_pipeline_step_total{step=\"promote\",status=\"succeeded\"} 1",
        "songrec_pipeline_step_duration_seconds_count{step=\"train\"} 1",
        "songrec_pipeline_cycles_total{status=\"succeeded\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let last_success = metrics
        .lines()
        .find_map(|l| l.strip_prefix("songrec_pipeline_last_success_timestamp_seconds "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("last success gauge");
    assert!(last_success > 1.0e9, "{last_success}");

    stop_with_sigterm(&mut child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_with_no_serve_runs_one_cycle_for_cron_and_prints_its_report_as_json() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 6, 1000);
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--once",
        "--no-serve",
        "--json",
        "--artist",
        "Sia",
        "--rate",
        "0",
    ];
    let fake_ref = &fake;
    let out = tokio::task::block_in_place(|| finished(songrec(fake_ref, dir.path(), &args)));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    assert_eq!(report["status"], "succeeded");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["fetch", "train", "evaluate", "register", "promote", "prune"]
    );
    assert_eq!(report["steps"][0]["counts"]["songs_stored"], 6);
    assert_eq!(report["trained"]["version"], 1);
    assert_eq!(report["trained"]["promoted"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_one_when_every_fetch_failed_and_still_trains_on_what_the_store_holds() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 5, 1000);
    let dir = tempfile::tempdir().unwrap();
    let fake_ref = &fake;
    let seed = ["fetch", "--artist", "Sia", "--rate", "0"];
    let out = tokio::task::block_in_place(|| finished(songrec(fake_ref, dir.path(), &seed)));
    assert!(out.status.success(), "{}", text(&out.stderr));

    let once = [
        "run",
        "--once",
        "--no-serve",
        "--artist",
        "Nobody Known",
        "--rate",
        "0",
    ];
    let out = tokio::task::block_in_place(|| finished(songrec(fake_ref, dir.path(), &once)));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no Genius artist named"), "{stderr}");
    assert!(
        stderr.contains("trained version 1 on 5 songs"),
        "no champion yet, so the failed fetch does not stop training: {stderr}"
    );
    assert_eq!(
        tokio::task::block_in_place(|| versions(fake_ref, dir.path())),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_run_says_fetching_is_off_trains_on_the_store_and_needs_songs() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 4, 1000);
    let dir = tempfile::tempdir().unwrap();
    let fake_ref = &fake;
    let once = ["run", "--once", "--no-serve"];

    let out = tokio::task::block_in_place(|| {
        finished({
            let mut c = songrec(fake_ref, dir.path(), &once);
            c.env_remove("GENIUS_API_TOKEN");
            c
        })
    });
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "an empty store is a precondition: {stderr}"
    );
    assert!(stderr.contains("fetching is off"), "{stderr}");
    assert!(stderr.contains("songrec import FILE"), "{stderr}");

    let seed = ["fetch", "--artist", "Sia", "--rate", "0"];
    let out = tokio::task::block_in_place(|| finished(songrec(fake_ref, dir.path(), &seed)));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tokio::task::block_in_place(|| {
        finished({
            let mut c = songrec(fake_ref, dir.path(), &once);
            c.env_remove("GENIUS_API_TOKEN");
            c
        })
    });
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("trained version 1 on 4 songs"), "{stderr}");
}

#[test]
fn a_refused_token_makes_once_exit_three() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(FakeGenius::start(TOKEN));
    fake.add_artist(16775, "Sia", 4, 1000);
    let dir = tempfile::tempdir().unwrap();
    let mut command = songrec(&fake, dir.path(), &["run", "--once", "--artist", "Sia"]);
    command.env("GENIUS_API_TOKEN", "a-token-genius-does-not-know");
    let out = finished(command);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("refused the access token"), "{stderr}");
    assert!(!stderr.contains("a-token-genius-does-not-know"));
}

/// Starts `songrec serve` on a random port; returns it and its base URL.
fn serve(fake: &FakeGenius, data_dir: &Path) -> (std::process::Child, String) {
    let mut child = songrec(fake, data_dir, &["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start songrec serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("serve exited before serving")
            .expect("read stderr");
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break format!("http://{}", rest.split('/').next().unwrap_or(rest));
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shows_the_recorded_cycles_newest_first_with_a_bounded_limit() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 6, 1000);
    let dir = tempfile::tempdir().unwrap();
    let fake_ref = &fake;

    // Before anything ran: no cycles, and no database is created by looking.
    let (mut child, base) = tokio::task::block_in_place(|| serve(fake_ref, dir.path()));
    let (status, body) = get_json(&format!("{base}/pipeline")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cycles"], serde_json::json!([]));
    assert_eq!(body["next_run"], Value::Null, "serve runs no cycles");
    assert!(!dir.path().join("songrec.db").exists());

    let once = [
        "run",
        "--once",
        "--no-serve",
        "--artist",
        "Sia",
        "--rate",
        "0",
    ];
    for expected in [0, 0] {
        let out = tokio::task::block_in_place(|| finished(songrec(fake_ref, dir.path(), &once)));
        assert_eq!(out.status.code(), Some(expected), "{}", text(&out.stderr));
    }
    let (status, body) = get_json(&format!("{base}/pipeline")).await;
    assert_eq!(status, 200, "{body}");
    let cycles = body["cycles"].as_array().expect("cycles");
    assert_eq!(cycles.len(), 2, "{body}");
    assert!(
        cycles[0]["id"].as_i64() > cycles[1]["id"].as_i64(),
        "newest first"
    );
    assert_eq!(cycles[1]["trained"]["version"], 1);
    let second: Vec<(&str, &str)> = cycles[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        second,
        [
            ("fetch", "succeeded"),
            ("train", "skipped"),
            ("evaluate", "skipped"),
            ("register", "skipped"),
            ("promote", "skipped"),
            ("prune", "skipped"),
        ],
        "nothing new the second time: {body}"
    );

    let (status, body) = get_json(&format!("{base}/pipeline?limit=1")).await;
    assert_eq!(status, 200);
    assert_eq!(body["cycles"].as_array().map(Vec::len), Some(1));
    for bad in [
        "limit=0",
        "limit=51",
        "limit=x",
        "limit=1&limit=2",
        "since=1",
    ] {
        let (status, body) = get_json(&format!("{base}/pipeline?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Cycles that ran while the catalogue database could not be opened are recorded by the first
/// cycle that opens it: the record misses none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycles_run_while_the_database_is_unreachable_are_recorded_once_it_is_back() {
    let fake = FakeGenius::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    // A SQLite database in a folder that does not exist yet: nothing can open it, or its lock.
    let later = dir.path().join("later");
    let db = later.join("songrec.db");
    let mut command = songrec(&fake, dir.path(), &["run", "--every", "1s", "--no-serve"]);
    command
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("GENIUS_API_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start songrec run");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let is_verdict = |line: &str| line.starts_with("cycle ");
    let mut seen = Vec::new();
    let wait_for_verdicts = |n: usize, seen: &mut Vec<String>| {
        let mut verdicts = 0;
        while verdicts < n {
            let line = lines_rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("songrec run goes on with its cycles");
            verdicts += usize::from(is_verdict(&line));
            seen.push(line);
        }
    };
    tokio::task::block_in_place(|| wait_for_verdicts(2, &mut seen));
    assert!(
        seen.iter().any(|l| l.contains("cannot open the lock file")),
        "{seen:#?}"
    );
    std::fs::create_dir(&later).unwrap();
    tokio::task::block_in_place(|| wait_for_verdicts(2, &mut seen));
    stop_with_sigterm(&mut child);
    reader.join().unwrap();
    seen.extend(lines_rx.try_iter());
    let verdicts = seen.iter().filter(|l| is_verdict(l)).count();

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let reports: Vec<String> = sqlx::query_scalar("SELECT report FROM pipeline_cycles ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(reports.len(), verdicts, "every cycle recorded: {seen:#?}");
    let unreachable = reports
        .iter()
        .take_while(|r| r.contains("cannot open the lock file"))
        .count();
    assert!(unreachable >= 2, "{reports:#?}");
    assert!(unreachable < reports.len(), "{reports:#?}");
}
