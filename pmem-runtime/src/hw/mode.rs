//! Flush modes: which one a pool uses (`PMEM_FLUSH`, the pool's options, or detection),
//! and what this CPU and platform support. `flush.rs` says what each mode does.

use core::fmt;
use core::str::FromStr;

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
