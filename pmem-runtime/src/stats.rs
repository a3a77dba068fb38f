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
/// use pmem::Stats;
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
    /// Bytes copied into undo logs.
    pub logged_bytes: u64,
    /// Transactions committed (those that wrote nothing included).
    pub commits: u64,
    /// Transactions rolled back (by an `Err`, a panic, or an abort).
    pub rollbacks: u64,
    /// Extension blocks attached to a log, when a transaction outgrew what its slot's
    /// chain held (see `PoolOptions::log_size`).
    pub log_blocks: u64,
}

impl Stats {
    const ZERO: Self = Self {
        lines_flushed: 0,
        fences: 0,
        msyncs: 0,
        logged_bytes: 0,
        commits: 0,
        rollbacks: 0,
        log_blocks: 0,
    };

    /// The counters of the calling thread since it started.
    #[must_use]
    pub fn current_thread() -> Self {
        COUNTERS.with(Cell::get)
    }
}

impl Sub for Stats {
    type Output = Self;

    /// The work done between two snapshots, `self` the later one.
    fn sub(self, earlier: Self) -> Self {
        Self {
            lines_flushed: self.lines_flushed - earlier.lines_flushed,
            fences: self.fences - earlier.fences,
            msyncs: self.msyncs - earlier.msyncs,
            logged_bytes: self.logged_bytes - earlier.logged_bytes,
            commits: self.commits - earlier.commits,
            rollbacks: self.rollbacks - earlier.rollbacks,
            log_blocks: self.log_blocks - earlier.log_blocks,
        }
    }
}

thread_local! {
    static COUNTERS: Cell<Stats> = const { Cell::new(Stats::ZERO) };
}

fn add(update: impl FnOnce(&mut Stats)) {
    COUNTERS.with(|counters| {
        let mut stats = counters.get();
        update(&mut stats);
        counters.set(stats);
    });
}

pub(crate) fn count_lines_flushed(lines: u64) {
    add(|stats| stats.lines_flushed += lines);
}

pub(crate) fn count_fence() {
    add(|stats| stats.fences += 1);
}

pub(crate) fn count_msync() {
    add(|stats| stats.msyncs += 1);
}

pub(crate) fn count_logged(bytes: u64) {
    add(|stats| stats.logged_bytes += bytes);
}

pub(crate) fn count_commit() {
    add(|stats| stats.commits += 1);
}

pub(crate) fn count_rollback() {
    add(|stats| stats.rollbacks += 1);
}

pub(crate) fn count_log_block() {
    add(|stats| stats.log_blocks += 1);
}
