//! The MLflow registry: each registration is an MLflow run (params, metrics, tags, the model file
//! and a JSON model card as artifacts) plus a version of the registered model; the champion is the
//! registered model's `champion` alias.
//!
//! Everything goes through the REST API and the artifact proxy (`mlflow server --serve-artifacts`),
//! so no MLflow installation is needed where songrec runs.

mod cache;
mod champion;
mod client;
mod lease;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

pub use client::DEFAULT_TIMEOUT as DEFAULT_MLFLOW_TIMEOUT;
pub use client::MlflowAuth;
use client::{
    Client, Experiment, ModelVersion, RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST,
    RegisteredModel, Run, RunInfo, key_values,
};

use crate::files::{is_sha256_hex, sha256_file};
use crate::local::{MODEL_FILE, OwnedNewVersion};
use crate::{RegistryError, VersionInfo};

/// The alias that marks the served version, as in the original deployment
/// (`models:/<name>@champion`).
pub const CHAMPION_ALIAS: &str = "champion";
/// The artifact folder of a run that holds the model file and its card; a version's source.
const MODEL_ARTIFACT_DIR: &str = "model";
const CARD_FILE: &str = "card.json";
const TAG_CHECKSUM: &str = "songrec.checksum";
const TAG_SONGS: &str = "songrec.songs";
const TAG_MODEL_BYTES: &str = "songrec.model_bytes";
const TAG_ERROR: &str = "songrec.error";
/// Timings are logged as metrics under this prefix (seconds).
const TIMING_PREFIX: &str = "timing/";
/// MLflow's limits per log-batch request and per param value.
const PARAMS_PER_BATCH: usize = 100;
const METRICS_PER_BATCH: usize = 1000;
const PARAM_VALUE_LIMIT: usize = 6000;
/// How long to wait for a model version to leave PENDING_REGISTRATION.
const READY_POLLS: u32 = 60;
const READY_POLL_DELAY: Duration = Duration::from_millis(500);

/// Where the MLflow registry lives and what it names things.
#[derive(Debug, Clone)]
pub struct MlflowConfig {
    /// `MLFLOW_TRACKING_URI`, http(s) only.
    pub tracking_uri: Url,
    pub auth: MlflowAuth,
    /// Experiment that holds the training runs (created, or restored if deleted).
    pub experiment: String,
    /// Registered model name.
    pub model_name: String,
    /// Where downloaded model files are kept, so the server does not fetch one twice.
    pub cache_dir: PathBuf,
    /// How long one call may take before it is given up ([`DEFAULT_MLFLOW_TIMEOUT`]): a JSON
    /// call whole, a download between two reads, an upload plus a second per MiB.
    pub timeout: Duration,
}

/// Params, metrics and timings of a finished run; runs do not change once finished, so these are
/// cached per process.
#[derive(Debug, Clone, Default)]
struct RunSummary {
    params: BTreeMap<String, String>,
    metrics: BTreeMap<String, f64>,
    timings: BTreeMap<String, f64>,
}

/// What the JSON model card uploaded next to the model file says.
#[derive(Debug, Serialize)]
struct ModelCard<'a> {
    model_name: &'a str,
    producer: &'static str,
    created_at: &'a str,
    model_file: &'static str,
    model_bytes: u64,
    checksum_sha256: &'a str,
    songs: u64,
    params: &'a BTreeMap<String, String>,
    metrics: &'a BTreeMap<String, f64>,
    timings_seconds: &'a BTreeMap<String, f64>,
}

pub(crate) struct MlflowRegistry {
    client: Client,
    config: MlflowConfig,
    runs: Mutex<HashMap<String, RunSummary>>,
    /// Model files whose checksum was verified: version -> (length, modification time).
    verified: Mutex<HashMap<u64, (u64, Option<std::time::SystemTime>)>>,
}

impl MlflowRegistry {
    pub fn new(config: MlflowConfig) -> Result<MlflowRegistry, RegistryError> {
        if config.model_name.trim().is_empty() || config.model_name.contains('\'') {
            return Err(RegistryError::InvalidInput(format!(
                "model name {:?} must be non-empty and without quotes",
                config.model_name
            )));
        }
        if config.experiment.trim().is_empty() {
            return Err(RegistryError::InvalidInput(
                "experiment name must not be empty".into(),
            ));
        }
        let client = Client::new(&config.tracking_uri, config.auth.clone(), config.timeout)?;
        Ok(MlflowRegistry {
            client,
            config,
            runs: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
        })
    }

    pub fn location(&self) -> String {
        format!(
            "MLflow at {} (model {})",
            self.client.shown_uri(),
            self.config.model_name
        )
    }

    fn name(&self) -> &str {
        &self.config.model_name
    }

    // ----- registration -------------------------------------------------------------------

    pub async fn register(&self, new: OwnedNewVersion) -> Result<VersionInfo, RegistryError> {
        let expected = new.checksum.to_ascii_lowercase();
        if !is_sha256_hex(&expected) {
            return Err(RegistryError::InvalidInput(format!(
                "checksum {:?} is not a SHA-256 hex digest",
                new.checksum
            )));
        }
        let file = new.model_file.clone();
        let found = tokio::task::spawn_blocking(move || sha256_file(&file))
            .await
            .map_err(|e| RegistryError::Task(e.to_string()))??;
        if found != expected {
            return Err(RegistryError::ModelFileMismatch {
                path: new.model_file.display().to_string(),
                expected,
                found,
            });
        }
        let experiment_id = self.experiment_id().await?;
        let created_at = crate::local::now_rfc3339();
        let created: Value = self
            .client
            .post(
                "runs/create",
                json!({
                    "experiment_id": experiment_id,
                    "start_time": now_millis(),
                    "run_name": format!("train-{}", created_at),
                    "tags": key_values([
                        ("mlflow.source.name", "songrec"),
                        ("mlflow.source.type", "LOCAL"),
                    ]),
                }),
            )
            .await?;
        let run: Run = parse_field(created["run"].clone(), "runs/create", "run")?;
        let run_id = run.info.run_id.clone();
        tracing::info!(run_id, experiment_id, "started MLflow run");
        match self
            .log_and_register(&run.info, &new, &found, &created_at)
            .await
        {
            Ok(info) => Ok(info),
            Err(e) => {
                self.fail_run(&run_id, &e).await;
                Err(e)
            }
        }
    }

    async fn log_and_register(
        &self,
        run: &RunInfo,
        new: &OwnedNewVersion,
        checksum: &str,
        created_at: &str,
    ) -> Result<VersionInfo, RegistryError> {
        let model_bytes = tokio::fs::metadata(&new.model_file)
            .await
            .map_err(crate::files::io_error(&new.model_file))?
            .len();
        let (songs, size) = (new.songs.to_string(), model_bytes.to_string());
        let tags = [
            (TAG_CHECKSUM, checksum),
            (TAG_SONGS, songs.as_str()),
            (TAG_MODEL_BYTES, size.as_str()),
        ];
        self.log_run_data(&run.run_id, new, &tags).await?;

        let artifact_root = artifact_proxy_path(&run.artifact_uri)?;
        let model_dir = format!("{artifact_root}/{MODEL_ARTIFACT_DIR}");
        self.client
            .upload_artifact(&format!("{model_dir}/{MODEL_FILE}"), &new.model_file)
            .await?;
        let card = ModelCard {
            model_name: self.name(),
            producer: concat!("songrec ", env!("CARGO_PKG_VERSION")),
            created_at,
            model_file: MODEL_FILE,
            model_bytes,
            checksum_sha256: checksum,
            songs: new.songs,
            params: &new.params,
            metrics: &new.metrics,
            timings_seconds: &new.timings,
        };
        let card = serde_json::to_vec_pretty(&card)
            .map_err(|e| RegistryError::Corrupt(format!("cannot encode model card: {e}")))?;
        self.client
            .upload_artifact_bytes(&format!("{model_dir}/{CARD_FILE}"), card)
            .await?;

        self.ensure_registered_model().await?;
        let source = format!(
            "{}/{MODEL_ARTIFACT_DIR}",
            run.artifact_uri.trim_end_matches('/')
        );
        let created: Value = self
            .client
            .post(
                "model-versions/create",
                json!({
                    "name": self.name(),
                    "source": source,
                    "run_id": run.run_id,
                    "tags": key_values(tags),
                    "description": format!("songrec model trained on {} songs", new.songs),
                }),
            )
            .await?;
        let version: ModelVersion = parse_field(
            created["model_version"].clone(),
            "model-versions/create",
            "model_version",
        )?;
        let number = version.number()?;
        self.wait_until_ready(number).await?;
        self.client
            .post::<Value>(
                "runs/update",
                json!({"run_id": run.run_id, "status": "FINISHED", "end_time": now_millis()}),
            )
            .await?;
        tracing::info!(
            version = number,
            run_id = run.run_id,
            "registered MLflow model version"
        );
        Ok(VersionInfo {
            version: number,
            created_at: version
                .creation_timestamp
                .and_then(millis_to_rfc3339)
                .unwrap_or_else(|| created_at.to_string()),
            params: new.params.clone(),
            metrics: new.metrics.clone(),
            timings: new.timings.clone(),
            checksum: checksum.to_string(),
            songs: new.songs,
            model_bytes,
            is_champion: false,
            run_id: Some(run.run_id.clone()),
        })
    }

    async fn log_run_data(
        &self,
        run_id: &str,
        new: &OwnedNewVersion,
        tags: &[(&str, &str)],
    ) -> Result<(), RegistryError> {
        let timestamp = now_millis();
        let params: Vec<Value> = new
            .params
            .iter()
            .map(|(k, v)| {
                let value: String = v.chars().take(PARAM_VALUE_LIMIT).collect();
                json!({"key": k, "value": value})
            })
            .collect();
        let metrics: Vec<Value> = new
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .chain(
                new.timings
                    .iter()
                    .map(|(k, v)| (format!("{TIMING_PREFIX}{k}"), *v)),
            )
            // JSON has no NaN or infinity; such a value is left out rather than failing the run.
            .filter(|(k, v)| {
                let keep = v.is_finite();
                if !keep {
                    tracing::warn!(metric = %k, "not logging a non-finite metric to MLflow");
                }
                keep
            })
            .map(|(k, v)| json!({"key": k, "value": v, "timestamp": timestamp, "step": 0}))
            .collect();
        let mut first = true;
        let mut param_chunks = params.chunks(PARAMS_PER_BATCH);
        let mut metric_chunks = metrics.chunks(METRICS_PER_BATCH);
        loop {
            let p = param_chunks.next().unwrap_or_default();
            let m = metric_chunks.next().unwrap_or_default();
            if p.is_empty() && m.is_empty() && !first {
                break;
            }
            let t = if first {
                key_values(tags.iter().copied())
            } else {
                Vec::new()
            };
            first = false;
            self.client
                .post::<Value>(
                    "runs/log-batch",
                    json!({"run_id": run_id, "params": p, "metrics": m, "tags": t}),
                )
                .await?;
        }
        Ok(())
    }

    /// Marks the run FAILED with the error as a tag; best effort, since MLflow may be what failed.
    async fn fail_run(&self, run_id: &str, error: &RegistryError) {
        let message: String = error.to_string().chars().take(4000).collect();
        let tagged = self
            .client
            .post::<Value>(
                "runs/set-tag",
                json!({"run_id": run_id, "key": TAG_ERROR, "value": message}),
            )
            .await;
        let ended = self
            .client
            .post::<Value>(
                "runs/update",
                json!({"run_id": run_id, "status": "FAILED", "end_time": now_millis()}),
            )
            .await;
        if let Err(e) = tagged.and(ended) {
            tracing::warn!(run_id, error = %e, "could not mark the MLflow run FAILED");
        }
    }

    async fn experiment_id(&self) -> Result<String, RegistryError> {
        let name = self.config.experiment.as_str();
        for _ in 0..2 {
            match self.get_experiment(name).await? {
                Some(e) if e.lifecycle_stage == "deleted" => {
                    self.client
                        .post::<Value>(
                            "experiments/restore",
                            json!({"experiment_id": e.experiment_id}),
                        )
                        .await?;
                    tracing::info!(experiment = name, "restored deleted MLflow experiment");
                    return Ok(e.experiment_id);
                }
                Some(e) => return Ok(e.experiment_id),
                None => {}
            }
            match self
                .client
                .post::<Value>("experiments/create", json!({"name": name}))
                .await
            {
                Ok(created) => {
                    if let Some(id) = created["experiment_id"].as_str() {
                        tracing::info!(experiment = name, "created MLflow experiment");
                        return Ok(id.to_string());
                    }
                }
                // Created concurrently by someone else: look it up again.
                Err(RegistryError::Mlflow { code, .. }) if code == RESOURCE_ALREADY_EXISTS => {}
                Err(e) => return Err(e),
            }
        }
        Err(RegistryError::Mlflow {
            operation: "experiments/create".into(),
            code: "BAD_RESPONSE".into(),
            message: format!("experiment {name:?} could not be found or created"),
        })
    }

    async fn get_experiment(&self, name: &str) -> Result<Option<Experiment>, RegistryError> {
        match self
            .client
            .get::<Value>("experiments/get-by-name", &[("experiment_name", name)])
            .await
        {
            Ok(v) => parse_field(
                v["experiment"].clone(),
                "experiments/get-by-name",
                "experiment",
            )
            .map(Some),
            Err(RegistryError::Mlflow { code, .. }) if code == RESOURCE_DOES_NOT_EXIST => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn ensure_registered_model(&self) -> Result<(), RegistryError> {
        if self.registered_model().await?.is_some() {
            return Ok(());
        }
        match self
            .client
            .post::<Value>(
                "registered-models/create",
                json!({
                    "name": self.name(),
                    "description": "songrec nearest-neighbour song recommender",
                }),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(RegistryError::Mlflow { code, .. }) if code == RESOURCE_ALREADY_EXISTS => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn registered_model(&self) -> Result<Option<RegisteredModel>, RegistryError> {
        match self
            .client
            .get::<Value>("registered-models/get", &[("name", self.name())])
            .await
        {
            Ok(v) => parse_field(
                v["registered_model"].clone(),
                "registered-models/get",
                "registered_model",
            )
            .map(Some),
            Err(RegistryError::Mlflow { code, .. }) if code == RESOURCE_DOES_NOT_EXIST => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn wait_until_ready(&self, version: u64) -> Result<(), RegistryError> {
        for _ in 0..READY_POLLS {
            let mv = self.model_version(version).await?;
            match mv.status.as_deref() {
                None | Some("READY") => return Ok(()),
                Some("PENDING_REGISTRATION") => tokio::time::sleep(READY_POLL_DELAY).await,
                Some(other) => {
                    return Err(RegistryError::Mlflow {
                        operation: "model-versions/create".into(),
                        code: other.to_string(),
                        message: format!("model version {version} did not become READY"),
                    });
                }
            }
        }
        Err(RegistryError::Mlflow {
            operation: "model-versions/create".into(),
            code: "PENDING_REGISTRATION".into(),
            message: format!("model version {version} is still pending"),
        })
    }

    // ----- reading ------------------------------------------------------------------------

    async fn model_version(&self, version: u64) -> Result<ModelVersion, RegistryError> {
        let v = version.to_string();
        match self
            .client
            .get::<Value>(
                "model-versions/get",
                &[("name", self.name()), ("version", &v)],
            )
            .await
        {
            Ok(body) => parse_field(
                body["model_version"].clone(),
                "model-versions/get",
                "model_version",
            ),
            Err(RegistryError::Mlflow { code, .. }) if code == RESOURCE_DOES_NOT_EXIST => {
                Err(RegistryError::NoSuchVersion(version))
            }
            Err(e) => Err(e),
        }
    }

    /// The version the `champion` alias points to, if the model and the alias exist.
    async fn champion_version(&self) -> Result<Option<ModelVersion>, RegistryError> {
        match self
            .client
            .get::<Value>(
                "registered-models/alias",
                &[("name", self.name()), ("alias", CHAMPION_ALIAS)],
            )
            .await
        {
            Ok(body) => parse_field(
                body["model_version"].clone(),
                "registered-models/alias",
                "model_version",
            )
            .map(Some),
            // A missing model is RESOURCE_DOES_NOT_EXIST; a missing alias on an existing model is
            // INVALID_PARAMETER_VALUE "Registered model alias champion not found."
            Err(RegistryError::Mlflow { code, message, .. })
                if code == RESOURCE_DOES_NOT_EXIST
                    || (code == "INVALID_PARAMETER_VALUE" && message.contains("not found")) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn run_summary(&self, run_id: &str) -> Result<RunSummary, RegistryError> {
        if let Some(summary) = self.runs_cache().get(run_id) {
            return Ok(summary.clone());
        }
        let body: Value = self.client.get("runs/get", &[("run_id", run_id)]).await?;
        let run: Run = parse_field(body["run"].clone(), "runs/get", "run")?;
        let mut summary = RunSummary {
            params: run
                .data
                .params
                .into_iter()
                .map(|p| (p.key, p.value))
                .collect(),
            ..RunSummary::default()
        };
        for m in run.data.metrics {
            match m.key.strip_prefix(TIMING_PREFIX) {
                Some(phase) => summary.timings.insert(phase.to_string(), m.value),
                None => summary.metrics.insert(m.key, m.value),
            };
        }
        let finished = body["run"]["info"]["status"].as_str() == Some("FINISHED");
        if finished {
            self.runs_cache()
                .insert(run_id.to_string(), summary.clone());
        }
        Ok(summary)
    }

    fn runs_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, RunSummary>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn verified_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, (u64, Option<std::time::SystemTime>)>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn version_info(
        &self,
        mv: &ModelVersion,
        champion: Option<u64>,
    ) -> Result<VersionInfo, RegistryError> {
        let version = mv.number()?;
        let checksum = mv
            .tag(TAG_CHECKSUM)
            .filter(|c| is_sha256_hex(c))
            .ok_or_else(|| {
                RegistryError::Corrupt(format!(
                    "MLflow model {} version {version} has no {TAG_CHECKSUM} tag; \
                     it was not registered by songrec",
                    self.name()
                ))
            })?
            .to_string();
        let summary = match &mv.run_id {
            Some(run_id) if !run_id.is_empty() => self.run_summary(run_id).await?,
            _ => RunSummary::default(),
        };
        let number = |key: &str| mv.tag(key).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        Ok(VersionInfo {
            version,
            created_at: mv
                .creation_timestamp
                .and_then(millis_to_rfc3339)
                .unwrap_or_default(),
            params: summary.params,
            metrics: summary.metrics,
            timings: summary.timings,
            checksum,
            songs: number(TAG_SONGS),
            model_bytes: number(TAG_MODEL_BYTES),
            is_champion: champion == Some(version)
                || mv.aliases.iter().any(|a| a == CHAMPION_ALIAS),
            run_id: mv.run_id.clone().filter(|r| !r.is_empty()),
        })
    }

    pub async fn champion(&self) -> Result<Option<VersionInfo>, RegistryError> {
        match self.champion_version().await? {
            Some(mv) => {
                let version = mv.number()?;
                self.version_info(&mv, Some(version)).await.map(Some)
            }
            None => Ok(None),
        }
    }

    pub async fn get(&self, version: u64) -> Result<VersionInfo, RegistryError> {
        let mv = self.model_version(version).await?;
        let champion = self.champion_number().await?;
        self.version_info(&mv, champion).await
    }

    async fn champion_number(&self) -> Result<Option<u64>, RegistryError> {
        self.champion_version()
            .await?
            .map(|mv| mv.number())
            .transpose()
    }

    pub async fn list(&self) -> Result<Vec<VersionInfo>, RegistryError> {
        let champion = self.champion_number().await?;
        let filter = format!("name='{}'", self.name());
        let mut versions = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "200")];
            if !page_token.is_empty() {
                query.push(("page_token", page_token.as_str()));
            }
            let body: Value = self.client.get("model-versions/search", &query).await?;
            let page: Vec<ModelVersion> = match body.get("model_versions") {
                Some(list) => parse_field(list.clone(), "model-versions/search", "model_versions")?,
                None => Vec::new(),
            };
            versions.extend(page);
            match body["next_page_token"].as_str() {
                Some(token) if !token.is_empty() => page_token = token.to_string(),
                _ => break,
            }
        }
        let mut out = Vec::new();
        for mv in &versions {
            match self.version_info(mv, champion).await {
                Ok(info) => out.push(info),
                // Versions registered by other tools lack songrec's tags; they are not ours.
                Err(RegistryError::Corrupt(reason)) => {
                    tracing::warn!(version = %mv.version, %reason, "skipping MLflow version");
                }
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }
}

/// The path under the artifact proxy (`<experiment>/<run>/artifacts/...`) of an artifact URI
/// such as `mlflow-artifacts:/1/abc/artifacts` or `mlflow-artifacts://host:5000/1/abc/artifacts`.
fn artifact_proxy_path(artifact_uri: &str) -> Result<String, RegistryError> {
    let not_proxied = || {
        RegistryError::InvalidInput(format!(
            "MLflow artifact location {artifact_uri:?} is not served by the tracking server; \
             start it with `mlflow server --serve-artifacts`"
        ))
    };
    if !artifact_uri.starts_with("mlflow-artifacts:") {
        return Err(not_proxied());
    }
    let url = Url::parse(artifact_uri).map_err(|_| not_proxied())?;
    let path = url.path().trim_matches('/');
    if path.is_empty() {
        return Err(not_proxied());
    }
    Ok(path.to_string())
}

/// Deserializes one field of an MLflow answer, saying which one when it does not fit.
fn parse_field<T: serde::de::DeserializeOwned>(
    value: Value,
    operation: &str,
    field: &str,
) -> Result<T, RegistryError> {
    serde_json::from_value(value).map_err(|e| RegistryError::Mlflow {
        operation: operation.to_string(),
        code: "BAD_RESPONSE".into(),
        message: format!("unexpected `{field}` in the answer: {e}"),
    })
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn millis_to_rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A model name as a single, safe directory name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_uris_map_to_proxy_paths() {
        assert_eq!(
            artifact_proxy_path("mlflow-artifacts:/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert_eq!(
            artifact_proxy_path("mlflow-artifacts://host:5000/1/abc/artifacts/model").unwrap(),
            "1/abc/artifacts/model"
        );
        let e = artifact_proxy_path("/var/mlruns/1/abc/artifacts").unwrap_err();
        assert!(e.to_string().contains("--serve-artifacts"), "{e}");
    }

    #[test]
    fn model_names_become_safe_directory_names() {
        assert_eq!(sanitize("songrec-knn"), "songrec-knn");
        assert_eq!(sanitize("../a b/c"), "_a_b_c");
    }

    #[test]
    fn timestamps_render_as_rfc3339() {
        assert_eq!(
            millis_to_rfc3339(1_700_000_000_123).unwrap(),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
