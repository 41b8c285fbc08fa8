//! Neighbour search over the song vectors: an inverted index finds every song sharing a
//! credit, album, relationship or description term (exact cosine over those), context-only
//! matches (same language, era, popularity) fill in for songs with too few.
//!
//! Beyond `exact_max_songs`, tokens carried by more than `candidate_max_df` songs stop
//! generating candidates (they still count in the scores): the approximate path.

use std::collections::HashMap;

use crate::features::{CONTEXT_SLOTS, NONE, Vectors, reason, reason_bit};

/// One neighbour: song index, cosine score, reason bits.
pub(crate) type Hit = (u32, f32, u8);

pub(crate) struct Searcher<'v> {
    pub vectors: &'v Vectors,
    /// Whether each token generates candidates.
    traverse: Vec<bool>,
    primary_artist: Vec<u64>,
    max_same_artist: usize,
    fallback: Fallback,
}

/// Per-thread accumulators, reused across queries.
pub(crate) struct Scratch {
    scores: Vec<f32>,
    bits: Vec<u8>,
    touched: Vec<u32>,
}

impl Scratch {
    pub fn new(n: usize) -> Scratch {
        Scratch {
            scores: vec![0.0; n],
            bits: vec![0; n],
            touched: Vec::new(),
        }
    }
}

/// A query: its index (excluded from answers, and whose context applies) and its tokens.
pub(crate) struct Query<'q> {
    pub index: usize,
    pub tokens: &'q [u32],
    pub weights: &'q [f32],
    pub roles: &'q [u8],
}

impl<'v> Searcher<'v> {
    /// `candidate_max_df: None` is exact search.
    pub fn new(
        vectors: &'v Vectors,
        primary_artist: Vec<u64>,
        pageviews: &[Option<u64>],
        candidate_max_df: Option<usize>,
        max_same_artist: usize,
    ) -> Searcher<'v> {
        let traverse = (0..vectors.kinds.len() as u32)
            .map(|t| candidate_max_df.is_none_or(|max| vectors.document_frequency(t) <= max))
            .collect();
        Searcher {
            vectors,
            traverse,
            primary_artist,
            max_same_artist,
            fallback: Fallback::new(vectors, pageviews),
        }
    }

    /// The `k` best neighbours of a query, best first, ties by index.
    pub fn search(&self, query: &Query<'_>, k: usize, scratch: &mut Scratch) -> Vec<Hit> {
        let v = self.vectors;
        let p = &v.postings;
        let mut skipped: Vec<(u32, f32)> = Vec::new();
        for ((&t, &wq), &rq) in query.tokens.iter().zip(query.weights).zip(query.roles) {
            if !self.traverse[t as usize] {
                skipped.push((t, wq));
                continue;
            }
            let kind = v.kinds[t as usize];
            for i in p.offsets[t as usize]..p.offsets[t as usize + 1] {
                let c = p.songs[i] as usize;
                if scratch.scores[c] == 0.0 && scratch.bits[c] == 0 {
                    scratch.touched.push(c as u32);
                }
                scratch.scores[c] += wq * p.weights[i];
                scratch.bits[c] |= reason_bit(kind, rq, p.roles[i]);
            }
        }
        let mut hits: Vec<Hit> = Vec::with_capacity(scratch.touched.len());
        for &c in &scratch.touched {
            let c = c as usize;
            if c == query.index {
                continue;
            }
            let mut score = scratch.scores[c] + self.context_dot(query.index, c);
            for &(t, wq) in &skipped {
                let (tokens, weights, _) = v.song(c);
                if let Ok(pos) = tokens.binary_search(&t) {
                    score += wq * weights[pos];
                }
            }
            hits.push((c as u32, score, scratch.bits[c]));
        }
        for &c in &scratch.touched {
            scratch.scores[c as usize] = 0.0;
            scratch.bits[c as usize] = 0;
        }
        scratch.touched.clear();

        hits.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut chosen = self.cap_same_artist(query.index, hits, k);
        if chosen.len() < k {
            self.fill_from_fallback(query.index, k, &mut chosen);
        }
        chosen
    }

    fn same_artist(&self, a: usize, b: usize) -> bool {
        self.primary_artist[a] == self.primary_artist[b]
    }

    fn cap_same_artist(&self, q: usize, hits: Vec<Hit>, k: usize) -> Vec<Hit> {
        let mut chosen = Vec::with_capacity(k);
        let mut same = 0;
        for hit in hits {
            if chosen.len() == k {
                break;
            }
            if self.max_same_artist > 0 && self.same_artist(q, hit.0 as usize) {
                if same == self.max_same_artist {
                    continue;
                }
                same += 1;
            }
            chosen.push(hit);
        }
        chosen
    }

    fn context_dot(&self, a: usize, b: usize) -> f32 {
        let v = self.vectors;
        let (ta, tb) = (&v.context[a], &v.context[b]);
        let (wa, wb) = (&v.context_weights[a], &v.context_weights[b]);
        (0..CONTEXT_SLOTS)
            .filter(|&s| ta[s] != NONE && ta[s] == tb[s])
            .map(|s| wa[s] * wb[s])
            .sum()
    }

    /// Adds songs of the same language and era (then language, then anyone), nearest in
    /// popularity first, until there are `k`.
    fn fill_from_fallback(&self, q: usize, k: usize, chosen: &mut Vec<Hit>) {
        let mut taken: std::collections::HashSet<u32> = chosen.iter().map(|h| h.0).collect();
        taken.insert(q as u32);
        let mut same = chosen
            .iter()
            .filter(|h| self.same_artist(q, h.0 as usize))
            .count();
        let start = chosen.len();
        for group in self.fallback.groups_for(q, self.vectors) {
            for c in self.fallback.nearest_in_popularity(group, q) {
                if chosen.len() == k {
                    break;
                }
                if taken.contains(&c) {
                    continue;
                }
                if self.max_same_artist > 0 && self.same_artist(q, c as usize) {
                    if same == self.max_same_artist {
                        continue;
                    }
                    same += 1;
                }
                taken.insert(c);
                chosen.push((c, self.context_dot(q, c as usize), reason::FALLBACK));
            }
            if chosen.len() == k {
                break;
            }
        }
        chosen[start..].sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    }
}

/// Songs grouped by (language, era), by language, and all together, each in browse order
/// (which is pageviews descending).
struct Fallback {
    by_language_era: HashMap<(u32, u32), Vec<u32>>,
    by_language: HashMap<u32, Vec<u32>>,
    everyone: Vec<u32>,
    pageviews: Vec<u64>,
}

impl Fallback {
    fn new(vectors: &Vectors, pageviews: &[Option<u64>]) -> Fallback {
        let mut by_language_era: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        let mut by_language: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, ctx) in vectors.context.iter().enumerate() {
            by_language_era
                .entry((ctx[0], ctx[1]))
                .or_default()
                .push(i as u32);
            by_language.entry(ctx[0]).or_default().push(i as u32);
        }
        Fallback {
            by_language_era,
            by_language,
            everyone: (0..vectors.n as u32).collect(),
            pageviews: pageviews.iter().map(|p| p.unwrap_or(0)).collect(),
        }
    }

    fn groups_for<'a>(&'a self, q: usize, vectors: &Vectors) -> Vec<&'a [u32]> {
        let ctx = vectors.context[q];
        let mut groups: Vec<&[u32]> = Vec::with_capacity(3);
        if let Some(g) = self.by_language_era.get(&(ctx[0], ctx[1])) {
            groups.push(g);
        }
        if let Some(g) = self.by_language.get(&ctx[0]) {
            groups.push(g);
        }
        groups.push(&self.everyone);
        groups
    }

    /// Members of a browse-ordered group, walking outwards from `q`'s place: nearest
    /// pageviews first.
    fn nearest_in_popularity<'a>(
        &'a self,
        group: &'a [u32],
        q: usize,
    ) -> impl Iterator<Item = u32> + 'a {
        let start = group.partition_point(|&i| (i as usize) < q);
        let pq = self.pageviews[q];
        let mut left = start;
        let mut right = start;
        std::iter::from_fn(move || {
            let l = (left > 0).then(|| group[left - 1]);
            let r = (right < group.len()).then(|| group[right]);
            let pick_left = match (l, r) {
                (None, None) => return None,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(a), Some(b)) => {
                    self.pageviews[a as usize].abs_diff(pq)
                        <= self.pageviews[b as usize].abs_diff(pq)
                }
            };
            if pick_left {
                left -= 1;
                l
            } else {
                right += 1;
                r
            }
        })
    }
}
