//! A simulated persistence domain, for crash tests (the `simulation` feature).
//!
//! `mod.rs` holds the domain ([`Simulation`]: flushes, fences, observations, lints),
//! `crash_point.rs` what a crash could leave ([`CrashPoint`], [`CrashImage`]), `lint.rs`
//! the faults it reports ([`Lint`]).
//!
//! A pool opened with a [`Simulation`] runs the real runtime code on a real mapping, but the
//! flush layer also tells the simulation what it does:
//!
//! - a *flush* of a cache line records the line's contents at that moment;
//! - a *fence* makes every line recorded since the previous fence durable.
//!
//! The simulation keeps the *durable image*: the bytes a crash is guaranteed to leave.
//! Anything else may also have reached persistent memory, because a dirty line can be
//! evicted at any moment, not only at the crash. The hardware persists aligned 8-byte words
//! atomically. So for each 8-byte word a crash may leave its durable value or **any value
//! the word has held since it was last made durable**. The simulation observes memory at
//! every fence, and when a rollback starts, and remembers per word the values it saw there
//! that were not yet durable (a value overwritten between two observations is not seen).
//! An aborted transaction shows why this matters: its changes may have been evicted
//! before the rollback restored memory, so the rollback must make the restored bytes
//! durable.
//!
//! With capture on, every fence first records a [`CrashPoint`]: the durable image and each
//! word's candidate values, just before the fence takes effect; with
//! [`Simulation::capture_stores`], so does every instrumented store, just before it
//! happens (observing memory first, which narrows the approximation above).
//! [`CrashPoint::images`] then enumerates crash images: every combination when there are
//! few, otherwise "nothing evicted", "the latest value of every word", and seeded random
//! choices. Each image is a complete pool file that the real `open` (with its recovery) can
//! be tested on. Crash points share a copy of the durable image and keep only the lines
//! made durable since it was taken, so a long workload on a large pool does not copy the
//! pool at every fence.
//!
//! The domain also checks the runtime's bookkeeping, and reports what it finds as
//! [`Lint`]s ([`Simulation::lints`]):
//!
//! - when a transaction ends, every cache line of the pool's data that changed since it
//!   began must have been logged ([`Lint::UnloggedStore`]); when one begins, no data line
//!   may have changed since the last one ended ([`Lint::StoreOutsideTransaction`]). Stores
//!   the runtime makes on purpose without a log entry (heap metadata, objects allocated by
//!   the running transaction) are announced to the domain, which exempts exactly those
//!   bytes, word by word;
//! - when a transaction has committed, every line must be durable but the ones the runtime
//!   says it deferred ([`Lint::DirtyAtCommit`]);
//! - inside a transaction, a flush of an unchanged clean data line or of a line already
//!   flushed with the same contents since the last fence ([`Lint::RedundantFlush`]), and a
//!   fence with nothing pending ([`Lint::EmptyFence`]), are performance bugs.
//!
//! The real flush instructions are skipped (the mode is `none`): the simulation, not the
//! hardware, decides what is durable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::hw::flush::{CACHE_LINE, Event};
use crate::hw::mapping::Mapping;

mod crash_point;
mod lint;

pub use crash_point::{CrashImage, CrashPoint};
pub use lint::Lint;

/// A simulated persistence domain that pools can be opened on
/// ([`PoolOptions::simulation`](crate::PoolOptions::simulation)). Clones share one domain.
///
/// A flush records a cache line's contents; a fence makes the recorded lines durable. The
/// domain keeps the *durable image*, what a crash is guaranteed to leave, and for each
/// 8-byte word the values it held at fences since it was last made durable, any of which a
/// crash may leave instead. With [`capture`](Simulation::capture) on, every fence records a
/// [`CrashPoint`] just before it takes effect, from which [`CrashPoint::images`] builds
/// complete pool files to open.
#[derive(Clone, Default)]
pub struct Simulation {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    base: usize,
    len: usize,
    durable: Vec<u8>,
    /// A copy of the durable image that crash points share; each point stores only the
    /// lines made durable since (`changed_since_base`).
    shared_base: Option<Arc<Vec<u8>>>,
    changed_since_base: BTreeSet<usize>,
    /// Per word offset, the values seen at fences since the word was last made durable.
    candidates: BTreeMap<usize, Vec<[u8; 8]>>,
    pending: Vec<(usize, [u8; CACHE_LINE])>,
    fences: u64,
    /// Fences, and stores while `capture_stores` is on: the moments a crash may happen at.
    moments: u64,
    capture: bool,
    capture_stores: bool,
    crash_points: Vec<CrashPoint>,
    /// The mapping's bytes when the last transaction (or recovery) ended.
    settled: Vec<u8>,
    /// The mapping's bytes when the running transaction began.
    transaction_start: Option<Vec<u8>>,
    /// Per line, whether it holds the pool's data (not the header or the log); built when
    /// a transaction begins, for the pool's current length.
    data_lines: Vec<bool>,
    /// Buffers of the mapping's length, reused for snapshots: a fresh one would cost a page
    /// fault per page.
    spare: Vec<Vec<u8>>,
    /// Lines reported as dirty at a commit, not reported again until they are durable.
    reported_dirty: BTreeSet<usize>,
    /// Byte ranges stored without a log entry on purpose since the last settle.
    unlogged: Vec<(usize, usize)>,
    lints: Vec<Lint>,
}

impl Simulation {
    /// A new domain, capturing nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts (or stops) recording a [`CrashPoint`] at every fence.
    pub fn capture(&self, on: bool) {
        self.state().capture = on;
    }

    /// Also records a [`CrashPoint`] before every instrumented store (every call of the
    /// store barrier inside a transaction), while capture is on. Such a point sees the
    /// values every earlier store left, which a crash between two stores may keep; at fences
    /// alone, a value overwritten before the next fence is never seen.
    pub fn capture_stores(&self, on: bool) {
        self.state().capture_stores = on;
    }

    /// How many fences the domain has seen.
    #[must_use]
    pub fn fences(&self) -> u64 {
        self.state().fences
    }

    /// How many moments a crash point may be recorded at have passed: fences, and
    /// instrumented stores while [`capture_stores`](Self::capture_stores) is on. Crash
    /// points are numbered by it ([`CrashPoint::moment`]).
    #[must_use]
    pub fn moments(&self) -> u64 {
        self.state().moments
    }

    /// The crash points recorded so far, in fence order; the domain keeps none.
    #[must_use]
    pub fn take_crash_points(&self) -> Vec<CrashPoint> {
        std::mem::take(&mut self.state().crash_points)
    }

    /// Attaches the domain to a newly mapped pool: everything now in the mapping is durable.
    pub(crate) fn attach(&self, mapping: &Mapping) {
        let mut state = self.state();
        state.base = mapping.address_of(0) as usize;
        state.len = mapping.mapped_len();
        state.spare.clear();
        state.data_lines.clear();
        state.durable = state.snapshot();
        state.settled = state.durable.clone();
        state.candidates.clear();
        state.pending.clear();
    }

    /// What the domain found wrong so far (see [`Lint`]), taken.
    #[must_use]
    pub fn lints(&self) -> Vec<Lint> {
        std::mem::take(&mut self.state().lints)
    }

    /// What the protocol tells the domain besides its write-backs and fences (see
    /// `flush.rs`'s `Event`).
    pub(crate) fn tell(&self, event: Event<'_>) {
        match event {
            Event::TransactionBegan { in_data } => self.transaction_began(in_data),
            Event::TransactionEnding { in_data, logged } => {
                self.transaction_ending(in_data, logged);
            }
            Event::BeforeStore => self.record_store(),
            Event::Committed { deferred } => self.transaction_committed(deferred),
            Event::Settled => self.settle(),
            Event::Unlogged { offset, len } => self.note_unlogged(offset, len),
            Event::Grew { len } => self.grew(len),
            Event::Observe => self.record_observation(),
            Event::Volatile { .. } | Event::Waiting => {}
        }
    }

    /// A transaction begins: reports data lines changed since the last one ended.
    fn transaction_began(&self, in_data: &dyn Fn(usize) -> bool) {
        let mut guard = self.state();
        let state = &mut *guard;
        let current = state.snapshot();
        for line in changed_lines(&state.settled, &current) {
            if in_data(line * CACHE_LINE) && !state.exempt(line, &state.settled, &current) {
                let offset = line * CACHE_LINE;
                state.lints.push(Lint::StoreOutsideTransaction { offset });
            }
        }
        state.unlogged.clear();
        // Which lines hold data depends only on the pool's length (its header and log never
        // move), so the map is rebuilt only when the pool was attached or has grown.
        let lines = state.len / CACHE_LINE;
        if state.data_lines.len() != lines {
            state.data_lines = (0..lines).map(|line| in_data(line * CACHE_LINE)).collect();
        }
        if let Some(stale) = state.transaction_start.replace(current) {
            state.spare.push(stale);
        }
    }

    /// A transaction is about to commit or roll back: reports data lines it changed without
    /// logging them.
    fn transaction_ending(&self, in_data: &dyn Fn(usize) -> bool, logged: &dyn Fn(usize) -> bool) {
        let mut guard = self.state();
        let state = &mut *guard;
        let Some(start) = state.transaction_start.take() else {
            return;
        };
        let current = state.snapshot();
        for line in changed_lines(&start, &current) {
            if in_data(line * CACHE_LINE) && !logged(line) && !state.exempt(line, &start, &current)
            {
                let offset = line * CACHE_LINE;
                state.lints.push(Lint::UnloggedStore { offset });
            }
        }
        state.spare.extend([start, current]);
    }

    /// A transaction has committed: reports every line that is not durable, except the
    /// `deferred` ones.
    fn transaction_committed(&self, deferred: &[usize]) {
        let mut guard = self.state();
        let state = &mut *guard;
        let current = state.snapshot();
        for line in changed_lines(&state.durable, &current) {
            if !deferred.contains(&line) && state.reported_dirty.insert(line) {
                let offset = line * CACHE_LINE;
                state.lints.push(Lint::DirtyAtCommit { offset });
            }
        }
        state.spare.push(current);
    }

    /// A transaction or recovery has ended: the mapping's bytes are the new reference.
    fn settle(&self) {
        let mut guard = self.state();
        let state = &mut *guard;
        let current = state.snapshot();
        let stale = std::mem::replace(&mut state.settled, current);
        state.spare.push(stale);
        state.unlogged.clear();
    }

    /// Bytes the runtime stored without logging on purpose (see [`Lint`]).
    fn note_unlogged(&self, offset: usize, len: usize) {
        self.state().unlogged.push((offset, offset + len));
    }

    /// The pool's mapping grew to `len` bytes, which read as zero and are durable as such.
    fn grew(&self, len: usize) {
        let mut guard = self.state();
        let state = &mut *guard;
        if len <= state.len {
            return;
        }
        state.len = len;
        state.durable.resize(len, 0);
        state.shared_base = None;
        state.settled.resize(len, 0);
        if let Some(start) = state.transaction_start.as_mut() {
            start.resize(len, 0);
        }
    }

    pub(crate) fn record_flush(&self, first_line: usize, last_line: usize) {
        let mut guard = self.state();
        let state = &mut *guard;
        for line in first_line..=last_line {
            let mut contents = [0u8; CACHE_LINE];
            let address = (state.base + line * CACHE_LINE) as *const u8;
            // SAFETY: the flush layer only flushes lines inside the mapping this domain is
            // attached to, which stays mapped while its pool (the only user) lives.
            unsafe { core::ptr::copy_nonoverlapping(address, contents.as_mut_ptr(), CACHE_LINE) };
            let latest_pending = state
                .pending
                .iter()
                .rev()
                .find(|(pending, _)| *pending == line)
                .map(|(_, pending)| pending);
            let range = line * CACHE_LINE..(line + 1) * CACHE_LINE;
            let redundant = match (latest_pending, &state.transaction_start) {
                (_, None) => false,
                (Some(pending), Some(_)) => *pending == contents,
                (None, Some(start)) => {
                    state.data_lines.get(line) == Some(&true)
                        && state.durable[range.clone()] == contents
                        && start.get(range) == Some(&contents[..])
                }
            };
            if redundant {
                let offset = line * CACHE_LINE;
                state.lints.push(Lint::RedundantFlush { offset });
            }
            state.pending.push((line, contents));
        }
    }

    /// Remembers the current value of every word that differs from the durable image: a
    /// value a crash may leave, since its line may be evicted at any time.
    fn record_observation(&self) {
        let mut guard = self.state();
        guard.observe();
    }

    /// An instrumented store is about to happen: a crash point, if stores are captured.
    fn record_store(&self) {
        let mut guard = self.state();
        let state = &mut *guard;
        if state.capture && state.capture_stores {
            state.moments += 1;
            state.observe();
            state.capture_point(true);
        }
    }

    pub(crate) fn record_fence(&self) {
        let mut guard = self.state();
        let state = &mut *guard;
        state.fences += 1;
        state.moments += 1;
        if state.pending.is_empty() && state.transaction_start.is_some() {
            let fence = state.fences;
            state.lints.push(Lint::EmptyFence { fence });
        }
        state.observe();
        if state.capture {
            state.capture_point(false);
        }
        for (line, contents) in std::mem::take(&mut state.pending) {
            state.reported_dirty.remove(&line);
            let range = line * CACHE_LINE..(line + 1) * CACHE_LINE;
            state.durable[range.clone()].copy_from_slice(&contents);
            state.changed_since_base.insert(line);
            let superseded: Vec<usize> = state
                .candidates
                .range(range)
                .map(|(&offset, _)| offset)
                .collect();
            for offset in superseded {
                state.candidates.remove(&offset);
            }
        }
    }
}

impl State {
    /// Records the crash point of the current moment: before a store or a fence.
    fn capture_point(&mut self, at_store: bool) {
        let candidates = self
            .candidates
            .iter()
            .map(|(&offset, seen)| (offset, seen.clone()))
            .collect();
        let lines = self.durable.len() / CACHE_LINE;
        let base = match &self.shared_base {
            Some(base)
                if base.len() == self.durable.len()
                    && self.changed_since_base.len() * 8 <= lines =>
            {
                Arc::clone(base)
            }
            _ => {
                self.changed_since_base.clear();
                let base = Arc::new(self.durable.clone());
                self.shared_base = Some(Arc::clone(&base));
                base
            }
        };
        let changes = self
            .changed_since_base
            .iter()
            .map(|&line| {
                let contents = self.durable[line * CACHE_LINE..(line + 1) * CACHE_LINE]
                    .try_into()
                    .expect("one line");
                (line, contents)
            })
            .collect();
        let point = CrashPoint {
            moment: self.moments,
            fence: self.fences + u64::from(at_store),
            at_store,
            base,
            changes,
            candidates,
        };
        self.crash_points.push(point);
    }

    /// Whether every byte of `line` that differs between `before` and `after` lies in a
    /// range announced with `note_unlogged`.
    fn exempt(&self, line: usize, before: &[u8], after: &[u8]) -> bool {
        let range = line * CACHE_LINE..(line + 1) * CACHE_LINE;
        differing_chunks(&before[range.clone()], &after[range.clone()], 1).all(|byte| {
            let offset = range.start + byte;
            self.unlogged
                .iter()
                .any(|&(start, end)| start <= offset && offset < end)
        })
    }

    fn observe(&mut self) {
        let current = self.snapshot();
        for (offset, word) in differing_words(&self.durable, &current) {
            let seen = self.candidates.entry(offset).or_default();
            if !seen.contains(&word) {
                seen.push(word);
            }
        }
        self.spare.push(current);
    }

    /// The mapping's bytes now, in a reused buffer (give it back through `spare`).
    fn snapshot(&mut self) -> Vec<u8> {
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.resize(self.len, 0);
        // SAFETY: `[base, base + len)` is the mapping the domain is attached to (see
        // `record_flush`). It is read through raw pointers only.
        unsafe {
            core::ptr::copy_nonoverlapping(self.base as *const u8, bytes.as_mut_ptr(), self.len);
        };
        bytes
    }
}

impl fmt::Debug for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Simulation")
            .field("fences", &state.fences)
            .field("capture", &state.capture)
            .field("crash_points", &state.crash_points.len())
            .finish_non_exhaustive()
    }
}

/// The indexes of the `size`-byte chunks in which `before` and `after` differ.
fn differing_chunks<'a>(
    before: &'a [u8],
    after: &'a [u8],
    size: usize,
) -> impl Iterator<Item = usize> + 'a {
    before
        .chunks_exact(size)
        .zip(after.chunks_exact(size))
        .enumerate()
        .filter(|(_, (old, new))| old != new)
        .map(|(index, _)| index)
}

fn changed_lines(before: &[u8], after: &[u8]) -> Vec<usize> {
    differing_chunks(before, after, CACHE_LINE).collect()
}

fn differing_words(durable: &[u8], current: &[u8]) -> Vec<(usize, [u8; 8])> {
    differing_chunks(durable, current, 8)
        .map(|index| {
            let offset = index * 8;
            let word = current[offset..offset + 8].try_into().expect("eight bytes");
            (offset, word)
        })
        .collect()
}

#[cfg(test)]
mod tests;
