//! Which versions a prune keeps: the newest few, the champion, and the version a rollback
//! returns to, whatever their age.

use std::collections::BTreeSet;

use serde::Serialize;

/// What [`crate::Registry::prune`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Versions removed, ascending: whole versions from a local registry, cached model files
    /// with MLflow (which keeps every version itself).
    pub removed: Vec<u64>,
    /// Versions kept, ascending.
    pub kept: Vec<u64>,
    pub champion: Option<u64>,
    /// The previous champion, which `songrec models rollback` returns to.
    pub rollback: Option<u64>,
}

/// Splits `versions` into (kept, removed): the `keep` newest, plus `champion` and `rollback`
/// when present.
pub(crate) fn split(
    versions: &[u64],
    keep: usize,
    champion: Option<u64>,
    rollback: Option<u64>,
) -> (Vec<u64>, Vec<u64>) {
    let all: BTreeSet<u64> = versions.iter().copied().collect();
    let mut kept: BTreeSet<u64> = all.iter().rev().take(keep).copied().collect();
    kept.extend(champion.into_iter().chain(rollback));
    let removed = all.difference(&kept).copied().collect();
    let kept = kept.intersection(&all).copied().collect();
    (kept, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_are_kept_with_the_champion_and_its_rollback_target() {
        let versions: Vec<u64> = (1..=10).collect();
        let (kept, removed) = split(&versions, 3, Some(2), Some(5));
        assert_eq!(kept, [2, 5, 8, 9, 10]);
        assert_eq!(removed, [1, 3, 4, 6, 7]);
    }

    #[test]
    fn keeping_more_than_there_are_removes_nothing_and_gaps_are_fine() {
        let (kept, removed) = split(&[3, 7, 9], 10, None, None);
        assert_eq!((kept, removed), (vec![3, 7, 9], vec![]));
        let (kept, removed) = split(&[9, 3, 7], 1, Some(9), Some(3));
        assert_eq!((kept, removed), (vec![3, 9], vec![7]));
    }

    #[test]
    fn a_champion_that_is_not_listed_is_not_invented() {
        let (kept, removed) = split(&[1, 2, 3], 1, Some(40), None);
        assert_eq!((kept, removed), (vec![3], vec![1, 2]));
    }
}
