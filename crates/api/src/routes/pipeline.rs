//! The pipeline: the last recorded cycles (steps, durations, results, errors) and, in the
//! process that runs them, when the next one is planned.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use songrec_pipeline::{CycleReport, MAX_RECENT_CYCLES};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::params::{self, Query, QueryNames};

/// Cycles shown when `limit` is not given.
const DEFAULT_LIMIT: u64 = 10;
/// The most cycles one request returns.
const MAX_LIMIT: u64 = 50;
const _: () = assert!(MAX_LIMIT <= MAX_RECENT_CYCLES as u64);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PipelineQuery {
    /// Cycles to return, newest first (default 10).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u64>,
}

impl QueryNames for PipelineQuery {
    const NAMES: &'static [&'static str] = &["limit"];
}

/// The pipeline's recent cycles and plan.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PipelineReport {
    /// The last cycles recorded in the catalogue database by any process sharing it, newest
    /// first; empty before the first cycle.
    pub cycles: Vec<CycleReport>,
    /// When the next cycle runs (RFC 3339): this process's next cycle when it runs them
    /// (`songrec run`), otherwise the soonest one planned by a process sharing the catalogue
    /// database; null when none is planned.
    pub next_run: Option<DateTime<Utc>>,
    /// The schedule of that next run (`every 1h`, `cron 0 * * * *`).
    pub schedule: Option<String>,
}

/// The last pipeline cycles (each step's outcome, duration, counts and error) and the next
/// planned run. Cycles come from the catalogue database, so every replica shows the same ones.
#[utoipa::path(
    get,
    path = "/pipeline",
    tag = "operations",
    params(PipelineQuery),
    responses(
        (status = 200, description = "The last cycles, newest first", body = PipelineReport),
        (status = 400, description = "limit out of range, or an unknown or repeated query parameter", body = ErrorBody),
        (status = 404, description = "This server was started without a pipeline record", body = ErrorBody),
        (status = 503, description = "The catalogue database cannot be read, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn cycles(
    State(state): State<AppState>,
    Query(query): Query<PipelineQuery>,
) -> Result<Json<PipelineReport>, ApiError> {
    let limit = params::check_range("limit", query.limit, DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let Some(pipeline) = &state.pipeline else {
        return Err(ApiError::NoPipeline);
    };
    let cycles = pipeline.recent(limit as u32).await.map_err(|e| {
        ApiError::Unavailable(format!(
            "the pipeline record cannot be read: {}",
            songrec_pipeline::error_line(&e)
        ))
    })?;
    let plan = pipeline.plan().await;
    Ok(Json(PipelineReport {
        cycles,
        next_run: plan.next_run,
        schedule: plan.schedule,
    }))
}
