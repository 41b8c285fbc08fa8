//! Browsing and searching the served catalogue, most popular first.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use songrec_model::SongView;
use utoipa::ToSchema;

use super::AppState;
use crate::error::ApiError;
use crate::params::{self, DEFAULT_LIMIT, MAX_LIMIT, Params, Segment};

/// A song of the served catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SongSummary {
    /// Browse-order index (usable with `/recommend/{index}`).
    pub index: usize,
    pub id: u64,
    pub title: String,
    pub artist: String,
    pub pageviews: Option<u64>,
}

/// One page of songs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SongPage {
    /// Songs matching the query (all songs without one).
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub songs: Vec<SongSummary>,
}

impl SongSummary {
    fn new(index: usize, song: SongView<'_>) -> SongSummary {
        SongSummary {
            index,
            id: song.id,
            title: song.title.to_owned(),
            artist: song.artist.to_owned(),
            pageviews: song.pageviews,
        }
    }
}

/// Songs in browse order (pageviews descending), optionally those whose title or artist
/// contain every word of `q` (case and accents ignored).
#[utoipa::path(
    get,
    path = "/songs",
    tag = "songs",
    params(
        ("q" = Option<String>, Query, description = "Words to find in the title or artist"),
        ("offset" = Option<usize>, Query, description = "Matches to skip (default 0)"),
        ("limit" = Option<usize>, Query, description = "Songs per page, 1 to 100 (default 20)")
    ),
    responses(
        (status = 200, description = "A page of songs, most popular first", body = SongPage),
        (status = 400, description = "Non-numeric offset, or limit outside 1..=100", body = crate::error::ErrorBody),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn browse(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<SongPage>, ApiError> {
    let served = state.model()?;
    let offset = params::parse_bounded("offset", params.get("offset"), 0, 0, usize::MAX)?;
    let limit = params::parse_bounded("limit", params.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let page = served
        .search
        .search(params.get("q").unwrap_or(""), offset, limit);
    let songs = page
        .indices
        .into_iter()
        .filter_map(|index| Some(SongSummary::new(index, served.model.song(index)?)))
        .collect();
    Ok(Json(SongPage {
        total: page.total,
        offset,
        limit,
        songs,
    }))
}

/// One song by its Genius id.
#[utoipa::path(
    get,
    path = "/songs/{id}",
    tag = "songs",
    params(("id" = u64, Path, description = "Genius song id")),
    responses(
        (status = 200, description = "The song", body = SongSummary),
        (status = 400, description = "Non-numeric id", body = crate::error::ErrorBody),
        (status = 404, description = "No song with this id", body = crate::error::ErrorBody),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn by_id(
    State(state): State<AppState>,
    Segment(raw_id): Segment,
) -> Result<Json<SongSummary>, ApiError> {
    let served = state.model()?;
    let id = params::parse_song_id(&raw_id)?;
    let index = served.model.index_of(id).ok_or(ApiError::UnknownSong(id))?;
    let song = served.model.song(index).ok_or(ApiError::UnknownSong(id))?;
    Ok(Json(SongSummary::new(index, song)))
}
