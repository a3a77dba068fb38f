//! The faults in the runtime's bookkeeping that the simulated domain reports.

use std::fmt;

/// A fault in the runtime's bookkeeping, found by the simulated domain.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lint {
    /// A byte of a data line changed inside a transaction without being logged: a crash
    /// could leave the change with nothing to roll it back.
    UnloggedStore {
        /// Offset in the pool of the line.
        offset: usize,
    },
    /// A data line changed between transactions.
    StoreOutsideTransaction {
        /// Offset in the pool of the line.
        offset: usize,
    },
    /// A line was not durable when a transaction returned committed (and was not one the
    /// runtime deferred on purpose: an unreachable fresh object): a crash right after the
    /// commit could lose it.
    DirtyAtCommit {
        /// Offset in the pool of the line.
        offset: usize,
    },
    /// A performance bug: a line was written back although it held its durable contents,
    /// or was written back twice with the same contents before a fence.
    RedundantFlush {
        /// Offset in the pool of the line.
        offset: usize,
    },
    /// A performance bug: a fence with no write-back pending.
    EmptyFence {
        /// Which fence (the first is 1).
        fence: u64,
    },
}

impl Lint {
    /// Whether the lint is a performance bug (a redundant flush or fence) rather than a
    /// fault that can lose or corrupt data.
    #[must_use]
    pub fn is_performance(&self) -> bool {
        matches!(self, Self::RedundantFlush { .. } | Self::EmptyFence { .. })
    }
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnloggedStore { offset } => write!(
                f,
                "bytes of the cache line at pool offset {offset:#x} changed inside a transaction without an undo-log entry"
            ),
            Self::StoreOutsideTransaction { offset } => write!(
                f,
                "the cache line at pool offset {offset:#x} changed outside any transaction"
            ),
            Self::DirtyAtCommit { offset } => write!(
                f,
                "the cache line at pool offset {offset:#x} was not durable when a transaction returned committed"
            ),
            Self::RedundantFlush { offset } => write!(
                f,
                "the cache line at pool offset {offset:#x} was written back with nothing new to write (performance)"
            ),
            Self::EmptyFence { fence } => write!(
                f,
                "fence {fence} had no write-back to wait for (performance)"
            ),
        }
    }
}
