//! The HTTP service: serves the champion model's recommendations and swaps in a new champion
//! without restart.
//!
//! # Layout
//! - [`Recommender`]: what the routes need from a model (implemented by `songrec_model::Model`);
//! - [`ModelSource`]: where the champion comes from (implemented for the registry);
//! - `served`: the model being served, its browse/search index, and the atomic slot holding it;
//! - `reload`: polls the source and swaps the slot, refusing models that fail to load;
//! - `routes`: one file per route group (recommendations, songs, operations, UI, OpenAPI);
//! - `error`, `params`: the JSON error type and the request parsing that produces it;
//! - `telemetry`: Prometheus metrics for requests, the served model and reloads.

mod error;
mod params;
mod recommender;
mod reload;
mod routes;
mod search;
mod served;
mod source;
mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use songrec_registry::Registry;
use tokio::sync::watch;

pub use recommender::Recommender;
pub use source::{BoxError, ModelSource, RegistrySource, SourceFuture};

use crate::reload::Reloader;
use crate::routes::AppState;

/// How the server finds and refreshes its model.
pub struct ServeConfig {
    pub registry: Arc<Registry>,
    /// How often the registry is polled for a new champion.
    pub reload_interval: Duration,
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let source = Arc::new(RegistrySource::new(config.registry));
    run_with_source(listener, source, config.reload_interval, shutdown).await
}

/// [`run`] with any champion source: loads the champion in the background (model routes
/// answer 503 until it is in), polls the source every `reload_interval`, serves until
/// `shutdown` resolves, then drains in-flight requests.
pub async fn run_with_source(
    listener: tokio::net::TcpListener,
    source: Arc<dyn ModelSource>,
    reload_interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let reloader = Reloader::new(source, state.slot.clone(), state.metrics.clone());
    let reload_task = tokio::spawn(reloader.run(reload_interval, stop_rx.clone()));
    let upkeep_task = tokio::spawn(state.metrics.clone().run_upkeep(stop_rx));

    let app = routes::router(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
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
