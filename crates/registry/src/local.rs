//! The local registry: a directory that any number of processes may read while one writes.
//!
//! ```text
//! <root>/
//!   versions/<n>/model.bin      the model file, byte for byte as registered
//!   versions/<n>/version.json   params, metrics, timings, data size, checksum, created_at
//!   champion.json               the champion history; the last entry is the champion
//!   staging/                    versions being written (renamed into versions/ when complete)
//!   .lock                       serialises writers (advisory lock)
//! ```
//!
//! A version directory appears with one rename once all its files are written and synced, so a
//! reader never sees a half-registered version; `champion.json` is replaced atomically.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::files::{
    copy_hashing, io_error, is_sha256_hex, move_hashing, sha256_file, sync_dir, unique_suffix,
};
use crate::retention::{self, Pruned};
use crate::{Decision, ModelFile, PromotionPolicy, RegistryError, VersionInfo};

const VERSIONS_DIR: &str = "versions";
const STAGING_DIR: &str = "staging";
const CHAMPION_FILE: &str = "champion.json";
const LOCK_FILE: &str = ".lock";
const VERSION_FILE: &str = "version.json";
/// The model file's name inside a version directory.
pub const MODEL_FILE: &str = "model.bin";
/// Staging directories older than this are left over from a crashed registration.
const STALE_STAGING: Duration = Duration::from_secs(24 * 3600);

/// What `version.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct VersionRecord {
    version: u64,
    created_at: String,
    params: BTreeMap<String, String>,
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    timings: BTreeMap<String, f64>,
    checksum: String,
    songs: u64,
    #[serde(default)]
    model_bytes: u64,
}

impl VersionRecord {
    fn into_info(self, is_champion: bool) -> VersionInfo {
        VersionInfo {
            version: self.version,
            created_at: self.created_at,
            params: self.params,
            metrics: self.metrics,
            timings: self.timings,
            checksum: self.checksum,
            songs: self.songs,
            model_bytes: self.model_bytes,
            is_champion,
            run_id: None,
        }
    }
}

/// What `champion.json` holds: every promotion still in effect, oldest first, so that rollback
/// can return to the previous champion.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ChampionHistory {
    history: Vec<Promotion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Promotion {
    version: u64,
    promoted_at: String,
}

impl ChampionHistory {
    fn current(&self) -> Option<u64> {
        self.history.last().map(|p| p.version)
    }
}

/// The owned form of [`crate::NewVersion`], so registration can run on a blocking thread.
pub(crate) struct OwnedNewVersion {
    pub model_file: PathBuf,
    pub checksum: String,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub timings: BTreeMap<String, f64>,
    pub songs: u64,
}

/// Size and modification time of a model file whose checksum was verified, so that polling
/// `model_file` does not rehash hundreds of megabytes each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> Result<FileStamp, RegistryError> {
        let meta = std::fs::metadata(path).map_err(io_error(path))?;
        Ok(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

pub(crate) struct LocalRegistry {
    root: PathBuf,
    verified: Mutex<HashMap<u64, FileStamp>>,
}

/// Holds the registry's writer lock until dropped.
struct WriterLock {
    _file: File,
}

impl LocalRegistry {
    pub fn open(root: &Path) -> Result<LocalRegistry, RegistryError> {
        for dir in [
            root.to_path_buf(),
            root.join(VERSIONS_DIR),
            root.join(STAGING_DIR),
        ] {
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        }
        Ok(LocalRegistry {
            root: root.to_path_buf(),
            verified: Mutex::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> Result<WriterLock, RegistryError> {
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.lock().map_err(io_error(&path))?;
        Ok(WriterLock { _file: file })
    }

    fn version_dir(&self, version: u64) -> PathBuf {
        self.root.join(VERSIONS_DIR).join(version.to_string())
    }

    pub fn register(&self, new: OwnedNewVersion) -> Result<VersionInfo, RegistryError> {
        self.register_file(new, false)
    }

    /// [`LocalRegistry::register`], moving the model file in rather than copying it when it can.
    pub fn register_moving(&self, new: OwnedNewVersion) -> Result<VersionInfo, RegistryError> {
        self.register_file(new, true)
    }

    fn register_file(
        &self,
        new: OwnedNewVersion,
        moving: bool,
    ) -> Result<VersionInfo, RegistryError> {
        let expected = new.checksum.to_ascii_lowercase();
        if !is_sha256_hex(&expected) {
            return Err(RegistryError::InvalidInput(format!(
                "checksum {:?} is not a SHA-256 hex digest",
                new.checksum
            )));
        }
        self.remove_stale_staging();
        let staging = self.root.join(STAGING_DIR).join(unique_suffix());
        std::fs::create_dir(&staging).map_err(io_error(&staging))?;
        let result = self.register_staged(&staging, new, &expected, moving);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    fn register_staged(
        &self,
        staging: &Path,
        new: OwnedNewVersion,
        expected: &str,
        moving: bool,
    ) -> Result<VersionInfo, RegistryError> {
        let model_path = staging.join(MODEL_FILE);
        let found = if moving {
            move_hashing(&new.model_file, &model_path)?
        } else {
            copy_hashing(&new.model_file, &model_path)?
        };
        if found != expected {
            return Err(RegistryError::ModelFileMismatch {
                path: new.model_file.display().to_string(),
                expected: expected.to_string(),
                found,
            });
        }
        let model_bytes = std::fs::metadata(&model_path)
            .map_err(io_error(&model_path))?
            .len();

        let _lock = self.lock()?;
        let mut version = self.latest_version()?.unwrap_or(0) + 1;
        let mut record = VersionRecord {
            version,
            created_at: now_rfc3339(),
            params: new.params,
            metrics: new.metrics,
            timings: new.timings,
            checksum: found,
            songs: new.songs,
            model_bytes,
        };
        loop {
            write_record(staging, &record)?;
            sync_dir(staging)?;
            let target = self.version_dir(version);
            match std::fs::rename(staging, &target) {
                Ok(()) => break,
                // A directory left by someone who ignored the lock: take the next number.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
                    ) =>
                {
                    version += 1;
                    record.version = version;
                }
                Err(e) => return Err(io_error(&target)(e)),
            }
        }
        sync_dir(&self.root.join(VERSIONS_DIR))?;
        self.remember_verified(version)?;
        tracing::info!(version, checksum = %record.checksum, "registered model version");
        Ok(record.into_info(false))
    }

    fn remember_verified(&self, version: u64) -> Result<(), RegistryError> {
        let stamp = FileStamp::of(&self.version_dir(version).join(MODEL_FILE))?;
        self.verified_cache().insert(version, stamp);
        Ok(())
    }

    fn verified_cache(&self) -> std::sync::MutexGuard<'_, HashMap<u64, FileStamp>> {
        // The map holds plain data; a panic elsewhere cannot leave it inconsistent.
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remove_stale_staging(&self) {
        let dir = self.root.join(STAGING_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_STAGING);
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Version numbers present, ascending.
    fn version_numbers(&self) -> Result<Vec<u64>, RegistryError> {
        let dir = self.root.join(VERSIONS_DIR);
        let mut numbers = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let entry = entry.map_err(io_error(&dir))?;
            if let Some(n) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    fn latest_version(&self) -> Result<Option<u64>, RegistryError> {
        Ok(self.version_numbers()?.last().copied())
    }

    fn read_record(&self, version: u64) -> Result<VersionRecord, RegistryError> {
        let path = self.version_dir(version).join(VERSION_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RegistryError::NoSuchVersion(version));
            }
            Err(e) => return Err(io_error(&path)(e)),
        };
        let record: VersionRecord = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Corrupt(format!("{}: {e}", path.display())))?;
        if record.version != version || !is_sha256_hex(&record.checksum) {
            return Err(RegistryError::Corrupt(format!(
                "{}: inconsistent version or checksum",
                path.display()
            )));
        }
        Ok(record)
    }

    fn read_champion_history(&self) -> Result<ChampionHistory, RegistryError> {
        let path = self.root.join(CHAMPION_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RegistryError::Corrupt(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ChampionHistory::default()),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Only called under the writer lock: a temporary champion file present then was left by
    /// a writer that died between writing it and renaming it, and is removed first.
    fn write_champion_history(&self, history: &ChampionHistory) -> Result<(), RegistryError> {
        let prefix = format!(".{CHAMPION_FILE}.tmp-");
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let bytes = serde_json::to_vec_pretty(history)
            .map_err(|e| RegistryError::Corrupt(format!("cannot encode champion history: {e}")))?;
        crate::files::write_atomically(&self.root.join(CHAMPION_FILE), &bytes)
    }

    pub fn champion(&self) -> Result<Option<VersionInfo>, RegistryError> {
        let Some(version) = self.read_champion_history()?.current() else {
            return Ok(None);
        };
        match self.read_record(version) {
            Ok(record) => Ok(Some(record.into_info(true))),
            Err(RegistryError::NoSuchVersion(v)) => Err(RegistryError::Corrupt(format!(
                "champion points to version {v}, which does not exist"
            ))),
            Err(e) => Err(e),
        }
    }

    pub fn get(&self, version: u64) -> Result<VersionInfo, RegistryError> {
        let record = self.read_record(version)?;
        let champion = self.read_champion_history()?.current();
        Ok(record.into_info(champion == Some(version)))
    }

    pub fn list(&self) -> Result<Vec<VersionInfo>, RegistryError> {
        let champion = self.read_champion_history()?.current();
        let mut out = Vec::new();
        for version in self.version_numbers()? {
            match self.read_record(version) {
                Ok(record) => out.push(record.into_info(champion == Some(version))),
                // One damaged version must not hide the others; `get` still reports it.
                Err(e) => tracing::warn!(version, error = %e, "skipping unreadable version"),
            }
        }
        Ok(out)
    }

    pub fn promote(&self, version: u64) -> Result<(), RegistryError> {
        let _lock = self.lock()?;
        self.promote_locked(version)
    }

    fn promote_locked(&self, version: u64) -> Result<(), RegistryError> {
        self.read_record(version)?;
        let mut history = self.read_champion_history()?;
        if history.current() == Some(version) {
            return Ok(());
        }
        history.history.push(Promotion {
            version,
            promoted_at: now_rfc3339(),
        });
        self.write_champion_history(&history)?;
        tracing::info!(version, "promoted model version to champion");
        Ok(())
    }

    /// Promotes `version` if `policy` prefers it to the current champion; the comparison and the
    /// promotion happen under one lock, so a concurrent promotion cannot slip in between.
    pub fn promote_if(
        &self,
        version: u64,
        policy: PromotionPolicy,
        primary_metric: &str,
    ) -> Result<Decision, RegistryError> {
        let _lock = self.lock()?;
        let candidate = self.read_record(version)?.into_info(false);
        let champion = match self.read_champion_history()?.current() {
            Some(v) => Some(self.read_record(v)?.into_info(true)),
            None => None,
        };
        let decision = policy.decide_versions(primary_metric, &candidate, champion.as_ref());
        if decision.promote {
            self.promote_locked(version)?;
        }
        Ok(decision)
    }

    /// See [`crate::Registry::prune`]. Each removed version directory is first renamed into
    /// `staging/`, so readers never see a half-removed version.
    pub fn prune(&self, keep: usize) -> Result<Pruned, RegistryError> {
        let _lock = self.lock()?;
        let mut history = self.read_champion_history()?;
        let champion = history.current();
        let rollback = history
            .history
            .len()
            .checked_sub(2)
            .map(|i| history.history[i].version);
        let (kept, removed) = retention::split(&self.version_numbers()?, keep, champion, rollback);
        for &version in &removed {
            let dir = self.version_dir(version);
            let trash = self
                .root
                .join(STAGING_DIR)
                .join(format!("removed-{version}-{}", unique_suffix()));
            std::fs::rename(&dir, &trash).map_err(io_error(&dir))?;
            self.verified_cache().remove(&version);
            if let Err(e) = std::fs::remove_dir_all(&trash) {
                // Left for the stale-staging sweep of a later registration.
                tracing::warn!(version, error = %e, "cannot delete a pruned version's files");
            }
        }
        let before = history.history.len();
        history.history.retain(|p| !removed.contains(&p.version));
        if history.history.len() != before {
            self.write_champion_history(&history)?;
        }
        if !removed.is_empty() {
            sync_dir(&self.root.join(VERSIONS_DIR))?;
            tracing::info!(?removed, "pruned model versions");
        }
        Ok(Pruned {
            removed,
            kept,
            champion,
            rollback,
        })
    }

    pub fn rollback(&self) -> Result<VersionInfo, RegistryError> {
        let _lock = self.lock()?;
        let mut history = self.read_champion_history()?;
        if history.history.len() < 2 {
            return Err(RegistryError::NothingToRollBack);
        }
        history.history.pop();
        let version = history.current().ok_or(RegistryError::NothingToRollBack)?;
        let record = self.read_record(version)?;
        self.write_champion_history(&history)?;
        tracing::info!(version, "rolled champion back");
        Ok(record.into_info(true))
    }

    pub fn model_file(&self, version: u64) -> Result<PathBuf, RegistryError> {
        let record = self.read_record(version)?;
        let path = self.version_dir(version).join(MODEL_FILE);
        let stamp = FileStamp::of(&path)?;
        if self.verified_cache().get(&version) == Some(&stamp) {
            return Ok(path);
        }
        if sha256_file(&path)? != record.checksum {
            self.verified_cache().remove(&version);
            return Err(RegistryError::ChecksumMismatch { version });
        }
        self.verified_cache().insert(version, stamp);
        Ok(path)
    }

    pub fn model_file_unverified(&self, version: u64) -> Result<ModelFile, RegistryError> {
        let record = self.read_record(version)?;
        let path = self.version_dir(version).join(MODEL_FILE);
        // A missing file is reported here, as `model_file` does, rather than by the caller.
        std::fs::metadata(&path).map_err(io_error(&path))?;
        Ok(ModelFile {
            path,
            checksum: record.checksum.to_ascii_lowercase(),
        })
    }
}

fn write_record(dir: &Path, record: &VersionRecord) -> Result<(), RegistryError> {
    let bytes = serde_json::to_vec_pretty(record)
        .map_err(|e| RegistryError::Corrupt(format!("cannot encode version record: {e}")))?;
    let path = dir.join(VERSION_FILE);
    let mut file = File::create(&path).map_err(io_error(&path))?;
    io::Write::write_all(&mut file, &bytes).map_err(io_error(&path))?;
    file.sync_all().map_err(io_error(&path))
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
