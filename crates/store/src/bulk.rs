//! Bulk loads: an import into an empty catalogue builds the secondary indexes once, after the
//! rows, instead of inserting into them row by row.
//!
//! Each of these indexes is ordered by something other than the song id (pageviews, artist,
//! related song, record version), so keeping it up to date while songs arrive in id order puts
//! every batch's entries all over the index, and each commit writes most of its pages again.
//! Built at the end from the whole table, it is one sorted pass.
//!
//! Crash safety: dropping and creating an index changes no row and each is a transaction of its
//! own, so the data is the same whether or not the indexes exist. An import that ends in any way
//! but a crash creates them again before it returns (also after a failed write); after a crash,
//! the next [`crate::Store::connect`] (which every command does) or `songrec db migrate`
//! creates the missing ones ([`ensure`]). Until then only queries that would use them are
//! slower.
//!
//! On SQLite a load also writes through a connection of its own, set up for long runs of
//! batches ([`sqlite_writer`]).

use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};

use crate::{Backend, Pool, StoreError, on_pool};

/// WAL pages after which a bulk load's SQLite writer copies the WAL into the database file
/// (SQLite's automatic checkpoint): 16,384 pages, 256 MiB at 16 KiB pages, where SQLite's
/// default is 1,000. A checkpoint runs on the committing connection, so with the default the
/// writer stopped every batch or two to copy what it had just written, and copied the pages that
/// every batch changes again (the tables' last pages, the B-trees' inner pages) each time. The
/// WAL grows to about this much more while the load runs and is emptied when it finishes.
const WRITER_AUTOCHECKPOINT_PAGES: &str = "16384";

/// The secondary (non-unique) indexes of the catalogue tables, as the migrations create them:
/// (name, definition). Uniqueness and primary keys are never deferred, since the upserts rely
/// on them. A migration that changes one of these indexes must change it here too. Only the
/// pageviews order is spelled differently on the two backends.
fn indexes(backend: Backend) -> [(&'static str, &'static str); 4] {
    let by_pageviews = match backend {
        Backend::Sqlite => {
            "CREATE INDEX IF NOT EXISTS songs_by_pageviews ON songs (pageviews DESC, id)"
        }
        Backend::Postgres => {
            "CREATE INDEX IF NOT EXISTS songs_by_pageviews ON songs (pageviews DESC NULLS LAST, id)"
        }
    };
    [
        ("songs_by_pageviews", by_pageviews),
        (
            "credits_by_artist",
            "CREATE INDEX IF NOT EXISTS credits_by_artist ON credits (artist_id)",
        ),
        (
            "relationships_by_related",
            "CREATE INDEX IF NOT EXISTS relationships_by_related ON relationships (related_song_id)",
        ),
        (
            "song_records_by_version",
            "CREATE INDEX IF NOT EXISTS song_records_by_version ON song_records (version)",
        ),
    ]
}

/// A bulk load in progress; hand it back to [`crate::Store::finish_bulk_load`] when the writes
/// are done, whether or not they succeeded.
#[derive(Debug)]
#[must_use = "a bulk load must be finished to build its deferred indexes"]
pub struct BulkLoad {
    /// Whether the secondary indexes were dropped (the catalogue was empty).
    deferred: bool,
    /// Where the load's writes go: on SQLite its own connection ([`sqlite_writer`]), on
    /// PostgreSQL the store's pool.
    writer: Pool,
}

impl BulkLoad {
    /// Whether the secondary indexes are built at the end rather than as rows arrive.
    pub fn defers_indexes(&self) -> bool {
        self.deferred
    }

    pub(crate) fn writer(&self) -> &Pool {
        &self.writer
    }
}

/// Starts a bulk load: when no song is stored yet, drops the secondary indexes (all in one
/// transaction) so that [`finish`] builds them from the loaded rows.
pub(crate) async fn begin(pool: &Pool) -> Result<BulkLoad, StoreError> {
    let deferred = on_pool!(pool, p, backend => {
        // SQLite: the write lock up front, so a concurrent writer makes this wait (busy
        // timeout) instead of failing when the read turns into a write.
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let mut tx = p.begin_with(begin).await?;
        let any: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM songs)")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if !any {
            for (name, _) in indexes(backend) {
                sqlx::query(&format!("DROP INDEX IF EXISTS {name}"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        !any
    });
    let writer = match pool {
        Pool::Sqlite(p) => Pool::Sqlite(sqlite_writer(p).await?),
        Pool::Postgres(_) => pool.clone(),
    };
    Ok(BulkLoad { deferred, writer })
}

/// A one-connection pool on the same SQLite database for a load's writes, with two settings
/// that only suit a long run of batch writes:
///
/// - checkpoints every [`WRITER_AUTOCHECKPOINT_PAGES`] instead of every 1,000 pages;
/// - no foreign key checks: every batch writes the artists it credits, then the songs, then
///   their credits and links, in one transaction ([`crate::songs`]), so the checks (two
///   B-tree lookups per credit) could never fail, and they cost about a tenth of an import's
///   CPU time. The rows written are the same; nothing else writes through this connection.
///
/// Crash safety is unchanged: the same WAL, synchronous mode and transactions.
async fn sqlite_writer(pool: &SqlitePool) -> Result<SqlitePool, StoreError> {
    let options = (*pool.connect_options())
        .clone()
        .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
        .foreign_keys(false);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_with(options)
        .await?;
    Ok(writer)
}

/// Empties the WAL a load's SQLite writer let grow (copying it into the database file and
/// truncating it; like any truncating checkpoint, this waits up to the busy timeout for readers
/// and writers in progress), then closes the writer. A WAL that cannot be emptied now is only
/// larger on disk until a later checkpoint; it is not an error.
async fn close_sqlite_writer(writer: SqlitePool) -> Result<(), StoreError> {
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&writer)
        .await?;
    if busy != 0 {
        tracing::debug!("the WAL is in use; it is emptied by a later checkpoint");
    }
    writer.close().await;
    Ok(())
}

/// Ends a bulk load: empties the WAL of its SQLite writer and builds the indexes it deferred
/// (also when emptying the WAL failed, whose error is then the one returned).
pub(crate) async fn finish(pool: &Pool, load: BulkLoad) -> Result<(), StoreError> {
    let closed = match load.writer {
        Pool::Sqlite(writer) => close_sqlite_writer(writer).await,
        Pool::Postgres(_) => Ok(()),
    };
    if load.deferred {
        ensure(pool).await?;
    }
    closed
}

/// Creates whichever secondary index is missing (one left out by a bulk load that did not
/// finish). Looks first, so that a database that has them all takes no lock on its tables.
pub(crate) async fn ensure(pool: &Pool) -> Result<(), StoreError> {
    on_pool!(pool, p, backend => {
        let sql = match backend {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index'",
            Backend::Postgres => {
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            }
        };
        let present: Vec<String> = sqlx::query_scalar(sql).fetch_all(p).await?;
        for (name, create) in indexes(backend) {
            if !present.iter().any(|n| n == name) {
                let started = std::time::Instant::now();
                sqlx::query(create).execute(p).await?;
                tracing::debug!(
                    index = name,
                    seconds = started.elapsed().as_secs_f64(),
                    "index built"
                );
            }
        }
    });
    Ok(())
}
