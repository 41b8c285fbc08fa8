//! One cycle at a time across processes.
//!
//! On PostgreSQL the lock is a session advisory lock held on a dedicated connection for the
//! whole cycle (released by PostgreSQL if the process dies); on SQLite it is an exclusive lock
//! on a file beside the database. A local registry adds a lock file in its directory, so
//! processes sharing only the registry never promote at the same time either.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, PgConnection};

/// The advisory lock key: "songrec" in ASCII.
const ADVISORY_KEY: i64 = 0x0073_6f6e_6772_6563;
/// Lock file next to a SQLite database (`<db>.pipeline-lock`) and in a local registry.
const LOCK_FILE_SUFFIX: &str = "pipeline-lock";

/// Held while a cycle runs; dropping it releases every lock (closing the PostgreSQL
/// connection ends its session, and with it the advisory lock).
pub struct CycleLock {
    _session: Option<PgConnection>,
    _files: Vec<File>,
}

/// Whether to wait for a running cycle or give up at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    No,
    Yes,
}

/// The file of a `sqlite:` URL, if it names one.
pub(crate) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Takes (or waits for) an exclusive lock on `path`; `None` when busy and not waiting.
async fn lock_file(path: PathBuf, wait: Wait) -> anyhow::Result<Option<File>> {
    tokio::task::spawn_blocking(move || {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match wait {
            Wait::Yes => {
                file.lock()
                    .with_context(|| format!("cannot lock {}", path.display()))?;
                Ok(Some(file))
            }
            Wait::No => match file.try_lock() {
                Ok(()) => Ok(Some(file)),
                Err(TryLockError::WouldBlock) => Ok(None),
                Err(TryLockError::Error(e)) => {
                    Err(e).with_context(|| format!("cannot lock {}", path.display()))
                }
            },
        }
    })
    .await
    .context("the lock task failed")?
}

impl CycleLock {
    /// Takes the pipeline lock for the catalogue at `url` (and the local registry at
    /// `registry_root`, if any). `Ok(None)`: another process holds it and `wait` is `No`.
    pub async fn acquire(
        url: &SecretString,
        registry_root: Option<&Path>,
        wait: Wait,
    ) -> anyhow::Result<Option<CycleLock>> {
        let raw = url.expose_secret();
        let mut session = None;
        let mut files = Vec::new();
        if is_postgres(raw) {
            let mut conn = PgConnection::connect(raw)
                .await
                .context("cannot connect to PostgreSQL for the pipeline lock")?;
            if !advisory_lock(&mut conn, wait).await? {
                return Ok(None);
            }
            session = Some(conn);
        } else if let Some(path) = sqlite_path(raw) {
            let mut name = path.into_os_string();
            name.push(format!(".{LOCK_FILE_SUFFIX}"));
            match lock_file(PathBuf::from(name), wait).await? {
                Some(file) => files.push(file),
                None => return Ok(None),
            }
        }
        if let Some(root) = registry_root {
            std::fs::create_dir_all(root)
                .with_context(|| format!("cannot create {}", root.display()))?;
            match lock_file(root.join(LOCK_FILE_SUFFIX), wait).await? {
                Some(file) => files.push(file),
                None => return Ok(None),
            }
        }
        Ok(Some(CycleLock {
            _session: session,
            _files: files,
        }))
    }
}

/// Takes the advisory lock on `conn`'s session; `false` when busy and not waiting.
async fn advisory_lock(conn: &mut PgConnection, wait: Wait) -> anyhow::Result<bool> {
    let taken = match wait {
        Wait::No => {
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(ADVISORY_KEY)
                .fetch_one(conn)
                .await
        }
        Wait::Yes => sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(ADVISORY_KEY)
            .execute(conn)
            .await
            .map(|_| true),
    };
    taken.context("cannot take the PostgreSQL advisory lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_path_is_read_from_the_url() {
        assert_eq!(
            sqlite_path("sqlite:///data/songrec.db?mode=rwc"),
            Some(PathBuf::from("/data/songrec.db"))
        );
        assert_eq!(
            sqlite_path("sqlite://rel.db"),
            Some(PathBuf::from("rel.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/d"), None);
    }
}
