//! `songrec fetch`, the real binary, against a fake Genius on a random port and a SQLite
//! store in a temp dir.

#[path = "../crates/genius/tests/support/fake_genius.rs"]
mod fake_genius;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use fake_genius::FakeGenius;
use songrec_store::{Store, StoreConfig};
use tokio::process::Command;

const TOKEN: &str = "binary-test-token-0123456789abcdef";

/// The fetch command with a clean environment: our fake, our token, our data dir.
fn songrec(fake: &FakeGenius, data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_songrec"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        // No `.env` from the repository, no ambient database or settings.
        .current_dir(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("SONGREC_FETCH_RATE")
        .env_remove("RUST_LOG")
        .env("SONGREC_LOG", "warn")
        .env("GENIUS_API_TOKEN", TOKEN)
        .env("GENIUS_API_BASE_URL", &fake.url)
        .kill_on_drop(true);
    command
}

async fn output(mut command: Command) -> Output {
    command.output().await.unwrap()
}

async fn store(data_dir: &Path) -> Store {
    Store::connect(&StoreConfig::sqlite(&data_dir.join("songrec.db")))
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_stores_the_artist_songs_and_prints_one_summary_line() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 30, 1000);
    fake.set_page_size(8);
    let dir = tempfile::tempdir().unwrap();

    let out = output(songrec(
        &fake,
        dir.path(),
        &[
            "fetch",
            "--artist",
            "sia",
            "--max-songs",
            "20",
            "--rate",
            "0",
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("fetch: 1 artists, 20 songs listed, 0 fresh, 20 fetched, 20 stored"),
        "{stdout}"
    );
    let store = store(dir.path()).await;
    assert_eq!(store.count_songs().await.unwrap(), 20);
    let runs = store.recent_fetch_runs(5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].summary.status, "succeeded");
    assert_eq!(runs[0].summary.songs_stored, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_without_a_token_says_how_to_get_one() {
    let fake = FakeGenius::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = songrec(&fake, dir.path(), &["fetch", "--artist", "Sia"]);
    command.env_remove("GENIUS_API_TOKEN");
    let out = output(command).await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("GENIUS_API_TOKEN is not set"), "{stderr}");
    assert!(
        stderr.contains("https://genius.com/api-clients"),
        "{stderr}"
    );
    assert!(fake.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_stops_every_artist_and_is_never_printed() {
    let fake = FakeGenius::start("the-token-genius-knows").await;
    fake.add_artist(16775, "Sia", 3, 1000);
    fake.add_artist(500, "Bruno Mars", 3, 2000);
    let dir = tempfile::tempdir().unwrap();
    let out = output(songrec(
        &fake,
        dir.path(),
        &[
            "fetch",
            "--artist",
            "Sia",
            "--artist",
            "Bruno Mars",
            "--rate",
            "0",
        ],
    ))
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert!(stderr.contains("refused the access token"), "{stderr}");
    assert!(stderr.contains("GENIUS_API_TOKEN"), "{stderr}");
    assert!(!stderr.contains(TOKEN) && !stdout.contains(TOKEN));
    assert_eq!(fake.seen().len(), 1, "stopped at the first 401");
    let store = store(dir.path()).await;
    let runs = store.recent_fetch_runs(5).await.unwrap();
    assert_eq!(runs.len(), 1, "the second artist was not tried");
    assert_eq!(runs[0].summary.status, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_lists_what_it_would_fetch_and_stores_nothing() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 4, 1000);
    let dir = tempfile::tempdir().unwrap();
    let out = output(songrec(
        &fake,
        dir.path(),
        &["fetch", "--artist", "Sia", "--dry-run", "--rate", "0"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("would fetch").count(), 4, "{stdout}");
    assert!(stdout.contains("Song 1000 by Sia (new)"), "{stdout}");
    assert!(stdout.contains("4 would be fetched"), "{stdout}");
    assert_eq!(fake.count("/songs/"), 0);
    let store = store(dir.path()).await;
    assert_eq!(store.count_songs().await.unwrap(), 0);
    assert!(store.recent_fetch_runs(5).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_artists_of_a_list_file_are_fetched_once_and_a_missing_one_fails_alone() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 3, 1000);
    fake.add_artist(2, "Beyoncé", 2, 2000);
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("artists.txt");
    std::fs::write(&list, "# ours\nSia\n\nNobody Known\nBeyonce\n").unwrap();
    let out = output(songrec(
        &fake,
        dir.path(),
        &[
            "fetch",
            "--artists-file",
            list.to_str().unwrap(),
            "--all-artists",
            "--rate",
            "0",
        ],
    ))
    .await;
    assert!(!out.status.success(), "one artist failed");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no Genius artist named \"Nobody Known\""),
        "{stderr}"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 artists"), "{stdout}");
    let store = store(dir.path()).await;
    assert_eq!(store.count_songs().await.unwrap(), 5);
    let runs = store.recent_fetch_runs(5).await.unwrap();
    let mut artists: Vec<_> = runs.iter().map(|r| r.artist.as_str()).collect();
    artists.sort();
    assert_eq!(artists, ["Beyonce", "Nobody Known", "Sia"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_killed_mid_way_loses_nothing_and_the_rerun_completes_without_duplicates() {
    let fake = FakeGenius::start(TOKEN).await;
    let ids = fake.add_artist(16775, "Sia", 40, 1000);
    fake.set_page_size(10);
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "fetch",
        "--artist",
        "Sia",
        "--max-songs",
        "0",
        "--rate",
        "20",
    ];

    let mut child = songrec(&fake, dir.path(), &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 once a third of the songs have been served (the deadline only guards a hang).
    let deadline = Instant::now() + Duration::from_secs(120);
    while fake.count("/songs/") < 15 {
        assert!(Instant::now() < deadline, "the fetch never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the fetch ended by itself"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let fetched_before_kill = fake.count("/songs/");

    let store = store(dir.path()).await;
    let stored_before: HashSet<u64> = store
        .songs_updated_at(&ids)
        .await
        .unwrap()
        .into_keys()
        .collect();
    assert!(
        !stored_before.is_empty(),
        "songs are written as they arrive"
    );
    assert!(stored_before.len() < ids.len(), "the kill came mid-way");
    let run = &store.recent_fetch_runs(1).await.unwrap()[0];
    assert_eq!(run.finished_at, None, "the killed run never finished");

    let out = output(songrec(&fake, dir.path(), &args)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(store.count_songs().await.unwrap(), 40, "no duplicates");
    let stored_after = store.songs_updated_at(&ids).await.unwrap();
    assert_eq!(stored_after.len(), 40, "nothing missing");
    // Nothing written before the kill was fetched again.
    assert_eq!(
        fake.count("/songs/") - fetched_before_kill,
        40 - stored_before.len()
    );
    let runs = store.recent_fetch_runs(2).await.unwrap();
    assert_eq!(
        runs[0].summary.songs_stored as usize,
        40 - stored_before.len()
    );
    assert_eq!(runs[0].summary.status, "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_raw_responses_import_into_another_store_as_the_same_songs() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 6, 1000);
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let out = output(songrec(
        &fake,
        dir.path(),
        &[
            "fetch",
            "--artist",
            "Sia",
            "--rate",
            "0",
            "--save-raw",
            raw.to_str().unwrap(),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut files: Vec<String> = std::fs::read_dir(&raw)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    let other = tempfile::tempdir().unwrap();
    let mut import = songrec(&fake, other.path(), &["import"]);
    import.args(&files);
    let out = output(import).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let fetched = store(dir.path()).await.load_catalogue().await.unwrap();
    let imported = store(other.path()).await.load_catalogue().await.unwrap();
    assert_eq!(fetched.len(), 6);
    assert_eq!(imported, fetched);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_fetch_and_records_the_run_as_interrupted() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 40, 1000);
    let dir = tempfile::tempdir().unwrap();
    let mut child = songrec(
        &fake,
        dir.path(),
        &[
            "fetch",
            "--artist",
            "Sia",
            "--max-songs",
            "0",
            "--rate",
            "20",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while fake.count("/songs/") < 10 {
        assert!(Instant::now() < deadline, "the fetch never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().unwrap().to_string();
    // The shell's builtin `kill`, so the test needs no procps.
    let signalled = Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .await
        .unwrap();
    assert!(signalled.success());
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(130));

    let store = store(dir.path()).await;
    let stored = store.count_songs().await.unwrap();
    assert!(stored > 0 && stored < 40, "{stored}");
    let run = &store.recent_fetch_runs(1).await.unwrap()[0];
    assert_eq!(run.summary.status, "interrupted");
    assert_eq!(run.summary.songs_stored, stored);
    assert!(run.finished_at.is_some());
}
