//! The whole pipeline through the real binary: generate -> import -> train -> serve -> HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_songrec");

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    fn songrec(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("DB_HOST")
            .current_dir(self.dir.path())
            .output()
            .expect("run songrec")
    }

    fn songrec_ok(&self, args: &[&str]) -> String {
        let out = self.songrec(args);
        assert!(
            out.status.success(),
            "songrec {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    fn serve(&self) -> Server {
        self.start_server(&["serve", "--addr", "127.0.0.1:0", "--reload-interval", "1s"])
    }

    /// Starts a serving command and reads the address it bound from its stderr.
    fn start_server(&self, args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("MLFLOW_TRACKING_URI")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start songrec serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut before = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("the server exited before printing its address")
                .expect("read stderr");
            if let Some(rest) = line.split("serving on http://").nth(1) {
                break format!("http://{}", rest.split('/').next().unwrap_or(rest));
            }
            before.push(line);
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            log: before.join("\n"),
        }
    }
}

struct Server {
    child: Child,
    base: String,
    /// What the command printed before it started serving.
    log: String,
}

impl Server {
    async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("HTTP request");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Waits (bounded) until the server reports a loaded model.
    async fn wait_ready(&self) {
        for _ in 0..200 {
            if self.get("/ready").await.0 == 200 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server did not load its model");
    }

    fn stop(mut self) -> std::process::ExitStatus {
        // SIGTERM: the server drains and exits cleanly.
        Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        self.child.wait().expect("wait for serve")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Song ids in the browse order (pageviews descending, ties by id, no pageviews last), and how
/// many have pageviews: the original's universe, which `/recommend/{index}` indexes.
fn browse_order_of(jsonl: &Path) -> (Vec<u64>, usize) {
    let text = std::fs::read_to_string(jsonl).expect("read catalogue");
    let mut songs: Vec<(Option<u64>, u64)> = text
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("json line");
            (
                v["stats"]["pageviews"].as_u64(),
                v["id"].as_u64().expect("id"),
            )
        })
        .collect();
    songs.sort_by(|a, b| songrec_catalog::browse_order(*a, *b));
    let with_pageviews = songs.iter().filter(|(views, _)| views.is_some()).count();
    (
        songs.into_iter().map(|(_, id)| id).collect(),
        with_pageviews,
    )
}

#[tokio::test]
async fn generated_catalogue_is_imported_trained_and_served_per_the_http_contract() {
    let world = World::new();
    let catalogue = world.path("songs.jsonl");
    let truth = world.path("truth.tsv");
    world.songrec_ok(&[
        "generate",
        "--songs",
        "1500",
        "--seed",
        "7",
        "--out",
        catalogue.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let (order, with_pageviews) = browse_order_of(&catalogue);
    assert_eq!(order.len(), 1500);
    assert!(
        (1..1500).contains(&with_pageviews),
        "the catalogue has songs with and without pageviews"
    );

    let summary = world.songrec_ok(&["import", catalogue.to_str().unwrap()]);
    assert_eq!(
        summary.trim(),
        "read 1500, inserted 1500, updated 0, rejected 0"
    );
    let again = world.songrec_ok(&["import", catalogue.to_str().unwrap()]);
    assert_eq!(again.trim(), "read 1500, inserted 0, updated 0, rejected 0");

    let trained: Value =
        serde_json::from_str(&world.songrec_ok(&["train", "--json"])).expect("train --json");
    assert_eq!(trained["songs"], 1500);
    assert_eq!(
        trained["promoted"], true,
        "the first model is always promoted"
    );
    assert!(trained["version"].as_u64().is_some());
    let metrics = trained["metrics"].as_object().expect("metrics");
    assert!(
        metrics.keys().any(|k| k.contains("coverage")),
        "coverage is reported: {metrics:?}"
    );

    let server = world.serve();
    assert_eq!(server.get("/health").await.0, 200);
    server.wait_ready().await;

    let (status, body) = server.get("/recommend/0?k=5").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["requested_song_id"], order[0],
        "index 0 is the most viewed song"
    );
    let ids: Vec<u64> = body["recommended_song_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_u64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(!ids.contains(&order[0]), "never the requested song");
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 5, "no duplicates");
    let viewed: std::collections::HashSet<u64> = order[..with_pageviews].iter().copied().collect();
    assert!(
        ids.iter().all(|id| viewed.contains(id)),
        "the original's route recommends only songs with pageviews: {ids:?}"
    );

    let last = with_pageviews - 1;
    let (status, body) = server.get(&format!("/recommend/{last}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["requested_song_id"], order[last]);
    assert_eq!(
        body["recommended_song_ids"].as_array().unwrap().len(),
        5,
        "k defaults to 5"
    );

    let (status, body) = server
        .get(&format!("/songs/{}/recommendations?k=3", order[10]))
        .await;
    assert_eq!(status, 200, "{body}");
    let items = body["recommendations"].as_array().expect("recommendations");
    assert_eq!(items.len(), 3);
    for item in items {
        assert!(item["id"].as_u64().is_some_and(|id| id != order[10]));
        assert!(item["title"].as_str().is_some());
        assert!(item["artist"].as_str().is_some());
        assert!(item["score"].as_f64().is_some());
    }

    let (status, _) = server.get(&format!("/recommend/{with_pageviews}")).await;
    assert_eq!(
        status, 404,
        "songs without pageviews are not on the original's route"
    );
    for (path, expected) in [
        ("/recommend/1500", 404),
        ("/recommend/99999999", 404),
        ("/recommend/abc", 400),
        ("/recommend/-1", 404),
        ("/recommend/0?k=0", 400),
        ("/recommend/0?k=101", 400),
        ("/recommend/0?k=abc", 400),
        ("/songs/1/recommendations", 404),
        ("/songs/abc/recommendations", 400),
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, expected, "{path} -> {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path} answers a JSON error: {body}"
        );
    }
    let (status, _) = server.get("/recommend/0?k=100").await;
    assert_eq!(status, 200, "k = 100 is allowed");

    assert!(server.stop().success(), "SIGTERM stops the server cleanly");
}

#[tokio::test]
async fn a_server_without_a_model_is_up_but_not_ready() {
    let world = World::new();
    let server = world.serve();
    assert_eq!(server.get("/health").await.0, 200);
    let (status, body) = server.get("/ready").await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = server.get("/recommend/0?k=5").await;
    assert_eq!(status, 503);
    assert!(body["error"].as_str().is_some());
}

#[test]
fn training_an_empty_store_fails_with_one_clear_line() {
    let world = World::new();
    let out = world.songrec(&["train"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line: {stderr}");
}

#[tokio::test]
async fn demo_seeds_trains_and_serves_then_reuses_everything_on_a_second_run() {
    let world = World::new();
    let demo = ["demo", "--addr", "127.0.0.1:0", "--songs", "400"];

    let first = world.start_server(&demo);
    assert!(
        first.log.contains("generating 400 sample songs"),
        "{}",
        first.log
    );
    first.wait_ready().await;
    let (status, body) = first.get("/recommend/0?k=5").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recommended_song_ids"].as_array().unwrap().len(), 5);
    assert!(first.stop().success(), "the demo stops cleanly");

    let second = world.start_server(&demo);
    assert!(
        second.log.contains("already holds 400 songs"),
        "{}",
        second.log
    );
    assert!(second.log.contains("existing champion"), "{}", second.log);
    second.wait_ready().await;
    assert_eq!(second.get("/recommend/0?k=5").await.0, 200);
    drop(second);

    let versions = world.songrec_ok(&["models", "list", "--json"]);
    let versions: Value = serde_json::from_str(&versions).expect("models list --json");
    assert_eq!(
        versions.as_array().map(Vec::len),
        Some(1),
        "no retraining: {versions}"
    );
}
