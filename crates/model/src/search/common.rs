//! Each circle's common tokens: the artist-profile entries too common to traverse, which still
//! count in every circle score. A group's overlap with a circle through them is summed over
//! the circle's own list, so the lists are laid out for that: one entry holds a token's slot
//! and weight together, and slots number the few distinct common tokens (about 1,600 at
//! 1,000,000 songs) densely, so the group's weights by slot stay in the nearest cache.

use std::collections::HashMap;

use crate::column::prefetch;
use crate::features::Vectors;

/// A common token in a circle's list: its slot and the circle's weight for it.
#[derive(Clone, Copy)]
struct Entry {
    slot: u32,
    weight: f32,
}

/// Every circle's common tokens (CSR), and the slot of each common token.
pub(super) struct CommonTokens {
    offsets: Vec<u32>,
    entries: Vec<Entry>,
    slots: HashMap<u32, u32>,
}

impl CommonTokens {
    /// The circles' tokens that `traverse` leaves out.
    pub fn new(vectors: &Vectors, traverse: &[bool]) -> CommonTokens {
        CommonTokens::of_circles(
            &vectors.circle_offsets,
            &vectors.circle_tokens,
            &vectors.circle_weights,
            traverse,
        )
    }

    /// The same from the circles' lists (CSR).
    fn of_circles(
        circle_offsets: &[usize],
        circle_tokens: &[u32],
        circle_weights: &[f32],
        traverse: &[bool],
    ) -> CommonTokens {
        let circles = circle_offsets.len().saturating_sub(1);
        let mut offsets = Vec::with_capacity(circles + 1);
        offsets.push(0);
        let mut entries = Vec::new();
        let mut slots: HashMap<u32, u32> = HashMap::new();
        for c in 0..circles {
            let r = circle_offsets[c]..circle_offsets[c + 1];
            for (&t, &weight) in circle_tokens[r.clone()].iter().zip(&circle_weights[r]) {
                if !traverse.get(t as usize).copied().unwrap_or(true) {
                    let next = slots.len() as u32;
                    let slot = *slots.entry(t).or_insert(next);
                    entries.push(Entry { slot, weight });
                }
            }
            offsets.push(u32::try_from(entries.len()).unwrap_or(u32::MAX));
        }
        CommonTokens {
            offsets,
            entries,
            slots,
        }
    }

    /// How many slots a group's weights need.
    #[cfg(test)]
    fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Token `t`'s slot, when some circle holds it as a common token.
    pub fn slot(&self, t: u32) -> Option<u32> {
        self.slots.get(&t).copied()
    }

    fn range(&self, c: u32) -> std::ops::Range<usize> {
        let at = |i: usize| self.offsets.get(i).copied().unwrap_or(0) as usize;
        at(c as usize)..at(c as usize + 1).max(at(c as usize))
    }

    /// How many distinct common tokens there are: slots are `0..slot_count()`.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// How many common tokens circle `c` holds.
    pub fn len(&self, c: u32) -> usize {
        self.range(c).len()
    }

    /// Starts fetching circle `c`'s bounds.
    pub fn prefetch_bounds(&self, c: u32) {
        prefetch(&self.offsets, c as usize);
    }

    /// Starts fetching circle `c`'s list.
    pub fn prefetch_list(&self, c: u32) {
        if let Some(&start) = self.offsets.get(c as usize) {
            prefetch(&self.entries, start as usize);
        }
    }

    /// Circle `c`'s common tokens dotted with the group's weights, given by slot.
    pub fn dot(&self, c: u32, by_slot: &[f32]) -> f32 {
        self.entries[self.range(c)]
            .iter()
            .map(|e| by_slot.get(e.slot as usize).map_or(0.0, |&q| q * e.weight))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_number_the_distinct_common_tokens_densely() {
        // Circle 0 holds tokens 5 (common) and 7; circle 1 holds 9 and 5 (both common).
        let mut traverse = vec![true; 10];
        traverse[5] = false;
        traverse[9] = false;
        let common =
            CommonTokens::of_circles(&[0, 2, 4], &[5, 7, 5, 9], &[0.5, 0.25, 2.0, 4.0], &traverse);
        assert_eq!(common.slots(), 2);
        assert_eq!((common.len(0), common.len(1), common.len(2)), (1, 2, 0));
        let mut by_slot = vec![0.0; common.slots()];
        by_slot[common.slot(5).unwrap() as usize] = 3.0;
        by_slot[common.slot(9).unwrap() as usize] = 10.0;
        assert_eq!(common.slot(7), None);
        assert_eq!(common.dot(0, &by_slot), 1.5);
        assert_eq!(common.dot(1, &by_slot), 46.0);
        assert_eq!(common.dot(7, &by_slot), 0.0);
    }
}
