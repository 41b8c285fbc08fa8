//! One cycle at a time across processes, and the record of cycles they share.
//!
//! On PostgreSQL the lock is a session advisory lock held on a dedicated connection for the
//! whole cycle (released by PostgreSQL if the process dies); on SQLite it is an exclusive lock
//! on a file beside the database. A local registry adds a lock file in its directory, so
//! processes sharing only the registry never promote at the same time either.
//!
//! The record is the table `pipeline_cycles` in the catalogue database (one row per cycle with
//! its slot and JSON report): replicas read it to run each scheduled slot once, and the API shows
//! it. The fetch runs table stays the record of fetches.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::report::CycleReport;

/// The advisory lock key: "songrec" in ASCII.
const ADVISORY_KEY: i64 = 0x0073_6f6e_6772_6563;
/// Lock file next to a SQLite database (`<db>.pipeline-lock`) and in a local registry.
const LOCK_FILE_SUFFIX: &str = "pipeline-lock";

const CREATE_SQLITE: &str = "CREATE TABLE IF NOT EXISTS pipeline_cycles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, slot TEXT, runner TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, status TEXT NOT NULL, report TEXT NOT NULL)";
const CREATE_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS pipeline_cycles (
    id BIGSERIAL PRIMARY KEY, slot TEXT, runner TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, status TEXT NOT NULL, report TEXT NOT NULL)";
const SLOT_DONE: &str =
    "SELECT runner FROM pipeline_cycles WHERE slot = $1 AND status <> 'skipped' LIMIT 1";
const INSERT: &str = "INSERT INTO pipeline_cycles (slot, runner, started_at, finished_at, status, report) \
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
const RECENT: &str = "SELECT id, report FROM pipeline_cycles ORDER BY id DESC LIMIT $1";

/// The database the lock and the record live in.
enum Db {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Held while a cycle runs; dropping it releases every lock.
pub struct CycleLock {
    db: Db,
    _files: Vec<File>,
}

/// Whether to wait for a running cycle or give up at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    No,
    Yes,
}

fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

async fn connect(url: &SecretString) -> anyhow::Result<Db> {
    let raw = url.expose_secret();
    if is_postgres(raw) {
        let conn = PgConnection::connect(raw)
            .await
            .context("cannot connect to PostgreSQL for the pipeline lock")?;
        return Ok(Db::Postgres(conn));
    }
    let conn = SqliteConnection::connect(raw)
        .await
        .context("cannot open the SQLite database for the pipeline record")?;
    Ok(Db::Sqlite(conn))
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
        let mut db = connect(url).await?;
        let mut files = Vec::new();
        match &mut db {
            Db::Postgres(conn) => {
                let got: bool = match wait {
                    Wait::No => sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                        .bind(ADVISORY_KEY)
                        .fetch_one(&mut *conn)
                        .await
                        .context("cannot take the PostgreSQL advisory lock")?,
                    Wait::Yes => {
                        sqlx::query("SELECT pg_advisory_lock($1)")
                            .bind(ADVISORY_KEY)
                            .execute(&mut *conn)
                            .await
                            .context("cannot take the PostgreSQL advisory lock")?;
                        true
                    }
                };
                if !got {
                    return Ok(None);
                }
            }
            Db::Sqlite(_) => {
                if let Some(path) = sqlite_path(url.expose_secret()) {
                    let mut name = path.into_os_string();
                    name.push(format!(".{LOCK_FILE_SUFFIX}"));
                    match lock_file(PathBuf::from(name), wait).await? {
                        Some(file) => files.push(file),
                        None => return Ok(None),
                    }
                }
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
        let mut lock = CycleLock { db, _files: files };
        lock.create_table().await?;
        Ok(Some(lock))
    }

    async fn create_table(&mut self) -> anyhow::Result<()> {
        match &mut self.db {
            Db::Postgres(c) => sqlx::query(CREATE_POSTGRES).execute(c).await.map(drop),
            Db::Sqlite(c) => sqlx::query(CREATE_SQLITE).execute(c).await.map(drop),
        }
        .context("cannot create the pipeline_cycles table")
    }

    /// The runner that already ran `slot`, if one did.
    pub async fn slot_done(&mut self, slot: DateTime<Utc>) -> anyhow::Result<Option<String>> {
        let slot = slot.to_rfc3339();
        let runner: Option<String> = match &mut self.db {
            Db::Postgres(c) => {
                sqlx::query_scalar(SLOT_DONE)
                    .bind(slot)
                    .fetch_optional(c)
                    .await
            }
            Db::Sqlite(c) => {
                sqlx::query_scalar(SLOT_DONE)
                    .bind(slot)
                    .fetch_optional(c)
                    .await
            }
        }
        .context("cannot read the pipeline record")?;
        Ok(runner)
    }

    /// Records a finished cycle; returns its id.
    pub async fn record(
        &mut self,
        slot: Option<DateTime<Utc>>,
        report: &CycleReport,
    ) -> anyhow::Result<i64> {
        let json = serde_json::to_string(report).context("cannot encode the cycle report")?;
        let slot = slot.map(|s| s.to_rfc3339());
        let (started, finished) = (
            report.started_at.to_rfc3339(),
            report.finished_at.to_rfc3339(),
        );
        let status = report.status.as_str();
        let id: i64 = match &mut self.db {
            Db::Postgres(c) => {
                sqlx::query_scalar(INSERT)
                    .bind(slot)
                    .bind(&report.runner)
                    .bind(started)
                    .bind(finished)
                    .bind(status)
                    .bind(json)
                    .fetch_one(c)
                    .await
            }
            Db::Sqlite(c) => {
                sqlx::query_scalar(INSERT)
                    .bind(slot)
                    .bind(&report.runner)
                    .bind(started)
                    .bind(finished)
                    .bind(status)
                    .bind(json)
                    .fetch_one(c)
                    .await
            }
        }
        .context("cannot record the cycle")?;
        Ok(id)
    }
}

/// The last `limit` recorded cycles, newest first (an empty list before the first cycle).
pub async fn recent_cycles(url: &SecretString, limit: u32) -> anyhow::Result<Vec<CycleReport>> {
    let mut db = connect(url).await?;
    let rows: Vec<(i64, String)> = match &mut db {
        Db::Postgres(c) => {
            sqlx::query(CREATE_POSTGRES).execute(&mut *c).await?;
            sqlx::query_as(RECENT)
                .bind(i64::from(limit))
                .fetch_all(c)
                .await
        }
        Db::Sqlite(c) => {
            sqlx::query(CREATE_SQLITE).execute(&mut *c).await?;
            sqlx::query_as(RECENT)
                .bind(i64::from(limit))
                .fetch_all(c)
                .await
        }
    }
    .context("cannot read the pipeline record")?;
    let mut cycles = Vec::new();
    for (id, json) in rows {
        let mut report: CycleReport =
            serde_json::from_str(&json).context("a recorded cycle report is not valid JSON")?;
        report.id = Some(id);
        cycles.push(report);
    }
    Ok(cycles)
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
