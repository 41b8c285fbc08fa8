//! Neighbour search over the song vectors: an inverted index finds every song sharing a
//! credit, album, relationship or description term (exact cosine over those), context-only
//! matches (same language, era, popularity) fill in for songs with too few.
//!
//! Beyond `exact_max_songs`, tokens carried by more than `candidate_max_df` songs stop
//! generating candidates (they still count in the scores): the approximate path.

use std::collections::HashMap;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::features::{CONTEXT_SLOTS, KINDS, Kind, NONE, Vectors, reason, reason_bit};

mod assemble;
mod candidate;
mod common;
mod fallback;
mod scratch;

use crate::column::prefetch;
use candidate::{Candidate, candidates};
use common::CommonTokens;
use fallback::Fallback;
pub(crate) use scratch::Scratch;

/// How many circles ahead the common-token pass fetches lists (and twice as far, bounds).
const COMMON_AHEAD: usize = 4;

/// How many songs ahead the circle-only scan fetches what it reads (tokens at half of that).
const CIRCLE_AHEAD: usize = 8;

/// How many candidates ahead the scoring pass fetches their circle's entries (and twice as
/// far, the candidates' own entries, which name the circle).
const TOUCHED_AHEAD: usize = 8;

/// How many postings ahead the accumulation fetches the songs' slots.
const POSTING_AHEAD: usize = 16;

/// One neighbour: song index, cosine score, reason bits.
pub(crate) type Hit = (u32, f32, u8);

pub(crate) struct Searcher<'v> {
    pub vectors: &'v Vectors,
    /// Whether each token generates candidates.
    traverse: Vec<bool>,
    /// Per song what scoring it as a candidate reads, packed together.
    meta: Vec<Candidate>,
    same_artist_share: f64,
    fallback: Fallback,
    /// Per token, its largest posting weight: bounds what a skipped token can add.
    max_weight: Vec<f32>,

    /// `reason_bit` for every kind and pair of role sets, looked up in the inner loop.
    reason_table: [[[u8; 32]; 32]; KINDS],
    /// Per circle, its tokens that are not traversed: what a group's common tokens add to a
    /// circle is summed over these.
    common: CommonTokens,
}

/// A query: its index (excluded from answers, and whose context applies), its normalised
/// direct tokens, and its artist circle (unnormalised, scaled by `inv_norm`).
pub(crate) struct Query<'q> {
    pub index: usize,
    pub tokens: &'q [u32],
    pub weights: &'q [f32],
    pub roles: &'q [u8],
    pub circle_tokens: &'q [u32],
    pub circle_weights: &'q [f32],
    pub inv_norm: f32,
}

impl<'q> Query<'q> {
    /// The song's own vector as a query.
    pub fn of_song(vectors: &'q Vectors, index: usize) -> Query<'q> {
        let (tokens, weights, roles) = vectors.song(index);
        let (circle_tokens, circle_weights) = vectors.circle(index);
        Query {
            index,
            tokens,
            weights,
            roles,
            circle_tokens,
            circle_weights,
            inv_norm: vectors.inv_norm[index],
        }
    }
}

impl<'v> Searcher<'v> {
    /// `candidate_max_df: None` is exact search.
    pub fn new(
        vectors: &'v Vectors,
        primary_artist: Vec<u64>,
        pageviews: &[Option<u64>],
        candidate_max_df: Option<usize>,
        same_artist_share: f64,
    ) -> Searcher<'v> {
        let traverse: Vec<bool> = (0..vectors.kinds.len() as u32)
            .map(|t| candidate_max_df.is_none_or(|max| vectors.document_frequency(t) <= max))
            .collect();
        Searcher {
            common: CommonTokens::new(vectors, &traverse),
            vectors,
            traverse,
            meta: candidates(vectors, &primary_artist),
            same_artist_share,
            fallback: Fallback::new(vectors, pageviews),
            max_weight: (0..vectors.kinds.len())
                .map(|t| {
                    let p = &vectors.postings;
                    p.weights[p.offsets[t]..p.offsets[t + 1]]
                        .iter()
                        .fold(0.0f32, |m, &w| m.max(w))
                })
                .collect(),
            reason_table: reason_table(),
        }
    }

    /// Artist-profile entries carried by more than `max_df` songs stop finding candidates
    /// (they still count in every score), even on the exact path: an entry most artists share
    /// (a common role, a major label) would otherwise make every song a candidate of every
    /// artist, and such an entry weighs little (see `profile::artist_profiles`).
    pub fn with_profile_max_df(mut self, max_df: usize) -> Searcher<'v> {
        for (t, traverse) in self.traverse.iter_mut().enumerate() {
            if self.vectors.kinds[t] == Kind::Circle
                && self.vectors.document_frequency(t as u32) > max_df
            {
                *traverse = false;
            }
        }
        self.common = CommonTokens::new(self.vectors, &self.traverse);
        self
    }

    /// Songs of one version group (a song and its live, remixed, translated or re-released
    /// versions) are never recommended for each other, and a list holds one of each group.
    pub fn with_versions(mut self, version_group: Vec<u32>) -> Searcher<'v> {
        let mut sizes: HashMap<u32, u32> = HashMap::new();
        for &g in &version_group {
            *sizes.entry(g).or_default() += 1;
        }
        for (m, g) in self.meta.iter_mut().zip(&version_group) {
            m.group = *g;
            m.has_versions = sizes[g] > 1;
        }
        self
    }

    fn same_song(&self, a: usize, b: usize) -> bool {
        a == b || self.meta[a].group == self.meta[b].group
    }

    fn group_of(&self, song: usize) -> u32 {
        self.meta[song].group
    }

    /// The `k` best neighbours of one query, best first.
    pub fn search(&self, query: &Query<'_>, k: usize, scratch: &mut Scratch) -> Vec<Hit> {
        self.search_group(std::slice::from_ref(query), k, scratch)
            .pop()
            .unwrap_or_default()
    }

    /// The `k` best neighbours of each query, best first. The queries must share one circle
    /// (songs of one artist): its overlap with every song is accumulated once for the group,
    /// which is where most of the work is.
    pub fn search_group(
        &self,
        group: &[Query<'_>],
        k: usize,
        scratch: &mut Scratch,
    ) -> Vec<Vec<Hit>> {
        let Some(first) = group.first() else {
            return Vec::new();
        };
        let circles = &self.vectors.circles;
        let mut circle_skipped: Vec<(u32, f32)> = Vec::new();
        if scratch.circle_skipped.len() < self.common.slot_count() {
            scratch.circle_skipped.resize(self.common.slot_count(), 0.0);
        }
        {
            let Scratch {
                circle_dots,
                circle_touched,
                circle_skipped: skipped_by_slot,
                ..
            } = &mut *scratch;
            for (&t, &wq) in first.circle_tokens.iter().zip(first.circle_weights) {
                if !self.traverse[t as usize] {
                    circle_skipped.push((t, wq));
                    if let Some(slot) = self.common.slot(t)
                        && let Some(by_slot) = skipped_by_slot.get_mut(slot as usize)
                    {
                        *by_slot = wq;
                    }
                    continue;
                }
                let (reached, weights) = circles.postings(t);
                for (&c, &w) in reached.iter().zip(weights) {
                    let Some(dot) = circle_dots.get_mut(c as usize) else {
                        continue;
                    };
                    if *dot == 0.0 {
                        circle_touched.push(c);
                    }
                    *dot += wq * w;
                }
            }
            // Circle tokens too common to traverse still count for every circle reached
            // through the others: added once per circle for the group, through the circle's
            // own common tokens rather than through the tokens' long postings.
            // Whichever is shorter: the common tokens' circle postings, or the reached
            // circles' common tokens.
            if !circle_skipped.is_empty() {
                let through_postings: usize = circle_skipped
                    .iter()
                    .map(|&(t, _)| circles.postings(t).0.len())
                    .sum();
                let through_circles: usize =
                    circle_touched.iter().map(|&c| self.common.len(c)).sum();
                if through_postings < through_circles {
                    for &(t, wq) in &circle_skipped {
                        let (reached, weights) = circles.postings(t);
                        for (&c, &w) in reached.iter().zip(weights) {
                            if let Some(dot) = circle_dots.get_mut(c as usize)
                                && *dot > 0.0
                            {
                                *dot += wq * w;
                            }
                        }
                    }
                } else {
                    for (i, &c) in circle_touched.iter().enumerate() {
                        // Each circle's list is elsewhere in memory: fetch its bounds, then
                        // (once they are likely in) its tokens, a few circles ahead.
                        if let Some(&ahead) = circle_touched.get(i + 2 * COMMON_AHEAD) {
                            self.common.prefetch_bounds(ahead);
                        }
                        if let Some(&ahead) = circle_touched.get(i + COMMON_AHEAD) {
                            self.common.prefetch_list(ahead);
                        }
                        circle_dots[c as usize] += self.common.dot(c, skipped_by_slot);
                    }
                }
            }
        }
        {
            let Scratch {
                circle_dots,
                circle_touched,
                circle_order,
                circle_context_max,
                ..
            } = &mut *scratch;
            let best = |c: u32| circle_dots[c as usize] * circles.max_inv_norm[c as usize];
            circle_order.clear();
            circle_order.extend_from_slice(circle_touched);
            circle_order.sort_unstable_by(|&a, &b| best(b).total_cmp(&best(a)).then(a.cmp(&b)));
            *circle_context_max = [0.0; CONTEXT_SLOTS];
            for &c in circle_touched.iter() {
                for (max, w) in circle_context_max
                    .iter_mut()
                    .zip(circles.context_max[c as usize])
                {
                    *max = max.max(w);
                }
            }
        }
        let results = group
            .iter()
            .map(|q| self.search_one(q, !circle_skipped.is_empty(), k, scratch))
            .collect();
        for &c in &scratch.circle_touched {
            scratch.circle_dots[c as usize] = 0.0;
        }
        scratch.circle_touched.clear();
        for &c in &scratch.common_set {
            scratch.common_dots[c as usize] = f32::NAN;
        }
        scratch.common_set.clear();
        for &(t, _) in &circle_skipped {
            if let Some(slot) = self.common.slot(t)
                && let Some(by_slot) = scratch.circle_skipped.get_mut(slot as usize)
            {
                *by_slot = 0.0;
            }
        }
        results
    }

    /// Starts fetching what scoring song `c` as a circle-only candidate reads first: its score
    /// slot, its record and (when skipped tokens are looked up in it) its token bounds.
    fn prefetch_candidate(&self, c: usize, scores: &[f32], tokens: bool) {
        prefetch(scores, c);
        prefetch(&self.meta, c);
        if tokens {
            prefetch(&self.vectors.offsets, c);
        }
    }

    /// Starts fetching what song `c`'s circle adds to its score: the circle's overlap with the
    /// group, and (`common`) the bounds of its common tokens, whose part may still have to be
    /// worked out.
    fn prefetch_circle_of(&self, c: usize, circle_dots: &[f32], common_dots: &[f32], common: bool) {
        let circle = self.meta[c].circle;
        if circle != NONE {
            prefetch(circle_dots, circle as usize);
            prefetch(common_dots, circle as usize);
            if common {
                self.common.prefetch_bounds(circle);
            }
        }
    }

    /// Starts fetching the common tokens of song `c`'s circle (its bounds fetched before).
    fn prefetch_common_of(&self, c: usize) {
        let circle = self.meta[c].circle;
        if circle != NONE {
            self.common.prefetch_list(circle);
        }
    }

    /// Starts fetching song `c`'s tokens and weights.
    fn prefetch_tokens(&self, c: usize) {
        if let Some(&start) = self.vectors.offsets.get(c) {
            prefetch(&self.vectors.tokens, start);
            prefetch(&self.vectors.weights, start);
        }
    }

    /// Song `c`'s circle score for the group (its circle's overlap times its scale): zero
    /// when the traversed circle tokens did not reach its circle.
    fn circle_score(&self, c: usize, circle_dots: &[f32]) -> f32 {
        let m = &self.meta[c];
        match m.circle {
            NONE => 0.0,
            circle => circle_dots.get(circle as usize).copied().unwrap_or(0.0) * m.inv_norm,
        }
    }

    /// What non-traversed direct tokens (approximate path) add between a query and a candidate.
    fn skipped_part(&self, direct: &[(u32, f32)], c: usize) -> f32 {
        if direct.is_empty() {
            return 0.0;
        }
        let (tokens, weights, _) = self.vectors.song(c);
        direct
            .iter()
            .filter_map(|&(t, wq)| tokens.binary_search(&t).ok().map(|pos| wq * weights[pos]))
            .sum()
    }

    /// What the group's non-traversed circle tokens add for song `c`, whose circle the
    /// traversed ones did not reach.
    /// (Computed once per circle and group: a group's queries meet the same circles.)
    fn skipped_circle_part(
        &self,
        query: &Query<'_>,
        c: usize,
        skipped_by_slot: &[f32],
        common_dots: &mut [f32],
        common_set: &mut Vec<u32>,
    ) -> f32 {
        let m = &self.meta[c];
        let Some(dot) = common_dots.get_mut(m.circle as usize) else {
            return 0.0;
        };
        if dot.is_nan() {
            *dot = self.common.dot(m.circle, skipped_by_slot);
            common_set.push(m.circle);
        }
        query.inv_norm * *dot * m.inv_norm
    }

    fn search_one(
        &self,
        query: &Query<'_>,
        any_circle_skipped: bool,
        k: usize,
        scratch: &mut Scratch,
    ) -> Vec<Hit> {
        let v = self.vectors;
        let p = &v.postings;
        let mut skipped: Vec<(u32, f32)> = Vec::new();
        let Scratch {
            scores,
            bits,
            touched,
            circle_dots,
            circle_order,
            circle_context_max,
            circle_skipped: skipped_by_slot,
            common_dots,
            common_set,
            hits,
            top,
            groups,
            ..
        } = scratch;
        let (scores, bits) = (&mut scores[..], &mut bits[..]);
        for ((&t, &wq), &rq) in query.tokens.iter().zip(query.weights).zip(query.roles) {
            if !self.traverse[t as usize] {
                skipped.push((t, wq));
                continue;
            }
            let table = &self.reason_table[v.kinds[t as usize] as usize][rq as usize & 31];
            let range = p.offsets[t as usize]..p.offsets[t as usize + 1];
            let ahead = &p.songs[range.clone()];
            for (j, ((&c, &w), &rc)) in p.songs[range.clone()]
                .iter()
                .zip(&p.weights[range.clone()])
                .zip(&p.roles[range])
                .enumerate()
            {
                prefetch_slot(ahead, j, scores, bits);
                let c = c as usize;
                let (Some(score), Some(bit)) = (scores.get_mut(c), bits.get_mut(c)) else {
                    continue;
                };
                // Every product is positive, so a zero score means "not seen yet".
                if *score == 0.0 {
                    touched.push(c as u32);
                    // Its record is read once the postings are done: start fetching it now.
                    prefetch(&self.meta, c);
                }
                *score += wq * w;
                *bit |= table[rc as usize & 31];
            }
        }
        // Tokens too common to find candidates still count for the candidates found: one pass
        // over their postings costs less than looking them up in every candidate.
        for &(t, wq) in &skipped {
            let table = &self.reason_table[v.kinds[t as usize] as usize];
            let rq = query
                .tokens
                .binary_search(&t)
                .map_or(0, |i| query.roles[i] as usize & 31);
            let range = p.offsets[t as usize]..p.offsets[t as usize + 1];
            let ahead = &p.songs[range.clone()];
            for (j, ((&c, &w), &rc)) in p.songs[range.clone()]
                .iter()
                .zip(&p.weights[range.clone()])
                .zip(&p.roles[range])
                .enumerate()
            {
                prefetch_slot(ahead, j, scores, bits);
                let c = c as usize;
                if let (Some(score), Some(bit)) = (scores.get_mut(c), bits.get_mut(c))
                    && *score > 0.0
                {
                    *score += wq * w;
                    *bit |= table[rq][rc as usize & 31];
                }
            }
        }
        hits.clear();
        hits.reserve(touched.len() + 2 * k);
        let mut wanted = k;
        for (i, &c) in touched.iter().enumerate() {
            // Fetched as the postings first reached them, the entries of a long candidate
            // list are gone again by now: fetched anew, before the circle they name is read.
            if let Some(&far) = touched.get(i + 2 * TOUCHED_AHEAD) {
                prefetch(&self.meta, far as usize);
            }
            if let Some(&ahead) = touched.get(i + TOUCHED_AHEAD) {
                let common = any_circle_skipped;
                self.prefetch_circle_of(ahead as usize, circle_dots, common_dots, common);
            }
            if any_circle_skipped && let Some(&ahead) = touched.get(i + TOUCHED_AHEAD / 2) {
                self.prefetch_common_of(ahead as usize);
            }
            let c = c as usize;
            if self.same_song(query.index, c) {
                continue;
            }
            let mut score = scores[c] + self.context_dot(query.index, c);
            let mut bit = bits[c];
            let circle_score = self.circle_score(c, circle_dots);
            if circle_score > 0.0 {
                score += query.inv_norm * circle_score;
                bit |= reason::SCENE;
            } else if any_circle_skipped {
                score +=
                    self.skipped_circle_part(query, c, skipped_by_slot, common_dots, common_set);
            }
            hits.push((c as u32, score, bit));
            if self.same_artist_share < 1.0 && self.same_artist(query.index, c) {
                wanted += 1;
            }
            if self.meta[c].has_versions {
                wanted += 1;
            }
        }

        // Songs sharing only the circle, best circle score first. What they can add besides
        // is bounded, so the scan stops once no later one can reach the best `wanted`.
        let query_context = &v.context[query.index];
        let mut bound: f32 = (0..CONTEXT_SLOTS)
            .filter(|&s| query_context.ids[s] != NONE)
            .map(|s| query_context.weights[s] * circle_context_max[s])
            .sum();
        bound += skipped
            .iter()
            .map(|&(t, wq)| wq * self.max_weight[t as usize])
            .sum::<f32>();
        bound = bound * (1.0 + 1e-5) + 1e-6;
        // The best `wanted` scores so far (non-negative floats order as their bits do).
        top.clear();
        top.extend(hits.iter().map(|h| h.1.max(0.0).to_bits()));
        if top.len() > wanted {
            top.select_nth_unstable_by(wanted, |a, b| b.cmp(a));
            top.truncate(wanted);
        }
        let mut best: BinaryHeap<Reverse<u32>> = top.iter().copied().map(Reverse).collect();
        let threshold = |best: &BinaryHeap<Reverse<u32>>, wanted: usize| {
            (best.len() >= wanted)
                .then(|| best.peek().map(|m| m.0))
                .flatten()
        };
        'circles: for &circle in circle_order.iter() {
            let dot = circle_dots[circle as usize];
            let ceiling = query.inv_norm * dot * v.circles.max_inv_norm[circle as usize];
            if threshold(&best, wanted).is_some_and(|t| (ceiling + bound).to_bits() < t) {
                break;
            }
            let songs = v.circles.songs(circle);
            for (j, &c) in songs.iter().enumerate() {
                if let Some(&ahead) = songs.get(j + CIRCLE_AHEAD) {
                    self.prefetch_candidate(ahead as usize, scores, !skipped.is_empty());
                }
                if !skipped.is_empty()
                    && let Some(&ahead) = songs.get(j + CIRCLE_AHEAD / 2)
                {
                    self.prefetch_tokens(ahead as usize);
                }
                let c = c as usize;
                if scores[c] > 0.0 || self.same_song(query.index, c) {
                    continue;
                }
                let circle_part = query.inv_norm * dot * self.meta[c].inv_norm;
                if threshold(&best, wanted).is_some_and(|t| (circle_part + bound).to_bits() < t) {
                    // Songs of a circle come largest scale first: none after this one can
                    // reach the best either.
                    continue 'circles;
                }
                let score =
                    circle_part + self.context_dot(query.index, c) + self.skipped_part(&skipped, c);
                hits.push((c as u32, score, reason::SCENE));
                if self.same_artist_share < 1.0 && self.same_artist(query.index, c) {
                    wanted += 1;
                }
                if self.meta[c].has_versions {
                    wanted += 1;
                }
                let score_bits = score.max(0.0).to_bits();
                if best.len() < wanted {
                    best.push(Reverse(score_bits));
                } else if let Some(mut lowest) = best.peek_mut()
                    && lowest.0 < score_bits
                {
                    // One sift instead of a push and a pop: the heap keeps the best `wanted`.
                    *lowest = Reverse(score_bits);
                }
            }
        }
        for &c in touched.iter() {
            scores[c as usize] = 0.0;
            bits[c as usize] = 0;
        }
        touched.clear();

        let better = |a: &Hit, b: &Hit| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        // Only the best few are needed: select them before sorting.
        if hits.len() > wanted {
            hits.select_nth_unstable_by(wanted, better);
            hits.truncate(wanted);
        }
        hits.sort_unstable_by(better);
        self.assemble(query.index, hits, k, groups)
    }

    fn same_artist(&self, a: usize, b: usize) -> bool {
        self.meta[a].artist == self.meta[b].artist
    }

    fn context_dot(&self, a: usize, b: usize) -> f32 {
        self.meta[a].context.dot(&self.meta[b].context)
    }
}

/// Starts fetching the accumulator slots of the song `POSTING_AHEAD` places after `j` in a
/// posting list.
#[inline]
fn prefetch_slot(postings: &[u32], j: usize, scores: &[f32], bits: &[u8]) {
    if let Some(&c) = postings.get(j + POSTING_AHEAD) {
        prefetch(scores, c as usize);
        prefetch(bits, c as usize);
    }
}

fn reason_table() -> [[[u8; 32]; 32]; KINDS] {
    let mut table = [[[0u8; 32]; 32]; KINDS];
    for kind in Kind::ALL {
        for a in 0..32u8 {
            for b in 0..32u8 {
                table[kind as usize][a as usize][b as usize] = reason_bit(kind, a, b);
            }
        }
    }
    table
}

#[cfg(test)]
mod tests;
