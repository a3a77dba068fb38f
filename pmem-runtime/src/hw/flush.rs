//! The flush layer: how a store becomes durable.
//!
//! On x86 a store into persistent memory first lands in the CPU cache. It is durable once
//! its 64-byte cache line has been written back (CLWB, CLFLUSHOPT or CLFLUSH) and a store
//! fence (SFENCE) has ordered that write-back before later stores. Before that, the line
//! may also be evicted, and so persisted, at any moment. Only aligned 8-byte stores are
//! failure-atomic. The protocols built on this layer rely on exactly two operations:
//!
//! - [`Flusher::flush`]: start writing back every line of a byte range;
//! - [`Flusher::fence`]: wait until every write-back started by this thread is durable,
//!   and order it before this thread's later stores.
//!
//! What those two do depends on the [`FlushMode`]:
//!
//! | mode | flush | fence | when it is chosen |
//! |---|---|---|---|
//! | `Eadr` | nothing: the caches are in the persistence domain | SFENCE | DAX mapping and the platform reports a CPU-cache persistence domain |
//! | `Clwb` | CLWB per line (keeps the line cached) | SFENCE | DAX mapping, CPU has CLWB |
//! | `Clflushopt` | CLFLUSHOPT per line (evicts it) | SFENCE | DAX mapping, CPU has CLFLUSHOPT but not CLWB |
//! | `Clflush` | CLFLUSH per line (evicts and serialises) | SFENCE | DAX mapping, older CPUs |
//! | `Msync` | `msync(MS_SYNC)` of the range's pages | nothing more | the file is not on a DAX file system |
//! | `None` | nothing | nothing | never by default: for tests and benchmarks that do not need durability |
//!
//! The environment variable `PMEM_FLUSH` (`eadr`, `clwb`, `clflushopt`, `clflush`, `msync`,
//! `none`) forces a mode for every pool opened afterwards, and `PoolOptions::flush_mode` for
//! one pool. A forced cache-line mode on a file that is not on DAX is accepted (benchmarks on
//! `/dev/shm` compare instruction costs that way, like PMDK's `PMEM_IS_PMEM_FORCE=1`), but it
//! is then not durable against power loss: the page cache is not persistent.
//!
//! Every call is counted in per-thread [`Stats`](crate::Stats) counters (a thread-local add:
//! cheap enough to stay on in release builds). The counters count what the protocol asked
//! for (lines to write back, fences) whatever the mode, so "fences per transaction" is the
//! same figure on every machine; `msyncs` counts the system calls actually made.

use crate::hw::mapping::Mapping;
pub use crate::hw::mode::{FlushMode, FlushModeError};
use crate::hw::mutation::{PersistenceCall, performs};
use crate::stats;

/// The size of a cache line, the unit of write-back.
pub const CACHE_LINE: usize = 64;

/// What the protocol tells a simulated persistence domain beyond its write-backs and fences
/// (`hw/sim/` uses each for a crash point or a lint); the hardware needs none of it.
// Without the simulated domain, nothing reads the events' fields.
#[cfg_attr(not(feature = "simulation"), allow(dead_code))]
#[derive(Clone, Copy)]
pub(crate) enum Event<'a> {
    /// A transaction begins; `in_data` says which lines are the pool's data.
    TransactionBegan {
        /// Whether the line at a pool offset is data.
        in_data: &'a dyn Fn(usize) -> bool,
    },
    /// A transaction is about to commit or roll back, having logged the bytes `logged`
    /// names.
    TransactionEnding {
        /// Whether the line at a pool offset is data.
        in_data: &'a dyn Fn(usize) -> bool,
        /// The bytes of a line (by index) the transaction logged: bit `i` for the line's
        /// byte `i`.
        logged: &'a dyn Fn(usize) -> u64,
    },
    /// An instrumented store is about to happen (a crash point, if stores are captured).
    BeforeStore,
    /// A transaction has committed, leaving these lines unwritten on purpose (unreachable
    /// fresh objects and their heap metadata).
    Committed {
        /// The deferred lines, by index.
        deferred: &'a [usize],
    },
    /// A transaction, a recovery or a collection has ended.
    Settled,
    /// `[offset, offset + len)` was written on purpose without an undo-log entry: heap
    /// metadata, or an object allocated in the running transaction.
    Unlogged {
        /// Where.
        offset: usize,
        /// How many bytes.
        len: usize,
    },
    /// `[offset, offset + len)` holds volatile state that lives in the pool but means
    /// nothing after a restart (a `PMutex`'s lock word): it changes
    /// inside and outside transactions without a log entry, for as long as the pool is
    /// open.
    Volatile {
        /// Where.
        offset: usize,
        /// How many bytes.
        len: usize,
    },
    /// The thread waits for another thread (a lock held by another transaction, or a free
    /// log lane): a scheduler that runs one thread at a time lets another one run.
    Waiting,
    /// The pool's mapping has grown to this many bytes.
    Grew {
        /// The new length.
        len: usize,
    },
    /// Memory as it is now, about to be overwritten before the next fence, may already
    /// have been evicted (a rollback's restores).
    Observe,
}

/// Makes stores to one mapped pool durable, in one [`FlushMode`].
#[derive(Clone)]
pub(crate) struct Flusher {
    mode: FlushMode,
    #[cfg(feature = "simulation")]
    simulation: Option<crate::hw::sim::Simulation>,
}

impl Flusher {
    pub(crate) fn new(mode: FlushMode) -> Self {
        Self {
            mode,
            #[cfg(feature = "simulation")]
            simulation: None,
        }
    }

    /// A flusher that reports to `simulation` (attached to `mapping`) instead of flushing.
    #[cfg(feature = "simulation")]
    pub(crate) fn simulated(simulation: crate::hw::sim::Simulation, mapping: &Mapping) -> Self {
        simulation.attach(mapping);
        Self {
            mode: FlushMode::None,
            simulation: Some(simulation),
        }
    }

    /// Whether this flusher reports to a simulated domain (whose scheduler may run one
    /// thread at a time, so a waiting thread must not sleep).
    pub(crate) fn is_simulated(&self) -> bool {
        #[cfg(feature = "simulation")]
        return self.simulation.is_some();
        #[cfg(not(feature = "simulation"))]
        false
    }

    pub(crate) fn mode(&self) -> FlushMode {
        self.mode
    }

    /// Starts the write-back of every cache line that holds a byte of `mapping[offset ..
    /// offset + len]`; durable after the next [`fence`](Self::fence).
    ///
    /// # Panics
    ///
    /// If the range is not inside the mapped part of `mapping`: that is a bug in the caller.
    pub(crate) fn flush(&self, mapping: &Mapping, offset: usize, len: usize) {
        if len == 0 {
            return;
        }
        assert!(
            offset
                .checked_add(len)
                .is_some_and(|end| end <= mapping.mapped_len()),
            "flush of {len} bytes at offset {offset} outside the mapped pool"
        );
        let first_line = offset / CACHE_LINE;
        let last_line = (offset + len - 1) / CACHE_LINE;
        stats::count_lines_flushed((last_line - first_line + 1) as u64);
        #[cfg(feature = "simulation")]
        if let Some(simulation) = &self.simulation {
            simulation.record_flush(first_line, last_line);
        }
        match self.mode {
            FlushMode::Eadr | FlushMode::None => {}
            FlushMode::Msync => {
                stats::count_msync();
                mapping.msync(offset, len);
            }
            FlushMode::Clwb | FlushMode::Clflushopt | FlushMode::Clflush => {
                for line in first_line..=last_line {
                    let address = mapping.address_of(line * CACHE_LINE);
                    // SAFETY: `address` is inside the mapped part of `mapping` (asserted
                    // above), and `Flusher::new` is only reached with a mode that
                    // `FlushMode::choose` has checked the CPU supports.
                    unsafe { write_back_line(self.mode, address) };
                }
            }
        }
    }

    /// Tells the simulated domain, if the pool runs on one, what the protocol is doing (see
    /// [`Event`]); on hardware, nothing.
    #[inline]
    pub(crate) fn tell(&self, event: Event<'_>) {
        #[cfg(feature = "simulation")]
        if let Some(simulation) = &self.simulation {
            simulation.tell(event);
        }
        #[cfg(not(feature = "simulation"))]
        let _ = event;
    }

    /// [`flush`](Self::flush), unless a crash test skips `call`.
    pub(crate) fn flush_for(
        &self,
        call: PersistenceCall,
        mapping: &Mapping,
        offset: usize,
        len: usize,
    ) {
        if performs(call) {
            self.flush(mapping, offset, len);
        }
    }

    /// Flushes the cache lines `lines` (by index; sorted and deduplicated first) in runs of
    /// adjacent lines, as [`flush_for`](Self::flush_for) `call`.
    pub(crate) fn flush_lines_for(
        &self,
        call: PersistenceCall,
        mapping: &Mapping,
        lines: &mut Vec<usize>,
    ) {
        lines.sort_unstable();
        lines.dedup();
        for run in lines.chunk_by(|a, b| a + 1 == *b) {
            self.flush_for(call, mapping, run[0] * CACHE_LINE, run.len() * CACHE_LINE);
        }
    }

    /// [`fence`](Self::fence), unless a crash test skips `call`.
    pub(crate) fn fence_for(&self, call: PersistenceCall) {
        if performs(call) {
            self.fence();
        }
    }

    /// Waits until every write-back this thread started is durable, and orders it before
    /// the thread's later stores.
    pub(crate) fn fence(&self) {
        stats::count_fence();
        #[cfg(feature = "simulation")]
        if let Some(simulation) = &self.simulation {
            simulation.record_fence();
        }
        match self.mode {
            FlushMode::Msync | FlushMode::None => {}
            FlushMode::Eadr | FlushMode::Clwb | FlushMode::Clflushopt | FlushMode::Clflush => {
                store_fence();
            }
        }
    }
}

/// Writes back the cache line holding `address`.
///
/// # Safety
///
/// `address` must point into mapped memory and the CPU must support `mode`'s instruction.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn write_back_line(mode: FlushMode, address: *const u8) {
    // The instructions write no memory the compiler knows about; the default `asm!` memory
    // clobber keeps earlier stores from being moved after them.
    match mode {
        // SAFETY: the caller guarantees the address is mapped and the CPU has CLWB.
        FlushMode::Clwb => unsafe {
            core::arch::asm!("clwb [{0}]", in(reg) address, options(nostack, preserves_flags));
        },
        // SAFETY: the caller guarantees the address is mapped and the CPU has CLFLUSHOPT.
        FlushMode::Clflushopt => unsafe {
            core::arch::asm!("clflushopt [{0}]", in(reg) address, options(nostack, preserves_flags));
        },
        // SAFETY: the caller guarantees the address is mapped and the CPU has CLFLUSH.
        FlushMode::Clflush => unsafe {
            core::arch::asm!("clflush [{0}]", in(reg) address, options(nostack, preserves_flags));
        },
        FlushMode::Eadr | FlushMode::Msync | FlushMode::None => {}
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn write_back_line(_mode: FlushMode, _address: *const u8) {
    unreachable!("cache-line flush modes are refused by FlushMode::choose off x86_64");
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn store_fence() {
    // Its `asm!` has the default memory clobber, so the compiler, too, keeps earlier stores
    // before the fence.
    x86::fence::sfence();
}

#[cfg(not(target_arch = "x86_64"))]
fn store_fence() {
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}
