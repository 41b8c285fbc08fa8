//! The order the neighbour search visits songs in. The model's tables are in browse order
//! (most viewed first), which scatters an artist's songs, and the artists of one scene, over
//! the whole catalogue; the search reads per-song arrays at the songs a query reaches, and
//! those are mostly its own artist's and its scene's. Searching in an order that keeps them
//! together turns those reads into nearby ones. Scores are the same but for the order their
//! floating-point sums are taken in (token numbers follow the order).

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use songrec_catalog::Song;

use crate::params::FeatureSet;

/// The search order and browse order, each to the other.
pub(crate) struct Order {
    to_browse: Vec<u32>,
    to_search: Vec<u32>,
}

impl Order {
    pub fn new(ordered: &[&Song], features: FeatureSet) -> Order {
        let to_browse = search_order(ordered, features);
        let mut to_search = vec![0u32; to_browse.len()];
        for (s, &b) in to_browse.iter().enumerate() {
            to_search[b as usize] = s as u32;
        }
        Order {
            to_browse,
            to_search,
        }
    }

    /// The songs of `ordered` (browse order) in search order.
    pub fn searched<'s>(&self, ordered: &[&'s Song]) -> Vec<&'s Song> {
        self.to_browse
            .iter()
            .map(|&b| ordered[b as usize])
            .collect()
    }

    /// The browse index of the song searched at `s`.
    pub fn browse(&self, s: u32) -> u32 {
        self.to_browse[s as usize]
    }

    /// The search index of the song at browse index `b`.
    pub fn search(&self, b: usize) -> usize {
        self.to_search[b] as usize
    }
}

/// Each searched song's place in `ordered` (browse order): songs grouped by scene (see
/// [`scene_keys`]), then by primary artist, then in browse order. The original features are
/// searched in browse order.
fn search_order(ordered: &[&Song], features: FeatureSet) -> Vec<u32> {
    let mut order: Vec<u32> = (0..ordered.len() as u32).collect();
    if features == FeatureSet::Full {
        let scenes = scene_keys(ordered);
        let key = |b: u32| {
            let artist = ordered[b as usize].primary_artist.id;
            (scenes.get(&artist).copied().unwrap_or(u64::MAX), artist, b)
        };
        let mut keyed: Vec<(u64, u64, u32)> = order.iter().map(|&b| key(b)).collect();
        keyed.par_sort_unstable();
        order = keyed.into_iter().map(|k| k.2).collect();
    }
    order
}

/// Per primary artist, a scene: of the artists credited on its songs (featured artists,
/// producers, writers, labels, crew) and credited on another artist's songs too, the one
/// credited most often (ties to the lowest id). Artists without one are left out.
fn scene_keys(ordered: &[&Song]) -> HashMap<u64, u64> {
    // (artist, credited) once per credit, then counted.
    let mut pairs: Vec<(u64, u64)> = ordered
        .par_iter()
        .flat_map_iter(|s| {
            let artist = s.primary_artist.id;
            s.credits
                .iter()
                .map(|c| c.artist.id)
                .chain(s.performances.iter().map(|p| p.artist.id))
                .filter(move |&e| e != artist)
                .map(move |e| (artist, e))
        })
        .collect();
    pairs.par_sort_unstable();
    let counted: Vec<(u64, u64, usize)> = pairs
        .chunk_by(|a, b| a == b)
        .map(|run| (run[0].0, run[0].1, run.len()))
        .collect();
    drop(pairs);
    let mut credited: Vec<u64> = counted.iter().map(|c| c.1).collect();
    credited.par_sort_unstable();
    let shared: HashSet<u64> = credited
        .chunk_by(|a, b| a == b)
        .filter(|run| run.len() > 1)
        .map(|run| run[0])
        .collect();
    counted
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|credits| {
            credits
                .iter()
                .filter(|c| shared.contains(&c.1))
                .max_by_key(|c| (c.2, Reverse(c.1)))
                .map(|c| (c.0, c.1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_songs::produced as song;

    #[test]
    fn a_scene_is_the_most_credited_collaborator_that_another_artist_shares() {
        let songs = [
            // Artist 1: producer 100 twice, 200 (its own) three times, 300 once.
            song(1, 1, &[100, 200]),
            song(2, 1, &[100, 200]),
            song(3, 1, &[200, 300]),
            // Artist 2 shares 100 and 300; artist 3 shares nothing; artist 4 credits itself.
            song(4, 2, &[100]),
            song(5, 2, &[300, 300]),
            song(6, 3, &[400]),
            song(7, 4, &[4]),
        ];
        let ordered: Vec<&Song> = songs.iter().collect();
        let scenes = scene_keys(&ordered);
        assert_eq!(scenes.get(&1), Some(&100));
        // 300 twice beats 100 once.
        assert_eq!(scenes.get(&2), Some(&300));
        assert_eq!(scenes.get(&3), None);
        assert_eq!(scenes.get(&4), None);
    }

    #[test]
    fn songs_are_searched_by_scene_then_artist_then_browse_order() {
        let songs = [
            song(10, 3, &[]),
            song(11, 1, &[100]),
            song(12, 2, &[900]),
            song(13, 4, &[100]),
            song(14, 1, &[]),
            song(15, 5, &[900]),
        ];
        let ordered: Vec<&Song> = songs.iter().collect();
        // Scene 100: artists 1 (songs 1, 4) and 4 (song 3); scene 900: artists 2 and 5; then
        // artist 3, which has no scene.
        assert_eq!(
            search_order(&ordered, FeatureSet::Full),
            vec![1, 4, 3, 2, 5, 0]
        );
        assert_eq!(
            search_order(&ordered, FeatureSet::Original),
            vec![0, 1, 2, 3, 4, 5]
        );
        let order = Order::new(&ordered, FeatureSet::Full);
        for b in 0..songs.len() {
            assert_eq!(order.browse(order.search(b) as u32), b as u32);
        }
        let ids: Vec<u64> = order.searched(&ordered).iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![11, 14, 13, 12, 15, 10]);
    }
}
