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
}
