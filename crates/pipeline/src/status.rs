//! What a server shows of the pipeline: the cycles recorded in the catalogue database (shared
//! by every replica), and, in the process that runs cycles, its schedule and metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use songrec_store::{Store, StoreConfig};
use tokio::sync::OnceCell;

use crate::metrics::PipelineMetrics;
use crate::report::CycleReport;

/// Most cycles one read returns.
pub const MAX_RECENT_CYCLES: u32 = 100;
/// How long a read waits for a database connection: well within a request's time limit.
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections a server keeps for reading the record: requests for it are rare.
const READ_CONNECTIONS: u32 = 2;

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

/// This process's schedule, when it runs cycles.
#[derive(Debug, Clone, Default)]
struct Plan {
    schedule: Option<String>,
    next_run: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for PipelineStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineStatus")
            .field("plan", &self.plan())
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
                },
                opened: OnceCell::new(),
                plan: Mutex::new(Plan::default()),
                metrics,
            }),
        }
    }

    /// Records this process's schedule (e.g. `every 1h`) and when it runs next.
    pub fn set_plan(&self, schedule: String, next_run: Option<DateTime<Utc>>) {
        *self.plan_lock() = Plan {
            schedule: Some(schedule),
            next_run,
        };
        if let Some(metrics) = &self.inner.metrics {
            metrics.set_next_run(next_run);
        }
    }

    /// This process's schedule, if it runs cycles on one.
    pub fn schedule(&self) -> Option<String> {
        self.plan().schedule
    }

    /// When this process runs its next cycle, when known.
    pub fn next_run(&self) -> Option<DateTime<Utc>> {
        self.plan().next_run
    }

    fn plan(&self) -> Plan {
        self.plan_lock().clone()
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
        if let Some(path) = crate::lock::sqlite_path(self.inner.store.url.expose_secret())
            && !path.exists()
        {
            return Ok(Vec::new());
        }
        let store = self
            .inner
            .opened
            .get_or_try_init(|| Store::connect_without_migrating(&self.inner.store))
            .await
            .context("cannot open the catalogue database")?;
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
