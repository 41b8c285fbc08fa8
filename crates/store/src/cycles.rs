//! The record of pipeline cycles: one row per cycle with the slot it belongs to, the process
//! that ran it and its report (the pipeline's JSON, kept opaque here); and the plan of each
//! process that runs cycles on a schedule.

use futures::TryStreamExt;
use sqlx::Row;

use crate::migrations::table_exists;
use crate::{Pool, StoreError, on_pool};

/// A cycle to record.
#[derive(Debug, Clone, Copy)]
pub struct NewCycle<'a> {
    /// The scheduled time it belongs to (RFC 3339); `None` for a cycle run by hand.
    pub slot: Option<&'a str>,
    /// Which process ran it (`host:pid`).
    pub runner: &'a str,
    /// RFC 3339.
    pub started_at: &'a str,
    /// RFC 3339.
    pub finished_at: &'a str,
    pub status: &'a str,
    /// The report as JSON.
    pub report: &'a str,
}

/// A recorded cycle: its number and its report as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleRow {
    pub id: i64,
    pub report: String,
}

pub(crate) async fn record(pool: &Pool, cycle: &NewCycle<'_>) -> Result<i64, StoreError> {
    on_pool!(pool, p, _backend => {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pipeline_cycles (slot, runner, started_at, finished_at, status, report) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(cycle.slot)
        .bind(cycle.runner)
        .bind(cycle.started_at)
        .bind(cycle.finished_at)
        .bind(cycle.status)
        .bind(cycle.report)
        .fetch_one(p)
        .await?;
        Ok(id)
    })
}

pub(crate) async fn slot_runner(pool: &Pool, slot: &str) -> Result<Option<String>, StoreError> {
    on_pool!(pool, p, _backend => {
        let runner: Option<String> = sqlx::query_scalar(
            "SELECT runner FROM pipeline_cycles WHERE slot = $1 AND status <> 'skipped' LIMIT 1",
        )
        .bind(slot)
        .fetch_optional(p)
        .await?;
        Ok(runner)
    })
}

/// Newest first; nothing when the table does not exist (a database no current build migrated).
pub(crate) async fn recent(pool: &Pool, limit: u32) -> Result<Vec<CycleRow>, StoreError> {
    if !table_exists(pool, "pipeline_cycles").await? {
        return Ok(Vec::new());
    }
    on_pool!(pool, p, _backend => {
        let mut stream =
            sqlx::query("SELECT id, report FROM pipeline_cycles ORDER BY id DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch(p);
        let mut rows = Vec::new();
        while let Some(row) = stream.try_next().await? {
            rows.push(CycleRow {
                id: row.try_get(0)?,
                report: row.try_get(1)?,
            });
        }
        Ok(rows)
    })
}

/// A process's plan: its schedule and when it runs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    /// `host:pid`.
    pub runner: String,
    pub schedule: String,
    /// RFC 3339; `None` when no run is planned.
    pub next_run: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
}

pub(crate) async fn write_plan(pool: &Pool, plan: &PlanRow) -> Result<(), StoreError> {
    on_pool!(pool, p, _backend => {
        sqlx::query(
            "INSERT INTO pipeline_plans (runner, schedule, next_run, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (runner) DO UPDATE SET \
             schedule = excluded.schedule, next_run = excluded.next_run, \
             updated_at = excluded.updated_at",
        )
        .bind(&plan.runner)
        .bind(&plan.schedule)
        .bind(&plan.next_run)
        .bind(&plan.updated_at)
        .execute(p)
        .await?;
        Ok(())
    })
}

pub(crate) async fn remove_plan(pool: &Pool, runner: &str) -> Result<(), StoreError> {
    if !table_exists(pool, "pipeline_plans").await? {
        return Ok(());
    }
    on_pool!(pool, p, _backend => {
        sqlx::query("DELETE FROM pipeline_plans WHERE runner = $1")
            .bind(runner)
            .execute(p)
            .await?;
        Ok(())
    })
}

/// Every plan, bounded to [`MAX_PLANS`] rows (most recently updated first); none when the table
/// does not exist.
pub(crate) async fn plans(pool: &Pool) -> Result<Vec<PlanRow>, StoreError> {
    if !table_exists(pool, "pipeline_plans").await? {
        return Ok(Vec::new());
    }
    on_pool!(pool, p, _backend => {
        let mut stream = sqlx::query(
            "SELECT runner, schedule, next_run, updated_at FROM pipeline_plans \
             ORDER BY updated_at DESC LIMIT $1",
        )
        .bind(MAX_PLANS)
        .fetch(p);
        let mut rows = Vec::new();
        while let Some(row) = stream.try_next().await? {
            rows.push(PlanRow {
                runner: row.try_get(0)?,
                schedule: row.try_get(1)?,
                next_run: row.try_get(2)?,
                updated_at: row.try_get(3)?,
            });
        }
        Ok(rows)
    })
}

/// Most plans one read returns: far more processes than run cycles on one database.
const MAX_PLANS: i64 = 100;
