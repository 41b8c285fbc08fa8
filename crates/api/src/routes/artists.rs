//! One artist: their songs and the artists whose songs are most often recommended with theirs.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::items::SongItem;
use crate::params::{NoQuery, Query, Segment};

/// Songs listed per artist (most viewed first).
const MAX_SONGS: usize = 100;
/// Songs whose neighbours are read to find similar artists, and neighbours read per song:
/// bounds the work of one request whatever the artist.
const SIMILAR_FROM_SONGS: usize = 50;
const SIMILAR_FROM_NEIGHBOURS: usize = 20;
const MAX_SIMILAR: usize = 10;

/// An artist, their songs and similar artists.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ArtistPage<'m> {
    /// Genius artist id.
    pub id: u64,
    pub name: &'m str,
    /// Songs with this primary artist in the catalogue.
    pub songs_total: usize,
    /// Up to 100 of them, most viewed first.
    pub songs: Vec<SongItem<'m>>,
    /// Up to 10 artists whose songs are most recommended with this artist's, most similar
    /// first.
    pub similar_artists: Vec<SimilarArtist<'m>>,
}

/// An artist similar to another.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SimilarArtist<'m> {
    pub id: u64,
    pub name: &'m str,
    /// Sum of the similarities of their songs to the artist's most viewed songs.
    pub score: f32,
}

/// One artist by Genius id.
#[utoipa::path(
    get,
    path = "/artists/{id}",
    tag = "songs",
    params(("id" = u64, Path, minimum = 0, description = "Genius artist id"), NoQuery),
    responses(
        (status = 200, description = "The artist, their songs and similar artists", body = ArtistPage),
        (status = 400, description = "Malformed id, or a query parameter", body = ErrorBody),
        (status = 404, description = "No artist with this id is credited in the catalogue", body = ErrorBody),
        (status = 503, description = "No model loaded yet, or the server is overloaded (see Retry-After)", body = ErrorBody)
    )
)]
pub(crate) async fn by_id(
    State(state): State<AppState>,
    Segment(raw_id): Segment,
    Query(NoQuery {}): Query<NoQuery>,
) -> Result<Response, ApiError> {
    let served = state.model()?;
    let model = served.model.as_ref();
    let id = raw_id.trim().parse::<u64>().map_err(|_| {
        ApiError::BadRequest(format!(
            "an artist id must be a non-negative integer, got {raw_id:?}"
        ))
    })?;
    let artist = model.artist(id).ok_or(ApiError::UnknownArtist(id))?;
    let songs = model.songs_by_artist(id);
    let mut scores: HashMap<u64, f32> = HashMap::new();
    for &song in songs.iter().take(SIMILAR_FROM_SONGS) {
        for n in model
            .neighbours(song as usize)
            .into_iter()
            .take(SIMILAR_FROM_NEIGHBOURS)
        {
            if let Some(other) = model.song(n.index)
                && other.artist_id != id
            {
                *scores.entry(other.artist_id).or_insert(0.0) += n.score;
            }
        }
    }
    let mut similar: Vec<(u64, f32)> = scores.into_iter().collect();
    similar.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let similar_artists = similar
        .into_iter()
        .filter_map(|(artist_id, score)| {
            Some(SimilarArtist {
                id: artist_id,
                name: model.artist(artist_id)?.name,
                score,
            })
        })
        .take(MAX_SIMILAR)
        .collect();
    Ok(Json(ArtistPage {
        id,
        name: artist.name,
        songs_total: songs.len(),
        songs: songs
            .iter()
            .take(MAX_SONGS)
            .filter_map(|&i| SongItem::at(model, i as usize))
            .collect(),
        similar_artists,
    })
    .into_response())
}
