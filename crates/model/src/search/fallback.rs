//! Where a list runs short of similar songs: songs of the same language and era, then of the
//! same language, then anyone, nearest in popularity first.

use std::collections::HashMap;

use crate::features::Vectors;

/// Songs grouped by (language, era), by language, and all together, each in browse order
/// (which is pageviews descending).
pub(super) struct Fallback {
    by_language_era: HashMap<(u32, u32), Vec<u32>>,
    by_language: HashMap<u32, Vec<u32>>,
    everyone: Vec<u32>,
    pageviews: Vec<u64>,
}

impl Fallback {
    pub(super) fn new(vectors: &Vectors, pageviews: &[Option<u64>]) -> Fallback {
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

    pub(super) fn groups_for<'a>(&'a self, q: usize, vectors: &Vectors) -> Vec<&'a [u32]> {
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
    pub(super) fn nearest_in_popularity<'a>(
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
