//! The record of fetch runs: when each started and ended, with its counts and outcome, and
//! the runs whose process ended without recording it marked `abandoned` (see `run_lock`).

use chrono::Utc;
use futures::TryStreamExt;
use sqlx::Row;

use crate::run_lock::RunLock;
use crate::{FetchRun, FetchRunSummary, Pool, StoreError, from_i64, on_pool, to_i64};

/// The status and error of a run found abandoned.
const ABANDONED: &str = "abandoned";
const ABANDONED_ERROR: &str =
    "the fetch ended without recording its end (its process stopped or lost the database)";

/// Records a new run, holding the lock that tells it is alive; runs that cannot be alive any
/// more are marked abandoned first.
pub(crate) async fn start(pool: &Pool, artist: &str) -> Result<(i64, RunLock), StoreError> {
    let lock = RunLock::acquire(pool, || abandon(pool)).await?;
    match insert(pool, artist).await {
        Ok(id) => Ok((id, lock)),
        Err(e) => {
            lock.release().await;
            Err(e)
        }
    }
}

/// Marks every `running` run abandoned; only called while no run of any process is alive.
async fn abandon(pool: &Pool) -> Result<(), StoreError> {
    let abandoned = on_pool!(pool, p, _backend => {
        sqlx::query(
            "UPDATE fetch_runs SET status = $1, finished_at = $2, error = $3 \
             WHERE status = 'running'",
        )
        .bind(ABANDONED)
        .bind(Utc::now())
        .bind(ABANDONED_ERROR)
        .execute(p)
        .await?
        .rows_affected()
    });
    if abandoned > 0 {
        tracing::warn!(
            runs = abandoned,
            "marked fetch runs whose process ended abandoned"
        );
    }
    Ok(())
}

async fn insert(pool: &Pool, artist: &str) -> Result<i64, StoreError> {
    on_pool!(pool, p, _backend => {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO fetch_runs (artist, started_at, status) VALUES ($1, $2, 'running') \
             RETURNING id",
        )
        .bind(artist)
        .bind(Utc::now())
        .fetch_one(p)
        .await?;
        Ok(id)
    })
}

pub(crate) async fn finish(
    pool: &Pool,
    run_id: i64,
    summary: &FetchRunSummary,
) -> Result<(), StoreError> {
    let seen = to_i64("songs_seen", summary.songs_seen)?;
    let fetched = to_i64("songs_fetched", summary.songs_fetched)?;
    let stored = to_i64("songs_stored", summary.songs_stored)?;
    let failed = to_i64("songs_failed", summary.songs_failed)?;
    on_pool!(pool, p, _backend => {
        sqlx::query(
            "UPDATE fetch_runs SET finished_at = $1, status = $2, songs_seen = $3, \
             songs_fetched = $4, songs_stored = $5, songs_failed = $6, error = $7 WHERE id = $8",
        )
        .bind(Utc::now())
        .bind(summary.status.as_str())
        .bind(seen)
        .bind(fetched)
        .bind(stored)
        .bind(failed)
        .bind(summary.error.as_deref())
        .bind(run_id)
        .execute(p)
        .await?;
        Ok(())
    })
}

pub(crate) async fn recent(pool: &Pool, limit: u32) -> Result<Vec<FetchRun>, StoreError> {
    on_pool!(pool, p, _backend => {
        let mut stream = sqlx::query(
            "SELECT id, artist, started_at, finished_at, status, songs_seen, songs_fetched, \
             songs_stored, songs_failed, error FROM fetch_runs ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch(p);
        let mut runs = Vec::new();
        while let Some(row) = stream.try_next().await? {
            runs.push(FetchRun {
                id: row.try_get(0)?,
                artist: row.try_get(1)?,
                started_at: row.try_get(2)?,
                finished_at: row.try_get(3)?,
                summary: FetchRunSummary {
                    status: row.try_get(4)?,
                    songs_seen: from_i64(row.try_get(5)?),
                    songs_fetched: from_i64(row.try_get(6)?),
                    songs_stored: from_i64(row.try_get(7)?),
                    songs_failed: from_i64(row.try_get(8)?),
                    error: row.try_get(9)?,
                },
            });
        }
        Ok(runs)
    })
}
