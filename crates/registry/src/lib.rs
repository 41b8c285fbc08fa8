//! Model versions and the champion: every trained model file is registered with its params,
//! metrics, data size, timings and checksum; one version is the champion that gets served.
//!
//! Local registry under the data dir by default, MLflow (REST API) when configured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: u64,
    /// RFC 3339.
    pub created_at: String,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    /// SHA-256 (hex) of the model file.
    pub checksum: String,
    pub songs: u64,
    pub is_champion: bool,
}

/// What to register.
pub struct NewVersion<'a> {
    pub model_file: &'a Path,
    pub checksum: String,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub songs: u64,
}

/// When a newly registered version becomes champion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromotionPolicy {
    /// Only when its primary metric is at least the champion's (always for the first model).
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, thiserror::Error)]
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
}

/// The model registry.
pub struct Registry {
    _private: (),
}

impl Registry {
    /// A local registry rooted at `dir` (created if missing).
    pub fn local(_dir: &Path) -> Result<Registry, RegistryError> {
        todo!()
    }

    pub async fn register(&self, _new: NewVersion<'_>) -> Result<VersionInfo, RegistryError> {
        todo!()
    }

    pub async fn champion(&self) -> Result<Option<VersionInfo>, RegistryError> {
        todo!()
    }

    pub async fn promote(&self, _version: u64) -> Result<(), RegistryError> {
        todo!()
    }

    /// Moves the champion back to the version that was champion before the current one.
    pub async fn rollback(&self) -> Result<VersionInfo, RegistryError> {
        todo!()
    }

    pub async fn list(&self) -> Result<Vec<VersionInfo>, RegistryError> {
        todo!()
    }

    pub async fn get(&self, _version: u64) -> Result<VersionInfo, RegistryError> {
        todo!()
    }

    /// A local path to the version's model file, checksum verified.
    pub async fn model_file(&self, _version: u64) -> Result<PathBuf, RegistryError> {
        todo!()
    }
}
