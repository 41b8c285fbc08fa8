//! The HTTP service: serves the champion model's recommendations and swaps in a new champion
//! without restart.
//!
//! # Layout
//! - [`Recommender`]: what the routes need from a model (implemented by `songrec_model::Model`);
//! - [`ModelSource`]: where the champion comes from (implemented for the registry);
//! - `served`: the model being served, its browse/search index, and the atomic slot holding it;
//! - `reload`: polls the source and swaps the slot, refusing models that fail to load;
//! - `routes`: one file per route group (recommendations, songs, operations, pipeline, UI,
//!   OpenAPI);
//! - `error`, `params`: the JSON error type and the request parsing that produces it;
//! - `telemetry`: Prometheus metrics for requests, the served model and reloads.

mod deadline;
mod error;
mod filters;
mod items;
mod json;
mod params;
mod recommender;
mod reload;
mod routes;
mod search;
mod served;
mod server;
mod source;
mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use songrec_pipeline::PipelineStatus;
use songrec_registry::Registry;
use tokio::sync::watch;

pub use recommender::Recommender;
pub use source::{BoxError, ModelSource, RegistrySource, SourceFuture};

use axum::http::HeaderValue;
use secrecy::SecretString;

use crate::reload::Reloader;
use crate::routes::{AppState, InFlight, Shared};
use crate::served::ModelSlot;
use crate::telemetry::Metrics;

/// How the server finds and refreshes its model, and how it guards itself.
pub struct ServeConfig {
    pub registry: Arc<Registry>,
    /// How often the registry is polled for a new champion.
    pub reload_interval: Duration,
    pub options: ServeOptions,
}

/// Settings of the HTTP side, whatever the model source.
#[derive(Clone)]
pub struct ServeOptions {
    /// Bearer token of `POST /admin/reload`; the route answers 404 without one.
    pub admin_token: Option<SecretString>,
    /// Origins allowed by CORS; none (the default) sends no CORS headers.
    pub cors_origins: Vec<String>,
    /// Requests answered at once before the rest are shed with 503.
    pub max_in_flight: usize,
    /// The pipeline record `GET /pipeline` shows (and, in a process that runs cycles, its
    /// schedule and the metrics appended to `/metrics`); without it `GET /pipeline` answers 404.
    pub pipeline: Option<PipelineStatus>,
    /// Time a client has to send a whole request head (line and headers), from the moment the
    /// server waits for it (including idle time on a kept-alive connection); a client slower
    /// than this is disconnected.
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request body once the handler starts reading it; a
    /// slower one is answered 408 and disconnected.
    pub body_read_timeout: Duration,
}

/// Default [`ServeOptions::header_read_timeout`]: ample for any client on any network, short
/// enough that idle or trickling connections do not pile up.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServeOptions::body_read_timeout`]: a body is at most 64 KiB; below the 10 s
/// request timeout so that a stalled body gets its own answer.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            admin_token: None,
            cors_origins: Vec::new(),
            max_in_flight: routes::DEFAULT_MAX_IN_FLIGHT,
            pipeline: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let source = Arc::new(RegistrySource::new(config.registry));
    run_with_options(
        listener,
        source,
        config.reload_interval,
        config.options,
        shutdown,
    )
    .await
}

/// [`run_with_options`] with the default options.
pub async fn run_with_source(
    listener: tokio::net::TcpListener,
    source: Arc<dyn ModelSource>,
    reload_interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_with_options(
        listener,
        source,
        reload_interval,
        ServeOptions::default(),
        shutdown,
    )
    .await
}

/// Serves with any champion source: loads the champion in the background (model routes
/// answer 503 until it is in), polls the source every `reload_interval`, serves until
/// `shutdown` resolves, then drains in-flight requests.
pub async fn run_with_options(
    listener: tokio::net::TcpListener,
    source: Arc<dyn ModelSource>,
    reload_interval: Duration,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cors_origins = options
        .cors_origins
        .iter()
        .map(|o| {
            HeaderValue::from_str(o.trim()).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("CORS origin {o:?} is not a valid header value"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let slot = Arc::new(ModelSlot::empty());
    let metrics = Metrics::new();
    let reloader = Arc::new(Reloader::new(source, slot.clone(), metrics.clone()));
    let state = AppState::new(Shared {
        slot,
        metrics: metrics.clone(),
        reloader: reloader.clone(),
        admin_token: options.admin_token.map(Arc::new),
        in_flight: InFlight::new(options.max_in_flight),
        pipeline: options.pipeline,
        body_read_timeout: options.body_read_timeout,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let reload_task = tokio::spawn(reloader.run(reload_interval, stop_rx.clone()));
    let upkeep_task = tokio::spawn(metrics.run_upkeep(stop_rx));

    let app = routes::app(state, &cors_origins);
    let served = server::serve(listener, app, options.header_read_timeout, async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop_tx.send(true);
    })
    .await;
    // A model load in progress is not worth waiting for once the server is gone.
    reload_task.abort();
    upkeep_task.abort();
    served
}
