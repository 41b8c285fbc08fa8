//! Recommendations: by browse index (the original service's route), by song id, and from
//! several seed songs at once, with filters.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::Recommender;
use crate::error::{ApiError, ErrorBody};
use crate::filters::Filters;
use crate::items::{self, ItemSong, Reasons, RecommendedSong};
use crate::json;
use crate::params::{
    self, JsonBody, MAX_AVOID, MAX_EXCLUDE, MAX_SEEDS, Query, QueryNames, Segment,
};

/// Recommendations for one song.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecommendResponse<'m> {
    /// The Genius id of the song asked about.
    #[schema(example = 2471960)]
    pub requested_song_id: u64,
    /// The recommended ids, best first, never the requested song: exactly k without filters,
    /// up to k with them.
    pub recommended_song_ids: Vec<u64>,
    /// The same songs with their details, in the same order.
    pub recommendations: Vec<RecommendedSong<'m>>,
}

impl RecommendResponse<'_> {
    /// The answer's JSON.
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(items::answer_capacity(self.recommendations.len()));
        out.push(b'{');
        json::key(&mut out, "requested_song_id", true);
        json::value(&mut out, &self.requested_song_id);
        json::key(&mut out, "recommended_song_ids", false);
        json::numbers(&mut out, &self.recommended_song_ids);
        items::write_recommendations(&mut out, &self.recommendations);
        out.push(b'}');
        out
    }
}

impl IntoResponse for RecommendResponse<'_> {
    fn into_response(self) -> Response {
        json::response(self.to_json())
    }
}

/// Recommendations for a set of seed songs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeedsResponse<'m> {
    /// The distinct seeds, in the order given.
    pub seed_song_ids: Vec<u64>,
    /// Up to k ids, best first, none of them a seed or excluded.
    pub recommended_song_ids: Vec<u64>,
    pub recommendations: Vec<RecommendedSong<'m>>,
}

impl IntoResponse for SeedsResponse<'_> {
    fn into_response(self) -> Response {
        let mut out = Vec::with_capacity(
            items::answer_capacity(self.recommendations.len()) + 21 * self.seed_song_ids.len(),
        );
        out.push(b'{');
        json::key(&mut out, "seed_song_ids", true);
        json::numbers(&mut out, &self.seed_song_ids);
        json::key(&mut out, "recommended_song_ids", false);
        json::numbers(&mut out, &self.recommended_song_ids);
        items::write_recommendations(&mut out, &self.recommendations);
        out.push(b'}');
        json::response(out)
    }
}

/// Filters every recommendation route takes, as query parameters (and body fields for
/// `POST /recommendations`).
macro_rules! filter_fields {
    ($(#[$m:meta])* pub(crate) struct $name:ident { $($(#[$fm:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$m])*
        pub(crate) struct $name {
            $($(#[$fm])* pub $field: $ty,)*
            /// Number of recommendations (default 5).
            #[param(minimum = 1, maximum = 100)]
            #[schema(minimum = 1, maximum = 100)]
            #[serde(default, deserialize_with = "params::whole::option")]
            pub k: Option<u64>,
            /// Leave out songs by the requested songs' primary artists.
            pub exclude_artist: Option<bool>,
            /// At most this many songs per primary artist.
            #[param(minimum = 1, maximum = 100)]
            #[schema(minimum = 1, maximum = 100)]
            #[serde(default, deserialize_with = "params::whole::option")]
            pub max_per_artist: Option<u64>,
            /// Only songs in this language (a Genius language code: `en`, `es`, ...); empty
            /// means any.
            #[param(max_length = 16)]
            #[schema(max_length = 16)]
            pub language: Option<String>,
            /// Only songs released in or after this year.
            #[param(minimum = 0, maximum = 9999)]
            #[schema(minimum = 0, maximum = 9999)]
            #[serde(default, deserialize_with = "params::whole::option")]
            pub min_year: Option<u64>,
            /// Only songs released in or before this year.
            #[param(minimum = 0, maximum = 9999)]
            #[schema(minimum = 0, maximum = 9999)]
            #[serde(default, deserialize_with = "params::whole::option")]
            pub max_year: Option<u64>,
            /// Only songs with at least this many pageviews.
            #[param(minimum = 0, maximum = 1e15)]
            #[schema(minimum = 0, maximum = 1e15)]
            #[serde(default, deserialize_with = "params::whole::option")]
            pub min_pageviews: Option<u64>,
        }
    };
}

const FILTER_NAMES: [&str; 7] = [
    "k",
    "exclude_artist",
    "max_per_artist",
    "language",
    "min_year",
    "max_year",
    "min_pageviews",
];

filter_fields! {
    /// Query of the single-song routes.
    #[derive(Debug, Deserialize, IntoParams, ToSchema)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct RecommendQuery {}
}

impl QueryNames for RecommendQuery {
    const NAMES: &'static [&'static str] = &FILTER_NAMES;
}

filter_fields! {
    /// Query of `GET /recommendations`.
    #[derive(Debug, Deserialize, IntoParams, ToSchema)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct SeedsQuery {
        /// Comma-separated Genius song ids, 1 to 50.
        #[param(example = "101,202", max_length = 1050, pattern = r"^[0-9]{1,19}(,[0-9]{1,19}){0,49}$")]
        #[schema(max_length = 1050)]
        seeds: String,
        /// Comma-separated song ids (up to 50) whose neighbours are pushed down ("less like this").
        #[param(max_length = 1050, pattern = r"^([0-9]{1,19}(,[0-9]{1,19}){0,49})?$")]
        #[schema(max_length = 1050)]
        avoid: Option<String>,
        /// Comma-separated song ids (up to 100) never to recommend.
        #[param(max_length = 2100, pattern = r"^([0-9]{1,19}(,[0-9]{1,19}){0,99})?$")]
        #[schema(max_length = 2100)]
        exclude: Option<String>,
    }
}

impl QueryNames for SeedsQuery {
    const NAMES: &'static [&'static str] = &[
        "seeds",
        "avoid",
        "exclude",
        "k",
        "exclude_artist",
        "max_per_artist",
        "language",
        "min_year",
        "max_year",
        "min_pageviews",
    ];
}

filter_fields! {
    /// Body of `POST /recommendations`.
    #[derive(Debug, Deserialize, ToSchema, IntoParams)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SeedsRequest {
        /// Genius song ids to recommend from, 1 to 50.
        #[schema(min_items = 1, max_items = 50)]
        #[serde(deserialize_with = "params::whole::list")]
        seeds: Vec<u64>,
        /// Song ids whose neighbours are pushed down ("less like this"), up to 50.
        #[serde(default, deserialize_with = "params::whole::list")]
        #[schema(max_items = 50)]
        avoid: Vec<u64>,
        /// Song ids never to recommend, up to 100.
        #[serde(default, deserialize_with = "params::whole::list")]
        #[schema(max_items = 100)]
        exclude: Vec<u64>,
    }
}

/// The filters of a request, before the songs they concern are known.
struct FilterArgs {
    k: Option<u64>,
    exclude_artist: Option<bool>,
    max_per_artist: Option<u64>,
    language: Option<String>,
    min_year: Option<u64>,
    max_year: Option<u64>,
    min_pageviews: Option<u64>,
}

macro_rules! filter_args {
    ($q:expr) => {
        FilterArgs {
            k: $q.k,
            exclude_artist: $q.exclude_artist,
            max_per_artist: $q.max_per_artist,
            language: $q.language,
            min_year: $q.min_year,
            max_year: $q.max_year,
            min_pageviews: $q.min_pageviews,
        }
    };
}

impl FilterArgs {
    /// k and the filters, checked; `requested` are the songs asked about (their artists are
    /// the ones `exclude_artist` leaves out).
    fn check(
        self,
        model: &dyn Recommender,
        requested: &[usize],
        below_index: usize,
    ) -> Result<(usize, Filters), ApiError> {
        let k = params::check_k(self.k)?;
        if k > model.max_k() {
            return Err(k_too_large(k, model.max_k()));
        }
        let year = |name, v| params::check_range(name, v, 0, 0, 9999).map(|y| y as i32);
        let mut filters = Filters::new(below_index);
        filters.max_per_artist = match self.max_per_artist {
            Some(m) => Some(params::check_range("max_per_artist", Some(m), 0, 1, 100)? as usize),
            None => None,
        };
        filters.language = params::check_language(self.language.as_deref())?;
        filters.min_year = self
            .min_year
            .map(|y| year("min_year", Some(y)))
            .transpose()?;
        filters.max_year = self
            .max_year
            .map(|y| year("max_year", Some(y)))
            .transpose()?;
        filters.min_pageviews = self
            .min_pageviews
            .map(|p| params::check_range("min_pageviews", Some(p), 0, 0, params::MAX_PAGEVIEWS))
            .transpose()?;
        if self.exclude_artist == Some(true) {
            filters.excluded_artists = requested
                .iter()
                .filter_map(|&i| model.song(i).map(|s| s.artist_id))
                .collect();
        }
        filters.excluded_songs = requested.to_vec();
        Ok((k, filters))
    }
}

const RECOMMEND_400: &str = "Malformed index or id, k outside 1..=100 or above the model's max_k, \
     a filter out of range, or an unknown or repeated query parameter";

/// Recommendations for the song at a browse-order index: the original service's route, over
/// its catalogue (songs with pageviews, which come first in browse order).
#[utoipa::path(
    get,
    path = "/recommend/{index}",
    tag = "recommendations",
    params(
        ("index" = u64, Path, minimum = 0, description = "Position in the catalogue of songs with pageviews, ordered by pageviews descending, ties by id"),
        RecommendQuery,
    ),
    responses(
        (status = 200, description = "Exactly k recommendations (up to k with filters), best first, all with pageviews", body = RecommendResponse),
        (status = 400, description = RECOMMEND_400, body = ErrorBody),
        (status = 404, description = "No song with pageviews at this index", body = ErrorBody),
        (status = 503, description = "No model loaded yet, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn by_index(
    State(state): State<AppState>,
    Segment(raw_index): Segment,
    Query(query): Query<RecommendQuery>,
) -> Result<Response, ApiError> {
    let served = state.model()?;
    let model = served.model.as_ref();
    let index = params::parse_index(&raw_index)?;
    Ok(json::response(
        answer_by_index(model, index, filter_args!(query)).map_err(|e| match e {
            None => ApiError::UnknownIndex(raw_index),
            Some(e) => e,
        })?,
    ))
}

/// The JSON answer of `GET /recommend/{index}` with these filters; `Err(None)` when no song
/// with pageviews has this index. The router's handler and the fast lane (with `k` alone) both
/// answer with it.
fn answer_by_index(
    model: &dyn Recommender,
    index: usize,
    args: FilterArgs,
) -> Result<Vec<u8>, Option<ApiError>> {
    if index >= model.universe() {
        return Err(None);
    }
    let (k, filters) = args.check(model, &[index], model.universe())?;
    Ok(recommend_for(model, index, k, &filters, true).to_json())
}

/// [`answer_by_index`] with `k` alone, or `None` when that is an error.
pub(super) fn plain_answer_by_index(
    model: &dyn Recommender,
    index: usize,
    k: u64,
) -> Option<Vec<u8>> {
    let args = FilterArgs {
        k: Some(k),
        exclude_artist: None,
        max_per_artist: None,
        language: None,
        min_year: None,
        max_year: None,
        min_pageviews: None,
    };
    answer_by_index(model, index, args).ok()
}

/// Recommendations for a song given by its Genius id, over the whole catalogue.
#[utoipa::path(
    get,
    path = "/songs/{id}/recommendations",
    tag = "recommendations",
    params(
        ("id" = u64, Path, minimum = 0, description = "Genius song id"),
        RecommendQuery,
    ),
    responses(
        (status = 200, description = "Exactly k recommendations (up to k with filters), best first", body = RecommendResponse),
        (status = 400, description = RECOMMEND_400, body = ErrorBody),
        (status = 404, description = "No song with this id", body = ErrorBody),
        (status = 503, description = "No model loaded yet, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn by_song_id(
    State(state): State<AppState>,
    Segment(raw_id): Segment,
    Query(query): Query<RecommendQuery>,
) -> Result<Response, ApiError> {
    let served = state.model()?;
    let model = served.model.as_ref();
    let id = params::parse_song_id(&raw_id)?;
    let index = model.index_of(id).ok_or(ApiError::UnknownSong(id))?;
    let (k, filters) = filter_args!(query).check(model, &[index], model.len())?;
    Ok(recommend_for(model, index, k, &filters, false).into_response())
}

/// Recommendations for several seed songs: each candidate's similarity is averaged over the
/// seeds (0 for a seed it is not a neighbour of), minus its average over the `avoid` songs;
/// seeds and excluded songs are left out.
#[utoipa::path(
    get,
    path = "/recommendations",
    tag = "recommendations",
    params(SeedsQuery),
    responses(
        (status = 200, description = "Up to k recommendations, best first", body = SeedsResponse),
        (status = 400, description = "Missing, malformed or too many ids, k or a filter out of range, or an unknown or repeated query parameter", body = ErrorBody),
        (status = 404, description = "A seed id is not in the catalogue", body = ErrorBody),
        (status = 503, description = "No model loaded yet, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn from_seeds_query(
    State(state): State<AppState>,
    Query(query): Query<SeedsQuery>,
) -> Result<Response, ApiError> {
    let served = state.model()?;
    let seeds = params::parse_id_list("seeds", &query.seeds, MAX_SEEDS)?;
    let avoid = params::parse_id_list("avoid", query.avoid.as_deref().unwrap_or(""), MAX_AVOID)?;
    let exclude = params::parse_id_list(
        "exclude",
        query.exclude.as_deref().unwrap_or(""),
        MAX_EXCLUDE,
    )?;
    let args = filter_args!(query);
    let answer = recommend_from_seeds(served.model.as_ref(), seeds, avoid, exclude, args)?;
    Ok(answer.into_response())
}

/// The same as `GET /recommendations`, with the lists in a JSON body (at most 64 KiB).
#[utoipa::path(
    post,
    path = "/recommendations",
    tag = "recommendations",
    request_body = SeedsRequest,
    responses(
        (status = 200, description = "Up to k recommendations, best first", body = SeedsResponse),
        (status = 400, description = "Bad JSON, an unknown field, no seeds or too many ids, k or a filter out of range", body = ErrorBody),
        (status = 404, description = "A seed id is not in the catalogue", body = ErrorBody),
        (status = 408, description = "The body did not arrive whole within 5 s", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not declared as application/json", body = ErrorBody),
        (status = 503, description = "No model loaded yet, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn from_seeds_body(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SeedsRequest>,
) -> Result<Response, ApiError> {
    let served = state.model()?;
    let seeds = params::check_ids("seeds", request.seeds, MAX_SEEDS)?;
    let avoid = params::check_ids("avoid", request.avoid, MAX_AVOID)?;
    let exclude = params::check_ids("exclude", request.exclude, MAX_EXCLUDE)?;
    let args = FilterArgs {
        k: request.k,
        exclude_artist: request.exclude_artist,
        max_per_artist: request.max_per_artist,
        language: request.language,
        min_year: request.min_year,
        max_year: request.max_year,
        min_pageviews: request.min_pageviews,
    };
    let answer = recommend_from_seeds(served.model.as_ref(), seeds, avoid, exclude, args)?;
    Ok(answer.into_response())
}

/// Reason given to songs added to reach k when the stored neighbours run out.
const FILL_REASON: &str = "similar popularity";

/// The song's best neighbours that pass `filters`. On the original route (`fill`) without
/// narrowing filters, a list that the catalogue bound leaves short of k is completed with the
/// songs nearest in popularity, scored 0 so the order stays monotone.
fn recommend_for<'m>(
    model: &'m dyn Recommender,
    index: usize,
    k: usize,
    filters: &Filters,
    fill: bool,
) -> RecommendResponse<'m> {
    let mut chosen = filters.select(
        model,
        model
            .neighbours_iter(index)
            .map(|n| (n.index, (n.score, n.reason_bits))),
        k,
    );
    let mut filled = Vec::new();
    if fill && !filters.narrows() && chosen.len() < k {
        let nearest = (1..filters.below_index).flat_map(|d| {
            [index.checked_sub(d), Some(index + d)]
                .into_iter()
                .flatten()
                .filter(|&i| i < filters.below_index)
        });
        let taken: Vec<usize> = chosen.iter().map(|c| c.0).collect();
        filled = nearest
            .filter(|i| !taken.contains(i) && *i != index)
            .take(k - chosen.len())
            .collect();
    }
    let mut touched = [index; 1 + params::MAX_K];
    let mut pairs = [(index, 0u8); params::MAX_K];
    for ((slot, pair), &(c, (_, bits))) in touched[1..].iter_mut().zip(&mut pairs).zip(&chosen) {
        *slot = c;
        *pair = (c, bits);
    }
    let listed = chosen.len().min(params::MAX_K);
    model.touch(&touched[..=listed]);
    let mut recommendations = Vec::with_capacity(chosen.len() + filled.len());
    recommendations.extend(chosen.drain(..).filter_map(|(c, (score, bits))| {
        Some(RecommendedSong {
            song: ItemSong::at(model, c)?,
            score,
            reasons: Reasons::Stored {
                model,
                query: index,
                song: c,
                bits,
            },
        })
    }));
    recommendations.extend(filled.into_iter().filter_map(|c| {
        Some(RecommendedSong {
            song: ItemSong::at(model, c)?,
            score: 0.0,
            reasons: Reasons::Listed(vec![FILL_REASON.to_owned()]),
        })
    }));
    // The songs' reads above gave the credits `touch` asked for time to arrive.
    model.touch_reasons(index, &pairs[..listed]);
    RecommendResponse {
        requested_song_id: model.song_id(index).unwrap_or(0),
        recommended_song_ids: recommendations.iter().map(|r| r.song.id()).collect(),
        recommendations,
    }
}

/// How many reasons a merged recommendation keeps.
const MAX_MERGED_REASONS: usize = 4;

fn recommend_from_seeds(
    model: &dyn Recommender,
    seeds: Vec<u64>,
    avoid: Vec<u64>,
    exclude: Vec<u64>,
    args: FilterArgs,
) -> Result<SeedsResponse<'_>, ApiError> {
    if seeds.is_empty() {
        return Err(ApiError::BadRequest(
            "seeds must list at least one song id".to_owned(),
        ));
    }
    let seed_indices = seeds
        .iter()
        .map(|&id| model.index_of(id).ok_or(ApiError::UnknownSong(id)))
        .collect::<Result<Vec<_>, _>>()?;
    // Songs to avoid or exclude that the model does not know change nothing.
    let avoid_indices: Vec<usize> = avoid.iter().filter_map(|&id| model.index_of(id)).collect();
    let (k, mut filters) = args.check(model, &seed_indices, model.len())?;
    filters
        .excluded_songs
        .extend(exclude.iter().filter_map(|&id| model.index_of(id)));

    // Scores first; reasons only for the songs chosen, from what each seed stored about them.
    let mut sums: HashMap<usize, f32> = HashMap::new();
    let mut links: Vec<(usize, usize, u8)> = Vec::new();
    for &seed in &seed_indices {
        // Every stored neighbour: a song just outside one seed's top k may be close to all.
        for n in model.neighbours(seed) {
            *sums.entry(n.index).or_insert(0.0) += n.score;
            links.push((n.index, seed, n.reason_bits));
        }
    }
    let seed_count = seed_indices.len() as f32;
    let avoid_count = avoid_indices.len().max(1) as f32;
    let mut penalties: HashMap<usize, f32> = HashMap::new();
    for &avoided in &avoid_indices {
        for n in model.neighbours(avoided) {
            if sums.contains_key(&n.index) {
                *penalties.entry(n.index).or_insert(0.0) += n.score;
            }
        }
    }
    let mut ranked: Vec<(usize, f32)> = sums
        .into_iter()
        .map(|(index, sum)| {
            let penalty = penalties.get(&index).copied().unwrap_or(0.0) / avoid_count;
            (index, sum / seed_count - penalty)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let recommendations: Vec<RecommendedSong<'_>> = filters
        .select(model, ranked, k)
        .into_iter()
        .filter_map(|(index, score)| {
            Some(RecommendedSong {
                song: ItemSong::at(model, index)?,
                score,
                reasons: Reasons::Listed(merged_reasons(model, index, &seed_indices, &links)),
            })
        })
        .collect();
    Ok(SeedsResponse {
        seed_song_ids: seeds,
        recommended_song_ids: recommendations.iter().map(|r| r.song.id()).collect(),
        recommendations,
    })
}

/// Why `index` is recommended from several seeds: for each seed it is a neighbour of, in seed
/// order, which seed ("like ...", when there are several) and that seed's stored reasons; at
/// most [`MAX_MERGED_REASONS`].
fn merged_reasons(
    model: &dyn Recommender,
    index: usize,
    seeds: &[usize],
    links: &[(usize, usize, u8)],
) -> Vec<String> {
    let mut reasons = Vec::new();
    for &(candidate, seed, bits) in links {
        if reasons.len() >= MAX_MERGED_REASONS {
            break;
        }
        if candidate != index {
            continue;
        }
        if seeds.len() > 1 {
            let title = model.song(seed).map(|s| s.title).unwrap_or("");
            push_reason(&mut reasons, format!("like {title}"));
        }
        for reason in model.reasons(seed, index, bits) {
            push_reason(&mut reasons, reason);
        }
    }
    reasons
}

fn push_reason(reasons: &mut Vec<String>, reason: String) {
    if reasons.len() < MAX_MERGED_REASONS && !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

fn k_too_large(k: usize, max: usize) -> ApiError {
    ApiError::BadRequest(format!(
        "k={k} is more than this model can answer (at most {max})"
    ))
}

#[cfg(test)]
mod tests {
    use utoipa::IntoParams;
    use utoipa::openapi::path::ParameterIn;

    use super::*;

    fn declared<T: IntoParams>() -> Vec<String> {
        T::into_params(|| Some(ParameterIn::Query))
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    #[test]
    fn the_accepted_query_names_are_the_declared_ones() {
        let mut names: Vec<&str> = RecommendQuery::NAMES.to_vec();
        let mut want = declared::<RecommendQuery>();
        names.sort();
        want.sort();
        assert_eq!(names, want);
        let mut names: Vec<&str> = SeedsQuery::NAMES.to_vec();
        let mut want = declared::<SeedsQuery>();
        names.sort();
        want.sort();
        assert_eq!(names, want);
    }
}
