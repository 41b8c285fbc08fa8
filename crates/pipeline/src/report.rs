//! What a cycle did: one [`StepReport`] per step (outcome, duration, counts, error) gathered in
//! a [`CycleReport`], which also decides the exit code of a one-shot run.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::train::TrainOutcome;

/// Exit code: every step succeeded or had nothing to do.
pub const EXIT_OK: u8 = 0;
/// Exit code: a step failed (Genius, the store, training, the registry).
pub const EXIT_STEP_FAILED: u8 = 1;
/// Exit code: the command line was wrong (clap's own code for usage errors).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: something the cycle needs is missing (a token Genius accepts, songs to train on).
pub const EXIT_PRECONDITION: u8 = 3;
/// Exit code: another process holds the pipeline lock, so this one did nothing.
pub const EXIT_BUSY: u8 = 4;
/// Exit code: stopped by Ctrl-C or SIGTERM (the shell's convention for SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The steps of a cycle, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Fetch,
    Train,
    Evaluate,
    Register,
    Promote,
    Prune,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Fetch,
        Step::Train,
        Step::Evaluate,
        Step::Register,
        Step::Promote,
        Step::Prune,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Fetch => "fetch",
            Step::Train => "train",
            Step::Evaluate => "evaluate",
            Step::Register => "register",
            Step::Promote => "promote",
            Step::Prune => "prune",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    /// Not run, with the reason in the detail (nothing new, fetching off, an earlier failure).
    Skipped,
    Failed,
    /// Stopped by a shutdown request; what it wrote is kept.
    Interrupted,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
            StepStatus::Interrupted => "interrupted",
        }
    }
}

/// Why a step failed, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The work itself failed; running again may succeed.
    Step,
    /// A precondition is missing: running again will fail the same way until someone acts.
    Precondition,
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StepReport {
    pub step: Step,
    pub status: StepStatus,
    pub started_at: DateTime<Utc>,
    pub seconds: f64,
    /// One line saying what the step did, or why it was skipped.
    pub detail: String,
    /// What it counted (songs stored, songs trained on, version, versions removed...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
    /// The error and its causes on one line, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
}

/// Longest detail or error line kept in a report: enough for every cause of a failed fetch of
/// a few artists, and it keeps each recorded cycle (and `GET /pipeline`) small.
pub const MAX_LINE_CHARS: usize = 2000;

/// `line`, cut to [`MAX_LINE_CHARS`] characters with a mark where it was cut.
fn bounded(line: String) -> String {
    if line.chars().count() <= MAX_LINE_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_LINE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Times a step and builds its report.
pub(crate) struct StepTimer {
    step: Step,
    started_at: DateTime<Utc>,
    started: Instant,
}

impl StepTimer {
    pub(crate) fn start(step: Step) -> StepTimer {
        tracing::debug!(step = step.as_str(), "step starting");
        StepTimer {
            step,
            started_at: Utc::now(),
            started: Instant::now(),
        }
    }

    fn finish(self, status: StepStatus, detail: String) -> StepReport {
        StepReport {
            step: self.step,
            status,
            started_at: self.started_at,
            seconds: self.started.elapsed().as_secs_f64(),
            detail: bounded(detail),
            counts: BTreeMap::new(),
            error: None,
            failure: None,
        }
    }

    pub(crate) fn succeeded(self, detail: impl Into<String>) -> StepReport {
        self.finish(StepStatus::Succeeded, detail.into())
    }

    pub(crate) fn skipped(self, detail: impl Into<String>) -> StepReport {
        self.finish(StepStatus::Skipped, detail.into())
    }

    pub(crate) fn interrupted(self, detail: impl Into<String>) -> StepReport {
        self.finish(StepStatus::Interrupted, detail.into())
    }

    pub(crate) fn failed(self, error: &StepError) -> StepReport {
        let mut report = self.finish(StepStatus::Failed, error.line.clone());
        report.error = Some(report.detail.clone());
        report.failure = Some(error.kind);
        report
    }
}

impl StepReport {
    /// A step that did not start: `seconds` is 0.
    pub(crate) fn not_run(step: Step, detail: impl Into<String>) -> StepReport {
        StepTimer::start(step).skipped(detail).with_seconds(0.0)
    }

    pub(crate) fn with_count(mut self, name: &str, value: u64) -> StepReport {
        self.counts.insert(name.to_string(), value);
        self
    }

    pub(crate) fn with_seconds(mut self, seconds: f64) -> StepReport {
        self.seconds = seconds;
        self
    }
}

/// A failed step: the error on one line and whether acting is needed before a retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}")]
pub struct StepError {
    pub kind: FailureKind,
    pub line: String,
}

impl StepError {
    pub fn step(error: &anyhow::Error) -> StepError {
        StepError {
            kind: FailureKind::Step,
            line: error_line(error),
        }
    }

    pub fn precondition(line: impl Into<String>) -> StepError {
        StepError {
            kind: FailureKind::Precondition,
            line: line.into(),
        }
    }
}

impl From<anyhow::Error> for StepError {
    fn from(error: anyhow::Error) -> StepError {
        StepError::step(&error)
    }
}

/// How a whole cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CycleStatus {
    /// Every step succeeded or had nothing to do.
    Succeeded,
    Failed,
    Interrupted,
    /// Another process held the pipeline lock, or already ran this cycle's slot.
    Skipped,
}

impl CycleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CycleStatus::Succeeded => "succeeded",
            CycleStatus::Failed => "failed",
            CycleStatus::Interrupted => "interrupted",
            CycleStatus::Skipped => "skipped",
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CycleReport {
    /// The cycle's number in the pipeline record, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Which process ran it (host and process id).
    pub runner: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub seconds: f64,
    pub status: CycleStatus,
    /// Why a skipped cycle was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub steps: Vec<StepReport>,
    /// The version this cycle trained and registered, and whether it became champion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained: Option<TrainOutcome>,
}

impl CycleReport {
    pub(crate) fn new(runner: String, started_at: DateTime<Utc>) -> CycleReport {
        CycleReport {
            id: None,
            runner,
            started_at,
            finished_at: started_at,
            seconds: 0.0,
            status: CycleStatus::Succeeded,
            note: None,
            steps: Vec::new(),
            trained: None,
        }
    }

    /// Closes the report: the cycle's status follows from its steps.
    pub(crate) fn finish(&mut self, started: Instant) {
        self.finished_at = Utc::now();
        self.seconds = started.elapsed().as_secs_f64();
        if self.status == CycleStatus::Skipped {
            return;
        }
        self.status = if self
            .steps
            .iter()
            .any(|s| s.status == StepStatus::Interrupted)
        {
            CycleStatus::Interrupted
        } else if self.steps.iter().any(|s| s.status == StepStatus::Failed) {
            CycleStatus::Failed
        } else {
            CycleStatus::Succeeded
        };
    }

    pub fn step(&self, step: Step) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.step == step)
    }

    /// The first failed step, if any.
    pub fn failure(&self) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.status == StepStatus::Failed)
    }

    /// The exit code of a one-shot run: interrupted (130) over a precondition (3) over any
    /// other failed step (1); a cycle left to another process is 4.
    pub fn exit_code(&self) -> u8 {
        match self.status {
            CycleStatus::Succeeded => EXIT_OK,
            CycleStatus::Skipped => EXIT_BUSY,
            CycleStatus::Interrupted => EXIT_INTERRUPTED,
            CycleStatus::Failed => {
                let precondition = self
                    .steps
                    .iter()
                    .any(|s| s.failure == Some(FailureKind::Precondition));
                if precondition {
                    EXIT_PRECONDITION
                } else {
                    EXIT_STEP_FAILED
                }
            }
        }
    }

    /// One line per step, for logs and the command line.
    pub fn summary_lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| {
                format!(
                    "{:<8} {:<11} {:>7.1}s  {}",
                    s.step.as_str(),
                    s.status.as_str(),
                    s.seconds,
                    s.detail
                )
            })
            .collect()
    }
}

/// The error and its causes on one line, without repeating a cause already in the message.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(steps: Vec<StepReport>) -> CycleReport {
        let mut r = CycleReport::new("test".into(), Utc::now());
        r.steps = steps;
        r.finish(Instant::now());
        r
    }

    fn failed(step: Step, kind: FailureKind) -> StepReport {
        StepTimer::start(step).failed(&StepError {
            kind,
            line: "boom".into(),
        })
    }

    #[test]
    fn a_cycle_whose_steps_succeeded_or_were_skipped_exits_zero() {
        let r = report(vec![
            StepReport::not_run(Step::Fetch, "fetching is off"),
            StepTimer::start(Step::Train).succeeded("25 songs"),
        ]);
        assert_eq!(r.status, CycleStatus::Succeeded);
        assert_eq!(r.exit_code(), EXIT_OK);
    }

    #[test]
    fn a_failed_step_exits_one_and_a_missing_precondition_exits_three() {
        let r = report(vec![
            failed(Step::Fetch, FailureKind::Step),
            StepTimer::start(Step::Train).succeeded("trained"),
        ]);
        assert_eq!(r.status, CycleStatus::Failed);
        assert_eq!(r.exit_code(), EXIT_STEP_FAILED);
        assert_eq!(r.failure().map(|s| s.step), Some(Step::Fetch));

        let r = report(vec![
            failed(Step::Fetch, FailureKind::Step),
            failed(Step::Train, FailureKind::Precondition),
        ]);
        assert_eq!(r.exit_code(), EXIT_PRECONDITION);
    }

    #[test]
    fn an_interruption_wins_over_failures_and_a_skipped_cycle_exits_four() {
        let r = report(vec![
            failed(Step::Fetch, FailureKind::Precondition),
            StepTimer::start(Step::Train).interrupted("stopped"),
        ]);
        assert_eq!(r.exit_code(), EXIT_INTERRUPTED);
        let mut r = CycleReport::new("test".into(), Utc::now());
        r.status = CycleStatus::Skipped;
        r.finish(Instant::now());
        assert_eq!(r.exit_code(), EXIT_BUSY);
    }

    #[test]
    fn the_error_line_joins_causes_without_repeating_them() {
        let e = anyhow::anyhow!("disk full").context("cannot save the model");
        assert_eq!(error_line(&e), "cannot save the model: disk full");
        let e = anyhow::anyhow!("x").context("failed: x");
        assert_eq!(error_line(&e), "failed: x");
    }

    #[test]
    fn a_long_error_is_cut_in_the_report() {
        let step = StepTimer::start(Step::Fetch).failed(&StepError::precondition("x".repeat(9000)));
        assert_eq!(step.detail.chars().count(), MAX_LINE_CHARS);
        assert_eq!(step.error.as_deref(), Some(step.detail.as_str()));
        assert!(step.detail.ends_with('…'));
    }

    #[test]
    fn a_report_round_trips_through_json() {
        let r = report(vec![
            StepTimer::start(Step::Fetch)
                .succeeded("1 artist")
                .with_count("songs_stored", 3),
        ]);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"status\":\"succeeded\""), "{json}");
        let back: CycleReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
