//! Everything that touches the hardware's persistence machinery: cache-line write-back and
//! store fences ([`flush`]) and the mapping of pool files into the address space
//! ([`mapping`]).
//!
//! The rest of the runtime reaches persistence only through this module, so a simulated
//! persistence domain (for crash injection) can replace it without touching the pool,
//! log or heap code.

pub(crate) mod flush;
pub(crate) mod mapping;
pub(crate) mod mode;
pub(crate) mod mutation;
#[cfg(feature = "simulation")]
pub(crate) mod sim;

use flush::{FlushMode, FlushModeError, Flusher};
use mapping::Mapping;

/// Which persistence domain a pool runs on: the hardware, or, for crash tests, the
/// simulated twin in `hw/sim/`. This is the one place where the twin is swapped in; the rest
/// of the runtime sees a [`Flusher`] either way.
#[derive(Clone, Debug, Default)]
pub(crate) struct Domain {
    #[cfg(feature = "simulation")]
    pub(crate) simulation: Option<sim::Simulation>,
    /// Whether pool files are mapped copy-on-write, so that nothing reaches them.
    #[cfg(feature = "simulation")]
    pub(crate) copy_on_write: bool,
}

impl Domain {
    /// Whether pool files are mapped copy-on-write (only ever for crash images).
    pub(crate) fn is_copy_on_write(&self) -> bool {
        #[cfg(feature = "simulation")]
        {
            self.copy_on_write
        }
        #[cfg(not(feature = "simulation"))]
        {
            false
        }
    }

    /// The flusher of a pool mapped as `mapping`: the simulated domain's if one is attached,
    /// or else the hardware's, in `forced` mode or the one that suits the mapping.
    pub(crate) fn flusher(
        &self,
        forced: Option<FlushMode>,
        mapping: &Mapping,
    ) -> Result<Flusher, FlushModeError> {
        #[cfg(feature = "simulation")]
        if let Some(simulation) = &self.simulation {
            return Ok(Flusher::simulated(simulation.clone(), mapping));
        }
        Ok(Flusher::new(FlushMode::choose(forced, mapping.is_dax())?))
    }
}
