//! The router: one file per route group, plus the layers every request goes through
//! (tracing, compression, CORS, then one guard that counts and times the request, sheds load
//! and applies the timeout, and the body limit) and JSON answers for unknown routes and
//! methods.
//!
//! Every documented route is declared once, in [`api_routes`]: the same declarations build
//! the router and the OpenAPI document (`/openapi.json`, browsable at `/docs`). A new route is
//! a handler with a `#[utoipa::path]` annotation and one `.routes(routes!(handler))` line.

mod artists;
mod fast;
mod ops;
mod pipeline;
mod recommend;
mod songs;
mod ui;

pub(crate) mod openapi;

use std::convert::Infallible;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use secrecy::SecretString;
use tower::{Service, ServiceBuilder};
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

/// What every handler can reach, behind one `Arc`: it is cloned for every request.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

/// The fields of [`AppState`].
pub(crate) struct Shared {
    pub slot: Arc<ModelSlot>,
    pub metrics: Metrics,
    pub reloader: Arc<Reloader>,
    /// `POST /admin/reload` exists only when this is set.
    pub admin_token: Option<Arc<SecretString>>,
    pub in_flight: InFlight,
    /// What `GET /pipeline` shows; `None` answers 404.
    pub pipeline: Option<songrec_pipeline::PipelineStatus>,
    /// How long a handler waits for a request body (see `params::JsonBody`).
    pub body_read_timeout: Duration,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Counts the requests being answered and admits at most a fixed number at once.
pub(crate) struct InFlight {
    now: AtomicUsize,
    max: usize,
}

/// One admitted request; leaving drops it from the count.
struct Admitted<'a>(&'a InFlight);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlight {
    pub fn new(max: usize) -> InFlight {
        InFlight {
            now: AtomicUsize::new(0),
            max: max.max(1),
        }
    }

    /// Admits one more request, or `None` when the limit is reached.
    fn admit(&self) -> Option<Admitted<'_>> {
        let mut now = self.now.load(Ordering::Acquire);
        loop {
            if now >= self.max {
                return None;
            }
            match self
                .now
                .compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(Admitted(self)),
                Err(seen) => now = seen,
            }
        }
    }

    /// Requests being answered now.
    pub fn current(&self) -> usize {
        self.now.load(Ordering::Acquire)
    }
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }

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

/// The whole service: tracing, compression and the body limit around the router (once per
/// request, rather than once per route as `Router::layer` would apply them, which costs every
/// request a boxed future and a clone of the service below at each layer), and inside it, on
/// every route and the fallbacks, CORS (when origins are configured) and the [`guard`].
pub(crate) fn app(
    state: AppState,
    cors_origins: &[HeaderValue],
) -> impl Service<
    Request<Incoming>,
    Response = Response<impl HttpBody<Data = Bytes, Error: Into<crate::BoxError>> + Send + 'static>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    let (api, document) = api_routes().split_for_parts();
    let mut router = Router::new()
        .merge(ui::routes())
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard));
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
    let general = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CompressionLayer::new())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(router.with_state(state.clone()));
    fast::FastLane::new(state, general, !cors_origins.is_empty())
}

/// Every request, under its route template (so that label values stay few), is counted and
/// timed; unless it is for an operations route (cheap, and must answer under any load) it is
/// answered 503 with `Retry-After` when too many are in flight; and it is answered 503 when it
/// takes longer than [`REQUEST_TIMEOUT`]. One layer rather than three: every layer costs each
/// request a boxed future and a clone of the service below it.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = known_method(request.method());
    let response = if NEVER_SHED.contains(&request.uri().path()) {
        time_out(started + REQUEST_TIMEOUT, next.run(request)).await
    } else if let Some(_admitted) = state.in_flight.admit() {
        time_out(started + REQUEST_TIMEOUT, next.run(request)).await
    } else {
        state.metrics.record_shed();
        ApiError::Overloaded(RETRY_AFTER_SECONDS).into_response()
    };
    state.metrics.record_request(
        method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The answer, or 503 at `deadline`. An answer that is ready at once (every handler that only
/// reads the model) arms no timer.
async fn time_out(deadline: Instant, answer: impl Future<Output = Response>) -> Response {
    let mut answer = std::pin::pin!(answer);
    let first = std::future::poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await;
    if let Poll::Ready(response) = first {
        return response;
    }
    match tokio::time::timeout_at(deadline.into(), answer).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(REQUEST_TIMEOUT.as_secs()).into_response(),
    }
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[tokio::test]
    async fn an_answer_ready_at_once_is_given_even_past_the_deadline() {
        let deadline = Instant::now();
        let answer = time_out(deadline, async { StatusCode::NO_CONTENT.into_response() }).await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn an_answer_still_pending_at_the_deadline_is_a_503() {
        let answer = time_out(Instant::now(), std::future::pending()).await;
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        let later = Instant::now() + Duration::from_secs(5);
        let answer = time_out(later, async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            StatusCode::NO_CONTENT.into_response()
        })
        .await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    }
}
