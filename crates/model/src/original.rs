//! The replaced system's model, reproduced for comparison: each song is
//! `[z(pageviews), one-hot(primary artist name)]` with missing pageviews as 0 before
//! standard scaling, neighbours by cosine.
//!
//! Brute force would cost N² here; the vectors' shape allows an exact shortcut instead. Between
//! songs of different artists the cosine is `(z_q / |q|) * (z_c / |c|)`, so the best of them are
//! at one end of the songs sorted by `z_c / |c|`; songs of the same artist are few and scored
//! directly.

use std::collections::HashMap;

use crate::features::reason;
use crate::search::Hit;

pub(crate) struct OriginalModel {
    z: Vec<f64>,
    norm: Vec<f64>,
    artist: Vec<u32>,
    by_artist: Vec<Vec<u32>>,
    /// Songs sorted by `z / |v|` descending, ties by index.
    by_direction: Vec<u32>,
    /// Songs sorted by `z / |v|` ascending, ties by index.
    by_direction_ascending: Vec<u32>,
}

impl OriginalModel {
    /// `pageviews` and `artist_names` in browse order.
    pub fn new(pageviews: &[Option<u64>], artist_names: &[&str]) -> OriginalModel {
        let n = pageviews.len().max(1) as f64;
        let values: Vec<f64> = pageviews.iter().map(|p| p.unwrap_or(0) as f64).collect();
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        // scikit-learn's StandardScaler leaves a constant column unscaled.
        let scale = if variance > 0.0 { variance.sqrt() } else { 1.0 };
        let z: Vec<f64> = values.iter().map(|v| (v - mean) / scale).collect();
        let norm: Vec<f64> = z.iter().map(|z| (z * z + 1.0).sqrt()).collect();

        let mut artist_ids: HashMap<&str, u32> = HashMap::new();
        let mut by_artist: Vec<Vec<u32>> = Vec::new();
        let artist: Vec<u32> = artist_names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let next = by_artist.len() as u32;
                let id = *artist_ids.entry(name).or_insert(next);
                if id == next {
                    by_artist.push(Vec::new());
                }
                by_artist[id as usize].push(i as u32);
                id
            })
            .collect();
        let mut by_direction: Vec<u32> = (0..pageviews.len() as u32).collect();
        by_direction.sort_by(|&a, &b| {
            let (da, db) = (
                z[a as usize] / norm[a as usize],
                z[b as usize] / norm[b as usize],
            );
            db.total_cmp(&da).then(a.cmp(&b))
        });
        let mut by_direction_ascending = by_direction.clone();
        by_direction_ascending.sort_by(|&a, &b| {
            let (da, db) = (
                z[a as usize] / norm[a as usize],
                z[b as usize] / norm[b as usize],
            );
            da.total_cmp(&db).then(a.cmp(&b))
        });
        OriginalModel {
            z,
            norm,
            artist,
            by_artist,
            by_direction,
            by_direction_ascending,
        }
    }

    fn cosine(&self, a: usize, b: usize) -> f64 {
        let same = if self.artist[a] == self.artist[b] {
            1.0
        } else {
            0.0
        };
        (self.z[a] * self.z[b] + same) / (self.norm[a] * self.norm[b])
    }

    /// The `k` nearest songs to `q`, best first, ties by index.
    pub fn search(&self, q: usize, k: usize) -> Vec<Hit> {
        let artist = self.artist[q];
        let mut hits: Vec<Hit> = self.by_artist[artist as usize]
            .iter()
            .filter(|&&c| c as usize != q)
            .map(|&c| (c, self.cosine(q, c as usize) as f32, reason::SAME_ARTIST))
            .collect();
        let others = self
            .by_direction
            .iter()
            .copied()
            .filter(|&c| self.artist[c as usize] != artist);
        let best_others: Vec<u32> = if self.z[q] > 0.0 {
            others.take(k).collect()
        } else if self.z[q] < 0.0 {
            self.by_direction_ascending
                .iter()
                .copied()
                .filter(|&c| self.artist[c as usize] != artist)
                .take(k)
                .collect()
        } else {
            // Every other artist's song scores 0: ties, broken by index.
            (0..self.z.len() as u32)
                .filter(|&c| self.artist[c as usize] != artist)
                .take(k)
                .collect()
        };
        hits.extend(
            best_others
                .into_iter()
                .map(|c| (c, self.cosine(q, c as usize) as f32, reason::FALLBACK)),
        );
        hits.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over all pairs, for comparison.
    fn brute(model: &OriginalModel, q: usize, k: usize) -> Vec<u32> {
        let mut all: Vec<(u32, f64)> = (0..model.z.len())
            .filter(|&c| c != q)
            .map(|c| (c as u32, model.cosine(q, c)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.into_iter().take(k).map(|x| x.0).collect()
    }

    #[test]
    fn shortcut_search_matches_brute_force() {
        let pageviews: Vec<Option<u64>> = (0..60u64)
            .map(|i| (i % 7 != 0).then_some((i * 7919) % 1000))
            .collect();
        let names: Vec<String> = (0..60).map(|i| format!("artist {}", i % 9)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let model = OriginalModel::new(&pageviews, &names);
        for q in 0..60 {
            let fast: Vec<u32> = model.search(q, 10).into_iter().map(|h| h.0).collect();
            let slow = brute(&model, q, 10);
            // Scores must agree position by position; ids may differ only within exact ties.
            for (a, b) in fast.iter().zip(&slow) {
                let (sa, sb) = (model.cosine(q, *a as usize), model.cosine(q, *b as usize));
                assert!((sa - sb).abs() < 1e-9, "query {q}: {fast:?} vs {slow:?}");
            }
            assert_eq!(fast.len(), slow.len());
        }
    }
}
