//! Prometheus metrics of one server instance: requests by route and status, latency
//! histograms, the served model and reload outcomes.
//!
//! The recorder belongs to the server rather than being installed globally, so several
//! servers (tests) in one process keep separate counts.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::sync::watch;

const REQUESTS: &str = "songrec_http_requests_total";
const DURATION: &str = "songrec_http_request_duration_seconds";
const MODEL_VERSION: &str = "songrec_model_version";
const MODEL_SONGS: &str = "songrec_model_songs";
const RELOADS: &str = "songrec_model_reloads_total";
const LOAD_SECONDS: &str = "songrec_model_load_seconds";
const IN_FLIGHT: &str = "songrec_http_requests_in_flight";
const SHED: &str = "songrec_http_requests_shed_total";

/// Latency buckets in seconds: a lookup answers in well under a millisecond, the tail matters.
const LATENCY_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// How often histogram samples are folded into buckets, which bounds their memory between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

#[derive(Clone)]
pub(crate) struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    /// The request series registered so far, by route template: registering a series hashes
    /// its name and labels, so each is registered once and its handles kept.
    series: Arc<RwLock<HashMap<String, Vec<Series>>>>,
    in_flight: Gauge,
    shed: Counter,
}

/// The handles of one route's requests of one method and status.
#[derive(Clone)]
pub(crate) struct Series {
    method: &'static str,
    status: u16,
    count: Counter,
    duration: Histogram,
}

impl Series {
    /// Counts and times one request of this series.
    pub fn record(&self, elapsed: Duration) {
        self.count.increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}

/// How a reload attempt ended, as counted in `songrec_model_reloads_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReloadOutcome {
    Loaded,
    Refused,
    SourceFailed,
}

impl ReloadOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Loaded => "loaded",
            ReloadOutcome::Refused => "refused",
            ReloadOutcome::SourceFailed => "source_failed",
        }
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .expect("the latency bucket list is a non-empty constant")
            .build_recorder();
        recorder.describe_counter(
            REQUESTS.into(),
            None,
            "HTTP requests by route template, method and status.".into(),
        );
        recorder.describe_histogram(
            DURATION.into(),
            Some(metrics::Unit::Seconds),
            "HTTP request latency by route template and status.".into(),
        );
        recorder.describe_gauge(
            MODEL_VERSION.into(),
            None,
            "Registry version of the served model (0 while none is loaded).".into(),
        );
        recorder.describe_gauge(
            MODEL_SONGS.into(),
            None,
            "Songs in the served model.".into(),
        );
        recorder.describe_counter(
            RELOADS.into(),
            None,
            "Attempts to load a new champion, by outcome.".into(),
        );
        recorder.describe_gauge(
            LOAD_SECONDS.into(),
            Some(metrics::Unit::Seconds),
            "Time the served model took to load, check and index.".into(),
        );
        recorder.describe_gauge(
            IN_FLIGHT.into(),
            None,
            "Requests being answered now (operations routes excluded).".into(),
        );
        recorder.describe_counter(
            SHED.into(),
            None,
            "Requests answered 503 because too many were in flight.".into(),
        );
        let handle = recorder.handle();
        let in_flight = recorder.register_gauge(&Key::from_name(IN_FLIGHT), &METADATA);
        let shed = recorder.register_counter(&Key::from_name(SHED), &METADATA);
        let metrics = Metrics {
            recorder: Arc::new(recorder),
            handle,
            series: Arc::default(),
            in_flight,
            shed,
        };
        metrics.set_model(None, 0);
        metrics.set_load_seconds(0.0);
        metrics.in_flight.set(0.0);
        metrics.shed.absolute(0);
        for outcome in [
            ReloadOutcome::Loaded,
            ReloadOutcome::Refused,
            ReloadOutcome::SourceFailed,
        ] {
            metrics.reload_counter(outcome).absolute(0);
        }
        metrics
    }

    pub fn record_request(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        self.series(method, route, status).record(elapsed);
    }

    /// The handles of a request series, registered on first use; a caller that records many
    /// requests of one series can keep them.
    pub fn series(&self, method: &'static str, route: &str, status: u16) -> Series {
        let find = |all: &HashMap<String, Vec<Series>>| {
            all.get(route)?
                .iter()
                .find(|s| s.method == method && s.status == status)
                .cloned()
        };
        if let Some(found) = find(&self.series.read().unwrap_or_else(|p| p.into_inner())) {
            return found;
        }
        let mut all = self.series.write().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = find(&all) {
            return found;
        }
        let status_label = status.to_string();
        let counter_key = Key::from_parts(
            REQUESTS,
            vec![
                Label::new("route", route.to_owned()),
                Label::new("method", method),
                Label::new("status", status_label.clone()),
            ],
        );
        let histogram_key = Key::from_parts(
            DURATION,
            vec![
                Label::new("route", route.to_owned()),
                Label::new("status", status_label),
            ],
        );
        let series = Series {
            method,
            status,
            count: self.recorder.register_counter(&counter_key, &METADATA),
            duration: self.recorder.register_histogram(&histogram_key, &METADATA),
        };
        all.entry(route.to_owned())
            .or_default()
            .push(series.clone());
        series
    }

    pub fn set_model(&self, version: Option<u64>, songs: usize) {
        let gauge = |name| {
            self.recorder
                .register_gauge(&Key::from_name(name), &METADATA)
        };
        gauge(MODEL_VERSION).set(version.unwrap_or(0) as f64);
        gauge(MODEL_SONGS).set(songs as f64);
    }

    pub fn set_load_seconds(&self, seconds: f64) {
        self.gauge(LOAD_SECONDS).set(seconds);
    }

    /// Sets the in-flight gauge (read from the limiter when metrics are rendered, rather than
    /// kept up to date by every request).
    pub fn set_in_flight(&self, requests: usize) {
        self.in_flight.set(requests as f64);
    }

    pub fn record_shed(&self) {
        self.shed.increment(1);
    }

    fn gauge(&self, name: &'static str) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_name(name), &METADATA)
    }

    pub fn record_reload(&self, outcome: ReloadOutcome) {
        self.reload_counter(outcome).increment(1);
    }

    fn reload_counter(&self, outcome: ReloadOutcome) -> Counter {
        let key = Key::from_parts(RELOADS, vec![Label::new("outcome", outcome.as_str())]);
        self.recorder.register_counter(&key, &METADATA)
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    pub async fn run_upkeep(self, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.handle.run_upkeep(),
                _ = stop.changed() => return,
            }
        }
    }
}
