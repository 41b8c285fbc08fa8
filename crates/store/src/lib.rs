//! The catalogue store: songs, artists, credits, relationships, fetch runs and the record of
//! pipeline cycles, in SQLite (the zero-set-up default) or PostgreSQL (production), behind one
//! [`Store`].
//!
//! The backend is chosen by the URL scheme (`sqlite://PATH` or `postgres://...`). Versioned
//! migrations (`migrations/sqlite`, `migrations/postgres`) run on [`Store::connect`]. Writes are
//! batched upserts keyed by Genius id, one transaction per batch (multi-row statements on SQLite,
//! COPY into staging tables and set-based upserts on PostgreSQL); a content hash makes
//! re-importing the same data a no-op. Reads stream whole tables once instead of querying per song.
//!
//! The `songs` table keeps the original service's columns with their names and meanings, so its
//! browse query (`SELECT id, pageviews, artist, title FROM songs ...`) still works.

mod bulk;
mod connect;
mod cycles;
mod fetch_runs;
mod migrations;
mod raw;
mod records;
mod run_lock;
mod songs;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use songrec_catalog::Song;

pub use bulk::BulkLoad;
pub use cycles::{CycleRow, NewCycle, PlanRow};
pub use migrations::MigrationState;
pub use records::RecordRefresh;

/// Where the catalogue lives.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://...`; a secret because it may carry a password.
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout: std::time::Duration,
    /// How long one write transaction of songs (a batch of a few thousand) may take on
    /// PostgreSQL before it is abandoned, its connection closed and the batch written again on
    /// another connection (see [`StoreError::WriteTimedOut`]).
    pub write_timeout: std::time::Duration,
}

impl StoreConfig {
    /// A SQLite database file (created if missing) with default pool settings.
    pub fn sqlite(path: &std::path::Path) -> StoreConfig {
        StoreConfig::from_url(format!("sqlite://{}", path.display()))
    }

    /// Any supported URL with default pool settings.
    pub fn from_url(url: impl Into<String>) -> StoreConfig {
        StoreConfig {
            url: SecretString::from(url.into()),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// Enough for a fetch, a training run and the API to share one database.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;
/// Long enough to wait out a concurrent bulk import's write transaction.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// A batch's write transaction takes well under a second; a minute is a lock held by another
/// client, a server that stopped answering or a connection that stopped making progress.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// A song to write, with the JSON it came from (kept for export and re-processing).
#[derive(Debug, Clone)]
pub struct ImportedSong {
    pub song: Song,
    pub raw: String,
}

/// A song made ready to write: what the store derives from it to write it (its record, its
/// content hash, the row's derived columns) computed ahead, on the caller's thread, so that an
/// importer can do it in parallel while the store writes the previous batch. Writing prepared
/// songs ([`Store::upsert_prepared_songs`]) does exactly what writing the songs does.
///
/// Once derived, the raw JSON is only needed in its stored form (part of what was derived), so
/// the text is dropped here, on the preparing thread, rather than carried to the writer.
#[derive(Debug, Clone)]
pub struct PreparedSong {
    song: Song,
    /// What was derived, or the raw JSON when the song cannot be written (an id out of the
    /// database's range): the write derives it again and fails with the reason, where an
    /// unprepared write would.
    derived: Result<songs::Derived, String>,
}

impl PreparedSong {
    pub fn new(imported: ImportedSong) -> PreparedSong {
        let ImportedSong { song, raw } = imported;
        let derived = songs::Derived::of(&song, &raw).map_err(|_| raw);
        PreparedSong { song, derived }
    }

    pub(crate) fn song(&self) -> &Song {
        &self.song
    }

    /// What was derived, or the raw JSON of a song that could not be derived.
    pub(crate) fn derived(&self) -> Result<&songs::Derived, &str> {
        self.derived.as_ref().map_err(String::as_str)
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: UpsertCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A number that the database cannot hold (ids and counts are signed 64-bit there).
    #[error("{field} {value} is too large to store")]
    OutOfRange { field: &'static str, value: u64 },
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    /// The lock file that tells live fetch runs from abandoned ones (SQLite).
    #[error("cannot lock {path}: {source}")]
    FetchLock {
        path: String,
        source: std::io::Error,
    },
    /// Song records written by a build with another record format; opening the store with
    /// `songrec` (or `songrec db migrate`) derives them again.
    #[error(
        "{songs} stored song records have another format version than this build's; \
         run `songrec db migrate` to derive them again"
    )]
    SongRecordsOutdated { songs: u64 },
    #[error("the stored record of song {song_id} cannot be read: {reason}")]
    CorruptRecord { song_id: u64, reason: String },
    #[error("the stored raw JSON of song {song_id} cannot be read: {reason}")]
    CorruptRawJson { song_id: u64, reason: String },
    /// A batch's write transaction did not finish in time, on any of its attempts; nothing of
    /// the batch was stored (each attempt's transaction is rolled back).
    #[error(
        "a write of {songs} songs did not finish within {limit:?} in {attempts} attempts \
         (a lock held by another client, or the database stopped answering); \
         nothing of it was stored"
    )]
    WriteTimedOut {
        songs: usize,
        limit: Duration,
        attempts: usize,
    },
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs the same code against whichever pool the store holds. The body is compiled once per
/// backend, so it can use backend-generic sqlx calls; `$backend` tells it which one it is in.
macro_rules! on_pool {
    ($pool:expr, $p:ident, $backend:ident => $body:expr) => {
        match $pool {
            $crate::Pool::Sqlite($p) => {
                #[allow(unused_variables)]
                let $backend = $crate::Backend::Sqlite;
                $body
            }
            $crate::Pool::Postgres($p) => {
                #[allow(unused_variables)]
                let $backend = $crate::Backend::Postgres;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// The catalogue store. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// See [`StoreConfig::write_timeout`].
    write_timeout: Duration,
    /// The lock each fetch run started here holds until its end is recorded.
    fetch_locks: std::sync::Arc<std::sync::Mutex<HashMap<i64, run_lock::RunLock>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database (creating a SQLite file if missing) and applies pending migrations.
    pub async fn connect(config: &StoreConfig) -> Result<Store, StoreError> {
        let store = Store::connect_without_migrating(config).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database without touching its schema (for `songrec db status`).
    pub async fn connect_without_migrating(config: &StoreConfig) -> Result<Store, StoreError> {
        Ok(Store {
            pool: connect::open_pool(config).await?,
            write_timeout: config.write_timeout,
            fetch_locks: std::sync::Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations this build knows and the database lacks; returns how many ran.
    /// Also builds any secondary index a bulk load left out (see [`Store::begin_bulk_load`]).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let applied = migrations::migrate(&self.pool).await?;
        bulk::ensure(&self.pool).await?;
        Ok(applied)
    }

    /// Every migration this build knows, and whether and when it was applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::status(&self.pool).await
    }

    /// Inserts new songs and updates changed ones, in one transaction per batch.
    ///
    /// A song whose parsed content and raw JSON are unchanged is not written. When an id occurs
    /// more than once, the last occurrence wins and the counts are those of writing them in order.
    #[tracing::instrument(skip_all, fields(songs = songs.len(), backend = %self.backend()))]
    pub async fn upsert_songs(&self, songs: &[ImportedSong]) -> Result<UpsertCounts, StoreError> {
        songs::upsert(&self.pool, songs, None, self.write_timeout).await
    }

    /// As [`Store::upsert_songs`], for songs prepared ahead with [`PreparedSong::new`], written
    /// as part of `load` (through its writer, see [`Store::begin_bulk_load`]).
    #[tracing::instrument(skip_all, fields(songs = songs.len(), backend = %self.backend()))]
    pub async fn upsert_prepared_songs(
        &self,
        load: &BulkLoad,
        songs: &[PreparedSong],
    ) -> Result<UpsertCounts, StoreError> {
        songs::upsert_prepared(load.writer(), songs, None, self.write_timeout).await
    }

    /// Starts a bulk load (an import): when the catalogue is empty, the secondary indexes are
    /// dropped and built once by [`Store::finish_bulk_load`], after the rows, instead of row by
    /// row. Writes in between ([`Store::upsert_prepared_songs`]) store exactly the same rows as
    /// the ordinary upserts (on SQLite through a connection of the load's own); a load that
    /// never finishes (a crash) has its indexes built by the next [`Store::connect`].
    pub async fn begin_bulk_load(&self) -> Result<BulkLoad, StoreError> {
        bulk::begin(&self.pool).await
    }

    /// Ends a bulk load, whether its writes succeeded or not: builds the indexes it deferred
    /// and, on SQLite, checkpoints what its writer left in the WAL.
    pub async fn finish_bulk_load(&self, load: BulkLoad) -> Result<(), StoreError> {
        bulk::finish(&self.pool, load).await
    }

    /// As [`Store::upsert_songs`], for songs just fetched from the source: also records
    /// `checked_at` on every one of them, changed or not, in the same transaction. An unchanged
    /// song keeps its `updated_at` but counts as fresh from `checked_at` (see
    /// [`Store::songs_checked_at`]).
    #[tracing::instrument(skip_all, fields(songs = songs.len(), backend = %self.backend()))]
    pub async fn upsert_fetched_songs(
        &self,
        songs: &[ImportedSong],
        checked_at: DateTime<Utc>,
    ) -> Result<UpsertCounts, StoreError> {
        songs::upsert(&self.pool, songs, Some(checked_at), self.write_timeout).await
    }

    /// Every song, ordered by id, in one streaming pass over a consistent snapshot of the song
    /// records. Fails with [`StoreError::SongRecordsOutdated`] while records of another format
    /// version remain (see [`Store::refresh_song_records`]).
    #[tracing::instrument(skip_all, fields(backend = %self.backend()))]
    pub async fn load_catalogue(&self) -> Result<Vec<Song>, StoreError> {
        records::load_catalogue(&self.pool).await
    }

    /// How many songs have a record of another format version than this build's
    /// ([`songrec_catalog::SONG_RECORD_VERSION`]), including those never derived.
    pub async fn outdated_song_records(&self) -> Result<u64, StoreError> {
        records::stale_count(&self.pool).await
    }

    /// Derives every outdated song record again from the song's raw JSON with `parse`, and
    /// rewrites the song's columns from the new parse. Songs whose raw JSON `parse` refuses lose
    /// their record (training leaves them out) until an import or fetch writes them again.
    #[tracing::instrument(skip_all, fields(backend = %self.backend()))]
    pub async fn refresh_song_records(
        &self,
        parse: &(dyn Fn(&str) -> Result<Song, String> + Sync),
    ) -> Result<RecordRefresh, StoreError> {
        records::refresh(&self.pool, parse, self.write_timeout).await
    }

    /// Writes every song's raw JSON object, one per line, ordered by id; returns how many.
    ///
    /// `songrec import` reads the output back to the same store contents.
    #[tracing::instrument(skip_all, fields(backend = %self.backend()))]
    pub async fn export_jsonl(&self, out: &mut dyn std::io::Write) -> Result<u64, StoreError> {
        songs::export_jsonl(&self.pool, out).await
    }

    pub async fn count_songs(&self) -> Result<u64, StoreError> {
        songs::count(&self.pool).await
    }

    /// When each of these songs' content was last written (absent ids are not stored yet).
    pub async fn songs_updated_at(
        &self,
        ids: &[u64],
    ) -> Result<HashMap<u64, DateTime<Utc>>, StoreError> {
        songs::updated_at(&self.pool, ids).await
    }

    /// When each of these songs was last confirmed from the source: the later of its last
    /// write and the last fetch that found it unchanged (absent ids are not stored yet).
    /// This is what decides whether a fetch needs a song again.
    pub async fn songs_checked_at(
        &self,
        ids: &[u64],
    ) -> Result<HashMap<u64, DateTime<Utc>>, StoreError> {
        songs::checked_at(&self.pool, ids).await
    }

    /// Records the start of a fetch run and returns its id.
    ///
    /// The run holds a lock (a PostgreSQL advisory lock on a connection of its own, or a
    /// file lock beside a SQLite database) until [`Store::finish_fetch_run`], released by the
    /// system if the process dies first. When no other run of any process holds it, every
    /// run still recorded `running` is one whose process ended without recording its end: it
    /// is marked `abandoned` first.
    pub async fn start_fetch_run(&self, artist: &str) -> Result<i64, StoreError> {
        let (id, lock) = fetch_runs::start(&self.pool, artist).await?;
        self.fetch_locks_held().insert(id, lock);
        Ok(id)
    }

    /// Records how a fetch run ended, then releases its lock (whether or not the end could be
    /// written: a run whose end is lost is abandoned by the next one).
    pub async fn finish_fetch_run(
        &self,
        run_id: i64,
        summary: &FetchRunSummary,
    ) -> Result<(), StoreError> {
        let result = fetch_runs::finish(&self.pool, run_id, summary).await;
        let lock = self.fetch_locks_held().remove(&run_id);
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    }

    fn fetch_locks_held(&self) -> std::sync::MutexGuard<'_, HashMap<i64, run_lock::RunLock>> {
        self.fetch_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The most recent fetch runs, newest first.
    pub async fn recent_fetch_runs(&self, limit: u32) -> Result<Vec<FetchRun>, StoreError> {
        fetch_runs::recent(&self.pool, limit).await
    }

    /// Records a finished pipeline cycle; returns its number.
    pub async fn record_cycle(&self, cycle: &NewCycle<'_>) -> Result<i64, StoreError> {
        cycles::record(&self.pool, cycle).await
    }

    /// The process that already ran the cycle of `slot` (RFC 3339), if one did (skipped
    /// cycles do not count).
    pub async fn cycle_slot_runner(&self, slot: &str) -> Result<Option<String>, StoreError> {
        cycles::slot_runner(&self.pool, slot).await
    }

    /// The last `limit` recorded pipeline cycles, newest first; none in a database that has
    /// no record yet (works without migrating, for read-only servers).
    pub async fn recent_cycles(&self, limit: u32) -> Result<Vec<CycleRow>, StoreError> {
        cycles::recent(&self.pool, limit).await
    }

    /// Records (or replaces) the schedule and next run of the process `plan.runner`.
    pub async fn record_plan(&self, plan: &PlanRow) -> Result<(), StoreError> {
        cycles::write_plan(&self.pool, plan).await
    }

    /// Forgets the plan of `runner` (a process that stops running cycles).
    pub async fn forget_plan(&self, runner: &str) -> Result<(), StoreError> {
        cycles::remove_plan(&self.pool, runner).await
    }

    /// The plans of the processes that run cycles on this database, most recently updated
    /// first (works without migrating, for read-only servers).
    pub async fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        cycles::plans(&self.pool).await
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        on_pool!(&self.pool, p, _backend => p.close().await)
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
    /// `succeeded`, `failed` or `interrupted`; `running` while a run has not finished, and
    /// `abandoned` when its process ended without recording its end (found by a later run).
    pub status: String,
    pub error: Option<String>,
}

/// A recorded fetch run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRun {
    pub id: i64,
    pub artist: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// `None` while running; for an `abandoned` run, when a later run found it abandoned.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub summary: FetchRunSummary,
}

/// Converts an unsigned value for a signed 64-bit column.
fn to_i64(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field, value })
}

/// Reads a signed 64-bit column back; negatives never come from songrec and read as 0.
fn from_i64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
