//! Recommendations: by browse index (the original service's route), by song id, and from
//! several seed songs at once.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use songrec_model::{RecommendError, Recommendation};
use utoipa::ToSchema;

use super::AppState;
use crate::Recommender;
use crate::error::ApiError;
use crate::params::{self, JsonBody, Params, Segment};

/// Recommendations for one song.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecommendResponse {
    /// The Genius id of the song asked about.
    #[schema(example = 2471960)]
    pub requested_song_id: u64,
    /// Exactly k ids, best first, never the requested song.
    pub recommended_song_ids: Vec<u64>,
    /// The same songs with their details, in the same order.
    pub recommendations: Vec<RecommendedSong>,
}

/// Recommendations for a set of seed songs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeedsResponse {
    /// The distinct seeds, in the order given.
    pub seed_song_ids: Vec<u64>,
    /// Up to k ids, best first, none of them a seed.
    pub recommended_song_ids: Vec<u64>,
    pub recommendations: Vec<RecommendedSong>,
}

/// One recommended song.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecommendedSong {
    pub id: u64,
    /// Its browse-order index (usable with `/recommend/{index}`).
    pub index: usize,
    pub title: String,
    pub artist: String,
    /// Cosine similarity to the requested song (for seeds: averaged over the seeds).
    pub score: f32,
    /// Why it is recommended, most telling first.
    pub reasons: Vec<String>,
}

/// Body of `POST /recommendations`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SeedsRequest {
    /// Genius song ids, 1 to 50 distinct.
    pub seeds: Vec<u64>,
    /// How many recommendations (1 to 100, default 5).
    pub k: Option<usize>,
}

/// Recommendations for the song at a browse-order index.
#[utoipa::path(
    get,
    path = "/recommend/{index}",
    tag = "recommendations",
    params(
        ("index" = usize, Path, description = "Position in the catalogue ordered by pageviews descending, ties by id, songs without pageviews last"),
        ("k" = Option<usize>, Query, description = "Number of recommendations, 1 to 100 (default 5)")
    ),
    responses(
        (status = 200, description = "Exactly k recommendations, best first", body = RecommendResponse),
        (status = 400, description = "Non-numeric index, or k outside 1..=100", body = crate::error::ErrorBody),
        (status = 404, description = "No song at this index", body = crate::error::ErrorBody),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn by_index(
    State(state): State<AppState>,
    Segment(raw_index): Segment,
    params: Params,
) -> Result<Json<RecommendResponse>, ApiError> {
    let served = state.model()?;
    let index = params::parse_index(&raw_index)?;
    let k = params::parse_k(params.get("k"))?;
    if index >= served.model.len() {
        return Err(ApiError::UnknownIndex(raw_index));
    }
    Ok(Json(recommend_for(served.model.as_ref(), index, k)?))
}

/// Recommendations for a song given by its Genius id.
#[utoipa::path(
    get,
    path = "/songs/{id}/recommendations",
    tag = "recommendations",
    params(
        ("id" = u64, Path, description = "Genius song id"),
        ("k" = Option<usize>, Query, description = "Number of recommendations, 1 to 100 (default 5)")
    ),
    responses(
        (status = 200, description = "Exactly k recommendations, best first", body = RecommendResponse),
        (status = 400, description = "Non-numeric id, or k outside 1..=100", body = crate::error::ErrorBody),
        (status = 404, description = "No song with this id", body = crate::error::ErrorBody),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn by_song_id(
    State(state): State<AppState>,
    Segment(raw_id): Segment,
    params: Params,
) -> Result<Json<RecommendResponse>, ApiError> {
    let served = state.model()?;
    let id = params::parse_song_id(&raw_id)?;
    let k = params::parse_k(params.get("k"))?;
    let index = served.model.index_of(id).ok_or(ApiError::UnknownSong(id))?;
    Ok(Json(recommend_for(served.model.as_ref(), index, k)?))
}

/// Recommendations for several seed songs: each candidate's similarity is averaged over the
/// seeds (0 for a seed it is not a neighbour of), and the seeds themselves are left out.
#[utoipa::path(
    get,
    path = "/recommendations",
    tag = "recommendations",
    params(
        ("seeds" = String, Query, description = "Comma-separated Genius song ids, 1 to 50", example = "101,202"),
        ("k" = Option<usize>, Query, description = "Number of recommendations, 1 to 100 (default 5)")
    ),
    responses(
        (status = 200, description = "Up to k recommendations, best first", body = SeedsResponse),
        (status = 400, description = "Missing or non-numeric seeds, or k outside 1..=100", body = crate::error::ErrorBody),
        (status = 404, description = "A seed id is not in the catalogue", body = crate::error::ErrorBody),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn from_seeds_query(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<SeedsResponse>, ApiError> {
    let served = state.model()?;
    let seeds = params::parse_seeds(params.get("seeds"))?;
    let k = params::parse_k(params.get("k"))?;
    Ok(Json(recommend_from_seeds(served.model.as_ref(), seeds, k)?))
}

/// The same as `GET /recommendations`, with the seeds in a JSON body.
#[utoipa::path(
    post,
    path = "/recommendations",
    tag = "recommendations",
    request_body = SeedsRequest,
    responses(
        (status = 200, description = "Up to k recommendations, best first", body = SeedsResponse),
        (status = 400, description = "Bad JSON, no seeds, or k outside 1..=100", body = crate::error::ErrorBody),
        (status = 404, description = "A seed id is not in the catalogue", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not JSON", body = crate::error::ErrorBody),
        (status = 503, description = "No model loaded yet", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn from_seeds_body(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SeedsRequest>,
) -> Result<Json<SeedsResponse>, ApiError> {
    let served = state.model()?;
    let seeds = params::check_seeds(request.seeds)?;
    let k = params::parse_k(request.k.map(|k| k.to_string()).as_deref())?;
    Ok(Json(recommend_from_seeds(served.model.as_ref(), seeds, k)?))
}

fn recommend_for(
    model: &dyn Recommender,
    index: usize,
    k: usize,
) -> Result<RecommendResponse, ApiError> {
    let requested = model
        .song(index)
        .ok_or_else(|| ApiError::UnknownIndex(index.to_string()))?;
    let recommendations = model
        .recommend(index, k)
        .map_err(|e| recommend_error(e, model))?;
    if recommendations.len() != k {
        // The contract promises exactly k; a model that cannot keep it is asked too much.
        return Err(k_too_large(k, recommendations.len()));
    }
    let recommendations: Vec<RecommendedSong> = recommendations
        .into_iter()
        .map(|r| RecommendedSong {
            id: r.song.id,
            index: r.index,
            title: r.song.title.to_owned(),
            artist: r.song.artist.to_owned(),
            score: r.score,
            reasons: r.reasons,
        })
        .collect();
    Ok(RecommendResponse {
        requested_song_id: requested.id,
        recommended_song_ids: recommendations.iter().map(|r| r.id).collect(),
        recommendations,
    })
}

/// How many reasons a merged recommendation keeps.
const MAX_MERGED_REASONS: usize = 4;

fn recommend_from_seeds(
    model: &dyn Recommender,
    seeds: Vec<u64>,
    k: usize,
) -> Result<SeedsResponse, ApiError> {
    if k > model.max_k() {
        return Err(k_too_large(k, model.max_k()));
    }
    let seed_indices = seeds
        .iter()
        .map(|&id| model.index_of(id).ok_or(ApiError::UnknownSong(id)))
        .collect::<Result<Vec<_>, _>>()?;

    struct Candidate {
        index: usize,
        score_sum: f32,
        reasons: Vec<String>,
    }
    let mut candidates: HashMap<usize, Candidate> = HashMap::new();
    for &seed in &seed_indices {
        // Every precomputed neighbour: a song just outside one seed's top k may be close to all.
        let neighbours: Vec<Recommendation<'_>> = model
            .recommend(seed, model.max_k())
            .map_err(|e| recommend_error(e, model))?;
        let seed_title = model.song(seed).map(|s| s.title).unwrap_or("");
        for neighbour in neighbours {
            if seed_indices.contains(&neighbour.index) {
                continue;
            }
            let candidate = candidates
                .entry(neighbour.index)
                .or_insert_with(|| Candidate {
                    index: neighbour.index,
                    score_sum: 0.0,
                    reasons: Vec::new(),
                });
            candidate.score_sum += neighbour.score;
            if seed_indices.len() > 1 {
                push_reason(&mut candidate.reasons, format!("like {seed_title}"));
            }
            for reason in neighbour.reasons {
                push_reason(&mut candidate.reasons, reason);
            }
        }
    }

    let mut ranked: Vec<Candidate> = candidates.into_values().collect();
    ranked.sort_by(|a, b| {
        b.score_sum
            .total_cmp(&a.score_sum)
            .then(a.index.cmp(&b.index))
    });
    ranked.truncate(k);
    let seed_count = seed_indices.len() as f32;
    let recommendations: Vec<RecommendedSong> = ranked
        .into_iter()
        .filter_map(|c| {
            let song = model.song(c.index)?;
            Some(RecommendedSong {
                id: song.id,
                index: c.index,
                title: song.title.to_owned(),
                artist: song.artist.to_owned(),
                score: c.score_sum / seed_count,
                reasons: c.reasons,
            })
        })
        .collect();
    Ok(SeedsResponse {
        seed_song_ids: seeds,
        recommended_song_ids: recommendations.iter().map(|r| r.id).collect(),
        recommendations,
    })
}

fn push_reason(reasons: &mut Vec<String>, reason: String) {
    if reasons.len() < MAX_MERGED_REASONS && !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

fn recommend_error(e: RecommendError, model: &dyn Recommender) -> ApiError {
    match e {
        RecommendError::IndexOutOfRange { index, .. } => ApiError::UnknownIndex(index.to_string()),
        RecommendError::KOutOfRange { k, max } => k_too_large(k, max.min(model.max_k())),
    }
}

fn k_too_large(k: usize, max: usize) -> ApiError {
    ApiError::BadRequest(format!(
        "k={k} is more than this model can answer (at most {max})"
    ))
}
