//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use super::{ops, recommend, songs};
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "songrec",
        description = "Song recommendations from the champion model. Every error is JSON `{\"error\": \"...\"}` with a real status."
    ),
    paths(
        recommend::by_index,
        recommend::by_song_id,
        recommend::from_seeds_query,
        recommend::from_seeds_body,
        songs::browse,
        songs::by_id,
        ops::health,
        ops::ready,
        ops::model,
        ops::metrics,
    ),
    components(schemas(
        ErrorBody,
        recommend::RecommendResponse,
        recommend::SeedsResponse,
        recommend::RecommendedSong,
        recommend::SeedsRequest,
        songs::SongSummary,
        songs::SongPage,
        ops::Status,
        ops::ModelReport,
    ))
)]
pub(crate) struct ApiDoc;

pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
