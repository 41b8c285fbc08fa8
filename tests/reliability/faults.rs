//! Faults a deployment meets, through the real binary: PostgreSQL halted under a fetch and an
//! import, SIGKILL during an import and during training and registration, the disk filling up
//! while a model is written. After each, the next run recovers and nothing is lost, duplicated
//! or half-registered.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use songrec_registry::Registry;
use songrec_store::{Store, StoreConfig};

use crate::cluster::Cluster;
use crate::fake_genius::{FakeGenius, Fault};
use crate::support::{generate, run, songrec, text};

const TOKEN: &str = "faults-test-token-0123456789";

pub(crate) type Vars = Vec<(&'static str, String)>;

pub(crate) fn vars(v: &Vars) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Waits for `child`, at most `limit`; kills it and fails past that.
pub(crate) fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the command did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn sigkill(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

pub(crate) fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

pub(crate) fn last_line(text: &str) -> &str {
    text.trim().lines().last().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_halted_under_a_fetch_and_an_import_fails_them_cleanly_and_the_next_runs_recover()
 {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let fake = FakeGenius::start(TOKEN).await;
    let ids = fake.add_artist(16775, "Sia", 40, 7_000_000);
    for id in &ids {
        // Slow songs, so that the fetch is still running when the database goes.
        fake.inject(
            &format!("/songs/{id}"),
            Fault::Delay(Duration::from_millis(250)),
        );
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let catalogue = generate(dir, 500);
    let env: Vars = vec![
        ("DATABASE_URL", cluster.url()),
        ("GENIUS_API_TOKEN", TOKEN.into()),
        ("GENIUS_API_BASE_URL", fake.url.clone()),
        ("SONGREC_DB_ACQUIRE_TIMEOUT", "3s".into()),
        ("SONGREC_LOG", "warn".into()),
    ];
    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    // The fetch loses its database part-way.
    let mut fetch = songrec(
        dir,
        &vars(&env),
        &[
            "fetch",
            "--artist",
            "Sia",
            "--max-songs",
            "0",
            "--rate",
            "0",
            "--concurrency",
            "2",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.halt();
    let status = wait_bounded(&mut fetch, Duration::from_secs(120));
    let err = stderr_of(&mut fetch);
    assert!(!status.success(), "{err}");
    assert!(last_line(&err).starts_with("error: "), "{err}");
    eprintln!("figure: fetch with PostgreSQL halted: {}", last_line(&err));

    // An import while it is down fails within the acquire timeout, in one line.
    let started = Instant::now();
    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(last_line(&shown).starts_with("error: "), "{shown}");
    assert!(started.elapsed() < Duration::from_secs(60), "{shown}");
    eprintln!(
        "figure: import with PostgreSQL down, after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        last_line(&shown)
    );

    // Back up: the same commands complete, and every song is there exactly once.
    cluster.resume();
    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        dir,
        &vars(&env),
        &[
            "fetch",
            "--artist",
            "Sia",
            "--max-songs",
            "0",
            "--rate",
            "0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let store = Store::connect(&StoreConfig::from_url(cluster.url()))
        .await
        .unwrap();
    assert_eq!(store.count_songs().await.unwrap(), 540);
    let runs = store.recent_fetch_runs(10).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].summary.status, "succeeded", "{runs:?}");
    // The failed run could not record its end; the next fetch, finding no fetch alive, marked
    // it abandoned.
    assert_eq!(runs[1].summary.status, "abandoned", "{runs:?}");
    let ended = runs[1].finished_at.expect("an abandoned run has an end");
    assert!(
        ended >= runs[1].started_at && ended <= runs[0].started_at,
        "{runs:?}"
    );
    eprintln!(
        "figure: after recovery 540 songs; failed run {:?} (stored {}, error {:?}), next run {:?} \
         (stored {})",
        runs[1].summary.status,
        runs[1].summary.songs_stored,
        runs[1].summary.error.as_deref().unwrap_or_default(),
        runs[0].summary.status,
        runs[0].summary.songs_stored
    );
}

/// Every registered version has its model file and it matches its checksum; the champion is one
/// of them.
pub(crate) async fn assert_registry_consistent(registry: &Path) -> usize {
    let registry = Registry::local(registry).unwrap();
    let versions = registry.list().await.unwrap();
    for v in &versions {
        registry
            .model_file(v.version)
            .await
            .unwrap_or_else(|e| panic!("version {} without a sound file: {e}", v.version));
    }
    if let Some(champion) = registry.champion().await.unwrap() {
        assert!(versions.iter().any(|v| v.version == champion.version));
    }
    versions.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_import_training_and_registration_leaves_store_and_registry_consistent() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let songs = 20_000;
    let catalogue = generate(dir, songs);
    let env: Vars = vec![("SONGREC_LOG", "warn".into())];
    let db = dir.join("data/songrec.db");

    // Import killed part-way (as soon as its first batch is committed), then run again: every
    // song once.
    let out = run(dir, &vars(&env), &["db", "migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    let store = Store::connect(&StoreConfig::sqlite(&db)).await.unwrap();
    let mut import = songrec(dir, &vars(&env), &["import", catalogue.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while store.count_songs().await.unwrap() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing imported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigkill(&mut import);
    let partial = store.count_songs().await.unwrap();
    assert!(
        partial < songs as u64,
        "the import finished before the kill"
    );
    eprintln!(
        "figure: import SIGKILLed after its first commit with {partial} of {songs} songs stored"
    );
    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(store.count_songs().await.unwrap(), songs as u64);
    drop(store);

    // Training on a smaller catalogue of its own, so that the kills below stay quick.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let registry = dir.join("data/registry");
    let catalogue = generate(dir, 3000);
    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let started = Instant::now();
    let out = run(dir, &vars(&env), &["train", "--k", "10"]);
    let full = started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(assert_registry_consistent(&registry).await, 1);

    // Training and registration killed at points spread over a whole run's length, the last
    // ones in its final moments, where the model file is written and registered: never a
    // version without its file, never a champion that cannot be loaded.
    for share in [0.2, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0] {
        let wait = full.mul_f64(share);
        let mut train = songrec(
            dir,
            &vars(&env),
            &["train", "--k", "10", "--promote", "always"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        tokio::time::sleep(wait).await;
        sigkill(&mut train);
        let versions = assert_registry_consistent(&registry).await;
        eprintln!(
            "figure: train SIGKILLed after {} ms of a {} ms run: {versions} sound versions",
            wait.as_millis(),
            full.as_millis()
        );
    }
    let before = assert_registry_consistent(&registry).await;
    let out = run(
        dir,
        &vars(&env),
        &["train", "--k", "10", "--promote", "always"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(assert_registry_consistent(&registry).await, before + 1);
    let champion = Registry::local(&registry)
        .unwrap()
        .champion()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(champion.version as usize, before + 1);
}

/// A small tmpfs mounted over a directory; unmounted on drop.
pub(crate) struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    pub(crate) fn mount(path: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .ok()?;
        if !out.status.success() {
            return crate::support::skip(format!(
                "cannot mount a tmpfs (needs root): {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Some(SmallDisk {
            path: path.to_path_buf(),
        })
    }

    /// Writes a filler file until the disk is full.
    pub(crate) fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 << 10];
        while file.write_all(&block).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_while_a_model_is_written_fails_clearly_and_keeps_the_champion() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let registry = dir.join("data/registry");
    let Some(disk) = SmallDisk::mount(&registry, "8m") else {
        return;
    };
    let catalogue = generate(dir, 3000);
    let env: Vars = vec![("SONGREC_LOG", "warn".into())];
    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(dir, &vars(&env), &["train", "--k", "10"]);
    assert!(out.status.success(), "{}", text(&out));

    let filler = disk.fill();
    let out = run(
        dir,
        &vars(&env),
        &["train", "--k", "10", "--promote", "always"],
    );
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(last_line(&shown).starts_with("error: "), "{shown}");
    assert!(last_line(&shown).contains("No space left"), "{shown}");
    eprintln!("figure: train on a full disk: {}", last_line(&shown));
    assert_eq!(assert_registry_consistent(&registry).await, 1);
    let registry_handle = Registry::local(&registry).unwrap();
    assert_eq!(
        registry_handle.champion().await.unwrap().unwrap().version,
        1
    );

    // Space again: the next training registers and promotes normally.
    std::fs::remove_file(filler).unwrap();
    let out = run(
        dir,
        &vars(&env),
        &["train", "--k", "10", "--promote", "always"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(assert_registry_consistent(&registry).await, 2);
    assert_eq!(
        registry_handle.champion().await.unwrap().unwrap().version,
        2
    );
}

/// `GET path` on `base` answered 200.
async fn answers(client: &reqwest::Client, url: &str) -> bool {
    matches!(client.get(url).send().await, Ok(r) if r.status().is_success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restarted_under_training_and_serving_fails_nothing_served_and_loses_nothing() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let catalogue = generate(dir, 4_000);
    let env: Vars = vec![
        ("DATABASE_URL", cluster.url()),
        ("SONGREC_DB_ACQUIRE_TIMEOUT", "3s".into()),
        ("SONGREC_LOG", "warn".into()),
    ];
    for args in [
        &["import", catalogue.to_str().unwrap()][..],
        &["train", "--promote", "always"][..],
    ] {
        let out = run(dir, &vars(&env), args);
        assert!(out.status.success(), "{}", text(&out));
    }
    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = crate::support::Running(
        songrec(
            dir,
            &vars(&env),
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
    let client = reqwest::Client::new();
    let ready = Instant::now();
    while !answers(&client, &format!("{base}/ready")).await {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "serve never ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A training run loses its database part-way; the server keeps answering throughout.
    let mut train = songrec(dir, &vars(&env), &["train", "--promote", "always"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.halt();
    let (mut served, mut failed) = (0, 0);
    for i in 0..200 {
        if answers(&client, &format!("{base}/recommend/{}?k=5", i * 13 % 1000)).await {
            served += 1;
        } else {
            failed += 1;
        }
    }
    let status = wait_bounded(&mut train, Duration::from_secs(120));
    let err = stderr_of(&mut train);
    // Either it had read the catalogue before the database went (and trained), or it failed
    // with one line; never a half-registered version.
    assert!(
        status.success() || last_line(&err).starts_with("error: "),
        "{status}: {err}"
    );
    let versions_after_fault = assert_registry_consistent(&dir.join("data/registry")).await;
    eprintln!(
        "figure: PostgreSQL halted under train and serve: {served} requests served, {failed} \
         failed; train {}: {}; {versions_after_fault} versions, all sound",
        if status.success() {
            "finished"
        } else {
            "failed"
        },
        last_line(&err)
    );
    assert_eq!(failed, 0);

    // Restarted: the next training registers and promotes, and the server follows it.
    cluster.resume();
    let out = run(
        dir,
        &vars(&env),
        &["train", "--promote", "always", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let newest = assert_registry_consistent(&dir.join("data/registry")).await;
    assert_eq!(newest, versions_after_fault + 1);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let model: serde_json::Value = client
            .get(format!("{base}/model"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if model["version"].as_u64() == Some(newest as u64) {
            break;
        }
        assert!(
            Instant::now() < until,
            "the server never served v{newest}: {model}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let store = Store::connect(&StoreConfig::from_url(cluster.url()))
        .await
        .unwrap();
    assert_eq!(store.count_songs().await.unwrap(), 4_000);
    assert!(server.stop().success());
}
