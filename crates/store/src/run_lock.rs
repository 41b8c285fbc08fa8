//! Which fetch runs can still be running.
//!
//! Every fetch run holds a shared "fetching" lock from before its row is written until after
//! its end is recorded: a PostgreSQL session advisory lock on a connection of its own, or a
//! lock on a file beside a SQLite database (`<db>.fetch-lock`). PostgreSQL and the operating
//! system release it when the process dies or loses its database. A new run that can take the
//! same lock exclusively therefore knows that no run of any process is alive, and that every
//! row still `running` belongs to a process that ended without recording its end.
//!
//! Runs that overlap never see that moment, so they abandon nothing: the next run alone does.
//! An in-memory SQLite database dies with its process, so its runs are never left behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use sqlx::{Connection, PgConnection};

use crate::{Pool, StoreError};

/// The advisory lock key: "sgfetch" in ASCII (the pipeline's cycle lock uses another).
const ADVISORY_KEY: i64 = 0x0073_6766_6574_6368;
const LOCK_FILE_SUFFIX: &str = "fetch-lock";

/// The shared lock one fetch run holds; released on drop (or by [`RunLock::release`]).
pub(crate) enum RunLock {
    Postgres(PgConnection),
    File(File),
    /// An in-memory database: nothing outlives the process, nothing to lock.
    None,
}

impl RunLock {
    /// Takes the shared lock, and reports whether it was first taken exclusively: then no other
    /// fetch run is alive, and `while_alone` runs before other runs may start.
    pub(crate) async fn acquire<F, Fut>(pool: &Pool, while_alone: F) -> Result<RunLock, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        match pool {
            Pool::Postgres(p) => {
                let timeout = p.options().get_acquire_timeout();
                let options = p.connect_options();
                let mut conn = tokio::time::timeout(timeout, PgConnection::connect_with(&*options))
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                let alone: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut conn)
                    .await?;
                if alone {
                    while_alone().await?;
                }
                // A session's own exclusive lock does not block its shared one.
                let shared = sqlx::query("SELECT pg_advisory_lock_shared($1)")
                    .bind(ADVISORY_KEY)
                    .execute(&mut conn);
                tokio::time::timeout(timeout, shared)
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                if alone {
                    sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(ADVISORY_KEY)
                        .execute(&mut conn)
                        .await?;
                }
                Ok(RunLock::Postgres(conn))
            }
            Pool::Sqlite(p) => {
                let options = p.connect_options();
                let Some(path) = lock_path(&options) else {
                    return Ok(RunLock::None);
                };
                let shown = path.display().to_string();
                let (file, alone) = blocking(&shown, move || {
                    let file = OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&path)?;
                    let alone = match file.try_lock() {
                        Ok(()) => true,
                        Err(TryLockError::WouldBlock) => false,
                        Err(TryLockError::Error(e)) => return Err(e),
                    };
                    Ok((file, alone))
                })
                .await?;
                if alone {
                    while_alone().await?;
                }
                // From exclusive to shared, or waiting out another run's exclusive moment. A
                // conversion may let another run in between: it finds this run's row not yet
                // written.
                blocking(&shown, move || file.lock_shared().map(|()| file))
                    .await
                    .map(RunLock::File)
            }
        }
    }

    /// Releases the lock now (rather than when the session or file is dropped).
    pub(crate) async fn release(self) {
        match self {
            RunLock::Postgres(mut conn) => {
                let _ = sqlx::query("SELECT pg_advisory_unlock_shared($1)")
                    .bind(ADVISORY_KEY)
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
            RunLock::File(file) => {
                let _ = file.unlock();
            }
            RunLock::None => {}
        }
    }
}

/// `<db>.fetch-lock`, or `None` for an in-memory database.
fn lock_path(options: &sqlx::sqlite::SqliteConnectOptions) -> Option<PathBuf> {
    let db = options.get_filename();
    let name = db.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory-") {
        return None;
    }
    let mut path = db.as_os_str().to_owned();
    path.push(format!(".{LOCK_FILE_SUFFIX}"));
    Some(PathBuf::from(path))
}

async fn blocking<T: Send + 'static>(
    path: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    let error = |source| StoreError::FetchLock {
        path: path.to_string(),
        source,
    };
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| error(std::io::Error::other(e)))?
        .map_err(error)
}
