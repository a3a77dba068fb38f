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

use core::fmt;
use core::str::FromStr;

use crate::hw::mapping::Mapping;
use crate::hw::mutation::{PersistenceCall, performs};
use crate::stats;

/// The size of a cache line, the unit of write-back.
pub const CACHE_LINE: usize = 64;

/// How stores are made durable. The guide (`docs/src/flush-modes.md`) explains when each
/// mode is chosen and what it costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlushMode {
    /// The CPU caches are persistent (extended ADR): fences only.
    Eadr,
    /// CLWB per cache line, then SFENCE.
    Clwb,
    /// CLFLUSHOPT per cache line, then SFENCE.
    Clflushopt,
    /// CLFLUSH per cache line, then SFENCE.
    Clflush,
    /// `msync(2)` of the touched pages: for files that are not on a DAX file system.
    Msync,
    /// No write-back and no fence: nothing is durable. For tests and benchmarks only.
    None,
}

impl FlushMode {
    /// The name used by `PMEM_FLUSH` and by [`Display`](fmt::Display).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Eadr => "eadr",
            Self::Clwb => "clwb",
            Self::Clflushopt => "clflushopt",
            Self::Clflush => "clflush",
            Self::Msync => "msync",
            Self::None => "none",
        }
    }

    /// Whether this machine can execute the mode's instructions.
    #[must_use]
    pub fn is_supported(self) -> bool {
        let cpu = CpuFeatures::detect();
        match self {
            Self::Clwb => cpu.clwb,
            Self::Clflushopt => cpu.clflushopt,
            Self::Clflush => cpu.clflush,
            Self::Eadr => cpu.sfence,
            Self::Msync | Self::None => true,
        }
    }

    /// The best cache-line mode this CPU offers, if it offers any.
    fn best_cache_line_mode() -> Option<Self> {
        let cpu = CpuFeatures::detect();
        [
            (cpu.clwb, Self::Clwb),
            (cpu.clflushopt, Self::Clflushopt),
            (cpu.clflush, Self::Clflush),
        ]
        .into_iter()
        .find_map(|(present, mode)| present.then_some(mode))
    }

    /// The mode `PMEM_FLUSH` asks for, if it is set.
    pub(crate) fn from_env() -> Result<Option<Self>, FlushModeError> {
        match std::env::var("PMEM_FLUSH") {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => value.parse().map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(value)) => Err(FlushModeError::Unknown {
                value: value.to_string_lossy().into_owned(),
            }),
        }
    }

    /// Chooses the mode for a pool: `forced` (from options or `PMEM_FLUSH`) if given and
    /// supported, otherwise the best mode for how the file is mapped.
    pub(crate) fn choose(forced: Option<Self>, dax: bool) -> Result<Self, FlushModeError> {
        if let Some(mode) = forced {
            return if mode.is_supported() {
                Ok(mode)
            } else {
                Err(FlushModeError::Unsupported { mode })
            };
        }
        if !dax {
            return Ok(Self::Msync);
        }
        if platform_has_eadr() && CpuFeatures::detect().sfence {
            return Ok(Self::Eadr);
        }
        Ok(Self::best_cache_line_mode().unwrap_or(Self::Msync))
    }
}

impl fmt::Display for FlushMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FlushMode {
    type Err = FlushModeError;

    fn from_str(value: &str) -> Result<Self, FlushModeError> {
        [
            Self::Eadr,
            Self::Clwb,
            Self::Clflushopt,
            Self::Clflush,
            Self::Msync,
            Self::None,
        ]
        .into_iter()
        .find(|mode| mode.name().eq_ignore_ascii_case(value.trim()))
        .ok_or_else(|| FlushModeError::Unknown {
            value: value.to_owned(),
        })
    }
}

/// Why a flush mode cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushModeError {
    /// The name (from `PMEM_FLUSH`, or parsed) is no flush mode's.
    Unknown {
        /// The name given.
        value: String,
    },
    /// The mode was forced, but this CPU cannot execute it.
    Unsupported {
        /// The mode asked for.
        mode: FlushMode,
    },
}

impl fmt::Display for FlushModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown { value } => write!(
                f,
                "unknown flush mode \"{value}\" (in PMEM_FLUSH?): expected one of eadr, clwb, clflushopt, clflush, msync, none"
            ),
            Self::Unsupported { mode } => write!(
                f,
                "flush mode {mode} was forced, but this CPU does not support it"
            ),
        }
    }
}

impl std::error::Error for FlushModeError {}

/// Whether any NVDIMM region reports that the CPU caches are inside its persistence domain
/// (eADR). Linux exposes this as `persistence_domain` = `cpu_cache` per region.
fn platform_has_eadr() -> bool {
    let Ok(regions) = std::fs::read_dir("/sys/bus/nd/devices") else {
        return false;
    };
    regions.flatten().any(|region| {
        std::fs::read_to_string(region.path().join("persistence_domain"))
            .is_ok_and(|domain| domain.trim() == "cpu_cache")
    })
}

#[derive(Clone, Copy)]
struct CpuFeatures {
    clwb: bool,
    clflushopt: bool,
    clflush: bool,
    sfence: bool,
}

impl CpuFeatures {
    /// The CPU's features, read once per process: CPUID is slow in a virtual machine, where
    /// each use traps to the hypervisor.
    fn detect() -> Self {
        static DETECTED: std::sync::OnceLock<CpuFeatures> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(Self::read)
    }

    #[cfg(target_arch = "x86_64")]
    fn read() -> Self {
        let cpuid = x86::cpuid::CpuId::new();
        // `None` means the CPU does not report the leaf (leaf 1, or leaf 7 for the two
        // newer instructions), and so none of its features.
        let leaf1 = cpuid.get_feature_info();
        let leaf7 = cpuid.get_extended_feature_info();
        Self {
            clwb: leaf7.as_ref().is_some_and(|leaf| leaf.has_clwb()),
            clflushopt: leaf7.as_ref().is_some_and(|leaf| leaf.has_clflushopt()),
            clflush: leaf1.is_some_and(|leaf| leaf.has_clflush()),
            // SSE is part of the x86_64 baseline, and SFENCE with it.
            sfence: true,
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn read() -> Self {
        Self {
            clwb: false,
            clflushopt: false,
            clflush: false,
            sfence: false,
        }
    }
}

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
    /// A transaction is about to commit or roll back, having logged the lines `logged`
    /// accepts.
    TransactionEnding {
        /// Whether the line at a pool offset is data.
        in_data: &'a dyn Fn(usize) -> bool,
        /// Whether a line (by index) was logged.
        logged: &'a dyn Fn(usize) -> bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for mode in [
            FlushMode::Eadr,
            FlushMode::Clwb,
            FlushMode::Clflushopt,
            FlushMode::Clflush,
            FlushMode::Msync,
            FlushMode::None,
        ] {
            assert_eq!(mode.name().parse::<FlushMode>().ok(), Some(mode));
            assert_eq!(mode.to_string(), mode.name());
        }
        assert_eq!(" CLWB ".parse::<FlushMode>().ok(), Some(FlushMode::Clwb));
    }

    #[test]
    fn unknown_names_are_refused_with_the_value() {
        match "clwbb".parse::<FlushMode>() {
            Err(FlushModeError::Unknown { value }) => assert_eq!(value, "clwbb"),
            other => panic!("expected UnknownFlushMode, got {other:?}"),
        }
    }

    #[test]
    fn a_file_off_dax_is_flushed_with_msync() {
        assert_eq!(FlushMode::choose(None, false).ok(), Some(FlushMode::Msync));
    }

    #[test]
    fn a_forced_mode_wins_over_detection() {
        assert_eq!(
            FlushMode::choose(Some(FlushMode::None), true).ok(),
            Some(FlushMode::None)
        );
        assert_eq!(
            FlushMode::choose(Some(FlushMode::Msync), true).ok(),
            Some(FlushMode::Msync)
        );
    }

    #[test]
    fn a_forced_mode_the_cpu_lacks_is_refused() {
        for mode in [FlushMode::Clwb, FlushMode::Clflushopt, FlushMode::Clflush] {
            let chosen = FlushMode::choose(Some(mode), false);
            if mode.is_supported() {
                assert_eq!(chosen.ok(), Some(mode));
            } else {
                assert!(matches!(chosen, Err(FlushModeError::Unsupported { .. })));
            }
        }
    }
}
