//! The last step of a query: its list, from the candidates in score order, under the rules
//! a list keeps (one song per version group, the artist's share, fallbacks when too few).

use super::scratch::GroupSet;
use super::{Hit, Searcher};
use crate::features::reason;

impl Searcher<'_> {
    /// The final list from hits in score order: one song per version group; the query's own
    /// artist never above its share of any prefix (such songs wait for the next place they are
    /// allowed); then songs of the same language and era (then language, then anyone), nearest
    /// in popularity; the artist's waiting songs come last, only when nothing else is left.
    pub(super) fn assemble(
        &self,
        q: usize,
        hits: &[Hit],
        k: usize,
        groups: &mut GroupSet,
    ) -> Vec<Hit> {
        let capped = self.same_artist_share < 1.0;
        let allowed = |len: usize| (self.same_artist_share * len as f64).ceil() as usize;
        let mut chosen: Vec<Hit> = Vec::with_capacity(k);
        groups.clear();
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
        for &hit in hits {
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
}
