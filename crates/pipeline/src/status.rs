//! What a server shows of the pipeline: the cycles recorded in the catalogue database (shared
//! by every replica), the plans of the processes that run them (also in the database, so a
//! `serve` replica shows the leader's next run), and, in the process that runs cycles, its
//! metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use songrec_store::{PlanRow, Store, StoreConfig};
use tokio::sync::OnceCell;

use crate::metrics::PipelineMetrics;
use crate::report::CycleReport;

/// Most cycles one read returns.
pub const MAX_RECENT_CYCLES: u32 = 100;
/// How long a read waits for a database connection: well within a request's time limit.
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections a server keeps for reading the record: requests for it are rare.
const READ_CONNECTIONS: u32 = 2;
/// A plan whose next run is further past than this belongs to a process that stopped without
/// withdrawing it (a cycle running late is still planned).
const STALE_PLAN: chrono::TimeDelta = chrono::TimeDelta::hours(6);

/// The pipeline as a server sees it. Cheap to clone: clones share the connection and the
/// schedule.
#[derive(Clone)]
pub struct PipelineStatus {
    inner: Arc<Inner>,
}

struct Inner {
    store: StoreConfig,
    opened: OnceCell<Store>,
    plan: Mutex<Plan>,
    metrics: Option<PipelineMetrics>,
}

/// A schedule and its next run: this process's, or the one a process sharing the database
/// recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// `every 1h`, `cron 0 * * * *`.
    pub schedule: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for PipelineStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineStatus")
            .field("plan", &*self.plan_lock())
            .finish_non_exhaustive()
    }
}

impl PipelineStatus {
    /// The record of the catalogue database at `store`, for a process that does not run
    /// cycles (`songrec serve`): no schedule, no pipeline metrics.
    pub fn reader(store: &StoreConfig) -> PipelineStatus {
        PipelineStatus::new(store, None)
    }

    /// The record, schedule and metrics of a process that runs cycles with `metrics`.
    pub fn runner(store: &StoreConfig, metrics: PipelineMetrics) -> PipelineStatus {
        PipelineStatus::new(store, Some(metrics))
    }

    fn new(store: &StoreConfig, metrics: Option<PipelineMetrics>) -> PipelineStatus {
        PipelineStatus {
            inner: Arc::new(Inner {
                store: StoreConfig {
                    url: store.url.clone(),
                    max_connections: READ_CONNECTIONS,
                    acquire_timeout: READ_TIMEOUT,
                    write_timeout: store.write_timeout,
                },
                opened: OnceCell::new(),
                plan: Mutex::new(Plan::default()),
                metrics,
            }),
        }
    }

    /// Records this process's schedule (e.g. `every 1h`) and when it runs next, here and in
    /// the catalogue database for the replicas sharing it. The database may not be reachable
    /// (or not be migrated yet, before the first cycle): the plan is then written at the next
    /// call.
    pub async fn set_plan(&self, schedule: String, next_run: Option<DateTime<Utc>>) {
        *self.plan_lock() = Plan {
            schedule: Some(schedule.clone()),
            next_run,
        };
        if let Some(metrics) = &self.inner.metrics {
            metrics.set_next_run(next_run);
        }
        let row = PlanRow {
            runner: crate::runner(),
            schedule,
            next_run: next_run.map(|t| t.to_rfc3339()),
            updated_at: Utc::now().to_rfc3339(),
        };
        let written = async {
            self.store()
                .await?
                .record_plan(&row)
                .await
                .map_err(Into::into)
        };
        if let Err(e) = written.await {
            tracing::debug!("the plan is not recorded yet: {}", crate::error_line(&e));
        }
    }

    /// Removes this process's plan from the database (it stops running cycles).
    pub async fn withdraw_plan(&self) {
        let removed = async {
            let store = self.store().await?;
            store
                .forget_plan(&crate::runner())
                .await
                .map_err(Into::into)
        };
        if let Err(e) = removed.await {
            tracing::warn!(
                "cannot withdraw the pipeline plan: {}",
                crate::error_line(&e)
            );
        }
    }

    /// This process's plan when it runs cycles; otherwise the soonest next run recorded by a
    /// live process sharing the database (none when it cannot be read).
    pub async fn plan(&self) -> Plan {
        let own = self.plan_lock().clone();
        if own.schedule.is_some() {
            return own;
        }
        match self.shared_plans().await {
            Ok(plans) => soonest(plans, Utc::now()),
            Err(e) => {
                tracing::debug!("cannot read the pipeline plans: {}", crate::error_line(&e));
                Plan::default()
            }
        }
    }

    async fn shared_plans(&self) -> anyhow::Result<Vec<PlanRow>> {
        if self.database_missing() {
            return Ok(Vec::new());
        }
        Ok(self.store().await?.plans().await?)
    }

    fn plan_lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        // The plan is plain data; a panic elsewhere cannot leave it inconsistent.
        self.inner.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pipeline metrics, in the process that runs cycles.
    pub fn metrics(&self) -> Option<&PipelineMetrics> {
        self.inner.metrics.as_ref()
    }

    /// The last `limit` (at most [`MAX_RECENT_CYCLES`]) recorded cycles, newest first. A SQLite
    /// database that does not exist yet has none, and is not created.
    pub async fn recent(&self, limit: u32) -> anyhow::Result<Vec<CycleReport>> {
        let limit = limit.min(MAX_RECENT_CYCLES);
        if self.database_missing() {
            return Ok(Vec::new());
        }
        let store = self.store().await?;
        let rows = store
            .recent_cycles(limit)
            .await
            .context("cannot read the pipeline record")?;
        rows.into_iter()
            .map(|row| {
                let mut report: CycleReport = serde_json::from_str(&row.report)
                    .with_context(|| format!("recorded cycle {} is not a valid report", row.id))?;
                report.id = Some(row.id);
                Ok(report)
            })
            .collect()
    }
}

impl PipelineStatus {
    /// A SQLite database that does not exist yet: nothing recorded, and not to be created.
    fn database_missing(&self) -> bool {
        crate::lock::sqlite_path(self.inner.store.url.expose_secret())
            .is_some_and(|path| !path.exists())
    }

    async fn store(&self) -> anyhow::Result<&Store> {
        self.inner
            .opened
            .get_or_try_init(|| Store::connect_without_migrating(&self.inner.store))
            .await
            .context("cannot open the catalogue database")
    }
}

/// The plan with the soonest next run among `plans` that are not stale at `now`.
fn soonest(plans: Vec<PlanRow>, now: DateTime<Utc>) -> Plan {
    plans
        .into_iter()
        .filter_map(|row| {
            let next = DateTime::parse_from_rfc3339(row.next_run.as_deref()?).ok()?;
            let next = next.to_utc();
            (next > now - STALE_PLAN).then_some(Plan {
                schedule: Some(row.schedule),
                next_run: Some(next),
            })
        })
        .min_by_key(|plan| plan.next_run)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(runner: &str, next: Option<&str>) -> PlanRow {
        PlanRow {
            runner: runner.into(),
            schedule: format!("plan of {runner}"),
            next_run: next.map(Into::into),
            updated_at: "2026-11-28T10:00:00Z".into(),
        }
    }

    #[test]
    fn the_soonest_live_plan_wins_and_stale_or_unplanned_rows_are_ignored() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .to_utc();
        let plan = soonest(
            vec![
                row("dead", Some("2026-11-28T01:00:00Z")),
                row("late", Some("2026-11-28T11:00:00Z")),
                row("later", Some("2026-11-28T13:00:00Z")),
                row("none", None),
                row("garbage", Some("soon")),
            ],
            now,
        );
        assert_eq!(plan.schedule.as_deref(), Some("plan of late"));
        assert_eq!(
            plan.next_run.unwrap().to_rfc3339(),
            "2026-11-28T11:00:00+00:00"
        );
        assert_eq!(
            soonest(vec![row("dead", Some("2026-11-27T00:00:00Z"))], now),
            Plan::default()
        );
        assert_eq!(soonest(Vec::new(), now), Plan::default());
    }
}
