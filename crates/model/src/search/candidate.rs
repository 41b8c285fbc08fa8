//! What the search reads about each candidate song, packed so that one read brings it all.

use std::collections::HashMap;

use crate::features::{Context, Vectors};

/// What scoring a song as a candidate reads about it, in one place: the search visits
/// candidates in no useful memory order, so each is one cache miss rather than one per array.
/// One cache line each: at 44 bytes, most would straddle two lines, and a prefetch fetches one.
#[derive(Clone, Copy)]
#[repr(align(64))]
pub(super) struct Candidate {
    pub context: Context,
    pub inv_norm: f32,
    pub circle: u32,
    /// Dense number of the primary artist.
    pub artist: u32,
    /// Version group (see [`crate::versions`]): the song's own index when it has none.
    pub group: u32,
    /// Whether another song shares its version group.
    pub has_versions: bool,
}

/// Every song's [`Candidate`], each its own version group.
pub(super) fn candidates(vectors: &Vectors, primary_artist: &[u64]) -> Vec<Candidate> {
    let mut artists: HashMap<u64, u32> = HashMap::new();
    (0..vectors.n)
        .map(|i| {
            let next = artists.len() as u32;
            Candidate {
                context: vectors.context[i],
                inv_norm: vectors.inv_norm[i],
                circle: vectors.circle_of[i],
                artist: *artists
                    .entry(primary_artist.get(i).copied().unwrap_or(u64::MAX))
                    .or_insert(next),
                group: i as u32,
                has_versions: false,
            }
        })
        .collect()
}
