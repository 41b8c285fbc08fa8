//! Operations: liveness, readiness, the served model, Prometheus metrics.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use secrecy::ExposeSecret;
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::AppState;
use crate::error::ApiError;
use crate::params::{NoQuery, Query};
use crate::reload::Poll;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The served model's version; absent while no model is loaded (a model without a
    /// registry version reports 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// The served model.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelReport {
    /// Registry version.
    pub version: Option<u64>,
    /// When the model was trained (RFC 3339).
    pub trained_at: String,
    /// When the registry registered it (RFC 3339).
    pub registered_at: Option<String>,
    /// When this server started serving it (RFC 3339).
    pub loaded_at: String,
    pub songs: usize,
    /// Songs with pageviews: the ones `/recommend/{index}` indexes (0 to this, exclusive).
    pub recommend_songs: usize,
    /// Seconds it took to load and check the model file and build the search index.
    pub load_seconds: f64,
    /// The largest k the model answers.
    pub max_k: usize,
    /// SHA-256 of the model file.
    pub checksum: Option<String>,
    pub metrics: BTreeMap<String, f64>,
    pub params: BTreeMap<String, String>,
}

/// 200 while the process is up, with the served model's version once one is loaded (so a
/// client can wait for a model without a failing request).
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    params(NoQuery),
    responses(
        (status = 200, description = "The process is up", body = Status),
        (status = 400, description = "A query parameter", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn health(
    State(state): State<AppState>,
    Query(NoQuery {}): Query<NoQuery>,
) -> Json<Status> {
    let version = state
        .slot
        .load()
        .as_ref()
        .map(|m| m.version_number().unwrap_or(0));
    Json(Status {
        status: "ok",
        version,
    })
}

/// 200 once a model is loaded, 503 before.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    params(NoQuery),
    responses(
        (status = 200, description = "A model is loaded", body = Status),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn ready(
    State(state): State<AppState>,
    Query(NoQuery {}): Query<NoQuery>,
) -> Result<Json<Status>, ApiError> {
    let served = state.model()?;
    Ok(Json(Status {
        status: "ready",
        version: served.version_number(),
    }))
}

/// The served model's version, metrics, parameters and training time.
#[utoipa::path(
    get,
    path = "/model",
    tag = "operations",
    params(NoQuery),
    responses(
        (status = 200, description = "The served model", body = ModelReport),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn model(
    State(state): State<AppState>,
    Query(NoQuery {}): Query<NoQuery>,
) -> Result<Json<ModelReport>, ApiError> {
    let served = state.model()?;
    let info = served.model.info();
    let version = served.version.as_ref();
    Ok(Json(ModelReport {
        version: served.version_number(),
        trained_at: info.trained_at.clone(),
        registered_at: version.map(|v| v.created_at.clone()),
        loaded_at: humantime::format_rfc3339_seconds(served.loaded_at).to_string(),
        songs: served.model.len(),
        recommend_songs: served.model.universe(),
        load_seconds: served.load_seconds,
        max_k: served.model.max_k(),
        checksum: version.map(|v| v.checksum.clone()),
        // The registry's metrics are the ones promotion was decided on; the file's are a fallback.
        metrics: version
            .map(|v| v.metrics.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| info.metrics.clone()),
        params: info.params.clone(),
    }))
}

/// Prometheus text exposition: requests, the served model, reloads, and in a process that
/// runs pipeline cycles (`songrec run`) each step's duration and outcome.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    params(NoQuery),
    responses(
        (status = 200, description = "Prometheus metrics", body = String, content_type = "text/plain"),
        (status = 400, description = "A query parameter", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    Query(NoQuery {}): Query<NoQuery>,
) -> impl IntoResponse {
    state.metrics.set_in_flight(state.in_flight.current());
    let mut text = state.metrics.render();
    if let Some(pipeline) = state.pipeline.as_ref().and_then(|p| p.metrics()) {
        text.push_str(&pipeline.render());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Every registered model version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelList {
    /// The champion's version, if there is one.
    pub champion: Option<u64>,
    /// The version this server answers with, if any.
    pub served: Option<u64>,
    /// Oldest first.
    pub versions: Vec<VersionReport>,
}

/// One registered version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VersionReport {
    pub version: u64,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    pub is_champion: bool,
    pub songs: u64,
    /// SHA-256 of the model file.
    pub checksum: String,
    pub metrics: BTreeMap<String, f64>,
    pub params: BTreeMap<String, String>,
}

/// The registry's versions, their metrics and which one is champion.
#[utoipa::path(
    get,
    path = "/models",
    tag = "operations",
    params(NoQuery),
    responses(
        (status = 200, description = "Every registered version", body = ModelList),
        (status = 400, description = "A query parameter", body = crate::error::ErrorBody),
        (status = 503, description = "The registry cannot be read", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn models(
    State(state): State<AppState>,
    Query(NoQuery {}): Query<NoQuery>,
) -> Result<Json<ModelList>, ApiError> {
    let versions =
        state.reloader.versions().await.map_err(|e| {
            ApiError::Unavailable(format!("the model registry cannot be read: {e}"))
        })?;
    let served = state.slot.load().as_ref().and_then(|m| m.version_number());
    Ok(Json(ModelList {
        champion: versions
            .iter()
            .rev()
            .find(|v| v.is_champion)
            .map(|v| v.version),
        served,
        versions: versions
            .into_iter()
            .map(|v| VersionReport {
                version: v.version,
                created_at: v.created_at,
                is_champion: v.is_champion,
                songs: v.songs,
                checksum: v.checksum,
                metrics: v.metrics,
                params: v.params,
            })
            .collect(),
    }))
}

/// What an admin reload did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReloadReport {
    /// `unchanged`, `swapped`, `refused` or `source_failed`.
    #[schema(example = "swapped")]
    pub outcome: &'static str,
    /// The version served after the reload, if any.
    pub version: Option<u64>,
}

/// Asks the registry for the champion now and loads it if it is new. Needs
/// `Authorization: Bearer <SONGREC_ADMIN_TOKEN>`; without an admin token configured the route
/// does not exist.
#[utoipa::path(
    post,
    path = "/admin/reload",
    tag = "operations",
    params(NoQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The reload ran (see outcome)", body = ReloadReport),
        (status = 400, description = "A query parameter", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = crate::error::ErrorBody),
        (status = 404, description = "No admin token is configured", body = crate::error::ErrorBody),
        (status = 503, description = "The server is overloaded (see Retry-After)", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn reload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(NoQuery {}): Query<NoQuery>,
) -> Result<Json<ReloadReport>, ApiError> {
    let Some(token) = &state.admin_token else {
        return Err(ApiError::NoRoute("/admin/reload".to_owned()));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or(b"");
    if !bool::from(given.ct_eq(token.expose_secret().as_bytes())) {
        return Err(ApiError::Unauthorized);
    }
    let outcome = match state.reloader.poll().await {
        Poll::Unchanged => "unchanged",
        Poll::Swapped { .. } => "swapped",
        Poll::Refused { .. } => "refused",
        Poll::SourceFailed => "source_failed",
    };
    let version = state.slot.load().as_ref().and_then(|m| m.version_number());
    Ok(Json(ReloadReport { outcome, version }))
}
