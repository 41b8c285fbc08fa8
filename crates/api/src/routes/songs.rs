//! Browsing and searching the served catalogue, and one song with its credits.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use songrec_model::CreditView;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::items::SongItem;
use crate::params::{self, NoQuery, Query, QueryNames, Segment};
use crate::search::{MAX_QUERY_LEN, MAX_WORDS, Search, Sort};

/// Songs per page when browsing without `limit`.
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 100;
/// Deepest page start: past it, narrow the search instead.
const MAX_OFFSET: u64 = 1_000_000;

/// One page of songs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SongPage<'m> {
    /// Songs matching the query (all songs without one).
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub songs: Vec<SongItem<'m>>,
}

/// Query of `GET /songs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BrowseQuery {
    /// Words to find in the title or artist, case and accents ignored (at most 10 words).
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only songs whose primary artist's name contains this, case and accents ignored.
    #[param(max_length = 200)]
    artist: Option<String>,
    /// Only songs in this language (a Genius language code: `en`, `es`, ...); empty means any.
    #[param(max_length = 16)]
    language: Option<String>,
    /// `pageviews` (most viewed first, the default), `title` (A to Z) or `release_date`
    /// (newest first).
    #[param(inline)]
    sort: Option<SortParam>,
    /// Only songs released in this year or later.
    #[param(minimum = 0, maximum = 9999)]
    min_year: Option<i32>,
    /// Only songs released in this year or earlier.
    #[param(minimum = 0, maximum = 9999)]
    max_year: Option<i32>,
    /// Only songs with at least this many pageviews.
    #[param(minimum = 0, maximum = 1e15)]
    min_pageviews: Option<u64>,
    /// Matches to skip (default 0).
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
    /// Songs per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
}

impl QueryNames for BrowseQuery {
    const NAMES: &'static [&'static str] = &[
        "q",
        "artist",
        "language",
        "sort",
        "min_year",
        "max_year",
        "min_pageviews",
        "offset",
        "limit",
    ];
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SortParam {
    Pageviews,
    Title,
    ReleaseDate,
}

/// Songs in browse order (pageviews descending), optionally those whose title or artist
/// contain every word of `q`, by an artist, in a language, or in another order.
#[utoipa::path(
    get,
    path = "/songs",
    tag = "songs",
    params(BrowseQuery),
    responses(
        (status = 200, description = "A page of songs", body = SongPage),
        (status = 400, description = "Too long a query or too many words, offset or limit out of range, an unknown sort, or an unknown or repeated query parameter", body = ErrorBody),
        (status = 503, description = "No model loaded yet, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn browse(
    State(state): State<AppState>,
    Query(query): Query<BrowseQuery>,
) -> Result<Response, ApiError> {
    let served = state.model()?;
    let offset = params::check_range("offset", query.offset, 0, 0, MAX_OFFSET)? as usize;
    let limit = params::check_range("limit", query.limit, DEFAULT_LIMIT, 1, MAX_LIMIT)? as usize;
    let q = query.q.unwrap_or_default();
    for (name, value) in [("q", Some(&q)), ("artist", query.artist.as_ref())] {
        if value.is_some_and(|v| v.len() > MAX_QUERY_LEN) {
            return Err(ApiError::BadRequest(format!(
                "{name} is longer than {MAX_QUERY_LEN} bytes"
            )));
        }
    }
    if q.split_whitespace().nth(MAX_WORDS).is_some() {
        return Err(ApiError::BadRequest(format!(
            "q has more than {MAX_WORDS} words"
        )));
    }
    let language = params::check_language(query.language.as_deref())?;
    let year = |name, value: Option<i32>| match value {
        Some(y) if !(0..=9999).contains(&y) => Err(ApiError::BadRequest(format!(
            "{name} must be an integer between 0 and 9999, got {y}"
        ))),
        _ => Ok(value),
    };
    let min_year = year("min_year", query.min_year)?;
    let max_year = year("max_year", query.max_year)?;
    let min_pageviews = query
        .min_pageviews
        .map(|p| params::check_range("min_pageviews", Some(p), 0, 0, params::MAX_PAGEVIEWS))
        .transpose()?;
    let sort = match query.sort.unwrap_or(SortParam::Pageviews) {
        SortParam::Pageviews => Sort::Pageviews,
        SortParam::Title => Sort::Title,
        SortParam::ReleaseDate => Sort::ReleaseDate,
    };
    // A scan of the whole catalogue: off the async worker threads.
    let page = tokio::task::spawn_blocking(move || {
        let model = served.model.as_ref();
        let request = Search {
            q: &q,
            artist: query.artist.as_deref(),
            language: language.as_deref(),
            min_year,
            max_year,
            min_pageviews,
            sort,
            offset,
            limit,
        };
        let page = served.search.search(model, &request);
        let songs = page
            .indices
            .iter()
            .filter_map(|&index| SongItem::at(model, index))
            .collect();
        Json(SongPage {
            total: page.total,
            offset,
            limit,
            songs,
        })
        .into_response()
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(page)
}

/// One song with its credits and tags.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SongDetails<'m> {
    #[serde(flatten)]
    pub song: SongItem<'m>,
    /// Whether `/recommend/{index}` serves this song (it has pageviews).
    pub recommend_index: bool,
    /// Every credited artist, primary first, with their roles (`primary`, `featured`,
    /// `producer`, `writer`).
    pub credits: Vec<Credit<'m>>,
    pub tags: Vec<&'m str>,
}

/// An artist credited on a song.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Credit<'m> {
    pub artist_id: u64,
    pub name: &'m str,
    pub roles: Vec<&'static str>,
}

impl<'m> From<CreditView<'m>> for Credit<'m> {
    fn from(c: CreditView<'m>) -> Self {
        Credit {
            artist_id: c.artist_id,
            name: c.name,
            roles: c.roles,
        }
    }
}

/// One song by its Genius id.
#[utoipa::path(
    get,
    path = "/songs/{id}",
    tag = "songs",
    params(("id" = u64, Path, minimum = 0, description = "Genius song id"), NoQuery),
    responses(
        (status = 200, description = "The song", body = SongDetails),
        (status = 400, description = "Malformed id, or a query parameter", body = ErrorBody),
        (status = 404, description = "No song with this id", body = ErrorBody),
        (status = 503, description = "No model loaded yet, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn by_id(
    State(state): State<AppState>,
    Segment(raw_id): Segment,
    Query(NoQuery {}): Query<NoQuery>,
) -> Result<Response, ApiError> {
    let served: Arc<_> = state.model()?;
    let model = served.model.as_ref();
    let id = params::parse_song_id(&raw_id)?;
    let index = model.index_of(id).ok_or(ApiError::UnknownSong(id))?;
    let song = SongItem::at(model, index).ok_or(ApiError::UnknownSong(id))?;
    Ok(Json(SongDetails {
        song,
        recommend_index: index < model.universe(),
        credits: model.credits(index).into_iter().map(Credit::from).collect(),
        tags: model.tags(index),
    })
    .into_response())
}
