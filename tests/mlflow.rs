//! `songrec models` against both registries, and MLflow's own Python client reading what songrec
//! wrote. MLflow-backed tests need `SONGREC_TEST_MLFLOW_URI` (see `.ci/mlflow.sh`) and, for the
//! Python client, `SONGREC_TEST_MLFLOW_PYTHON` (the venv's python); without them they are skipped,
//! unless `SONGREC_REQUIRE_SERVICES=1`, in which case they fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use songrec_registry::{
    MlflowAuth, MlflowConfig, NewVersion, PromotionPolicy, Registry, sha256_file,
};

const PRIMARY: &str = "heldout_hit_rate_at_10";

fn required() -> bool {
    std::env::var("SONGREC_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// The test MLflow server, or `None` (with a message) when the test should be skipped.
async fn mlflow_uri() -> Option<String> {
    let Some(uri) = std::env::var("SONGREC_TEST_MLFLOW_URI")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            !required(),
            "SONGREC_TEST_MLFLOW_URI is not set and SONGREC_REQUIRE_SERVICES=1"
        );
        eprintln!("skipping: SONGREC_TEST_MLFLOW_URI is not set (see .ci/mlflow.sh)");
        return None;
    };
    let uri = uri.trim_end_matches('/').to_string();
    match reqwest::get(format!("{uri}/health")).await {
        Ok(r) if r.status().is_success() => Some(uri),
        other => {
            assert!(!required(), "MLflow at {uri} is not healthy: {other:?}");
            eprintln!("skipping: MLflow at {uri} is not reachable: {other:?}");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A data dir, and the environment `songrec` runs with (the registry chosen by `mlflow`).
struct Cli {
    dir: tempfile::TempDir,
    mlflow: Option<(String, String, String)>,
}

impl Cli {
    fn local() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
            mlflow: None,
        }
    }

    fn mlflow(uri: &str) -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
            mlflow: Some((
                uri.to_string(),
                unique("songrec-cli-model"),
                unique("songrec-cli-experiment"),
            )),
        }
    }

    /// The registry `songrec` itself would open, for setting up versions.
    fn registry(&self) -> Registry {
        match &self.mlflow {
            None => Registry::local(&self.dir.path().join("registry")).unwrap(),
            Some((uri, model, experiment)) => Registry::mlflow(MlflowConfig {
                tracking_uri: uri.parse().unwrap(),
                auth: MlflowAuth::None,
                experiment: experiment.clone(),
                model_name: model.clone(),
                cache_dir: self.dir.path().join("setup-cache"),
                timeout: songrec_registry::DEFAULT_MLFLOW_TIMEOUT,
            })
            .unwrap(),
        }
    }

    fn model_name(&self) -> &str {
        self.mlflow.as_ref().map_or("", |(_, m, _)| m)
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_songrec"));
        command
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_TOKEN")
            .env_remove("MLFLOW_TRACKING_USERNAME")
            .env_remove("MLFLOW_TRACKING_PASSWORD")
            .env_remove("SONGREC_MODEL_NAME")
            .env_remove("SONGREC_EXPERIMENT");
        if let Some((uri, model, experiment)) = &self.mlflow {
            command
                .env("MLFLOW_TRACKING_URI", uri)
                .env("SONGREC_MODEL_NAME", model)
                .env("SONGREC_EXPERIMENT", experiment);
        }
        command.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "songrec {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn model_file(&self, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(unique("model"));
        std::fs::write(&path, content).unwrap();
        path
    }
}

async fn register(
    registry: &Registry,
    file: &Path,
    score: f64,
    policy: PromotionPolicy,
) -> (u64, bool) {
    let new = NewVersion {
        model_file: file,
        checksum: sha256_file(file).unwrap(),
        params: BTreeMap::from([("k".to_string(), "100".to_string())]),
        metrics: BTreeMap::from([(PRIMARY.to_string(), score)]),
        timings: BTreeMap::from([("total".to_string(), 0.5)]),
        songs: 42,
    };
    let registered = registry
        .register_and_promote(new, policy, PRIMARY)
        .await
        .unwrap();
    (registered.version.version, registered.decision.promote)
}

fn champions(list: &Value) -> Vec<(u64, bool)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["is_champion"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// list, show, promote and rollback through the binary, whichever registry `cli` points at.
async fn models_commands_manage_versions(cli: &Cli) {
    let registry = cli.registry();
    assert_eq!(
        cli.json(&["models", "list", "--json"]),
        Value::Array(vec![])
    );
    let out = cli.run(&["models", "rollback"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no earlier champion"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let first = cli.model_file(b"first model");
    assert_eq!(
        register(&registry, &first, 0.5, PromotionPolicy::Auto).await,
        (1, true)
    );
    let second = cli.model_file(b"second model");
    assert_eq!(
        register(&registry, &second, 0.4, PromotionPolicy::Auto).await,
        (2, false)
    );

    let list = cli.json(&["models", "list", "--json"]);
    assert_eq!(champions(&list), vec![(1, true), (2, false)]);
    let table = cli.ok(&["models", "list"]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[0].contains("VERSION") && rows[0].contains("HELDOUT_HIT_RATE_AT_10"),
        "{table}"
    );
    assert!(
        rows[1].starts_with("*  1") && rows[1].contains("0.5000"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("   2") && rows[2].contains("0.4000"),
        "{table}"
    );

    let shown = cli.json(&["models", "show", "2", "--json"]);
    assert_eq!(shown["checksum"], sha256_file(&second).unwrap().as_str());
    assert_eq!(shown["songs"], 42);
    assert_eq!(shown["params"]["k"], "100");
    assert_eq!(shown["timings"]["total"], 0.5);
    assert!(cli.ok(&["models", "show", "2"]).contains("champion     no"));

    assert_eq!(
        cli.ok(&["models", "promote", "2"]).trim(),
        "version 2 is now the champion (was 1)"
    );
    let list = cli.json(&["models", "list", "--json"]);
    assert_eq!(champions(&list), vec![(1, false), (2, true)]);
    assert_eq!(
        cli.ok(&["models", "rollback"]).trim(),
        "version 1 is now the champion (was 2)"
    );
    assert_eq!(registry.champion().await.unwrap().unwrap().version, 1);

    let out = cli.run(&["models", "promote", "9"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no model version 9"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli.run(&["models", "show", "9"]);
    assert!(!out.status.success());
}

#[tokio::test]
async fn models_commands_manage_the_local_registry() {
    models_commands_manage_versions(&Cli::local()).await;
}

#[tokio::test]
async fn models_commands_manage_the_mlflow_registry() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    models_commands_manage_versions(&Cli::mlflow(&uri)).await;
}

#[tokio::test]
async fn an_unreachable_mlflow_is_reported_in_one_line_with_a_failing_exit() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cli = Cli::mlflow(&format!("http://127.0.0.1:{port}"));
    let out = cli.run(&["models", "list"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ")
            && last.contains(&format!("MLflow at http://127.0.0.1:{port} is unreachable")),
        "{stderr}"
    );
}

#[tokio::test]
async fn mlflow_credentials_never_appear_in_messages() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cli = Cli::mlflow(&format!("http://user:hunter2@127.0.0.1:{port}"));
    let out = cli.run(&["--log", "debug", "models", "list"]);
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("unreachable"), "{all}");
}

/// The venv python with MLflow installed, or `None` (with a message) to skip.
fn mlflow_python() -> Option<String> {
    match std::env::var("SONGREC_TEST_MLFLOW_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                !required(),
                "SONGREC_TEST_MLFLOW_PYTHON is not set and SONGREC_REQUIRE_SERVICES=1"
            );
            eprintln!("skipping: SONGREC_TEST_MLFLOW_PYTHON is not set (see .ci/mlflow.sh python)");
            None
        }
    }
}

const PYTHON_READER: &str = r#"
import hashlib, json, os, sys, tempfile
import mlflow.artifacts
from mlflow import MlflowClient

uri, name = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
mv = client.get_model_version_by_alias(name, "champion")
model = client.download_artifacts(mv.run_id, "model/model.bin", tempfile.mkdtemp())
folder = mlflow.artifacts.download_artifacts(
    artifact_uri=mv.source, dst_path=tempfile.mkdtemp(), tracking_uri=uri
)
with open(model, "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
with open(os.path.join(folder, "card.json")) as f:
    card = json.load(f)
run = client.get_run(mv.run_id)
print(json.dumps({
    "version": mv.version,
    "sha256": digest,
    "files": sorted(os.listdir(folder)),
    "card_checksum": card["checksum_sha256"],
    "tags": dict(mv.tags),
    "status": run.info.status,
    "params": run.data.params,
    "metrics": run.data.metrics,
}))
"#;

#[tokio::test]
async fn the_mlflow_python_client_reads_the_champion_songrec_registered() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    let Some(python) = mlflow_python() else {
        return;
    };
    let cli = Cli::mlflow(&uri);
    let registry = cli.registry();
    let first = cli.model_file(b"first model");
    register(&registry, &first, 0.5, PromotionPolicy::Auto).await;
    let second = cli.model_file(b"second, better model");
    assert_eq!(
        register(&registry, &second, 0.6, PromotionPolicy::Auto).await,
        (2, true)
    );

    let out = Command::new(&python)
        .arg("-c")
        .arg(PYTHON_READER)
        .arg(&uri)
        .arg(cli.model_name())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let read: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let checksum = sha256_file(&second).unwrap();
    assert_eq!(read["version"], "2");
    assert_eq!(read["sha256"], checksum.as_str());
    assert_eq!(read["card_checksum"], checksum.as_str());
    assert_eq!(read["files"], serde_json::json!(["card.json", "model.bin"]));
    assert_eq!(read["tags"]["songrec.checksum"], checksum.as_str());
    assert_eq!(read["status"], "FINISHED");
    assert_eq!(read["params"]["k"], "100");
    assert_eq!(read["metrics"][PRIMARY], 0.6);
}

/// Real model files: trained on a small synthetic catalogue with two different k.
fn trained_model_files(dir: &Path) -> Vec<(PathBuf, songrec_model::ModelInfo)> {
    let mut jsonl = Vec::new();
    songrec_synth::generate(
        songrec_synth::Options {
            songs: 400,
            seed: 7,
        },
        &mut jsonl,
        None,
    )
    .unwrap();
    let songs: Vec<_> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|line| songrec_genius::parse_song_value(serde_json::from_str(line).unwrap()).unwrap())
        .collect();
    [10, 20]
        .iter()
        .map(|&k| {
            let params = songrec_model::TrainParams {
                k,
                ..songrec_model::TrainParams::default()
            };
            let trained = songrec_model::train(&songs, &params).unwrap();
            let path = dir.join(format!("model-k{k}.bin"));
            trained.model.save(&path).unwrap();
            (path, trained.model.info().clone())
        })
        .collect()
}

/// `songrec serve` as a child process on a free port, killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(cli: &Cli) -> Server {
        use std::io::BufRead;
        let (uri, model, experiment) = cli.mlflow.clone().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_songrec"))
            .arg("--data-dir")
            .arg(cli.dir.path())
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--reload-interval",
                "200ms",
            ])
            .current_dir(cli.dir.path())
            .env("MLFLOW_TRACKING_URI", uri)
            .env("SONGREC_MODEL_NAME", model)
            .env("SONGREC_EXPERIMENT", experiment)
            .env("SONGREC_LOG", "warn")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("serve exited before saying where it listens")
                .unwrap();
            if let Some(rest) = line.split("serving on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_string();
            }
        };
        // Keep draining stderr so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    /// Polls `GET /model` until it reports `version`; a bounded wait, not a timing assertion.
    async fn wait_for_version(&self, version: u64) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            if let Ok(response) = reqwest::get(format!("{}/model", self.base)).await
                && response.status().is_success()
            {
                last = response.json().await.unwrap();
                if last["version"] == version {
                    return last;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the server never served version {version}; last /model: {last}");
    }
}

#[tokio::test]
async fn serve_picks_up_a_new_mlflow_champion_and_a_rollback_without_restart() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    let cli = Cli::mlflow(&uri);
    let registry = cli.registry();
    let models = trained_model_files(cli.dir.path());
    let register_trained = |i: usize, policy| {
        let (path, info) = &models[i];
        let new = NewVersion {
            model_file: path,
            checksum: sha256_file(path).unwrap(),
            params: info.params.clone(),
            metrics: info.metrics.clone(),
            timings: BTreeMap::new(),
            songs: info.songs as u64,
        };
        let registry = &registry;
        async move {
            registry
                .register_and_promote(new, policy, songrec_model::PRIMARY_METRIC)
                .await
                .unwrap()
        }
    };
    assert!(
        register_trained(0, PromotionPolicy::Auto)
            .await
            .decision
            .promote
    );

    let server = Server::start(&cli);
    let served = server.wait_for_version(1).await;
    assert_eq!(
        served["checksum"],
        sha256_file(&models[0].0).unwrap().as_str()
    );
    assert_eq!(served["max_k"], 10);

    assert!(
        register_trained(1, PromotionPolicy::Always)
            .await
            .decision
            .promote
    );
    let served = server.wait_for_version(2).await;
    assert_eq!(served["max_k"], 20);
    let response = reqwest::get(format!("{}/recommend/0?k=15", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    cli.ok(&["models", "rollback"]);
    let served = server.wait_for_version(1).await;
    assert_eq!(served["max_k"], 10);
}

/// GET on MLflow's REST API, as JSON.
async fn mlflow_get(uri: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{uri}/api/2.0/mlflow/{path}"))
        .query(query)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn champion_alias(uri: &str, model: &str) -> (String, String) {
    let alias = mlflow_get(
        uri,
        "registered-models/alias",
        &[("name", model), ("alias", "champion")],
    )
    .await;
    let version = &alias["model_version"];
    (
        version["version"].as_str().unwrap().to_string(),
        version["run_id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn songrec_train_logs_to_mlflow_and_only_the_policy_moves_the_champion_alias() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    let cli = Cli::mlflow(&uri);
    let model = cli.model_name().to_string();
    let catalogue = cli.dir.path().join("songs.jsonl");
    cli.ok(&[
        "generate",
        "--songs",
        "1200",
        "--seed",
        "5",
        "--out",
        catalogue.to_str().unwrap(),
    ]);
    cli.ok(&["import", catalogue.to_str().unwrap()]);

    let first = cli.json(&["train", "--json", "--k", "20"]);
    assert_eq!(
        (first["version"].as_u64(), first["promoted"].as_bool()),
        (Some(1), Some(true))
    );
    let (version, run_id) = champion_alias(&uri, &model).await;
    assert_eq!(version, "1");

    // The run holds the params, the metrics and the model file with its card.
    let run = mlflow_get(&uri, "runs/get", &[("run_id", &run_id)]).await;
    assert_eq!(run["run"]["info"]["status"], "FINISHED");
    let params = run["run"]["data"]["params"].as_array().unwrap();
    assert!(
        params.iter().any(|p| p["key"] == "k" && p["value"] == "20"),
        "{params:?}"
    );
    let metrics = run["run"]["data"]["metrics"].as_array().unwrap();
    let logged_primary = metrics
        .iter()
        .find(|m| m["key"] == PRIMARY)
        .and_then(|m| m["value"].as_f64())
        .expect("the primary metric is logged");
    assert_eq!(Some(logged_primary), first["metrics"][PRIMARY].as_f64());
    let artifacts = mlflow_get(
        &uri,
        "artifacts/list",
        &[("run_id", &run_id), ("path", "model")],
    )
    .await;
    let files: Vec<&str> = artifacts["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(files.iter().any(|f| f.ends_with("model.bin")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with("card.json")), "{files:?}");

    // The original model recovers fewer hidden credits: registered, not promoted.
    let worse = cli.json(&["train", "--json", "--features", "original"]);
    assert_eq!(
        (worse["version"].as_u64(), worse["promoted"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(champion_alias(&uri, &model).await.0, "1");

    let forced = cli.json(&[
        "train",
        "--json",
        "--features",
        "original",
        "--promote",
        "always",
    ]);
    assert_eq!(
        (forced["version"].as_u64(), forced["promoted"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(champion_alias(&uri, &model).await.0, "3");

    cli.ok(&["models", "rollback"]);
    assert_eq!(champion_alias(&uri, &model).await.0, "1");

    // MLflow unreachable: training fails in one line and the real server's alias stays put.
    let mut down = Command::new(env!("CARGO_BIN_EXE_songrec"));
    let out = down
        .arg("--data-dir")
        .arg(cli.dir.path())
        .args(["train", "--json"])
        .env("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
        .env("SONGREC_MODEL_NAME", &model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("MLflow"), "{stderr}");
    assert_eq!(champion_alias(&uri, &model).await.0, "1");
}
