//! The inverted index of artist circles: every song of an artist shares its artist's circle
//! (profile), so circle tokens are indexed once per artist rather than once per song. A query
//! accumulates its overlap with each reached circle; a song's circle score is that overlap
//! times the song's own scale (`inv_norm`).

use crate::features::{CONTEXT_SLOTS, Context, NONE};

/// Circle postings and each circle's songs.
#[derive(Default)]
pub(crate) struct CircleIndex {
    /// Per token, the range of `circles`/`weights` carrying it (empty for other kinds).
    pub offsets: Vec<usize>,
    pub circles: Vec<u32>,
    /// The circle's unnormalised weight for the token.
    pub weights: Vec<f32>,
    /// Per circle, the range of `songs` in it.
    pub song_offsets: Vec<usize>,
    /// Songs of each circle, largest `inv_norm` first (ties by index).
    pub songs: Vec<u32>,
    /// Per circle, the largest `inv_norm` of its songs: bounds every song's circle score.
    pub max_inv_norm: Vec<f32>,
    /// Per circle and context slot, the largest weight among its songs.
    pub context_max: Vec<[f32; CONTEXT_SLOTS]>,
    /// Per token, how many songs carry it through their circle.
    pub song_df: Vec<u32>,
}

impl CircleIndex {
    /// Indexes `circle_tokens`/`circle_weights` (CSR by `circle_offsets`) for a vocabulary of
    /// `vocabulary` tokens, with `circle_of` giving each song's circle.
    pub fn build(
        vocabulary: usize,
        circle_of: &[u32],
        circle_offsets: &[usize],
        circle_tokens: &[u32],
        circle_weights: &[f32],
        inv_norm: &[f32],
        context: &[Context],
    ) -> CircleIndex {
        let n_circles = circle_offsets.len().saturating_sub(1);
        // Each circle's songs, then per-circle bounds.
        let mut song_counts = vec![0usize; n_circles + 1];
        for &c in circle_of.iter().filter(|&&c| c != NONE) {
            song_counts[c as usize + 1] += 1;
        }
        for i in 1..song_counts.len() {
            song_counts[i] += song_counts[i - 1];
        }
        let song_offsets = song_counts.clone();
        let mut next = song_counts;
        let mut songs = vec![0u32; song_offsets[n_circles]];
        for (song, &c) in circle_of.iter().enumerate().filter(|(_, c)| **c != NONE) {
            songs[next[c as usize]] = song as u32;
            next[c as usize] += 1;
        }
        let mut max_inv_norm = vec![0f32; n_circles];
        let mut context_max = vec![[0f32; CONTEXT_SLOTS]; n_circles];
        for c in 0..n_circles {
            let members = &mut songs[song_offsets[c]..song_offsets[c + 1]];
            members.sort_unstable_by(|&a, &b| {
                inv_norm[b as usize]
                    .total_cmp(&inv_norm[a as usize])
                    .then(a.cmp(&b))
            });
            for &s in members.iter() {
                let s = s as usize;
                max_inv_norm[c] = max_inv_norm[c].max(inv_norm[s]);
                for (max, w) in context_max[c].iter_mut().zip(context[s].weights) {
                    *max = max.max(w);
                }
            }
        }

        // Token -> circles, circles visited in order so every list is sorted.
        let mut counts = vec![0usize; vocabulary + 1];
        let mut song_df = vec![0u32; vocabulary];
        for c in 0..n_circles {
            let members = (song_offsets[c + 1] - song_offsets[c]) as u32;
            for &t in &circle_tokens[circle_offsets[c]..circle_offsets[c + 1]] {
                counts[t as usize + 1] += 1;
                song_df[t as usize] += members;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let offsets = counts.clone();
        let mut next = counts;
        let mut circles = vec![0u32; offsets[vocabulary]];
        let mut weights = vec![0f32; offsets[vocabulary]];
        for c in 0..n_circles {
            let range = circle_offsets[c]..circle_offsets[c + 1];
            for (&t, &w) in circle_tokens[range.clone()]
                .iter()
                .zip(&circle_weights[range])
            {
                let slot = next[t as usize];
                next[t as usize] += 1;
                circles[slot] = c as u32;
                weights[slot] = w;
            }
        }
        CircleIndex {
            offsets,
            circles,
            weights,
            song_offsets,
            songs,
            max_inv_norm,
            context_max,
            song_df,
        }
    }

    pub fn len(&self) -> usize {
        self.max_inv_norm.len()
    }

    /// The circles carrying `token`, with their weights.
    pub fn postings(&self, token: u32) -> (&[u32], &[f32]) {
        let r = self.offsets[token as usize]..self.offsets[token as usize + 1];
        (&self.circles[r.clone()], &self.weights[r])
    }

    /// The songs of circle `c`, largest `inv_norm` first.
    pub fn songs(&self, c: u32) -> &[u32] {
        &self.songs[self.song_offsets[c as usize]..self.song_offsets[c as usize + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circles_are_indexed_by_token_with_their_songs_largest_scale_first() {
        // Circles 0 and 1 over a vocabulary of 4; songs 0, 2, 3 in circle 1, song 1 in 0,
        // song 4 in none.
        let circle_of = [1, 0, 1, 1, NONE];
        let circle_offsets = [0, 2, 3];
        let circle_tokens = [1, 3, 3];
        let circle_weights = [0.5, 0.25, 0.75];
        let inv_norm = [0.2, 1.0, 0.9, 0.9, 1.0];
        let context = |w: f32| Context {
            ids: [1, 2, NONE],
            weights: [w, 0.0, 0.0],
        };
        let contexts = [
            context(0.1),
            context(0.3),
            context(0.2),
            context(0.05),
            context(0.9),
        ];
        let index = CircleIndex::build(
            4,
            &circle_of,
            &circle_offsets,
            &circle_tokens,
            &circle_weights,
            &inv_norm,
            &contexts,
        );
        assert_eq!(index.len(), 2);
        assert_eq!(index.postings(0), (&[][..], &[][..]));
        assert_eq!(index.postings(1), (&[0][..], &[0.5][..]));
        assert_eq!(index.postings(3), (&[0, 1][..], &[0.25, 0.75][..]));
        assert_eq!(index.songs(0), &[1]);
        assert_eq!(index.songs(1), &[2, 3, 0]);
        assert_eq!(index.max_inv_norm, [1.0, 0.9]);
        assert_eq!(index.context_max[1], [0.2, 0.0, 0.0]);
        // Token 1 reaches circle 0 (one song), token 3 both circles (four songs).
        assert_eq!(index.song_df, [0, 1, 0, 4]);
    }
}
