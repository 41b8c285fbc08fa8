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

/// One neighbour: song index, cosine score, reason bits.
pub(crate) type Hit = (u32, f32, u8);

pub(crate) struct Searcher<'v> {
    pub vectors: &'v Vectors,
    /// Whether each token generates candidates.
    traverse: Vec<bool>,
    primary_artist: Vec<u64>,
    same_artist_share: f64,
    fallback: Fallback,
    /// Per token, its largest posting weight: bounds what a skipped token can add.
    max_weight: Vec<f32>,
    /// Per song its version group (see [`crate::versions`]); empty when every song is its own.
    version_group: Vec<u32>,
    /// Per song whether another song shares its version group.
    has_versions: Vec<bool>,
    /// `reason_bit` for every kind and pair of role sets, looked up in the inner loop.
    reason_table: [[[u8; 32]; 32]; KINDS],
}

/// Per-thread accumulators, reused across queries.
pub(crate) struct Scratch {
    scores: Vec<f32>,
    bits: Vec<u8>,
    touched: Vec<u32>,
    circle_scores: Vec<f32>,
    circle_touched: Vec<u32>,
    /// `circle_touched` by circle score, best first.
    circle_order: Vec<u32>,
    /// Per context slot, the largest weight among `circle_touched`: bounds their context part.
    circle_context_max: [f32; CONTEXT_SLOTS],
    /// Per candidate circle, its dot product with the group's skipped circle tokens.
    circle_dots: HashMap<u32, f32>,
}

impl Scratch {
    pub fn new(n: usize) -> Scratch {
        Scratch {
            scores: vec![0.0; n],
            bits: vec![0; n],
            touched: Vec::new(),
            circle_scores: vec![0.0; n],
            circle_touched: Vec::new(),
            circle_order: Vec::new(),
            circle_context_max: [0.0; CONTEXT_SLOTS],
            circle_dots: HashMap::new(),
        }
    }
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
        let traverse = (0..vectors.kinds.len() as u32)
            .map(|t| candidate_max_df.is_none_or(|max| vectors.document_frequency(t) <= max))
            .collect();
        Searcher {
            vectors,
            traverse,
            primary_artist,
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
            version_group: Vec::new(),
            has_versions: Vec::new(),
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
        self
    }

    /// Songs of one version group (a song and its live, remixed, translated or re-released
    /// versions) are never recommended for each other, and a list holds one of each group.
    pub fn with_versions(mut self, version_group: Vec<u32>) -> Searcher<'v> {
        let mut sizes: HashMap<u32, u32> = HashMap::new();
        for &g in &version_group {
            *sizes.entry(g).or_default() += 1;
        }
        self.has_versions = version_group.iter().map(|g| sizes[g] > 1).collect();
        self.version_group = version_group;
        self
    }

    fn same_song(&self, a: usize, b: usize) -> bool {
        a == b || (!self.version_group.is_empty() && self.version_group[a] == self.version_group[b])
    }

    fn group_of(&self, song: usize) -> u32 {
        self.version_group.get(song).copied().unwrap_or(song as u32)
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
        let v = self.vectors;
        let p = &v.postings;
        let mut circle_skipped: Vec<(u32, f32)> = Vec::new();
        {
            let Scratch {
                circle_scores,
                circle_touched,
                ..
            } = &mut *scratch;
            let circle_scores = &mut circle_scores[..];
            for (&t, &wq) in first.circle_tokens.iter().zip(first.circle_weights) {
                if !self.traverse[t as usize] {
                    circle_skipped.push((t, wq));
                    continue;
                }
                let range = p.offsets[t as usize]..p.offsets[t as usize + 1];
                for (&c, &w) in p.songs[range.clone()].iter().zip(&p.weights[range]) {
                    let Some(score) = circle_scores.get_mut(c as usize) else {
                        continue;
                    };
                    if *score == 0.0 {
                        circle_touched.push(c);
                    }
                    *score += wq * w;
                }
            }
        }
        {
            let Scratch {
                circle_scores,
                circle_touched,
                circle_order,
                circle_context_max,
                circle_dots,
                ..
            } = &mut *scratch;
            // Circle tokens too common to traverse still count for every song reached through
            // the others; added here once for the group rather than once per query, through
            // each reached artist's profile (all its songs share it) rather than through the
            // tokens' long postings.
            if !circle_skipped.is_empty() {
                for &c in circle_touched.iter() {
                    let c = c as usize;
                    let dot = self.profile_dot(&circle_skipped, c, circle_dots);
                    circle_scores[c] += dot * v.inv_norm[c];
                }
            }
            circle_order.clear();
            circle_order.extend_from_slice(circle_touched);
            circle_order.sort_unstable_by(|&a, &b| {
                circle_scores[b as usize]
                    .total_cmp(&circle_scores[a as usize])
                    .then(a.cmp(&b))
            });
            *circle_context_max = [0.0; CONTEXT_SLOTS];
            for &c in circle_touched.iter() {
                let weights = v.context[c as usize].weights;
                for (max, w) in circle_context_max.iter_mut().zip(weights) {
                    *max = max.max(w);
                }
            }
        }
        let results = group
            .iter()
            .map(|q| self.search_one(q, &circle_skipped, k, scratch))
            .collect();
        for &c in &scratch.circle_touched {
            scratch.circle_scores[c as usize] = 0.0;
        }
        scratch.circle_touched.clear();
        scratch.circle_dots.clear();
        results
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

    /// What the group's non-traversed circle tokens add for a candidate the traversed ones did
    /// not reach. Candidates come in clusters of one artist, so the dot product with each
    /// candidate artist's circle is computed once per group.
    fn skipped_circle_part(
        &self,
        query: &Query<'_>,
        circle: &[(u32, f32)],
        c: usize,
        dots: &mut HashMap<u32, f32>,
    ) -> f32 {
        if circle.is_empty() {
            return 0.0;
        }
        query.inv_norm * self.profile_dot(circle, c, dots) * self.vectors.inv_norm[c]
    }

    /// The dot product of the group's `circle` tokens with the profile of song `c`'s artist,
    /// computed once per artist and group (`dots` is cleared with the group).
    fn profile_dot(&self, circle: &[(u32, f32)], c: usize, dots: &mut HashMap<u32, f32>) -> f32 {
        let v = self.vectors;
        let id = v.circle_of[c];
        if id == NONE {
            return 0.0;
        }
        *dots.entry(id).or_insert_with(|| {
            let (tokens, weights) = v.circle(c);
            circle
                .iter()
                .filter_map(|&(t, wq)| tokens.binary_search(&t).ok().map(|pos| wq * weights[pos]))
                .sum()
        })
    }

    fn search_one(
        &self,
        query: &Query<'_>,
        circle_skipped: &[(u32, f32)],
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
            circle_scores,
            circle_order,
            circle_context_max,
            circle_dots,
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
            for ((&c, &w), &rc) in p.songs[range.clone()]
                .iter()
                .zip(&p.weights[range.clone()])
                .zip(&p.roles[range])
            {
                let c = c as usize;
                let (Some(score), Some(bit)) = (scores.get_mut(c), bits.get_mut(c)) else {
                    continue;
                };
                // Every product is positive, so a zero score means "not seen yet".
                if *score == 0.0 {
                    touched.push(c as u32);
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
            for ((&c, &w), &rc) in p.songs[range.clone()]
                .iter()
                .zip(&p.weights[range.clone()])
                .zip(&p.roles[range])
            {
                let c = c as usize;
                if let (Some(score), Some(bit)) = (scores.get_mut(c), bits.get_mut(c))
                    && *score > 0.0
                {
                    *score += wq * w;
                    *bit |= table[rq][rc as usize & 31];
                }
            }
        }
        let mut hits: Vec<Hit> = Vec::with_capacity(touched.len() + 2 * k);
        let mut wanted = k;
        for &c in touched.iter() {
            let c = c as usize;
            if self.same_song(query.index, c) {
                continue;
            }
            let mut score = scores[c];
            let mut bit = bits[c];
            let mut circle_left = circle_skipped;
            if circle_scores[c] > 0.0 {
                score += query.inv_norm * circle_scores[c];
                bit |= reason::SCENE;
                circle_left = &[];
            }
            score += self.context_dot(query.index, c)
                + self.skipped_circle_part(query, circle_left, c, circle_dots);
            hits.push((c as u32, score, bit));
            if self.same_artist_share < 1.0 && self.same_artist(query.index, c) {
                wanted += 1;
            }
            if self.has_versions.get(c).copied().unwrap_or(false) {
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
        let mut best: BinaryHeap<Reverse<u32>> = hits
            .iter()
            .map(|h| Reverse(h.1.max(0.0).to_bits()))
            .collect();
        while best.len() > wanted {
            best.pop();
        }
        for &c in circle_order.iter() {
            let c = c as usize;
            if scores[c] > 0.0 || self.same_song(query.index, c) {
                continue;
            }
            let circle_part = query.inv_norm * circle_scores[c];
            if best.len() >= wanted
                && best
                    .peek()
                    .is_some_and(|m| (circle_part + bound).to_bits() < m.0)
            {
                break;
            }
            let score =
                circle_part + self.context_dot(query.index, c) + self.skipped_part(&skipped, c);
            hits.push((c as u32, score, reason::SCENE));
            if self.same_artist_share < 1.0 && self.same_artist(query.index, c) {
                wanted += 1;
            }
            if self.has_versions.get(c).copied().unwrap_or(false) {
                wanted += 1;
            }
            best.push(Reverse(score.max(0.0).to_bits()));
            while best.len() > wanted {
                best.pop();
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
        self.assemble(query.index, hits, k)
    }

    fn same_artist(&self, a: usize, b: usize) -> bool {
        self.primary_artist[a] == self.primary_artist[b]
    }

    /// The final list from hits in score order: one song per version group; the query's own
    /// artist never above its share of any prefix (such songs wait for the next place they are
    /// allowed); then songs of the same language and era (then language, then anyone), nearest
    /// in popularity; the artist's waiting songs come last, only when nothing else is left.
    fn assemble(&self, q: usize, hits: Vec<Hit>, k: usize) -> Vec<Hit> {
        let capped = self.same_artist_share < 1.0;
        let allowed = |len: usize| (self.same_artist_share * len as f64).ceil() as usize;
        let mut chosen: Vec<Hit> = Vec::with_capacity(k);
        let mut groups: std::collections::HashSet<u32> = std::collections::HashSet::new();
        groups.insert(self.group_of(q));
        let mut deferred = std::collections::VecDeque::new();
        let mut same = 0;
        let place = |hit: Hit,
                     chosen: &mut Vec<Hit>,
                     deferred: &mut std::collections::VecDeque<Hit>,
                     same: &mut usize| {
            if !capped || !self.same_artist(q, hit.0 as usize) {
                chosen.push(hit);
            } else if *same < allowed(chosen.len() + 1) {
                chosen.push(hit);
                *same += 1;
                return;
            } else {
                deferred.push_back(hit);
                return;
            }
            while chosen.len() < k && !deferred.is_empty() && *same < allowed(chosen.len() + 1) {
                if let Some(d) = deferred.pop_front() {
                    chosen.push(d);
                    *same += 1;
                }
            }
        };
        for hit in hits {
            if chosen.len() == k {
                break;
            }
            if groups.insert(self.group_of(hit.0 as usize)) {
                place(hit, &mut chosen, &mut deferred, &mut same);
            }
        }
        if chosen.len() < k {
            'groups: for group in self.fallback.groups_for(q, self.vectors) {
                for c in self.fallback.nearest_in_popularity(group, q) {
                    if chosen.len() == k {
                        break 'groups;
                    }
                    if !groups.insert(self.group_of(c as usize)) {
                        continue;
                    }
                    let hit = (c, self.context_dot(q, c as usize), reason::FALLBACK);
                    place(hit, &mut chosen, &mut deferred, &mut same);
                }
            }
        }
        // The cap cannot hold when other artists run out: the artist's songs close the list.
        while chosen.len() < k {
            match deferred.pop_front() {
                Some(d) => chosen.push(d),
                None => break,
            }
        }
        chosen.truncate(k);
        chosen
    }

    fn context_dot(&self, a: usize, b: usize) -> f32 {
        self.vectors.context[a].dot(&self.vectors.context[b])
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
        for (i, ctx) in vectors.context.iter().map(|c| c.ids).enumerate() {
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
        let ctx = vectors.context[q].ids;
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
mod tests {
    use std::collections::HashMap;

    use songrec_catalog::{Album, Artist, Credit, CreditRole, Song};

    use super::*;
    use crate::features::{self, role};
    use crate::params::TrainParams;

    /// Two scenes of six artists with four songs each; every song has one producer from its
    /// scene's pool of five, so many same-scene pairs share only their artists' circles.
    fn catalogue() -> Vec<Song> {
        let artist = |id: u64| Artist {
            id,
            name: format!("A{id}"),
        };
        let mut songs = Vec::new();
        for scene in 0..2u64 {
            for a in 0..6u64 {
                for s in 0..4u64 {
                    let i = scene * 100 + a * 10 + s;
                    songs.push(Song {
                        id: i,
                        title: format!("S{i}"),
                        primary_artist: artist(1000 + scene * 10 + a),
                        credits: std::iter::once(Credit {
                            role: CreditRole::Producer,
                            artist: artist(2000 + scene * 10 + (a * 4 + s * 3) % 5),
                        })
                        // A few writers working across both scenes, some much busier than others.
                        .chain((s != 3).then(|| Credit {
                            role: CreditRole::Writer,
                            artist: artist(3000 + (a * s) % 4),
                        }))
                        .collect(),
                        album: (s < 2).then(|| Album {
                            id: i / 2,
                            name: String::new(),
                        }),
                        release_date: None,
                        release_year: Some(2000 + (i % 13) as i32),
                        language: Some(["en", "fr"][(i % 2) as usize].into()),
                        pageviews: (i % 9 != 0).then_some(i * 31 % 700),
                        relationships: Vec::new(),
                        description: None,
                        url: None,
                        song_art_image_url: None,
                        tags: Vec::new(),
                        primary_tag: None,
                        performances: Vec::new(),
                    });
                }
            }
        }
        songs
    }

    /// Each song's whole vector as a map, circle included, context excluded.
    fn dense(v: &Vectors, i: usize) -> HashMap<u32, f32> {
        let (tokens, weights, _) = v.song(i);
        let mut m: HashMap<u32, f32> = tokens
            .iter()
            .copied()
            .zip(weights.iter().copied())
            .collect();
        let (ct, cw) = v.circle(i);
        for (t, w) in ct.iter().zip(cw) {
            m.insert(*t, w * v.inv_norm[i]);
        }
        m
    }

    #[test]
    fn neighbours_found_through_the_index_are_the_exact_best_by_cosine() {
        let songs = catalogue();
        let refs: Vec<&Song> = songs.iter().collect();
        let params = TrainParams::default();
        let v = features::build(&refs, &params);
        let artists: Vec<u64> = songs.iter().map(|s| s.primary_artist.id).collect();
        let views: Vec<Option<u64>> = songs.iter().map(|s| s.pageviews).collect();
        let searcher = Searcher::new(&v, artists, &views, None, 1.0);
        let vectors: Vec<HashMap<u32, f32>> = (0..v.n).map(|i| dense(&v, i)).collect();
        let mut scratch = Scratch::new(v.n);
        for (k, q) in [3, 8, 15, 30]
            .into_iter()
            .flat_map(|k| (0..v.n).map(move |q| (k, q)))
        {
            let hits = searcher.search(&Query::of_song(&v, q), k, &mut scratch);
            assert_eq!(hits.len(), k);
            let cosine = |c: usize| -> Option<f32> {
                let shared: Vec<f32> = vectors[q]
                    .iter()
                    .filter_map(|(t, w)| vectors[c].get(t).map(|x| x * w))
                    .collect();
                (!shared.is_empty())
                    .then(|| shared.iter().sum::<f32>() + v.context[q].dot(&v.context[c]))
            };
            let mut brute: Vec<(u32, f32)> = (0..v.n)
                .filter(|&c| c != q)
                .filter_map(|c| cosine(c).map(|s| (c as u32, s)))
                .collect();
            brute.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            brute.truncate(k);
            for (hit, want) in hits.iter().zip(&brute) {
                assert!(
                    (hit.1 - want.1).abs() < 1e-5,
                    "query {q}: got {hits:?}, brute force {brute:?}"
                );
            }
        }
        assert!(v.roles.iter().all(|r| r & role::CIRCLE == 0));
    }

    #[test]
    fn on_the_approximate_path_every_score_is_still_the_exact_cosine() {
        let songs = catalogue();
        let refs: Vec<&Song> = songs.iter().collect();
        let v = features::build(&refs, &TrainParams::default());
        let artists: Vec<u64> = songs.iter().map(|s| s.primary_artist.id).collect();
        let views: Vec<Option<u64>> = songs.iter().map(|s| s.pageviews).collect();
        let vectors: Vec<HashMap<u32, f32>> = (0..v.n).map(|i| dense(&v, i)).collect();
        let mut scratch = Scratch::new(v.n);
        let mut checked = 0;
        // Caps that skip some credits, and some circle tokens while others are traversed.
        for cap in [4, 30] {
            let searcher = Searcher::new(&v, artists.clone(), &views, Some(cap), 1.0);
            assert!(searcher.traverse.iter().any(|t| !t));
            for q in 0..v.n {
                for hit in searcher.search(&Query::of_song(&v, q), 10, &mut scratch) {
                    if hit.2 == reason::FALLBACK {
                        continue;
                    }
                    let c = hit.0 as usize;
                    let cosine: f32 = vectors[q]
                        .iter()
                        .filter_map(|(t, w)| vectors[c].get(t).map(|x| x * w))
                        .sum::<f32>()
                        + v.context[q].dot(&v.context[c]);
                    assert!(
                        (hit.1 - cosine).abs() < 1e-5,
                        "cap {cap}, query {q}, song {c}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > v.n * 10, "only {checked} scores checked");
    }
}
