//! Per-thread counters of persistence operations.
//!
//! Fences and cache-line write-backs are the deterministic part of persistent-memory cost:
//! wall-clock times on a shared machine are noisy, counts are not. Each thread counts its
//! own operations in thread-local cells, so counting costs an add and never contends.

use core::cell::Cell;
use core::ops::Sub;

/// A snapshot of one thread's persistence counters.
///
/// Take one before and one after a piece of work; their difference is what the work cost:
///
/// ```
/// use pmem_runtime::Stats;
///
/// let before = Stats::current_thread();
/// // ... run a transaction ...
/// let cost = Stats::current_thread() - before;
/// assert_eq!(cost.fences, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Cache lines the protocol asked to write back, in every flush mode.
    pub lines_flushed: u64,
    /// Store fences the protocol issued, in every flush mode.
    pub fences: u64,
    /// `msync` system calls made (only in [`FlushMode::Msync`](crate::FlushMode::Msync)).
    pub msyncs: u64,
}

impl Stats {
    /// The counters of the calling thread since it started.
    #[must_use]
    pub fn current_thread() -> Self {
        COUNTERS.with(|counters| Self {
            lines_flushed: counters.lines_flushed.get(),
            fences: counters.fences.get(),
            msyncs: counters.msyncs.get(),
        })
    }
}

impl Sub for Stats {
    type Output = Self;

    fn sub(self, earlier: Self) -> Self {
        Self {
            lines_flushed: self.lines_flushed - earlier.lines_flushed,
            fences: self.fences - earlier.fences,
            msyncs: self.msyncs - earlier.msyncs,
        }
    }
}

struct Counters {
    lines_flushed: Cell<u64>,
    fences: Cell<u64>,
    msyncs: Cell<u64>,
}

thread_local! {
    static COUNTERS: Counters = const {
        Counters { lines_flushed: Cell::new(0), fences: Cell::new(0), msyncs: Cell::new(0) }
    };
}

fn add(counter: fn(&Counters) -> &Cell<u64>, amount: u64) {
    COUNTERS.with(|counters| {
        let cell = counter(counters);
        cell.set(cell.get() + amount);
    });
}

pub(crate) fn count_lines_flushed(lines: u64) {
    add(|counters| &counters.lines_flushed, lines);
}

pub(crate) fn count_fence() {
    add(|counters| &counters.fences, 1);
}

pub(crate) fn count_msync() {
    add(|counters| &counters.msyncs, 1);
}
