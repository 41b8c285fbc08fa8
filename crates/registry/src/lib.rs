//! Model versions and the champion: every trained model file is registered with its params,
//! metrics, data size, timings and checksum; one version is the champion that gets served.
//!
//! Local registry under the data dir by default, MLflow (REST API) when configured.
//!
//! # Layout
//! - [`Registry`]: the interface every caller uses, whatever the backend.
//! - `local`: versions as directories, the champion as an atomically replaced pointer file.
//! - `mlflow`: runs, artifacts, registered model versions and the `champion` alias over MLflow's
//!   REST API ([`MlflowConfig`]).
//! - [`PromotionPolicy`]: whether a new version replaces the champion.
//! - [`Registry::prune`]: which versions are kept ([`Pruned`]).

mod files;
mod local;
mod mlflow;
mod policy;
mod retention;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use files::sha256_file;
pub use mlflow::{CHAMPION_ALIAS, DEFAULT_MLFLOW_TIMEOUT, MlflowAuth, MlflowConfig};
pub use policy::{
    CHAMPION_PREFIX, Contender, DEFAULT_TOLERANCE, Decision, PromotionPolicy,
    RESCORED_VERSION_METRIC, TOLERANCE_PARAM, UnknownPolicy, tolerance,
};
pub use retention::Pruned;

use local::{LocalRegistry, OwnedNewVersion};
use mlflow::MlflowRegistry;

/// One registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: u64,
    /// RFC 3339.
    pub created_at: String,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    /// Wall-clock seconds per training phase.
    #[serde(default)]
    pub timings: BTreeMap<String, f64>,
    /// SHA-256 (hex) of the model file.
    pub checksum: String,
    /// Songs in the model's catalogue.
    pub songs: u64,
    /// Size of the model file.
    #[serde(default)]
    pub model_bytes: u64,
    pub is_champion: bool,
    /// The MLflow run that produced this version (MLflow registry only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// What to register.
pub struct NewVersion<'a> {
    pub model_file: &'a Path,
    /// SHA-256 (hex) of `model_file`, as written by the model; registration refuses a file that
    /// does not match it.
    pub checksum: String,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    /// Wall-clock seconds per training phase.
    pub timings: BTreeMap<String, f64>,
    pub songs: u64,
}

impl NewVersion<'_> {
    fn to_owned_version(&self) -> OwnedNewVersion {
        OwnedNewVersion {
            model_file: self.model_file.to_path_buf(),
            checksum: self.checksum.clone(),
            params: self.params.clone(),
            metrics: self.metrics.clone(),
            timings: self.timings.clone(),
            songs: self.songs,
        }
    }
}

/// A version's model file on local disk and the SHA-256 the registry recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    pub path: PathBuf,
    /// SHA-256 (lowercase hex) the file's whole content must have.
    pub checksum: String,
}

/// The result of [`Registry::register_and_promote`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registered {
    /// The new version, `is_champion` telling whether it was promoted.
    pub version: VersionInfo,
    pub decision: Decision,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("registry I/O error at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no model version {0}")]
    NoSuchVersion(u64),
    #[error("no earlier champion to roll back to")]
    NothingToRollBack,
    #[error("model file of version {version} fails its checksum")]
    ChecksumMismatch { version: u64 },
    #[error("registry data is corrupt: {0}")]
    Corrupt(String),
    #[error("model file {path} has checksum {found}, expected {expected}")]
    ModelFileMismatch {
        path: String,
        expected: String,
        found: String,
    },
    #[error("invalid registration: {0}")]
    InvalidInput(String),
    #[error("registry task failed: {0}")]
    Task(String),
    #[error("MLflow at {uri} is unreachable ({operation}): {reason}")]
    MlflowUnreachable {
        uri: String,
        operation: String,
        reason: String,
    },
    /// MLflow answered too slowly: the call was given up (not retried) after `seconds`.
    #[error(
        "MLflow at {uri} did not answer {operation} within {seconds} s (MLFLOW_HTTP_REQUEST_TIMEOUT)"
    )]
    MlflowTimedOut {
        uri: String,
        operation: String,
        seconds: f64,
    },
    #[error("MLflow refused {operation}: {code}: {message}")]
    Mlflow {
        operation: String,
        /// MLflow's `error_code` (e.g. `RESOURCE_DOES_NOT_EXIST`), or the HTTP status.
        code: String,
        message: String,
    },
}

/// The model registry.
pub struct Registry {
    backend: Backend,
}

enum Backend {
    Local(Arc<LocalRegistry>),
    Mlflow(Box<MlflowRegistry>),
}

impl Registry {
    /// A local registry rooted at `dir` (created if missing).
    pub fn local(dir: &Path) -> Result<Registry, RegistryError> {
        Ok(Registry {
            backend: Backend::Local(Arc::new(LocalRegistry::open(dir)?)),
        })
    }

    /// The MLflow registry described by `config`; nothing is contacted until first use.
    pub fn mlflow(config: MlflowConfig) -> Result<Registry, RegistryError> {
        Ok(Registry {
            backend: Backend::Mlflow(Box::new(MlflowRegistry::new(config)?)),
        })
    }

    /// Where this registry lives, for messages: a directory or a URL.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Local(local) => local.root().display().to_string(),
            Backend::Mlflow(mlflow) => mlflow.location(),
        }
    }

    /// Stores a new version (not yet champion). The model file is copied; its checksum must match.
    ///
    /// With MLflow this is a whole training run: params, metrics and tags logged, the model file
    /// and its card uploaded, the run ended FINISHED (FAILED on any error) and a model version
    /// created from it.
    pub async fn register(&self, new: NewVersion<'_>) -> Result<VersionInfo, RegistryError> {
        let owned = new.to_owned_version();
        match &self.backend {
            Backend::Local(local) => blocking(local, move |l| l.register(owned)).await,
            Backend::Mlflow(mlflow) => mlflow.register(owned).await,
        }
    }

    /// [`Registry::register`] for a model file the caller hands over and will not use again: a
    /// local registry moves it in when it can (a rename on the same file system: nothing to
    /// copy or flush again), and copies it otherwise. After the call the file may be gone from
    /// `new.model_file`, whether registration succeeded or not.
    pub async fn register_moving(&self, new: NewVersion<'_>) -> Result<VersionInfo, RegistryError> {
        let owned = new.to_owned_version();
        match &self.backend {
            Backend::Local(local) => blocking(local, move |l| l.register_moving(owned)).await,
            Backend::Mlflow(mlflow) => mlflow.register(owned).await,
        }
    }

    /// Registers a new version, then makes it champion if `policy` prefers it to the current
    /// champion on `primary_metric` (higher is better).
    pub async fn register_and_promote(
        &self,
        new: NewVersion<'_>,
        policy: PromotionPolicy,
        primary_metric: &str,
    ) -> Result<Registered, RegistryError> {
        let mut version = self.register(new).await?;
        let decision = self.promote_if(&version, policy, primary_metric).await?;
        version.is_champion = decision.promote;
        Ok(Registered { version, decision })
    }

    /// Makes the registered `candidate` champion if `policy` prefers it to the current champion
    /// on `primary_metric` (higher is better). A local registry reads and compares the champion
    /// under its writer lock; MLflow does so under a promotion lease kept as a tag of the
    /// registered model (so trainers sharing only the server take turns), reads the alias again
    /// just before moving it, and records the decision as tags on the candidate's version.
    pub async fn promote_if(
        &self,
        candidate: &VersionInfo,
        policy: PromotionPolicy,
        primary_metric: &str,
    ) -> Result<Decision, RegistryError> {
        match &self.backend {
            Backend::Local(local) => {
                let (v, metric) = (candidate.version, primary_metric.to_string());
                blocking(local, move |l| l.promote_if(v, policy, &metric)).await
            }
            Backend::Mlflow(mlflow) => mlflow.promote_if(candidate, policy, primary_metric).await,
        }
    }

    /// The local registry's directory, or `None` for MLflow.
    pub fn local_root(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Local(local) => Some(local.root()),
            Backend::Mlflow(_) => None,
        }
    }

    /// The version currently served, if any.
    pub async fn champion(&self) -> Result<Option<VersionInfo>, RegistryError> {
        match &self.backend {
            Backend::Local(local) => blocking(local, |l| l.champion()).await,
            Backend::Mlflow(mlflow) => mlflow.champion().await,
        }
    }

    /// Makes `version` the champion, remembering the previous one for [`Registry::rollback`].
    pub async fn promote(&self, version: u64) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Local(local) => blocking(local, move |l| l.promote(version)).await,
            Backend::Mlflow(mlflow) => mlflow.promote(version).await,
        }
    }

    /// Moves the champion back to the version that was champion before the current one.
    pub async fn rollback(&self) -> Result<VersionInfo, RegistryError> {
        match &self.backend {
            Backend::Local(local) => blocking(local, |l| l.rollback()).await,
            Backend::Mlflow(mlflow) => mlflow.rollback().await,
        }
    }

    /// Removes every version but the `keep` newest, the champion and the version a rollback
    /// returns to (the previous champion). A local registry removes whole versions (and
    /// forgets them in the champion history); with MLflow, which keeps every version, only the
    /// cached model files of the others are removed. `keep` must be at least 1.
    pub async fn prune(&self, keep: usize) -> Result<Pruned, RegistryError> {
        if keep == 0 {
            return Err(RegistryError::InvalidInput(
                "keep at least one version besides the champion".into(),
            ));
        }
        match &self.backend {
            Backend::Local(local) => blocking(local, move |l| l.prune(keep)).await,
            Backend::Mlflow(mlflow) => mlflow.prune_cache(keep).await,
        }
    }

    /// Every version, oldest first.
    pub async fn list(&self) -> Result<Vec<VersionInfo>, RegistryError> {
        match &self.backend {
            Backend::Local(local) => blocking(local, |l| l.list()).await,
            Backend::Mlflow(mlflow) => mlflow.list().await,
        }
    }

    pub async fn get(&self, version: u64) -> Result<VersionInfo, RegistryError> {
        match &self.backend {
            Backend::Local(local) => blocking(local, move |l| l.get(version)).await,
            Backend::Mlflow(mlflow) => mlflow.get(version).await,
        }
    }

    /// A local path to the version's model file, checksum verified.
    ///
    /// The verification is remembered per process while the file's size and modification time
    /// stay the same, so polling this for the champion is cheap.
    pub async fn model_file(&self, version: u64) -> Result<PathBuf, RegistryError> {
        match &self.backend {
            Backend::Local(local) => blocking(local, move |l| l.model_file(version)).await,
            Backend::Mlflow(mlflow) => mlflow.model_file(version).await,
        }
    }

    /// A local path to the version's model file with the checksum recorded for it, without
    /// hashing the file: the caller must check the content against `checksum` itself, as
    /// `songrec_model::Model::load_expecting` does while it reads the file anyway.
    ///
    /// With MLflow a file not yet cached is downloaded and checked while it streams to disk; an
    /// already cached file is returned as it is. If the caller finds it does not match,
    /// [`Registry::model_file`] removes a damaged cached copy and downloads it again.
    pub async fn model_file_unverified(&self, version: u64) -> Result<ModelFile, RegistryError> {
        match &self.backend {
            Backend::Local(local) => {
                blocking(local, move |l| l.model_file_unverified(version)).await
            }
            Backend::Mlflow(mlflow) => mlflow.model_file_unverified(version).await,
        }
    }
}

/// Runs file-system work off the async threads.
async fn blocking<T, F>(local: &Arc<LocalRegistry>, work: F) -> Result<T, RegistryError>
where
    T: Send + 'static,
    F: FnOnce(&LocalRegistry) -> Result<T, RegistryError> + Send + 'static,
{
    let local = Arc::clone(local);
    tokio::task::spawn_blocking(move || work(&local))
        .await
        .map_err(|e| RegistryError::Task(e.to_string()))?
}
