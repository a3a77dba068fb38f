//! The simulated persistence domain, for crash tests: the twin of the hardware (`hw/sim/`,
//! swapped in by `hw::Domain`), the names of the protocol's persistence calls
//! (`hw/mutation.rs`), and the crash-test harness that runs workloads on it
//! ([`CrashTest`], in `crash_test.rs`). [`Simulation::schedule`] and [`ScheduledThread`]
//! run the threads of a multi-threaded test one at a time, interleaved as a seed decides.
//!
//! A pool runs on the simulation when it is created or opened with
//! [`PoolOptions::simulation`].

mod crash_test;

pub use crate::hw::mutation::{PersistenceCall, with_call_skipped};
pub use crate::hw::sim::{CrashImage, CrashPoint, Lint, ScheduledThread, Simulation};
pub use crash_test::{
    CrashReport, CrashTest, ScratchFile, check_every_fence, check_every_fence_observing, seed,
    small_pool,
};

use crate::pool::PoolOptions;

impl PoolOptions {
    /// Runs the pool on a simulated persistence domain: flushes and fences are reported to
    /// `simulation`, which decides what a crash would keep (see [`Simulation`]). For crash
    /// tests.
    #[must_use]
    pub fn simulation(mut self, simulation: &Simulation) -> Self {
        self.domain.simulation = Some(simulation.clone());
        self
    }

    /// Opens pools copy-on-write: every change, recovery's included, stays in this process,
    /// and the file is never written (the pool cannot grow). For checking crash images: the
    /// file still holds the image when the pool is closed, so the next image can be written
    /// over it as a few changed words instead of a whole file.
    #[must_use]
    pub fn copy_on_write(mut self) -> Self {
        self.domain.copy_on_write = true;
        self
    }
}
