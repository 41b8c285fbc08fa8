//! One songrec pipeline cycle: fetch -> train -> evaluate -> register -> promote (-> prune),
//! with a typed [`CycleReport`] (each step's outcome, duration, counts and error).
//!
//! `songrec run` (on a timer or `--once`), `songrec train`, the Airflow tasks and the tests all
//! run cycles through [`Pipeline`]; the command line only parses settings and prints reports.
//! Timing is `songrec-scheduler`'s; reloading the champion is the API's.
//!
//! # Layout
//! - [`Pipeline`]: the settings of a cycle and the cycle itself.
//! - `fetch`: which artists ([`Artists`]), the Genius client, [`FetchTotals`].
//! - `train`: training, evaluation, registration and the promotion policy ([`TrainOptions`]).
//! - `report`: [`CycleReport`], [`StepReport`] and the exit codes of a one-shot cycle.
//! - `lock`: one cycle at a time across processes sharing a database or a registry.
//! - `status`: what a server shows ([`PipelineStatus`]): recorded cycles, schedule, metrics.
//! - `metrics`: Prometheus metrics per step ([`PipelineMetrics`]).
//!
//! Every cycle is recorded in the catalogue database (`Store::record_cycle`); replicas read
//! the record to run each scheduled slot once. A cycle the database could not record (it was
//! down) waits in the [`Backlog`] and is recorded by the next cycle that opens it. The fetch runs table stays the record of
//! fetches.

mod backlog;
mod fetch;
mod lock;
mod metrics;
mod report;
mod status;
mod train;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use songrec_genius::fetch::FetchProgress;
use songrec_model::PRIMARY_METRIC;
use songrec_registry::Registry;
use songrec_store::{Store, StoreConfig};

pub use tokio_util::sync::CancellationToken;

pub use backlog::Backlog;
pub use fetch::{ArtistFailure, Artists, FetchPlan, FetchTotals, fetch_songs};
pub use report::{
    CycleReport, CycleStatus, EXIT_BUSY, EXIT_INTERRUPTED, EXIT_OK, EXIT_PRECONDITION,
    EXIT_STEP_FAILED, EXIT_USAGE, FailureKind, Step, StepError, StepReport, StepStatus, error_line,
};
pub use train::{MIN_SONGS, TrainOptions, TrainOutcome};

use lock::{CycleLock, Wait};
pub use metrics::PipelineMetrics;
use report::StepTimer;
pub use status::{MAX_RECENT_CYCLES, PipelineStatus, Plan};

/// Whether cycles fetch from Genius.
#[derive(Debug, Clone)]
pub enum Fetching {
    On(Box<FetchPlan>),
    /// Off, with the reason shown in the report (e.g. no token).
    Off(String),
}

/// When a cycle trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainWhen {
    /// When the fetch stored something, or there is no champion yet.
    #[default]
    Changed,
    /// Every cycle.
    Always,
}

/// Everything a cycle needs. Cheap to share: cycles open the store for their own duration, so
/// a database that is down at one cycle does not stop the next.
pub struct Pipeline {
    pub store: StoreConfig,
    pub registry: Arc<Registry>,
    /// Where model files are written before registration (the data dir).
    pub work_dir: PathBuf,
    pub fetching: Fetching,
    pub train: TrainOptions,
    pub train_when: TrainWhen,
    /// Versions kept by the prune step after each registration (the champion and its rollback
    /// target always are); `None` never prunes.
    pub keep_versions: Option<usize>,
    /// Where the cycles this process runs are counted.
    pub metrics: PipelineMetrics,
    /// Cycles the database could not record yet.
    pub backlog: Backlog,
}

/// What a step passes on to the next ones.
enum Flow {
    Continue,
    /// The remaining steps are skipped with this reason.
    Stop(String),
}

impl Pipeline {
    /// Runs one whole cycle for `slot` (the scheduled time it belongs to; `None` for a cycle
    /// asked for by hand). Never fails as a call: every failure is in the report. `stop`
    /// (Ctrl-C, SIGTERM) ends it at the next safe point, keeping what was written.
    ///
    /// The cycle is skipped when another process holds the pipeline lock, or when the slot was
    /// already run by another process sharing the database.
    pub async fn run_cycle(
        &self,
        slot: Option<DateTime<Utc>>,
        progress: &dyn FetchProgress,
        stop: &CancellationToken,
    ) -> CycleReport {
        self.locked_cycle(true, slot, Wait::No, progress, stop)
            .await
    }

    /// Trains, evaluates, registers and promotes on what the store holds, without fetching and
    /// whatever changed: `songrec train`. Waits for a cycle another process is running.
    pub async fn train_now(&self, stop: &CancellationToken) -> CycleReport {
        self.locked_cycle(
            false,
            None,
            Wait::Yes,
            &songrec_genius::fetch::NoProgress,
            stop,
        )
        .await
    }

    async fn locked_cycle(
        &self,
        with_fetch: bool,
        slot: Option<DateTime<Utc>>,
        wait: Wait,
        progress: &dyn FetchProgress,
        stop: &CancellationToken,
    ) -> CycleReport {
        let started = Instant::now();
        let mut report = CycleReport::new(runner(), Utc::now());
        let lock = CycleLock::acquire(&self.store.url, self.registry.local_root(), wait).await;
        let lock = match lock {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                let note = "another process is running a cycle (it holds the pipeline lock)";
                return self.done(skipped(report, note.into(), started));
            }
            Err(e) => {
                let e = e.context("cannot take the pipeline lock");
                let reason = "the pipeline lock cannot be taken";
                let report = self.failed_to_start(report, with_fetch, &e, reason, started);
                self.backlog.push(slot, report.clone());
                return report;
            }
        };
        let store = match songrec_ingest::open_store(&self.store).await {
            Ok(store) => store,
            Err(e) => {
                let e = anyhow::Error::new(e).context("cannot open the catalogue store");
                let reason = "the catalogue store cannot be opened";
                let report = self.failed_to_start(report, with_fetch, &e, reason, started);
                self.backlog.push(slot, report.clone());
                return report;
            }
        };
        self.backlog.flush(&store).await;
        if let Some(slot) = slot {
            let slot = slot.to_rfc3339();
            match store.cycle_slot_runner(&slot).await {
                Ok(Some(runner)) => {
                    let note = format!("the cycle of {slot} already ran on {runner}");
                    store.close().await;
                    return self.done(skipped(report, note, started));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("cannot read the pipeline record: {e}"),
            }
        }
        self.cycle(&store, &mut report, with_fetch, progress, stop)
            .await;
        report.finish(started);
        match record(&store, slot, &report).await {
            Ok(id) => report.id = Some(id),
            Err(e) => {
                tracing::warn!(
                    "the cycle is not recorded yet (it will be by the next cycle): {}",
                    error_line(&e)
                );
                self.backlog.push(slot, report.clone());
            }
        }
        store.close().await;
        drop(lock);
        self.done(report)
    }

    /// A cycle whose first step could not start because of `error`.
    fn failed_to_start(
        &self,
        mut report: CycleReport,
        with_fetch: bool,
        error: &anyhow::Error,
        reason: &str,
        started: Instant,
    ) -> CycleReport {
        let first = if with_fetch { Step::Fetch } else { Step::Train };
        report
            .steps
            .push(StepTimer::start(first).failed(&StepError::step(error)));
        self.skip_rest(&mut report, with_fetch, reason);
        report.finish(started);
        self.done(report)
    }

    /// Counts and logs a finished cycle.
    fn done(&self, report: CycleReport) -> CycleReport {
        self.metrics.observe(&report);
        log_report(&report);
        report
    }

    fn skip_rest(&self, report: &mut CycleReport, with_fetch: bool, reason: &str) {
        for step in Step::ALL {
            if step == Step::Prune && self.keep_versions.is_none() {
                continue;
            }
            if (with_fetch || step != Step::Fetch) && report.step(step).is_none() {
                report.steps.push(StepReport::not_run(step, reason));
            }
        }
    }

    async fn cycle(
        &self,
        store: &Store,
        report: &mut CycleReport,
        with_fetch: bool,
        progress: &dyn FetchProgress,
        stop: &CancellationToken,
    ) {
        let flow = if with_fetch {
            self.fetch_step(store, progress, stop, report).await
        } else {
            Flow::Continue
        };
        let flow = match flow {
            Flow::Continue => self.train_steps(store, !with_fetch, stop, report).await,
            stopped => stopped,
        };
        if let Flow::Stop(reason) = flow {
            self.skip_rest(report, with_fetch, &reason);
        }
    }

    async fn fetch_step(
        &self,
        store: &Store,
        progress: &dyn FetchProgress,
        stop: &CancellationToken,
        report: &mut CycleReport,
    ) -> Flow {
        let timer = StepTimer::start(Step::Fetch);
        let plan = match &self.fetching {
            Fetching::Off(reason) => {
                report.steps.push(timer.skipped(reason.clone()));
                return Flow::Continue;
            }
            Fetching::On(plan) => plan,
        };
        let totals = match fetch_songs(store, plan, progress, stop).await {
            Ok(totals) => totals,
            Err(e) => {
                report.steps.push(timer.failed(&StepError::step(&e)));
                return Flow::Continue;
            }
        };
        let step = if totals.interrupted {
            timer.interrupted(totals.summary())
        } else if totals.failures.is_empty() {
            timer.succeeded(totals.summary())
        } else {
            let causes: Vec<String> = totals
                .failures
                .iter()
                .map(|f| format!("{}: {}", f.artist, f.error))
                .collect();
            let line = format!(
                "{} of {} artists failed ({}); {}",
                totals.failures.len(),
                totals.reports.len(),
                causes.join("; "),
                totals.summary()
            );
            let error = if totals.failures.iter().any(|f| f.auth) {
                StepError::precondition(line)
            } else {
                StepError {
                    kind: FailureKind::Step,
                    line,
                }
            };
            timer.failed(&error)
        };
        let sum = |f: fn(&songrec_genius::fetch::ArtistReport) -> u64| {
            totals.reports.iter().map(f).sum::<u64>()
        };
        report.steps.push(
            step.with_count("artists", totals.reports.len() as u64)
                .with_count("artists_failed", totals.failures.len() as u64)
                .with_count("songs_listed", sum(|r| r.summary.songs_seen))
                .with_count("songs_fetched", sum(|r| r.summary.songs_fetched))
                .with_count("songs_stored", totals.songs_stored()),
        );
        if totals.interrupted {
            return Flow::Stop("stopped during the fetch".into());
        }
        Flow::Continue
    }

    /// Train (with evaluation), register, promote. `force` trains whatever the fetch did.
    async fn train_steps(
        &self,
        store: &Store,
        force: bool,
        stop: &CancellationToken,
        report: &mut CycleReport,
    ) -> Flow {
        if stop.is_cancelled() {
            report
                .steps
                .push(StepTimer::start(Step::Train).interrupted("stopped before training"));
            return Flow::Stop("stopped before training".into());
        }
        let timer = StepTimer::start(Step::Train);
        if !force && self.train_when == TrainWhen::Changed {
            let stored = report
                .step(Step::Fetch)
                .and_then(|s| s.counts.get("songs_stored").copied())
                .unwrap_or(0);
            match self.registry.champion().await {
                Ok(Some(champion)) if stored == 0 => {
                    report.steps.push(timer.skipped(format!(
                        "nothing new stored and a champion exists (version {}); not training",
                        champion.version
                    )));
                    return Flow::Stop("nothing was trained".into());
                }
                Ok(_) => {}
                Err(e) => {
                    let e = anyhow::Error::new(e).context(format!(
                        "cannot read the champion from {}",
                        self.registry.location()
                    ));
                    report.steps.push(timer.failed(&StepError::step(&e)));
                    return Flow::Stop("the registry cannot be read".into());
                }
            }
        }
        let champion =
            train::champion_to_rescore(&self.registry, &self.train.params, self.train.policy).await;
        let trained =
            match train::train_model(store, &self.work_dir, &self.train.params, champion).await {
                Ok(trained) => trained,
                Err(e) => {
                    report.steps.push(timer.failed(&e));
                    return Flow::Stop("training failed".into());
                }
            };
        let evaluation = trained.timings.get("evaluation").copied().unwrap_or(0.0);
        let train_step = timer
            .succeeded(format!("trained on {} songs", trained.songs))
            .with_count("songs", trained.songs);
        let train_seconds = (train_step.seconds - evaluation).max(0.0);
        report.steps.push(train_step.with_seconds(train_seconds));
        let primary = trained
            .metrics
            .get(PRIMARY_METRIC)
            .map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
        report.steps.push(
            StepTimer::start(Step::Evaluate)
                .succeeded(format!("{PRIMARY_METRIC} {primary}"))
                .with_seconds(evaluation),
        );

        let timer = StepTimer::start(Step::Register);
        let version = match train::register(&self.registry, &trained).await {
            Ok(version) => version,
            Err(e) => {
                report.steps.push(timer.failed(&e));
                return Flow::Stop("registration failed".into());
            }
        };
        let registered = timer
            .succeeded(format!(
                "version {} in {}",
                version.version,
                self.registry.location()
            ))
            .with_count("version", version.version);
        let register_seconds = registered.seconds;
        report.steps.push(registered);

        let timer = StepTimer::start(Step::Promote);
        let decision = match train::promote(&self.registry, &version, self.train.policy).await {
            Ok(decision) => decision,
            Err(e) => {
                report.steps.push(timer.failed(&e));
                return Flow::Stop("promotion failed".into());
            }
        };
        let verdict = if decision.promote {
            "promoted to champion"
        } else {
            "not promoted"
        };
        report.steps.push(timer.succeeded(format!(
            "version {} {verdict}: {}",
            version.version, decision.reason
        )));
        let mut timings = trained.timings.clone();
        timings.insert("register".into(), register_seconds);
        timings.insert("total".into(), report_seconds(report));
        report.trained = Some(TrainOutcome {
            version: version.version,
            songs: trained.songs,
            metrics: trained.metrics.clone(),
            promoted: decision.promote,
            reason: decision.reason,
            timings,
        });
        if let Some(keep) = self.keep_versions {
            report.steps.push(self.prune_step(keep).await);
        }
        Flow::Continue
    }

    /// Removes old versions, keeping `keep`, the champion and its rollback target.
    async fn prune_step(&self, keep: usize) -> StepReport {
        let timer = StepTimer::start(Step::Prune);
        match self.registry.prune(keep).await {
            Ok(pruned) => {
                let detail = if pruned.removed.is_empty() {
                    format!("nothing to remove ({} versions kept)", pruned.kept.len())
                } else {
                    format!(
                        "removed {} old version(s), kept {}",
                        pruned.removed.len(),
                        pruned.kept.len()
                    )
                };
                timer
                    .succeeded(detail)
                    .with_count("removed", pruned.removed.len() as u64)
                    .with_count("kept", pruned.kept.len() as u64)
            }
            Err(e) => {
                let e = anyhow::Error::new(e).context(format!(
                    "cannot prune old versions in {}",
                    self.registry.location()
                ));
                timer.failed(&StepError::step(&e))
            }
        }
    }
}

/// Seconds from the train step's start to now.
fn report_seconds(report: &CycleReport) -> f64 {
    report
        .step(Step::Train)
        .map(|s| (Utc::now() - s.started_at).as_seconds_f64())
        .unwrap_or_default()
}

/// A cycle that did not run, with the reason.
fn skipped(mut report: CycleReport, note: String, started: Instant) -> CycleReport {
    tracing::info!("cycle skipped: {note}");
    report.status = CycleStatus::Skipped;
    report.note = Some(note);
    report.finish(started);
    report
}

/// Records a finished cycle in the catalogue database; returns its number.
async fn record(
    store: &Store,
    slot: Option<DateTime<Utc>>,
    report: &CycleReport,
) -> anyhow::Result<i64> {
    let json = serde_json::to_string(report)?;
    let slot = slot.map(|s| s.to_rfc3339());
    let (started_at, finished_at) = (
        report.started_at.to_rfc3339(),
        report.finished_at.to_rfc3339(),
    );
    let id = store
        .record_cycle(&songrec_store::NewCycle {
            slot: slot.as_deref(),
            runner: &report.runner,
            started_at: &started_at,
            finished_at: &finished_at,
            status: report.status.as_str(),
            report: &json,
        })
        .await?;
    Ok(id)
}

fn log_report(report: &CycleReport) {
    for line in report.summary_lines() {
        tracing::debug!("{line}");
    }
    if let Some(failed) = report.failure() {
        tracing::error!(
            step = failed.step.as_str(),
            "{} failed: {}",
            failed.step,
            failed.error.as_deref().unwrap_or("")
        );
    }
}

/// This process, as `host:pid`, to tell replicas apart in the record.
fn runner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}:{}", std::process::id())
}
