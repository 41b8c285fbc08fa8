//! Operations: liveness, readiness, the served model, Prometheus metrics.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::error::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The served model version (readiness only).
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
    /// The largest k the model answers.
    pub max_k: usize,
    /// SHA-256 of the model file.
    pub checksum: Option<String>,
    pub metrics: BTreeMap<String, f64>,
    pub params: BTreeMap<String, String>,
}

/// 200 while the process is up.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Status))
)]
pub(crate) async fn health() -> Json<Status> {
    Json(Status {
        status: "ok",
        version: None,
    })
}

/// 200 once a model is loaded, 503 before.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "A model is loaded", body = Status),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
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
    responses(
        (status = 200, description = "The served model", body = ModelReport),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn model(State(state): State<AppState>) -> Result<Json<ModelReport>, ApiError> {
    let served = state.model()?;
    let info = served.model.info();
    let version = served.version.as_ref();
    Ok(Json(ModelReport {
        version: served.version_number(),
        trained_at: info.trained_at.clone(),
        registered_at: version.map(|v| v.created_at.clone()),
        loaded_at: humantime::format_rfc3339_seconds(served.loaded_at).to_string(),
        songs: served.model.len(),
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

/// Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
