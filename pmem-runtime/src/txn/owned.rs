//! What a shared transaction holds: the lock words it took and the pool ranges it owns.
//!
//! Most transactions hold a lock or two, and a linear scan of a short list is the cheapest
//! lookup; a transaction that takes thousands (relinking a long list of locked nodes) would
//! make every lock and every store scan them all. So past [`SCAN_LIMIT`] entries each list
//! keeps an index beside it.

use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;
use std::collections::{BTreeMap, HashSet};

/// How many entries a list holds before it builds an index.
const SCAN_LIMIT: usize = 16;

/// The lock words a transaction holds, in the order it took them.
#[derive(Default)]
pub(super) struct HeldLocks {
    words: Vec<NonNull<AtomicU64>>,
    index: HashSet<NonNull<AtomicU64>>,
}

impl HeldLocks {
    pub(super) fn push(&mut self, word: NonNull<AtomicU64>) {
        self.words.push(word);
        if self.words.len() > SCAN_LIMIT {
            if self.index.is_empty() {
                self.index.extend(self.words.iter().copied());
            } else {
                self.index.insert(word);
            }
        }
    }

    pub(super) fn contains(&self, word: NonNull<AtomicU64>) -> bool {
        if self.words.len() > SCAN_LIMIT {
            self.index.contains(&word)
        } else {
            self.words.contains(&word)
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = NonNull<AtomicU64>> + '_ {
        self.words.iter().copied()
    }

    pub(super) fn clear(&mut self) {
        self.words.clear();
        if !self.index.is_empty() {
            self.index.clear();
        }
    }
}

/// The pool ranges `[start, end)` a shared transaction owns: the values of its locks.
#[derive(Default)]
pub(super) struct OwnedRanges {
    ranges: Vec<(usize, usize)>,
    /// By start, the ends of the ranges that start there (the longest is enough).
    index: BTreeMap<usize, usize>,
}

impl OwnedRanges {
    pub(super) fn push(&mut self, start: usize, end: usize) {
        self.ranges.push((start, end));
        if self.ranges.len() > SCAN_LIMIT {
            if self.index.is_empty() {
                for &(start, end) in &self.ranges {
                    Self::index_one(&mut self.index, start, end);
                }
            } else {
                Self::index_one(&mut self.index, start, end);
            }
        }
    }

    fn index_one(index: &mut BTreeMap<usize, usize>, start: usize, end: usize) {
        let longest = index.entry(start).or_insert(end);
        *longest = (*longest).max(end);
    }

    /// A range that covers `[start, end)`, if one does.
    pub(super) fn covering(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if self.ranges.len() <= SCAN_LIMIT {
            return self
                .ranges
                .iter()
                .copied()
                .find(|&(from, to)| from <= start && end <= to);
        }
        // Ranges may nest (a lock inside a locked value), so the nearest start below may
        // end too soon while an earlier one covers the store.
        self.index
            .range(..=start)
            .rev()
            .map(|(&from, &to)| (from, to))
            .find(|&(_, to)| end <= to)
    }

    pub(super) fn clear(&mut self) {
        self.ranges.clear();
        // A tree's `clear` drops it and makes a new one even when it is empty, which most
        // transactions, holding few ranges, would pay at every end.
        if !self.index.is_empty() {
            self.index.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_found_alike_before_and_after_the_index_including_nested_ones() {
        let mut owned = OwnedRanges::default();
        owned.push(1000, 2000);
        owned.push(1200, 1300);
        for round in 0..2 {
            let found = owned.covering(1210, 1220);
            assert!(
                found.is_some_and(|(from, to)| from <= 1210 && 1220 <= to),
                "round {round}: {found:?}"
            );
            assert_eq!(
                owned.covering(1250, 1400),
                Some((1000, 2000)),
                "the outer range, past the nested one's end (round {round})"
            );
            assert_eq!(owned.covering(1900, 2001), None, "round {round}");
            for index in 0..SCAN_LIMIT {
                owned.push(10_000 + 100 * index, 10_050 + 100 * index);
            }
        }
        assert_eq!(owned.covering(11_510, 11_550), Some((11_500, 11_550)));
        owned.clear();
        assert_eq!(owned.covering(1210, 1220), None);
    }

    #[test]
    fn locks_are_found_alike_before_and_after_the_index() {
        let words: Vec<AtomicU64> = (0..40).map(AtomicU64::new).collect();
        let mut held = HeldLocks::default();
        for (index, word) in words.iter().enumerate() {
            held.push(NonNull::from(word));
            assert!(held.contains(NonNull::from(&words[index / 2])));
            assert!(!held.contains(NonNull::from(&words[39])) || index == 39);
        }
        assert_eq!(held.iter().count(), 40);
        held.clear();
        assert!(!held.contains(NonNull::from(&words[0])));
    }
}
