//! The MLflow registry against a real MLflow server (`.ci/mlflow.sh start`), named by
//! `SONGREC_TEST_MLFLOW_URI`. Without it the tests are skipped, unless `SONGREC_REQUIRE_SERVICES=1`,
//! in which case they fail. Each test uses its own experiment and registered model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use mlflow_proxy::FailingProxy;
use serde_json::{Value, json};
use songrec_registry::{
    MlflowAuth, MlflowConfig, NewVersion, PromotionPolicy, Registry, RegistryError, sha256_file,
};

#[path = "support/mlflow_proxy.rs"]
mod mlflow_proxy;

const PRIMARY: &str = "heldout_hit_rate_at_10";

/// The test server's URI, or `None` (with a message) when the test should be skipped.
async fn mlflow_uri() -> Option<String> {
    let required = std::env::var("SONGREC_REQUIRE_SERVICES").as_deref() == Ok("1");
    let uri = match std::env::var("SONGREC_TEST_MLFLOW_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => {
            assert!(
                !required,
                "SONGREC_TEST_MLFLOW_URI is not set and SONGREC_REQUIRE_SERVICES=1"
            );
            eprintln!("skipping: SONGREC_TEST_MLFLOW_URI is not set (see .ci/mlflow.sh)");
            return None;
        }
    };
    let health = reqwest::get(format!("{}/health", uri.trim_end_matches('/'))).await;
    match health {
        Ok(r) if r.status().is_success() => Some(uri.trim_end_matches('/').to_string()),
        other => {
            assert!(!required, "MLflow at {uri} is not healthy: {other:?}");
            eprintln!("skipping: MLflow at {uri} is not reachable: {other:?}");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's registered model and experiment, plus a raw REST client to check what was written.
struct World {
    uri: String,
    dir: tempfile::TempDir,
    model_name: String,
    experiment: String,
    registry: Registry,
    http: reqwest::Client,
}

impl World {
    async fn new() -> Option<World> {
        let uri = mlflow_uri().await?;
        Some(World::at(&uri, &uri))
    }

    /// A world whose registry talks to `registry_uri` (e.g. a failing proxy) while checks go to
    /// the real server at `uri`.
    fn at(uri: &str, registry_uri: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let model_name = unique("songrec-test-model");
        let experiment = unique("songrec-test-experiment");
        let registry = registry_for(registry_uri, &model_name, &experiment, dir.path());
        World {
            uri: uri.to_string(),
            dir,
            model_name,
            experiment,
            registry,
            http: reqwest::Client::new(),
        }
    }

    /// Another registry on the same model and experiment, through `uri`.
    fn registry_via(&self, uri: &str) -> Registry {
        registry_for(uri, &self.model_name, &self.experiment, self.dir.path())
    }

    fn model_file(&self, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(format!("model-{}", unique("f")));
        std::fs::write(&path, content).unwrap();
        path
    }

    async fn register(
        &self,
        registry: &Registry,
        content: &[u8],
        score: f64,
        policy: PromotionPolicy,
    ) -> Result<(u64, bool), RegistryError> {
        let file = self.model_file(content);
        let registered = registry
            .register_and_promote(new_version(&file, score), policy, PRIMARY)
            .await?;
        Ok((registered.version.version, registered.decision.promote))
    }

    async fn champion(&self) -> Option<u64> {
        self.registry.champion().await.unwrap().map(|v| v.version)
    }

    async fn api_get(&self, endpoint: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .get(format!("{}/api/2.0/mlflow/{endpoint}", self.uri))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{endpoint}: {status} {body}");
        body
    }

    async fn api_post(&self, endpoint: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/api/2.0/mlflow/{endpoint}", self.uri))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{endpoint}: {status} {body}");
        body
    }

    async fn runs(&self) -> Vec<Value> {
        let experiment = self
            .api_get(
                "experiments/get-by-name",
                &[("experiment_name", &self.experiment)],
            )
            .await;
        let id = experiment["experiment"]["experiment_id"].clone();
        let found = self
            .api_post("runs/search", json!({"experiment_ids": [id]}))
            .await;
        found["runs"].as_array().cloned().unwrap_or_default()
    }

    async fn artifact(&self, run_id: &str, path: &str) -> Vec<u8> {
        let run = self.api_get("runs/get", &[("run_id", run_id)]).await;
        let root = run["run"]["info"]["artifact_uri"].as_str().unwrap();
        let root = root
            .trim_start_matches("mlflow-artifacts:")
            .trim_matches('/');
        let response = self
            .http
            .get(format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}",
                self.uri
            ))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.bytes().await.unwrap().to_vec()
    }
}

fn registry_for(uri: &str, model_name: &str, experiment: &str, dir: &Path) -> Registry {
    registry_with_timeout(
        uri,
        model_name,
        experiment,
        dir,
        songrec_registry::DEFAULT_MLFLOW_TIMEOUT,
    )
}

fn registry_with_timeout(
    uri: &str,
    model_name: &str,
    experiment: &str,
    dir: &Path,
    timeout: std::time::Duration,
) -> Registry {
    Registry::mlflow(MlflowConfig {
        tracking_uri: uri.parse().unwrap(),
        auth: MlflowAuth::None,
        experiment: experiment.to_string(),
        model_name: model_name.to_string(),
        cache_dir: dir.join("cache"),
        timeout,
    })
    .unwrap()
}

fn new_version(file: &Path, score: f64) -> NewVersion<'_> {
    NewVersion {
        model_file: file,
        checksum: sha256_file(file).unwrap(),
        params: BTreeMap::from([
            ("k".to_string(), "100".to_string()),
            ("features".to_string(), "full".to_string()),
        ]),
        metrics: BTreeMap::from([
            (PRIMARY.to_string(), score),
            ("coverage_at_10".to_string(), 0.75),
        ]),
        timings: BTreeMap::from([("features".to_string(), 0.5), ("total".to_string(), 1.25)]),
        songs: 1234,
    }
}

fn tag<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
}

#[tokio::test]
async fn a_registration_logs_the_run_uploads_artifacts_and_creates_a_version() {
    let Some(world) = World::new().await else {
        return;
    };
    let file = world.model_file(b"model file bytes");
    let checksum = sha256_file(&file).unwrap();
    let registered = world
        .registry
        .register_and_promote(new_version(&file, 0.5), PromotionPolicy::Auto, PRIMARY)
        .await
        .unwrap();
    assert_eq!(registered.version.version, 1);
    assert!(registered.decision.promote && registered.version.is_champion);
    let run_id = registered.version.run_id.clone().unwrap();

    // The run: finished, with params, metrics, timings and songrec's tags.
    let run = world.api_get("runs/get", &[("run_id", &run_id)]).await;
    let run = &run["run"];
    assert_eq!(run["info"]["status"], "FINISHED");
    assert!(run["info"]["start_time"].as_i64().unwrap() > 0);
    assert!(
        run["info"]["end_time"].as_i64().unwrap() >= run["info"]["start_time"].as_i64().unwrap()
    );
    let params: BTreeMap<String, String> = run["data"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().into(),
                p["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(params["k"], "100");
    assert_eq!(params["features"], "full");
    let metrics: BTreeMap<String, f64> = run["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().into(),
                m["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(metrics[PRIMARY], 0.5);
    assert_eq!(metrics["coverage_at_10"], 0.75);
    assert_eq!(metrics["timing/total"], 1.25);
    assert_eq!(
        tag(&run["data"]["tags"], "songrec.checksum"),
        Some(checksum.as_str())
    );
    assert_eq!(tag(&run["data"]["tags"], "songrec.songs"), Some("1234"));

    // The artifacts: the model file byte for byte, and a card that describes it.
    assert_eq!(
        world.artifact(&run_id, "model/model.bin").await,
        b"model file bytes"
    );
    let card: Value =
        serde_json::from_slice(&world.artifact(&run_id, "model/card.json").await).unwrap();
    assert_eq!(card["checksum_sha256"], checksum.as_str());
    assert_eq!(card["songs"], 1234);
    assert_eq!(card["model_name"], world.model_name.as_str());
    assert_eq!(card["metrics"][PRIMARY], 0.5);

    // The model version: from that run, its source the run's model folder, aliased champion.
    let mv = world
        .api_get(
            "registered-models/alias",
            &[("name", &world.model_name), ("alias", "champion")],
        )
        .await;
    let mv = &mv["model_version"];
    assert_eq!(mv["version"], "1");
    assert_eq!(mv["run_id"], run_id.as_str());
    assert!(
        mv["source"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{run_id}/artifacts/model")),
        "{mv}"
    );
    assert_eq!(
        tag(&mv["tags"], "songrec.checksum"),
        Some(checksum.as_str())
    );

    // And the registry reads back what it wrote.
    let info = world.registry.get(1).await.unwrap();
    assert_eq!(info, registered.version.clone());
    assert_eq!(world.registry.champion().await.unwrap(), Some(info));
}

#[tokio::test]
async fn a_worse_model_leaves_the_alias_always_moves_it_and_rollback_moves_it_back() {
    let Some(world) = World::new().await else {
        return;
    };
    let r = &world.registry;
    assert_eq!(r.champion().await.unwrap(), None);
    assert!(r.list().await.unwrap().is_empty());
    assert!(matches!(
        r.rollback().await,
        Err(RegistryError::NothingToRollBack)
    ));

    assert_eq!(
        world
            .register(r, b"one", 0.5, PromotionPolicy::Auto)
            .await
            .unwrap(),
        (1, true)
    );
    assert_eq!(
        world
            .register(r, b"two", 0.4, PromotionPolicy::Auto)
            .await
            .unwrap(),
        (2, false)
    );
    assert_eq!(world.champion().await, Some(1));
    assert_eq!(
        world
            .register(r, b"three", 0.3, PromotionPolicy::Always)
            .await
            .unwrap(),
        (3, true)
    );
    assert_eq!(world.champion().await, Some(3));

    let listed: Vec<(u64, bool, f64)> = r
        .list()
        .await
        .unwrap()
        .iter()
        .map(|v| (v.version, v.is_champion, v.metrics[PRIMARY]))
        .collect();
    assert_eq!(
        listed,
        vec![(1, false, 0.5), (2, false, 0.4), (3, true, 0.3)]
    );

    let back = r.rollback().await.unwrap();
    assert_eq!((back.version, back.is_champion), (1, true));
    assert_eq!(world.champion().await, Some(1));
    assert!(matches!(
        r.rollback().await,
        Err(RegistryError::NothingToRollBack)
    ));

    r.promote(2).await.unwrap();
    assert_eq!(world.champion().await, Some(2));
    assert_eq!(r.rollback().await.unwrap().version, 1);
    assert!(matches!(
        r.promote(9).await,
        Err(RegistryError::NoSuchVersion(9))
    ));
    assert_eq!(world.champion().await, Some(1));
}

#[tokio::test]
async fn rollback_follows_an_alias_moved_by_hand() {
    let Some(world) = World::new().await else {
        return;
    };
    let r = &world.registry;
    world
        .register(r, b"one", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();
    world
        .register(r, b"two", 0.1, PromotionPolicy::Never)
        .await
        .unwrap();
    world
        .api_post(
            "registered-models/alias",
            json!({"name": world.model_name, "alias": "champion", "version": "2"}),
        )
        .await;
    assert_eq!(world.champion().await, Some(2));
    assert_eq!(r.rollback().await.unwrap().version, 1);
}

#[tokio::test]
async fn model_files_are_downloaded_verified_and_cached() {
    let Some(world) = World::new().await else {
        return;
    };
    let r = &world.registry;
    world
        .register(r, b"the model", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();

    // A fresh registry (as in a server on another machine) downloads the file.
    let other_dir = tempfile::tempdir().unwrap();
    let server_side = registry_for(
        &world.uri,
        &world.model_name,
        &world.experiment,
        other_dir.path(),
    );
    let path = server_side.model_file(1).await.unwrap();
    assert!(path.starts_with(other_dir.path()));
    assert_eq!(std::fs::read(&path).unwrap(), b"the model");
    assert_eq!(server_side.model_file(1).await.unwrap(), path);

    // A damaged cached copy is replaced by a fresh download.
    std::fs::write(&path, b"the modeX").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        std::fs::read(server_side.model_file(1).await.unwrap()).unwrap(),
        b"the model"
    );

    // Unverified: a cached copy comes back as it is with the recorded checksum, even damaged
    // (the caller checks it); the verified call then replaces it with a fresh download.
    let recorded = sha256_file(&path).unwrap();
    let cached = server_side.model_file_unverified(1).await.unwrap();
    assert_eq!((&cached.path, &cached.checksum), (&path, &recorded));
    std::fs::write(&path, b"the modeY").unwrap();
    assert_eq!(server_side.model_file_unverified(1).await.unwrap(), cached);
    assert_eq!(std::fs::read(&path).unwrap(), b"the modeY");
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
        .unwrap();
    server_side.model_file(1).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"the model");

    // Unverified on a fresh cache: downloaded, and checked while it streams to disk.
    let unverified_dir = tempfile::tempdir().unwrap();
    let downloading = registry_for(
        &world.uri,
        &world.model_name,
        &world.experiment,
        unverified_dir.path(),
    );
    let downloaded = downloading.model_file_unverified(1).await.unwrap();
    assert!(downloaded.path.starts_with(unverified_dir.path()));
    assert_eq!(downloaded.checksum, recorded);
    assert_eq!(std::fs::read(&downloaded.path).unwrap(), b"the model");

    // A version whose recorded checksum does not match its artifact is refused.
    world
        .api_post(
            "model-versions/set-tag",
            json!({"name": world.model_name, "version": "1", "key": "songrec.checksum", "value": "0".repeat(64)}),
        )
        .await;
    let third_dir = tempfile::tempdir().unwrap();
    let fresh = registry_for(
        &world.uri,
        &world.model_name,
        &world.experiment,
        third_dir.path(),
    );
    assert!(matches!(
        fresh.model_file(1).await,
        Err(RegistryError::ChecksumMismatch { version: 1 })
    ));
    let fourth_dir = tempfile::tempdir().unwrap();
    let fresh = registry_for(
        &world.uri,
        &world.model_name,
        &world.experiment,
        fourth_dir.path(),
    );
    assert!(matches!(
        fresh.model_file_unverified(1).await,
        Err(RegistryError::ChecksumMismatch { version: 1 })
    ));
}

#[tokio::test]
async fn a_deleted_experiment_is_restored_and_used() {
    let Some(world) = World::new().await else {
        return;
    };
    let created = world
        .api_post("experiments/create", json!({"name": world.experiment}))
        .await;
    let id = created["experiment_id"].as_str().unwrap().to_string();
    world
        .api_post("experiments/delete", json!({"experiment_id": id}))
        .await;
    world
        .register(&world.registry, b"one", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();
    let experiment = world
        .api_get("experiments/get", &[("experiment_id", &id)])
        .await;
    assert_eq!(experiment["experiment"]["lifecycle_stage"], "active");
    assert_eq!(world.runs().await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_for(&format!("http://127.0.0.1:{port}"), "m", "e", dir.path());
    let file = dir.path().join("model");
    std::fs::write(&file, b"x").unwrap();
    let error = registry
        .register(new_version(&file, 0.5))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::MlflowUnreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("experiments/get-by-name"), "{message}");
    assert!(matches!(
        registry.champion().await,
        Err(RegistryError::MlflowUnreachable { .. })
    ));
}

#[tokio::test]
async fn a_registration_that_fails_at_version_creation_fails_the_run_and_keeps_the_champion() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    let proxy = FailingProxy::start(&uri, |path| path.ends_with("/model-versions/create")).await;
    let world = World::at(&uri, &proxy.uri);
    let direct = world.registry_via(&uri);
    world
        .register(&direct, b"one", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();

    proxy.fail(true);
    let error = world
        .register(&world.registry, b"two", 0.9, PromotionPolicy::Always)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("model-versions/create"),
        "{error}"
    );

    assert_eq!(world.champion().await, Some(1));
    let versions: Vec<u64> = direct
        .list()
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, vec![1]);
    let runs = world.runs().await;
    let failed: Vec<&Value> = runs
        .iter()
        .filter(|r| r["info"]["status"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1, "{runs:?}");
    let reason = tag(&failed[0]["data"]["tags"], "songrec.error").unwrap();
    assert!(reason.contains("model-versions/create"), "{reason}");
}

#[tokio::test]
async fn mlflow_going_down_during_the_upload_leaves_no_version_and_the_champion_in_place() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    // Once the model file upload starts, every request fails, as if the server had died.
    let proxy = FailingProxy::start(&uri, |_| true).await;
    let world = World::at(&uri, &proxy.uri);
    world
        .register(&world.registry, b"one", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();
    proxy.fail_from(|path| path.contains("/mlflow-artifacts/"));

    let error = world
        .register(&world.registry, b"two", 0.9, PromotionPolicy::Always)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("upload of"), "{error}");

    // Checked on the real server: the proxy is still "down".
    let direct = world.registry_via(&uri);
    let champion = direct.champion().await.unwrap().map(|v| v.version);
    assert_eq!(champion, Some(1));
    let versions: Vec<u64> = direct
        .list()
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, vec![1]);
    // What is served is still the first model, intact.
    let path = direct.model_file(1).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), b"one");
}

/// MLflow slow rather than down: the upload, then the version creation, answer after the
/// client's timeout. Each registration fails naming the call and the timeout, the run is marked
/// FAILED, the champion stays, and every version listed has its files. The version whose
/// creation the server finished after the client gave up is left unpromoted, whole.
#[tokio::test]
async fn a_slow_mlflow_times_out_a_registration_clearly_and_keeps_the_champion() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    let proxy = FailingProxy::start(&uri, |_| false).await;
    let world = World::at(&uri, &proxy.uri);
    let direct = world.registry_via(&uri);
    world
        .register(&direct, b"one", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();
    let slow = registry_with_timeout(
        &proxy.uri,
        &world.model_name,
        &world.experiment,
        world.dir.path(),
        std::time::Duration::from_secs(1),
    );
    let delay = std::time::Duration::from_secs(3);
    for (call, shown) in [
        ("/mlflow-artifacts/", "upload of"),
        ("/model-versions/create", "model-versions/create"),
    ] {
        proxy.delay(move |path| path.contains(call), delay);
        let started = std::time::Instant::now();
        let error = world
            .register(&slow, b"two", 0.9, PromotionPolicy::Always)
            .await
            .unwrap_err();
        let waited = started.elapsed();
        proxy.no_delay();
        assert!(
            matches!(error, RegistryError::MlflowTimedOut { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(shown) && message.contains("within 1 s"),
            "{message}"
        );
        eprintln!("figure: MLflow slow at {call}: failed after {waited:.1?}: {message}");
        assert_eq!(world.champion().await, Some(1));
    }
    // Let the late version creation finish on the server before looking.
    tokio::time::sleep(delay).await;
    let versions = direct.list().await.unwrap();
    for v in &versions {
        let file = direct.model_file(v.version).await.unwrap();
        assert_eq!(sha256_file(&file).unwrap(), v.checksum);
    }
    let failed = world
        .runs()
        .await
        .into_iter()
        .filter(|r| r["info"]["status"] == "FAILED")
        .count();
    assert_eq!(failed, 2);
    eprintln!(
        "figure: after two timed-out registrations: versions {:?}, champion 1, 2 runs FAILED",
        versions.iter().map(|v| v.version).collect::<Vec<_>>()
    );
    // Served at normal speed again, the next registration goes through.
    let (next, promoted) = world
        .register(&slow, b"three", 0.9, PromotionPolicy::Always)
        .await
        .unwrap();
    assert!(promoted);
    assert_eq!(world.champion().await, Some(next));
}

#[tokio::test]
async fn promotion_compares_with_a_champion_another_trainer_set_meanwhile_and_tags_the_decision() {
    let Some(uri) = mlflow_uri().await else {
        return;
    };
    let proxy = FailingProxy::start(&uri, |_| false).await;
    let world = World::at(&uri, &proxy.uri);
    let direct = world.registry_via(&uri);
    world
        .register(&direct, b"first", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();
    // Another trainer's better model, registered but not yet champion.
    let (better, _) = world
        .register(&direct, b"better", 0.9, PromotionPolicy::Never)
        .await
        .unwrap();
    // This trainer's candidate: better than the champion it first sees, worse than the other.
    let (candidate, _) = world
        .register(&direct, b"candidate", 0.7, PromotionPolicy::Never)
        .await
        .unwrap();
    let info = direct.get(candidate).await.unwrap();

    // The other trainer promotes right after this one has read the champion.
    proxy.move_alias_after_next_read(&world.model_name, better);
    let decision = world
        .registry
        .promote_if(&info, PromotionPolicy::Auto, PRIMARY)
        .await
        .unwrap();
    assert!(!decision.promote, "{decision:?}");
    assert_eq!(decision.champion_score, Some(0.9));
    assert_eq!(
        world.champion().await,
        Some(better),
        "the better model stays"
    );

    let version = world
        .api_get(
            "model-versions/get",
            &[
                ("name", &world.model_name),
                ("version", &candidate.to_string()),
            ],
        )
        .await;
    let tags = &version["model_version"]["tags"];
    assert_eq!(
        tag(tags, "songrec.promotion.decision"),
        Some("not_promoted")
    );
    assert_eq!(
        tag(tags, "songrec.promotion.champion_seen"),
        Some(better.to_string().as_str())
    );
    assert_eq!(tag(tags, "songrec.promotion.candidate_score"), Some("0.7"));
    assert_eq!(tag(tags, "songrec.promotion.champion_score"), Some("0.9"));
    assert_eq!(tag(tags, "songrec.promotion.policy"), Some("auto"));
    assert!(tag(tags, "songrec.promotion.reason").is_some_and(|r| r.contains("0.7000 < 0.9000")));

    // A promotion that goes through is tagged too, with the champion it replaced.
    let (best, promoted) = world
        .register(&world.registry, b"best", 0.95, PromotionPolicy::Auto)
        .await
        .unwrap();
    assert!(promoted);
    let version = world
        .api_get(
            "model-versions/get",
            &[("name", &world.model_name), ("version", &best.to_string())],
        )
        .await;
    let tags = &version["model_version"]["tags"];
    assert_eq!(tag(tags, "songrec.promotion.decision"), Some("promoted"));
    assert_eq!(
        tag(tags, "songrec.promotion.champion_seen"),
        Some(better.to_string().as_str())
    );
}

/// Four trainers that share nothing but the MLflow server (no pipeline lock) decide at the same
/// moment: without the promotion lease each sees the same champion, each moves the alias, and
/// the last to write wins whatever its score.
#[tokio::test]
async fn concurrent_promotions_take_turns_and_leave_the_best_model_champion() {
    let Some(world) = World::new().await else {
        return;
    };
    world
        .register(&world.registry, b"base", 0.5, PromotionPolicy::Auto)
        .await
        .unwrap();
    let scores = [0.6, 0.9, 0.7, 0.8];
    let mut candidates = Vec::new();
    for (i, score) in scores.into_iter().enumerate() {
        let content = format!("candidate {i}");
        let (version, _) = world
            .register(
                &world.registry,
                content.as_bytes(),
                score,
                PromotionPolicy::Never,
            )
            .await
            .unwrap();
        candidates.push(world.registry.get(version).await.unwrap());
    }
    let best = candidates[1].version;

    let trainers = candidates.iter().map(|candidate| {
        let registry = world.registry_via(&world.uri);
        async move {
            registry
                .promote_if(candidate, PromotionPolicy::Auto, PRIMARY)
                .await
                .unwrap()
        }
    });
    let decisions = futures::future::join_all(trainers).await;
    assert_eq!(world.champion().await, Some(best), "{decisions:?}");
    assert!(decisions[1].promote, "{decisions:?}");

    // Each decision is tagged with its own holder and the champion it was compared with: taking
    // turns, the champions seen form a chain ending at the best model.
    let mut holders = std::collections::HashSet::new();
    for candidate in &candidates {
        let version = world
            .api_get(
                "model-versions/get",
                &[
                    ("name", &world.model_name),
                    ("version", &candidate.version.to_string()),
                ],
            )
            .await;
        let tags = &version["model_version"]["tags"];
        let holder = tag(tags, "songrec.promotion.decided_by").expect("decided_by tag");
        assert!(holders.insert(holder.to_string()), "{holder} decided twice");
        assert!(tag(tags, "songrec.promotion.champion_seen").is_some());
    }
    for (candidate, decision) in candidates.iter().zip(&decisions) {
        let seen = decision.champion_score.expect("a champion was seen");
        let score = candidate.metrics[PRIMARY];
        assert_eq!(decision.promote, score >= seen, "{decision:?}");
    }
    let promoted = decisions.iter().filter(|d| d.promote).count();
    assert!(promoted >= 1, "{decisions:?}");

    // Every holder gave the lease back.
    let model = world
        .api_get("registered-models/get", &[("name", &world.model_name)])
        .await;
    let lease = tag(
        &model["registered_model"]["tags"],
        "songrec.promotion.lease",
    )
    .unwrap();
    let lease: Value = serde_json::from_str(lease).unwrap();
    assert_eq!(lease["until"], 0, "{lease}");
}

#[tokio::test]
async fn prune_removes_old_cached_model_files_and_keeps_every_mlflow_version() {
    let Some(world) = World::new().await else {
        return;
    };
    for content in [b"one".as_slice(), b"two", b"three", b"four"] {
        world
            .register(&world.registry, content, 0.5, PromotionPolicy::Always)
            .await
            .unwrap();
    }
    let cached = |v: u64| {
        world
            .dir
            .path()
            .join("cache")
            .join(&world.model_name)
            .join(v.to_string())
    };
    for v in 1..=4 {
        world.registry.model_file(v).await.unwrap();
        assert!(cached(v).exists());
    }
    let pruned = world.registry.prune(1).await.unwrap();
    assert_eq!(pruned.removed, [1, 2]);
    assert_eq!(pruned.kept, [3, 4]);
    assert_eq!((pruned.champion, pruned.rollback), (Some(4), Some(3)));
    assert!(!cached(1).exists() && !cached(2).exists());
    assert!(cached(3).exists() && cached(4).exists());
    assert_eq!(
        world.registry.list().await.unwrap().len(),
        4,
        "MLflow keeps every version"
    );
    // A pruned file comes back on demand.
    let path = world.registry.model_file(1).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), b"one");
}
