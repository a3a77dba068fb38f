//! A simulated persistence domain, for crash tests (the `simulation` feature).
//!
//! A pool opened with a [`Simulation`] runs the real runtime code on a real mapping, but the
//! flush layer also tells the simulation what it does:
//!
//! - a *flush* of a cache line records the line's contents at that moment;
//! - a *fence* makes every line recorded since the previous fence durable.
//!
//! The simulation keeps the *durable image*: the bytes a crash is guaranteed to leave.
//! Any other change may also have reached persistent memory, because a dirty line can be
//! evicted at any moment. The hardware persists aligned 8-byte words atomically, so a crash
//! image is the durable image plus **any subset of the 8-byte words** that differ from it
//! in memory.
//!
//! With capture on, every fence first records a [`CrashPoint`]: the durable image and the
//! differing words as they are just before the fence takes effect. [`CrashPoint::images`]
//! then enumerates crash images: every subset when there are few differing words,
//! otherwise "none", "all", and seeded random subsets. Each image is a complete pool file
//! that the real `open` (with its recovery) can be tested on.
//!
//! The real flush instructions are skipped (the mode is `none`): the simulation, not the
//! hardware, decides what is durable.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::hw::flush::CACHE_LINE;
use crate::hw::mapping::Mapping;

/// A simulated persistence domain that pools can be opened on
/// ([`PoolOptions::simulation`](crate::PoolOptions::simulation)). Clones share one domain.
///
/// A flush records a cache line's contents; a fence makes the recorded lines durable. The
/// domain keeps the *durable image*, what a crash is guaranteed to leave; any 8-byte word
/// that differs from it in memory may or may not survive a crash. With
/// [`capture`](Simulation::capture) on, every fence records a [`CrashPoint`] just before it
/// takes effect, from which [`CrashPoint::images`] builds complete pool files to open.
#[derive(Clone, Default)]
pub struct Simulation {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    base: usize,
    len: usize,
    durable: Vec<u8>,
    pending: Vec<(usize, [u8; CACHE_LINE])>,
    fences: u64,
    capture: bool,
    crash_points: Vec<CrashPoint>,
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

    /// How many fences the domain has seen.
    #[must_use]
    pub fn fences(&self) -> u64 {
        self.state().fences
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
        state.durable = current_bytes(state.base, state.len);
        state.pending.clear();
    }

    pub(crate) fn record_flush(&self, first_line: usize, last_line: usize) {
        let mut state = self.state();
        for line in first_line..=last_line {
            let mut contents = [0u8; CACHE_LINE];
            let address = (state.base + line * CACHE_LINE) as *const u8;
            // SAFETY: the flush layer only flushes lines inside the mapping this domain is
            // attached to, which stays mapped while its pool (the only user) lives.
            unsafe { core::ptr::copy_nonoverlapping(address, contents.as_mut_ptr(), CACHE_LINE) };
            state.pending.push((line, contents));
        }
    }

    pub(crate) fn record_fence(&self) {
        let mut state = self.state();
        state.fences += 1;
        if state.capture {
            let current = current_bytes(state.base, state.len);
            let dirty_words = differing_words(&state.durable, &current);
            let point = CrashPoint {
                fence: state.fences,
                durable: state.durable.clone(),
                dirty_words,
            };
            state.crash_points.push(point);
        }
        let pending = std::mem::take(&mut state.pending);
        for (line, contents) in pending {
            state.durable[line * CACHE_LINE..(line + 1) * CACHE_LINE].copy_from_slice(&contents);
        }
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

fn current_bytes(base: usize, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    // SAFETY: `[base, base + len)` is the mapping the domain is attached to (see
    // `record_flush`). It is read through raw pointers only.
    unsafe { core::ptr::copy_nonoverlapping(base as *const u8, bytes.as_mut_ptr(), len) };
    bytes
}

fn differing_words(durable: &[u8], current: &[u8]) -> Vec<(usize, [u8; 8])> {
    durable
        .chunks_exact(8)
        .zip(current.chunks_exact(8))
        .enumerate()
        .filter(|(_, (old, new))| old != new)
        .map(|(index, (_, new))| (index * 8, new.try_into().expect("eight bytes")))
        .collect()
}

/// The state of the persistence domain just before one fence took effect.
#[derive(Clone)]
pub struct CrashPoint {
    /// Which fence (the first is 1).
    pub fence: u64,
    durable: Vec<u8>,
    dirty_words: Vec<(usize, [u8; 8])>,
}

/// One pool file a crash could leave, and which words of it were evicted.
#[derive(Clone)]
pub struct CrashImage {
    /// The fence the crash happened before, and the evicted words, for reproducing it.
    pub description: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

impl CrashPoint {
    /// How many 8-byte words differ between memory and the durable image.
    #[must_use]
    pub fn dirty_words(&self) -> usize {
        self.dirty_words.len()
    }

    /// The crash image in which exactly the dirty words with `evicted(index)` reached
    /// persistent memory.
    #[must_use]
    pub fn image(&self, evicted: impl Fn(usize) -> bool) -> CrashImage {
        let mut bytes = self.durable.clone();
        let mut persisted = Vec::new();
        for (index, &(offset, word)) in self.dirty_words.iter().enumerate() {
            if evicted(index) {
                bytes[offset..offset + 8].copy_from_slice(&word);
                persisted.push(format!("{offset:#x}"));
            }
        }
        let description = format!(
            "crash before fence {}, evicted words [{}]",
            self.fence,
            persisted.join(", ")
        );
        CrashImage { description, bytes }
    }

    /// Crash images for this point: every subset of the dirty words if there are at most
    /// `budget` subsets; otherwise none, all, and `budget - 2` subsets drawn with `seed`.
    #[must_use]
    pub fn images(&self, budget: usize, seed: u64) -> Vec<CrashImage> {
        let words = self.dirty_words.len();
        if words < usize::BITS as usize && 1usize << words <= budget {
            return (0..1usize << words)
                .map(|subset| self.image(|word| subset >> word & 1 == 1))
                .collect();
        }
        let mut images = vec![self.image(|_| false), self.image(|_| true)];
        let mut random = seed ^ self.fence.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for _ in 2..budget.max(2) {
            let chosen: Vec<bool> = (0..words)
                .map(|_| {
                    random ^= random << 13;
                    random ^= random >> 7;
                    random ^= random << 17;
                    random & 1 == 1
                })
                .collect();
            images.push(self.image(|word| chosen[word]));
        }
        images
    }
}
