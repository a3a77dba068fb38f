//! The domain's view of transactions: which threads run one, the epochs they overlap in,
//! and the bookkeeping lints checked at their boundaries (see the module documentation of
//! `sim`).

use std::collections::{BTreeMap, BTreeSet};
use std::thread::{self, ThreadId};

use super::{Lint, Simulation, State, changed_lines, differing_chunks};
use crate::hw::flush::CACHE_LINE;

/// Where a thread's transaction is, between its `TransactionBegan` and its `Settled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Running its body: its flushes and fences are checked for redundancy.
    Running,
    /// Committing or rolling back, after its `TransactionEnding`.
    Ending,
}

/// The time from a transaction beginning while none was active until none is active again.
pub(super) struct Epoch {
    /// The mapping's bytes when the epoch began.
    pub(super) start: Vec<u8>,
    /// The bytes of lines changed since `start` that an ended transaction of the epoch
    /// logged: bit `i` for byte `i` of the line.
    logged: BTreeMap<usize, u64>,
    /// Lines already reported as unlogged in this epoch, which is checked each time no
    /// transaction of it is running any more.
    reported: BTreeSet<usize>,
}

impl Simulation {
    /// A transaction begins on this thread. The first one of an epoch reports data lines
    /// changed since the last epoch (or recovery) ended.
    pub(super) fn transaction_began(&self, in_data: &dyn Fn(usize) -> bool) {
        let mut guard = self.state();
        let state = &mut *guard;
        let thread = thread::current().id();
        // A thread runs one transaction at a time: if its last one never settled, this one
        // replaces it.
        state.transactions.remove(&thread);
        if state.transactions.is_empty() {
            let current = state.snapshot();
            for line in changed_lines(&state.settled, &current) {
                if in_data(line * CACHE_LINE) && !state.exempt(line, &state.settled, &current) {
                    let offset = line * CACHE_LINE;
                    state.lints.push(Lint::StoreOutsideTransaction { offset });
                }
            }
            state.unlogged.clear();
            let epoch = Epoch {
                start: current,
                logged: BTreeMap::new(),
                reported: BTreeSet::new(),
            };
            if let Some(stale) = state.epoch.replace(epoch) {
                state.spare.push(stale.start);
            }
        }
        // Which lines hold data depends only on the pool's length (its header and log never
        // move), so the map is rebuilt only when the pool was attached or has grown.
        let lines = state.len / CACHE_LINE;
        if state.data_lines.len() != lines {
            state.data_lines = (0..lines).map(|line| in_data(line * CACHE_LINE)).collect();
        }
        state.transactions.insert(thread, Phase::Running);
    }

    /// This thread's transaction is about to commit or roll back, having logged the bytes
    /// `logged` names. When no transaction of the epoch is running any more, reports the
    /// data lines changed since the epoch began with a changed byte that none of its
    /// transactions logged.
    pub(super) fn transaction_ending(
        &self,
        in_data: &dyn Fn(usize) -> bool,
        logged: &dyn Fn(usize) -> u64,
    ) {
        let mut guard = self.state();
        let state = &mut *guard;
        let thread = thread::current().id();
        if state.transactions.get(&thread) != Some(&Phase::Running) {
            return;
        }
        state.transactions.insert(thread, Phase::Ending);
        let mut epoch = state
            .epoch
            .take()
            .expect("a running transaction belongs to an epoch");
        let current = state.snapshot();
        let changed = changed_lines(&epoch.start, &current);
        for &line in &changed {
            let bytes = logged(line);
            if bytes != 0 {
                *epoch.logged.entry(line).or_insert(0) |= bytes;
            }
        }
        if !state
            .transactions
            .values()
            .any(|&phase| phase == Phase::Running)
        {
            for line in changed {
                let logged = epoch.logged.get(&line).copied().unwrap_or(0);
                if in_data(line * CACHE_LINE)
                    && !state.logged_or_exempt(line, logged, &epoch.start, &current)
                    && epoch.reported.insert(line)
                {
                    let offset = line * CACHE_LINE;
                    state.lints.push(Lint::UnloggedStore { offset });
                }
            }
        }
        state.epoch = Some(epoch);
        state.spare.push(current);
    }

    /// This thread's transaction has committed: if it is the only active one, reports every
    /// line that is not durable, except the `deferred` ones and changes to volatile bytes.
    /// Another active transaction's lines may be dirty until it commits, so with two the
    /// check is skipped.
    pub(super) fn transaction_committed(&self, deferred: &[usize]) {
        let mut guard = self.state();
        let state = &mut *guard;
        let thread = thread::current().id();
        if state.transactions.keys().any(|&active| active != thread) {
            return;
        }
        let current = state.snapshot();
        for line in changed_lines(&state.durable, &current) {
            if !deferred.contains(&line)
                && !state.only_volatile(line, &state.durable, &current)
                && state.reported_dirty.insert(line)
            {
                let offset = line * CACHE_LINE;
                state.lints.push(Lint::DirtyAtCommit { offset });
            }
        }
        state.spare.push(current);
    }

    /// A transaction, a recovery or a collection has ended on this thread. When no
    /// transaction is active any more (the epoch, if any, is over), the mapping's bytes are
    /// the new reference for stores outside transactions; while another thread's
    /// transaction is active, the end of its epoch will be.
    pub(super) fn settle(&self) {
        let mut guard = self.state();
        let state = &mut *guard;
        state.transactions.remove(&thread::current().id());
        if !state.transactions.is_empty() {
            return;
        }
        if let Some(epoch) = state.epoch.take() {
            state.spare.push(epoch.start);
        }
        let current = state.snapshot();
        let stale = std::mem::replace(&mut state.settled, current);
        state.spare.push(stale);
        state.unlogged.clear();
    }

    /// Bytes the runtime stored without logging on purpose (see [`Lint`]).
    pub(super) fn note_unlogged(&self, offset: usize, len: usize) {
        self.state().unlogged.push((offset, offset + len));
    }

    /// Bytes that hold volatile state for as long as the pool is attached.
    pub(super) fn note_volatile(&self, offset: usize, len: usize) {
        self.state().volatile.extend(offset..offset + len);
    }

    /// The pool's mapping grew to `len` bytes, which read as zero and are durable as such.
    pub(super) fn grew(&self, len: usize) {
        let mut guard = self.state();
        let state = &mut *guard;
        if len <= state.len {
            return;
        }
        state.len = len;
        state.durable.resize(len, 0);
        state.shared_base = None;
        state.settled.resize(len, 0);
        if let Some(epoch) = state.epoch.as_mut() {
            epoch.start.resize(len, 0);
        }
    }
}

impl State {
    /// Whether `thread` is running a transaction's body.
    pub(super) fn is_running(&self, thread: ThreadId) -> bool {
        self.transactions.get(&thread) == Some(&Phase::Running)
    }

    /// Whether every byte of `line` that differs between `before` and `after` lies in a
    /// range announced as unlogged since the epoch began (or the last settle), or is
    /// volatile.
    pub(super) fn exempt(&self, line: usize, before: &[u8], after: &[u8]) -> bool {
        self.logged_or_exempt(line, 0, before, after)
    }

    /// Whether every byte of `line` that differs between `before` and `after` is one of the
    /// `logged` bytes (bit `i` for the line's byte `i`) or [exempt](Self::exempt).
    fn logged_or_exempt(&self, line: usize, logged: u64, before: &[u8], after: &[u8]) -> bool {
        let line_start = line * CACHE_LINE;
        only_differs_where(line, before, after, |offset| {
            logged >> (offset - line_start) & 1 == 1
                || self.volatile.contains(&offset)
                || self
                    .unlogged
                    .iter()
                    .any(|&(start, end)| start <= offset && offset < end)
        })
    }

    /// Whether every byte of `line` that differs between `before` and `after` is volatile.
    fn only_volatile(&self, line: usize, before: &[u8], after: &[u8]) -> bool {
        only_differs_where(line, before, after, |offset| {
            self.volatile.contains(&offset)
        })
    }
}

/// Whether `exempt` accepts the pool offset of every byte of `line` that differs between
/// `before` and `after`.
fn only_differs_where(
    line: usize,
    before: &[u8],
    after: &[u8],
    exempt: impl Fn(usize) -> bool,
) -> bool {
    let range = line * CACHE_LINE..(line + 1) * CACHE_LINE;
    differing_chunks(&before[range.clone()], &after[range.clone()], 1)
        .all(|byte| exempt(range.start + byte))
}
