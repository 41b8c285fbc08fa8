//! The per-thread state of a search: accumulators over every song and circle, reused from
//! one query to the next and left cleared after each.

use crate::features::{CONTEXT_SLOTS, Vectors};

use super::Hit;

/// Per-thread accumulators, reused across queries.
pub(crate) struct Scratch {
    pub(super) scores: Vec<f32>,
    pub(super) bits: Vec<u8>,
    pub(super) touched: Vec<u32>,
    /// Per circle, the group's overlap with it (circle tokens times circle weights).
    pub(super) circle_dots: Vec<f32>,
    pub(super) circle_touched: Vec<u32>,
    /// `circle_touched` by the best circle score any of their songs can have, best first.
    pub(super) circle_order: Vec<u32>,
    /// Per context slot, the largest weight among the songs of `circle_touched`: bounds their
    /// context part.
    pub(super) circle_context_max: [f32; CONTEXT_SLOTS],
    /// The group's circle tokens too common to traverse, by common-token slot (zero elsewhere);
    /// sized to the searcher's slot count on its first search.
    pub(super) circle_skipped: Vec<f32>,
    /// Per circle the traversed tokens did not reach, what the common ones add (NaN until
    /// computed for the group), and which circles are set.
    pub(super) common_dots: Vec<f32>,
    pub(super) common_set: Vec<u32>,
    /// A query's candidates, and the bits of the best scores among them.
    pub(super) hits: Vec<Hit>,
    pub(super) top: Vec<u32>,
    /// The version groups a list already holds.
    pub(super) groups: GroupSet,
}

/// A set of version groups (song indices), emptied in constant time: each member is marked
/// with the current round.
pub(super) struct GroupSet {
    marks: Vec<u32>,
    round: u32,
}

impl GroupSet {
    fn new(n: usize) -> GroupSet {
        GroupSet {
            marks: vec![0; n],
            round: 0,
        }
    }

    pub(super) fn clear(&mut self) {
        self.round = self.round.wrapping_add(1);
        if self.round == 0 {
            self.marks.fill(0);
            self.round = 1;
        }
    }

    /// Adds `group`; false when it was already there.
    pub(super) fn insert(&mut self, group: u32) -> bool {
        let mark = &mut self.marks[group as usize];
        let added = *mark != self.round;
        *mark = self.round;
        added
    }
}

impl Scratch {
    pub fn new(vectors: &Vectors) -> Scratch {
        Scratch {
            scores: vec![0.0; vectors.n],
            bits: vec![0; vectors.n],
            touched: Vec::new(),
            circle_dots: vec![0.0; vectors.circles.len()],
            circle_touched: Vec::new(),
            circle_order: Vec::new(),
            circle_context_max: [0.0; CONTEXT_SLOTS],
            circle_skipped: Vec::new(),
            common_dots: vec![f32::NAN; vectors.circles.len()],
            common_set: Vec::new(),
            hits: Vec::new(),
            top: Vec::new(),
            groups: GroupSet::new(vectors.n),
        }
    }
}
