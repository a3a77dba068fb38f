//! A simulated persistence domain, for crash tests (the `simulation` feature).
//!
//! `mod.rs` holds the domain ([`Simulation`]: flushes, fences, observations, crash points),
//! `epoch.rs` its view of transactions and the lints checked at their boundaries,
//! `schedule.rs` the seeded scheduler of the threads that share it ([`ScheduledThread`]),
//! `crash_point.rs` what a crash could leave ([`CrashPoint`], [`CrashImage`]), `lint.rs`
//! the faults it reports ([`Lint`]).
//!
//! A pool opened with a [`Simulation`] runs the real runtime code on a real mapping, but the
//! flush layer also tells the simulation what it does:
//!
//! - a *flush* of a cache line records the line's contents at that moment, for the calling
//!   thread;
//! - a *fence* makes every line the calling thread recorded since its previous fence
//!   durable. As SFENCE on x86, it orders only its own thread's write-backs: lines another
//!   thread flushed stay pending until that thread fences. A line is never made durable
//!   with contents older than a write-back of it that is durable already (another thread
//!   flushed it later, and fenced first).
//!
//! The simulation keeps the *durable image*: the bytes a crash is guaranteed to leave.
//! Anything else may also have reached persistent memory, because a dirty line can be
//! evicted at any moment, not only at the crash. The hardware persists aligned 8-byte words
//! atomically. So for each 8-byte word a crash may leave its durable value or **any value
//! the word has held since it was last made durable**. The simulation observes memory at
//! every fence (whichever thread's), and when a rollback starts, and remembers per word the
//! values it saw there that were not yet durable (a value overwritten between two
//! observations is not seen). An aborted transaction shows why this matters: its changes
//! may have been evicted before the rollback restored memory, so the rollback must make the
//! restored bytes durable.
//!
//! With capture on, every fence first records a [`CrashPoint`]: the durable image and each
//! word's candidate values, just before the fence takes effect; with
//! [`Simulation::capture_stores`], so does every instrumented store, just before it
//! happens (observing memory first, which narrows the approximation above). Crash points
//! are numbered across threads, and name the scheduled thread whose fence or store they
//! were. [`CrashPoint::images`] then enumerates crash images: every combination when there
//! are few, otherwise "nothing evicted", "the latest value of every word", and seeded
//! random choices. Each image is a complete pool file that the real `open` (with its
//! recovery) can be tested on. Crash points share a copy of the durable image and keep only
//! the lines made durable since it was taken, so a long workload on a large pool does not
//! copy the pool at every fence.
//!
//! The domain also checks the runtime's bookkeeping, and reports what it finds as
//! [`Lint`]s ([`Simulation::lints`]). Transactions of several threads may overlap; an
//! *epoch* runs from a transaction beginning while none is active until none is active
//! again (a thread's transaction is active from its `TransactionBegan` to its `Settled`;
//! the `Settled` of a recovery or a collection, on a thread with no transaction, takes
//! effect only when no epoch runs). With one transaction at a time, an epoch is one
//! transaction.
//!
//! - when an epoch begins, no data line may have changed since the last one ended
//!   ([`Lint::StoreOutsideTransaction`]); when a transaction ends, the lines changed since
//!   its epoch began that it logged count as logged for the epoch, and once no transaction
//!   of the epoch is running any more, every data line changed since the epoch began must
//!   have been logged by one of them ([`Lint::UnloggedStore`]). Stores the runtime makes on
//!   purpose without a log entry (heap metadata, objects allocated by a running
//!   transaction) are announced to the domain, which exempts exactly those bytes, word by
//!   word, for the rest of the epoch;
//! - when a transaction has committed and no other is active, every line must be durable
//!   but the ones the runtime says it deferred ([`Lint::DirtyAtCommit`]); another active
//!   transaction's lines may be dirty until it commits;
//! - inside a transaction's body, a flush of an unchanged clean data line or of a line the
//!   same thread already flushed with the same contents since its last fence
//!   ([`Lint::RedundantFlush`]), and a fence with nothing pending for its thread
//!   ([`Lint::EmptyFence`]), are performance bugs.
//!
//! *Volatile* bytes (a lock word: state that lives in the pool but means nothing after a
//! restart) are announced once and stay volatile until the domain is attached to another
//! mapping. They change without a log entry, inside and outside transactions: a line whose
//! only changes are volatile bytes is never reported as unlogged, stored outside a
//! transaction or dirty at commit. Writing such a line back is not reported as redundant
//! either (its durable image does differ). Their values are crash candidates as any
//! other's: recovery must not trust them.
//!
//! Several threads can be made to interleave reproducibly: [`Simulation::schedule`] and
//! [`Simulation::join`] run registered threads one at a time, handing the baton on at
//! every domain event to a thread drawn with a seed (see `schedule.rs` for what a test must
//! do).
//!
//! The real flush instructions are skipped (the mode is `none`): the simulation, not the
//! hardware, decides what is durable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

use crate::hw::flush::{CACHE_LINE, Event};
use crate::hw::mapping::Mapping;

mod crash_point;
mod epoch;
mod lint;
mod schedule;

pub use crash_point::{CrashImage, CrashPoint};
use epoch::{Epoch, Phase};
pub use lint::Lint;
pub use schedule::ScheduledThread;
use schedule::Scheduler;

/// A simulated persistence domain that pools can be opened on
/// ([`PoolOptions::simulation`](crate::PoolOptions::simulation)). Clones share one domain.
///
/// A flush records a cache line's contents for the calling thread; a fence makes the lines
/// its thread recorded durable. The domain keeps the *durable image*, what a crash is
/// guaranteed to leave, and for each 8-byte word the values it held at fences since it was
/// last made durable, any of which a crash may leave instead. With
/// [`capture`](Simulation::capture) on, every fence records a [`CrashPoint`] just before it
/// takes effect, from which [`CrashPoint::images`] builds complete pool files to open.
/// [`schedule`](Simulation::schedule) makes threads that share the domain interleave as a
/// seed decides.
#[derive(Clone, Default)]
pub struct Simulation {
    state: Arc<Mutex<State>>,
    scheduler: Arc<Scheduler>,
}

/// A line's contents recorded by a flush, and the flush's number (flushes are numbered in
/// the order they were recorded, across threads).
struct Flushed {
    line: usize,
    number: u64,
    contents: [u8; CACHE_LINE],
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
    /// Per thread, the write-backs it started since its last fence, oldest first.
    pending: HashMap<ThreadId, Vec<Flushed>>,
    /// How many flushes of a line have been recorded: the next one's number.
    flushes: u64,
    /// Per line made durable by a fence since the domain was attached, the number of the
    /// flush whose contents it holds.
    durable_flush: BTreeMap<usize, u64>,
    fences: u64,
    /// Fences, and stores while `capture_stores` is on: the moments a crash may happen at.
    moments: u64,
    capture: bool,
    capture_stores: bool,
    crash_points: Vec<CrashPoint>,
    /// The mapping's bytes when the last epoch (or recovery) ended.
    settled: Vec<u8>,
    /// The threads with an active transaction, and where it is.
    transactions: HashMap<ThreadId, Phase>,
    /// The running epoch, while a transaction is active.
    epoch: Option<Epoch>,
    /// Per line, whether it holds the pool's data (not the header or the log); built when
    /// a transaction begins, for the pool's current length.
    data_lines: Vec<bool>,
    /// Buffers of the mapping's length, reused for snapshots: a fresh one would cost a page
    /// fault per page.
    spare: Vec<Vec<u8>>,
    /// Lines reported as dirty at a commit, not reported again until they are durable.
    reported_dirty: BTreeSet<usize>,
    /// Byte ranges stored without a log entry on purpose since the last settle, or since
    /// the running epoch began.
    unlogged: Vec<(usize, usize)>,
    /// The offsets of the bytes announced as volatile since the domain was attached.
    volatile: BTreeSet<usize>,
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

    /// Attaches the domain to a newly mapped pool: everything now in the mapping is durable,
    /// no write-back is pending, no transaction is active and no byte is volatile.
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
        state.durable_flush.clear();
        state.transactions.clear();
        state.epoch = None;
        state.volatile.clear();
    }

    /// What the domain found wrong so far (see [`Lint`]), taken.
    #[must_use]
    pub fn lints(&self) -> Vec<Lint> {
        std::mem::take(&mut self.state().lints)
    }

    /// What the protocol tells the domain besides its write-backs and fences (see
    /// `flush.rs`'s `Event`). A scheduled thread first hands the baton on.
    pub(crate) fn tell(&self, event: Event<'_>) {
        let thread = self.scheduler.pass(matches!(event, Event::Waiting));
        match event {
            Event::TransactionBegan { in_data } => self.transaction_began(in_data),
            Event::TransactionEnding { in_data, logged } => {
                self.transaction_ending(in_data, logged);
            }
            Event::BeforeStore => self.record_store(thread),
            Event::Committed { deferred } => self.transaction_committed(deferred),
            Event::Settled => self.settle(),
            Event::Unlogged { offset, len } => self.note_unlogged(offset, len),
            Event::Volatile { offset, len } => self.note_volatile(offset, len),
            Event::Grew { len } => self.grew(len),
            Event::Observe => self.record_observation(),
            // The hand-over above is all a wait needs.
            Event::Waiting => {}
        }
    }

    /// The calling thread starts writing back lines `first_line..=last_line`: records their
    /// contents now, for its next fence.
    pub(crate) fn record_flush(&self, first_line: usize, last_line: usize) {
        self.scheduler.pass(false);
        let thread = thread::current().id();
        let mut guard = self.state();
        let state = &mut *guard;
        let start = match &state.epoch {
            Some(epoch) if state.is_running(thread) => Some(&epoch.start),
            _ => None,
        };
        let pending = state.pending.entry(thread).or_default();
        for line in first_line..=last_line {
            let mut contents = [0u8; CACHE_LINE];
            let address = (state.base + line * CACHE_LINE) as *const u8;
            // SAFETY: the flush layer only flushes lines inside the mapping this domain is
            // attached to, which stays mapped while its pool (the only user) lives.
            unsafe { core::ptr::copy_nonoverlapping(address, contents.as_mut_ptr(), CACHE_LINE) };
            let latest_pending = pending
                .iter()
                .rev()
                .find(|flushed| flushed.line == line)
                .map(|flushed| &flushed.contents);
            let range = line * CACHE_LINE..(line + 1) * CACHE_LINE;
            let redundant = match (latest_pending, start) {
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
            pending.push(Flushed {
                line,
                number: state.flushes,
                contents,
            });
            state.flushes += 1;
        }
    }

    /// Remembers the current value of every word that differs from the durable image: a
    /// value a crash may leave, since its line may be evicted at any time.
    fn record_observation(&self) {
        let mut guard = self.state();
        guard.observe();
    }

    /// An instrumented store is about to happen, on scheduled thread `thread` if any: a
    /// crash point, if stores are captured.
    fn record_store(&self, thread: Option<usize>) {
        let mut guard = self.state();
        let state = &mut *guard;
        if state.capture && state.capture_stores {
            state.moments += 1;
            state.observe();
            state.capture_point(true, thread);
        }
    }

    /// The calling thread fences: the lines it recorded since its last fence become
    /// durable, after a crash point just before.
    pub(crate) fn record_fence(&self) {
        let scheduled = self.scheduler.pass(false);
        let thread = thread::current().id();
        let mut guard = self.state();
        let state = &mut *guard;
        state.fences += 1;
        state.moments += 1;
        let pending = state.pending.remove(&thread).unwrap_or_default();
        if pending.is_empty() && state.is_running(thread) {
            let fence = state.fences;
            state.lints.push(Lint::EmptyFence { fence });
        }
        state.observe();
        if state.capture {
            state.capture_point(false, scheduled);
        }
        for Flushed {
            line,
            number,
            contents,
        } in pending
        {
            if state
                .durable_flush
                .get(&line)
                .is_some_and(|&durable| durable > number)
            {
                // Another thread wrote the line back later, and that is durable already.
                continue;
            }
            state.durable_flush.insert(line, number);
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
    /// Records the crash point of the current moment, on scheduled thread `thread` if any:
    /// before a store or a fence.
    fn capture_point(&mut self, at_store: bool, thread: Option<usize>) {
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
            thread,
            base,
            changes,
            candidates,
        };
        self.crash_points.push(point);
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
