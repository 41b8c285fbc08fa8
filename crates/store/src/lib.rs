//! The catalogue store: songs, artists, credits, relationships and fetch runs, in SQLite
//! (the zero-set-up default) or PostgreSQL (production), behind one [`Store`].
//!
//! Migrations run on [`Store::connect`]. Writes are batched upserts keyed by Genius id.

use secrecy::SecretString;
use songrec_catalog::Song;

/// Where the catalogue lives.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://...`; a secret because it may carry a password.
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout: std::time::Duration,
}

/// A song to write, with the JSON it came from (kept for export and re-processing).
#[derive(Debug, Clone)]
pub struct ImportedSong {
    pub song: Song,
    pub raw: String,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The catalogue store.
pub struct Store {
    _private: (),
}

impl Store {
    pub async fn connect(_config: &StoreConfig) -> Result<Store, StoreError> {
        todo!()
    }

    /// Inserts new songs and updates changed ones, in one transaction per batch.
    pub async fn upsert_songs(&self, _songs: &[ImportedSong]) -> Result<UpsertCounts, StoreError> {
        todo!()
    }

    /// Every song, in one streaming pass.
    pub async fn load_catalogue(&self) -> Result<Vec<Song>, StoreError> {
        todo!()
    }

    pub async fn count_songs(&self) -> Result<u64, StoreError> {
        todo!()
    }

    /// When each of these songs was last written (absent ids are not stored yet).
    pub async fn songs_updated_at(
        &self,
        _ids: &[u64],
    ) -> Result<std::collections::HashMap<u64, chrono::DateTime<chrono::Utc>>, StoreError> {
        todo!()
    }

    /// Records the start of a fetch run and returns its id.
    pub async fn start_fetch_run(&self, _artist: &str) -> Result<i64, StoreError> {
        todo!()
    }

    /// Records how a fetch run ended.
    pub async fn finish_fetch_run(
        &self,
        _run_id: i64,
        _summary: &FetchRunSummary,
    ) -> Result<(), StoreError> {
        todo!()
    }

    /// The most recent fetch runs, newest first.
    pub async fn recent_fetch_runs(&self, _limit: u32) -> Result<Vec<FetchRun>, StoreError> {
        todo!()
    }
}

/// Counts and outcome of one fetch run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchRunSummary {
    /// Catalogue entries looked at.
    pub songs_seen: u64,
    /// Song details requested from the API.
    pub songs_fetched: u64,
    /// Songs written to the store.
    pub songs_stored: u64,
    /// Songs skipped because of an error (404, malformed response...).
    pub songs_failed: u64,
    /// `succeeded`, `failed` or `interrupted`.
    pub status: String,
    pub error: Option<String>,
}

/// A recorded fetch run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRun {
    pub id: i64,
    pub artist: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// `None` while running, or when the process died mid-run.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub summary: FetchRunSummary,
}
