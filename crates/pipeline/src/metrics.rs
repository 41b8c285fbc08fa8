//! Prometheus metrics of the cycles this process runs: each step's duration and outcome, and
//! when each step and whole cycle last succeeded. The server of the same process appends them
//! to its `/metrics`.
//!
//! The recorder belongs to the pipeline rather than being installed globally, so several
//! pipelines (tests) in one process keep separate counts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::report::{CycleReport, CycleStatus, Step, StepStatus};

const STEP_DURATION: &str = "songrec_pipeline_step_duration_seconds";
const STEP_TOTAL: &str = "songrec_pipeline_step_total";
const STEP_LAST_SUCCESS: &str = "songrec_pipeline_step_last_success_timestamp_seconds";
const CYCLES: &str = "songrec_pipeline_cycles_total";
const LAST_SUCCESS: &str = "songrec_pipeline_last_success_timestamp_seconds";
const NEXT_RUN: &str = "songrec_pipeline_next_run_timestamp_seconds";

/// Step durations in seconds: a fetch of one artist takes seconds, training a large catalogue
/// minutes, and an hour is the longest a cycle should ever take.
const DURATION_BUCKETS: [f64; 12] = [
    0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
];

const STEP_STATUSES: [StepStatus; 4] = [
    StepStatus::Succeeded,
    StepStatus::Skipped,
    StepStatus::Failed,
    StepStatus::Interrupted,
];

const CYCLE_STATUSES: [CycleStatus; 4] = [
    CycleStatus::Succeeded,
    CycleStatus::Failed,
    CycleStatus::Interrupted,
    CycleStatus::Skipped,
];

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// The pipeline's metrics. Cheap to clone: clones share the counts.
#[derive(Clone)]
pub struct PipelineMetrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl Default for PipelineMetrics {
    fn default() -> Self {
        PipelineMetrics::new()
    }
}

impl std::fmt::Debug for PipelineMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineMetrics").finish_non_exhaustive()
    }
}

impl PipelineMetrics {
    /// Every series starts at zero, so a dashboard sees the steps before the first cycle.
    pub fn new() -> PipelineMetrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&DURATION_BUCKETS)
            .expect("the duration bucket list is a non-empty constant")
            .build_recorder();
        let describe = |name: &'static str, unit: Option<metrics::Unit>, help: &'static str| {
            recorder.describe_counter(name.into(), unit, help.into());
        };
        describe(
            STEP_TOTAL,
            None,
            "Pipeline steps run by this process, by step and outcome.",
        );
        describe(
            CYCLES,
            None,
            "Pipeline cycles run by this process, by outcome.",
        );
        recorder.describe_histogram(
            STEP_DURATION.into(),
            Some(metrics::Unit::Seconds),
            "Time each pipeline step took, by step (steps that did not start are not counted)."
                .into(),
        );
        recorder.describe_gauge(
            STEP_LAST_SUCCESS.into(),
            Some(metrics::Unit::Seconds),
            "Unix time at which each step last succeeded in this process (0: never).".into(),
        );
        recorder.describe_gauge(
            LAST_SUCCESS.into(),
            Some(metrics::Unit::Seconds),
            "Unix time at which a whole cycle last succeeded in this process (0: never).".into(),
        );
        recorder.describe_gauge(
            NEXT_RUN.into(),
            Some(metrics::Unit::Seconds),
            "Unix time of the next scheduled cycle (0: none planned).".into(),
        );
        let handle = recorder.handle();
        let metrics = PipelineMetrics {
            recorder: Arc::new(recorder),
            handle,
        };
        for step in Step::ALL {
            for status in STEP_STATUSES {
                metrics.step_counter(step, status).absolute(0);
            }
            metrics.step_last_success(step).set(0.0);
        }
        for status in CYCLE_STATUSES {
            metrics.cycle_counter(status).absolute(0);
        }
        metrics.gauge(LAST_SUCCESS).set(0.0);
        metrics.gauge(NEXT_RUN).set(0.0);
        metrics
    }

    /// Counts a finished cycle and its steps.
    pub fn observe(&self, report: &CycleReport) {
        self.cycle_counter(report.status).increment(1);
        if report.status == CycleStatus::Succeeded {
            self.gauge(LAST_SUCCESS)
                .set(unix_seconds(report.finished_at));
        }
        for step in &report.steps {
            self.step_counter(step.step, step.status).increment(1);
            // A step that never started (an earlier one failed) has no duration to count.
            if step.seconds > 0.0 {
                let key = Key::from_parts(STEP_DURATION, vec![step_label(step.step)]);
                self.recorder
                    .register_histogram(&key, &METADATA)
                    .record(step.seconds);
            }
            if step.status == StepStatus::Succeeded {
                let finished = step.started_at
                    + chrono::TimeDelta::milliseconds((step.seconds * 1000.0) as i64);
                self.step_last_success(step.step)
                    .set(unix_seconds(finished));
            }
        }
    }

    /// Sets when the next cycle runs (`None`: none planned).
    pub fn set_next_run(&self, next: Option<DateTime<Utc>>) {
        self.gauge(NEXT_RUN).set(next.map_or(0.0, unix_seconds));
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    fn step_counter(&self, step: Step, status: StepStatus) -> metrics::Counter {
        let key = Key::from_parts(
            STEP_TOTAL,
            vec![step_label(step), Label::new("status", status.as_str())],
        );
        self.recorder.register_counter(&key, &METADATA)
    }

    fn cycle_counter(&self, status: CycleStatus) -> metrics::Counter {
        let key = Key::from_parts(CYCLES, vec![Label::new("status", status.as_str())]);
        self.recorder.register_counter(&key, &METADATA)
    }

    fn step_last_success(&self, step: Step) -> metrics::Gauge {
        let key = Key::from_parts(STEP_LAST_SUCCESS, vec![step_label(step)]);
        self.recorder.register_gauge(&key, &METADATA)
    }

    fn gauge(&self, name: &'static str) -> metrics::Gauge {
        self.recorder
            .register_gauge(&Key::from_name(name), &METADATA)
    }
}

fn step_label(step: Step) -> Label {
    Label::new("step", step.as_str())
}

fn unix_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{StepError, StepReport, StepTimer};

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn a_cycle_counts_each_step_by_outcome_and_times_the_ones_that_ran() {
        let metrics = PipelineMetrics::new();
        let before = metrics.render();
        assert!(
            line(
                &before,
                "songrec_pipeline_step_total{step=\"train\",status=\"succeeded\"} 0"
            )
            .is_some(),
            "{before}"
        );
        let mut report = CycleReport::new("test".into(), Utc::now());
        report.steps = vec![
            StepTimer::start(Step::Fetch).failed(&StepError::precondition("no token")),
            StepTimer::start(Step::Train).succeeded("trained"),
            StepReport::not_run(Step::Register, "training failed"),
        ];
        report.finish(std::time::Instant::now());
        metrics.observe(&report);
        let text = metrics.render();
        for expected in [
            "songrec_pipeline_step_total{step=\"fetch\",status=\"failed\"} 1",
            "songrec_pipeline_step_total{step=\"train\",status=\"succeeded\"} 1",
            "songrec_pipeline_step_total{step=\"register\",status=\"skipped\"} 1",
            "songrec_pipeline_cycles_total{status=\"failed\"} 1",
            "songrec_pipeline_step_duration_seconds_count{step=\"train\"} 1",
            "songrec_pipeline_last_success_timestamp_seconds 0",
        ] {
            assert!(line(&text, expected).is_some(), "{expected} in\n{text}");
        }
        assert!(
            line(
                &text,
                "songrec_pipeline_step_duration_seconds_count{step=\"register\"}"
            )
            .is_none(),
            "a step that never started has no duration"
        );
        let success = line(
            &text,
            "songrec_pipeline_step_last_success_timestamp_seconds{step=\"train\"}",
        )
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
        assert!(success > 1.7e9, "{success}");
    }
}
