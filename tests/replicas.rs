//! Two `songrec run` processes sharing one PostgreSQL database and one registry: each scheduled
//! slot runs once (the advisory lock plus the shared cycle record), no version is registered
//! twice, and both serve the new champion.

#[path = "../crates/genius/tests/support/fake_genius.rs"]
mod fake_genius;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fake_genius::FakeGenius;
use serde_json::Value;
use sqlx::Connection;

const TOKEN: &str = "replica-test-token-0123456789abcdef";

/// A database of its own on the test PostgreSQL, dropped at the end.
struct TestDatabase {
    admin_url: String,
    url: String,
    name: String,
}

impl TestDatabase {
    async fn create() -> Option<TestDatabase> {
        let admin_url = std::env::var("SONGREC_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var("SONGREC_REQUIRE_SERVICES").is_err(),
                    "PostgreSQL unreachable and SONGREC_REQUIRE_SERVICES is set: {e}"
                );
                eprintln!("skipped: PostgreSQL unreachable: {e}");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("songrec_replicas_{}_{nanos}", std::process::id());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        Some(TestDatabase {
            admin_url,
            url: url.to_string(),
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

fn songrec(fake: &FakeGenius, data_dir: &Path, db: &TestDatabase, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_songrec"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .current_dir(data_dir)
        .env("DATABASE_URL", &db.url)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("RUST_LOG")
        .env("SONGREC_LOG", "info")
        .env("GENIUS_API_TOKEN", TOKEN)
        .env("GENIUS_API_BASE_URL", &fake.url);
    command
}

/// Starts `songrec run` and returns the child and its base URL.
fn start_run(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start songrec run");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let base = loop {
        let Some(line) = lines.next() else {
            panic!("run exited early: {}", seen.join("\n"));
        };
        let line = line.unwrap();
        seen.push(line.clone());
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break format!("http://{}", rest.split('/').next().unwrap_or(rest));
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "SIGTERM stops songrec run: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_run_processes_share_one_database_and_registry_and_run_each_slot_once() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 8, 1000);
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--every",
        "2s",
        "--always-train",
        "--artist",
        "Sia",
        "--rate",
        "0",
        "--addr",
        "127.0.0.1:0",
        "--reload-interval",
        "200ms",
    ];
    let (a, _) =
        tokio::task::block_in_place(|| start_run(&mut songrec(&fake, dir.path(), &db, &args)));
    let (b, _) =
        tokio::task::block_in_place(|| start_run(&mut songrec(&fake, dir.path(), &db, &args)));
    tokio::time::sleep(Duration::from_secs(7)).await;
    tokio::task::block_in_place(|| {
        stop(a);
        stop(b);
    });

    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let rows: Vec<(Option<String>, String, String)> =
        sqlx::query_as("SELECT slot, runner, status FROM pipeline_cycles ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(rows.len() >= 2, "cycles ran: {rows:?}");
    let slots: Vec<&str> = rows.iter().filter_map(|r| r.0.as_deref()).collect();
    let distinct: HashSet<&str> = slots.iter().copied().collect();
    assert_eq!(distinct.len(), slots.len(), "one cycle per slot: {rows:?}");
    // A cycle running when the test stops its process ends interrupted; every other succeeded.
    for (i, row) in rows.iter().enumerate() {
        let last_of_its_runner = !rows[i + 1..].iter().any(|r| r.1 == row.1);
        assert!(
            row.2 == "succeeded" || (row.2 == "interrupted" && last_of_its_runner),
            "{rows:?}"
        );
    }

    let out = tokio::task::block_in_place(|| {
        songrec(&fake, dir.path(), &db, &["models", "list", "--json"])
            .output()
            .unwrap()
    });
    let versions: Value = serde_json::from_slice(&out.stdout).unwrap();
    let numbers: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    let succeeded = rows.iter().filter(|r| r.2 == "succeeded").count() as u64;
    let registered = numbers.len() as u64;
    assert_eq!(
        numbers,
        (1..=registered).collect::<Vec<_>>(),
        "versions numbered once each"
    );
    assert!(
        (succeeded..=rows.len() as u64).contains(&registered),
        "one version per succeeded cycle (and perhaps one per interrupted cycle): {rows:?} {numbers:?}"
    );
    let champion = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["is_champion"] == true)
        .map(|v| v["version"].as_u64().unwrap());
    assert!(champion.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_of_run_both_serve_the_champion_one_of_them_trained() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(16775, "Sia", 6, 1000);
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--every",
        "1h",
        "--artist",
        "Sia",
        "--rate",
        "0",
        "--addr",
        "127.0.0.1:0",
        "--reload-interval",
        "200ms",
    ];
    let (a, base_a) =
        tokio::task::block_in_place(|| start_run(&mut songrec(&fake, dir.path(), &db, &args)));
    let (b, base_b) =
        tokio::task::block_in_place(|| start_run(&mut songrec(&fake, dir.path(), &db, &args)));
    let client = reqwest::Client::new();
    let mut served = Vec::new();
    for base in [&base_a, &base_b] {
        let mut version = None;
        for _ in 0..150 {
            if let Ok(r) = client.get(format!("{base}/model")).send().await
                && r.status() == 200
            {
                version = r.json::<Value>().await.unwrap()["version"].as_u64();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served.push(version.expect("the replica serves a champion"));
    }
    tokio::task::block_in_place(|| {
        stop(a);
        stop(b);
    });
    assert_eq!(served, vec![1, 1], "both serve version 1, trained once");
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let ran: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pipeline_cycles WHERE status = 'succeeded'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(ran, 1, "the hour's slot ran once across both processes");
}
