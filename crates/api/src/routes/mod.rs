//! The router: one file per route group, plus the layers every request goes through
//! (tracing, compression, metrics, timeout, load shedding, body limit, CORS) and JSON answers
//! for unknown routes and methods.
//!
//! Every documented route is declared once, in [`api_routes`]: the same declarations build
//! the router and the OpenAPI document (`/openapi.json`, browsable at `/docs`). A new route is
//! a handler with a `#[utoipa::path]` annotation and one `.routes(routes!(handler))` line.

mod artists;
mod ops;
mod pipeline;
mod recommend;
mod songs;
mod ui;

pub(crate) mod openapi;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::reload::Reloader;
use crate::served::{ModelSlot, ServedModel};
use crate::telemetry::Metrics;

/// A request that takes longer than this is answered 503: every route is bounded work, so only
/// a stalled machine or a client sending its body very slowly gets near it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body; the largest valid one (50 seeds, 50 avoided, 100 excluded) is ~5 KiB.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;
/// Requests answered at once (operations routes aside); more are shed with 503.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// What a shed request is told to wait, in seconds.
const RETRY_AFTER_SECONDS: u64 = 1;
/// Routes that are never shed, so that probes and scrapes work under any load.
const NEVER_SHED: [&str; 3] = ["/health", "/ready", "/metrics"];

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub slot: Arc<ModelSlot>,
    pub metrics: Metrics,
    pub reloader: Arc<Reloader>,
    /// `POST /admin/reload` exists only when this is set.
    pub admin_token: Option<Arc<SecretString>>,
    pub in_flight: Arc<Semaphore>,
    /// What `GET /pipeline` shows; `None` answers 404.
    pub pipeline: Option<songrec_pipeline::PipelineStatus>,
    /// How long a handler waits for a request body (see `params::JsonBody`).
    pub body_read_timeout: Duration,
}

impl AppState {
    /// The model this request will use from start to end, or 503.
    pub fn model(&self) -> Result<Arc<ServedModel>, ApiError> {
        self.slot.load_full().ok_or(ApiError::NoModel)
    }
}

/// Every documented route.
pub(crate) fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(recommend::by_index))
        .routes(routes!(recommend::by_song_id))
        .routes(routes!(
            recommend::from_seeds_query,
            recommend::from_seeds_body
        ))
        .routes(routes!(songs::browse))
        .routes(routes!(songs::by_id))
        .routes(routes!(artists::by_id))
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::model))
        .routes(routes!(ops::models))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::reload))
        .routes(routes!(pipeline::cycles))
}

pub(crate) fn router(state: AppState, cors_origins: &[HeaderValue]) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let mut router = Router::new()
        .merge(ui::routes())
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(time_out))
        .layer(middleware::from_fn_with_state(state.clone(), shed))
        .layer(middleware::from_fn_with_state(state.clone(), track));
    if !cors_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(cors_origins.iter().cloned()))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    axum::http::header::CONTENT_TYPE,
                    axum::http::header::AUTHORIZATION,
                ]),
        );
    }
    router
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Answers 503 with `Retry-After` when too many requests are in flight, except on the
/// operations routes, which are cheap and must answer under any load.
async fn shed(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if NEVER_SHED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        state.metrics.record_shed();
        return ApiError::Overloaded(RETRY_AFTER_SECONDS).into_response();
    };
    let gauge = state.metrics.in_flight();
    gauge.increment(1.0);
    let response = next.run(request).await;
    gauge.decrement(1.0);
    response
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
