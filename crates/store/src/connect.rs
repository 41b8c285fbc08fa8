//! Opening a pool for the URL's backend, with the settings concurrent use needs.

use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Pool, StoreConfig, StoreError};

pub(crate) async fn open_pool(config: &StoreConfig) -> Result<Pool, StoreError> {
    let url = config.url.expose_secret();
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => {
            // WAL lets readers (training, the API) work while an import writes; the busy timeout
            // makes a second writer wait for the first instead of failing. 16 KiB pages hold
            // several whole songs (raw JSON included) each, so a bulk import writes fewer, larger
            // pages; the page size only takes effect when the database is created.
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .page_size(16 * 1024)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(config.acquire_timeout)
                .foreign_keys(true)
                // 64 MiB of page cache (allocated as used) keeps the credit and artist
                // indexes in memory during an import.
                .pragma("cache_size", "-65536")
                // Multi-row upserts keep a statement journal; in memory it costs no file I/O.
                .pragma("temp_store", "memory")
                .disable_statement_logging();
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(config.acquire_timeout)
                .connect_with(options)
                .await?;
            Ok(Pool::Sqlite(pool))
        }
        "postgres" | "postgresql" => {
            // Bulk upserts are long statements; logging their text would flood the log.
            let options = PgConnectOptions::from_str(url)?
                .application_name("songrec")
                // Idempotent DDL ("already exists, skipping") is not worth a log line.
                .options([("client_min_messages", "warning")])
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(config.acquire_timeout)
                .connect_with(options)
                .await?;
            Ok(Pool::Postgres(pool))
        }
        _ => Err(StoreError::UnsupportedUrl),
    }
}
