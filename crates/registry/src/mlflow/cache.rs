//! Model files: downloaded from the artifact proxy into a local cache, checked against the
//! checksum recorded with the version, and pruned down to the versions worth keeping.

use std::path::{Path, PathBuf};

use super::client::ModelVersion;
use super::{MlflowRegistry, TAG_CHECKSUM, artifact_proxy_path, sanitize};
use crate::files::{io_error, is_sha256_hex, sha256_file, unique_suffix};
use crate::local::MODEL_FILE;
use crate::retention::{self, Pruned};
use crate::{ModelFile, RegistryError};

impl MlflowRegistry {
    pub async fn model_file(&self, version: u64) -> Result<PathBuf, RegistryError> {
        let (mv, file) = self.cached_model_file(version).await?;
        if self
            .cached_file_is_valid(version, &file.path, &file.checksum)
            .await?
        {
            return Ok(file.path);
        }
        self.download(version, &mv, &file).await?;
        Ok(file.path)
    }

    pub async fn model_file_unverified(&self, version: u64) -> Result<ModelFile, RegistryError> {
        let (mv, file) = self.cached_model_file(version).await?;
        if tokio::fs::metadata(&file.path).await.is_err() {
            self.download(version, &mv, &file).await?;
        }
        Ok(file)
    }

    /// The version and where its model file is cached, with its recorded checksum.
    async fn cached_model_file(
        &self,
        version: u64,
    ) -> Result<(ModelVersion, ModelFile), RegistryError> {
        let mv = self.model_version(version).await?;
        let checksum = self.version_info_checksum(&mv, version)?;
        let path = self.cache_root().join(version.to_string()).join(MODEL_FILE);
        Ok((mv, ModelFile { path, checksum }))
    }

    /// Downloads the model file into the cache, checking its checksum while it streams to disk;
    /// only a matching file takes the cached file's name.
    async fn download(
        &self,
        version: u64,
        mv: &ModelVersion,
        file: &ModelFile,
    ) -> Result<(), RegistryError> {
        let path = &file.path;
        let dir = path
            .parent()
            .ok_or_else(|| RegistryError::Corrupt(format!("{} has no parent", path.display())))?;
        let source = mv.source.as_deref().unwrap_or_default();
        let artifact = format!("{}/{MODEL_FILE}", artifact_proxy_path(source)?);
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(io_error(dir))?;
        let tmp = dir.join(format!(".{MODEL_FILE}.tmp-{}", unique_suffix()));
        let downloaded = self.client.download_artifact(&artifact, &tmp).await;
        let result = match downloaded {
            Ok(found) if found == file.checksum => {
                tokio::fs::rename(&tmp, path).await.map_err(io_error(path))
            }
            Ok(_) => Err(RegistryError::ChecksumMismatch { version }),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result?;
        self.remember(version, path).await?;
        tracing::info!(version, path = %path.display(), "downloaded model file from MLflow");
        Ok(())
    }

    fn version_info_checksum(
        &self,
        mv: &ModelVersion,
        version: u64,
    ) -> Result<String, RegistryError> {
        mv.tag(TAG_CHECKSUM)
            .filter(|c| is_sha256_hex(c))
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| {
                RegistryError::Corrupt(format!(
                    "MLflow model {} version {version} has no {TAG_CHECKSUM} tag",
                    self.name()
                ))
            })
    }

    async fn cached_file_is_valid(
        &self,
        version: u64,
        path: &Path,
        checksum: &str,
    ) -> Result<bool, RegistryError> {
        let Ok(meta) = tokio::fs::metadata(path).await else {
            return Ok(false);
        };
        let stamp = (meta.len(), meta.modified().ok());
        if self.verified_cache().get(&version) == Some(&stamp) {
            return Ok(true);
        }
        let owned = path.to_path_buf();
        let found = tokio::task::spawn_blocking(move || sha256_file(&owned))
            .await
            .map_err(|e| RegistryError::Task(e.to_string()))??;
        if found == checksum {
            self.verified_cache().insert(version, stamp);
            Ok(true)
        } else {
            tracing::warn!(
                version,
                "cached model file fails its checksum; downloading again"
            );
            let _ = tokio::fs::remove_file(path).await;
            Ok(false)
        }
    }

    async fn remember(&self, version: u64, path: &Path) -> Result<(), RegistryError> {
        let meta = tokio::fs::metadata(path).await.map_err(io_error(path))?;
        self.verified_cache()
            .insert(version, (meta.len(), meta.modified().ok()));
        Ok(())
    }

    /// The folder holding this model's cached files, one sub-folder per version.
    fn cache_root(&self) -> PathBuf {
        self.config.cache_dir.join(sanitize(self.name()))
    }

    /// See [`crate::Registry::prune`]: removes the cached model files of every version but the
    /// `keep` newest, the champion and its rollback target (versions gone from MLflow included).
    pub async fn prune_cache(&self, keep: usize) -> Result<Pruned, RegistryError> {
        let versions: Vec<u64> = self.list().await?.iter().map(|v| v.version).collect();
        let champion = self.champion_number().await?;
        let rollback = self.rollback_target(champion).await?;
        let (kept, _) = retention::split(&versions, keep, champion, rollback);
        let root = self.cache_root();
        let mut cached = Vec::new();
        match tokio::fs::read_dir(&root).await {
            Ok(mut entries) => {
                while let Some(entry) = entries.next_entry().await.map_err(io_error(&root))? {
                    if let Some(v) = entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<u64>().ok())
                    {
                        cached.push(v);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&root)(e)),
        }
        cached.sort_unstable();
        let removed: Vec<u64> = cached.into_iter().filter(|v| !kept.contains(v)).collect();
        for &version in &removed {
            let dir = root.join(version.to_string());
            tokio::fs::remove_dir_all(&dir)
                .await
                .map_err(io_error(&dir))?;
            self.verified_cache().remove(&version);
        }
        if !removed.is_empty() {
            tracing::info!(?removed, "pruned cached MLflow model files");
        }
        Ok(Pruned {
            removed,
            kept,
            champion,
            rollback,
        })
    }
}
