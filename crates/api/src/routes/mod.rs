//! The router: one file per route group, plus the layers every request goes through
//! (tracing, compression, metrics, timeout) and JSON answers for unknown routes and methods.

mod ops;
mod recommend;
mod songs;
mod ui;

pub(crate) mod openapi;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::served::{ModelSlot, ServedModel};
use crate::telemetry::Metrics;

/// A request that takes longer than this is answered 503: every route is an in-memory lookup,
/// so only a stalled machine gets near it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub slot: Arc<ModelSlot>,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new() -> AppState {
        AppState {
            slot: Arc::new(ModelSlot::empty()),
            metrics: Metrics::new(),
        }
    }

    /// The model this request will use from start to end, or 503.
    pub fn model(&self) -> Result<Arc<ServedModel>, ApiError> {
        self.slot.load_full().ok_or(ApiError::NoModel)
    }
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .merge(ui::routes())
        .route("/recommend/{index}", get(recommend::by_index))
        .route("/songs/{id}/recommendations", get(recommend::by_song_id))
        .route(
            "/recommendations",
            get(recommend::from_seeds_query).post(recommend::from_seeds_body),
        )
        .route("/songs", get(songs::browse))
        .route("/songs/{id}", get(songs::by_id))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/model", get(ops::model))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::document))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(time_out))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

async fn time_out(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(REQUEST_TIMEOUT.as_secs()).into_response(),
    }
}

/// Counts and times every request under its route template, so that label values stay few.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = known_method(request.method());
    let response = next.run(request).await;
    state.metrics.record_request(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The method as a metric label; anything unusual is "other" so that label values stay few.
fn known_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
