//! The `pmem` runtime: pool files, their mapping, and the flush layer.
//!
//! Users depend on the facade crate `pmem`, which re-exports this crate's public API.
//! The modules that define what is on disk and what ordering guarantees hold open with
//! their design: `header` (the file format), `hw::flush` (durability) and `hw::mapping`
//! (address-space reservation, DAX detection).

mod error;
mod header;
mod hw;
mod log;
mod pool;
mod recovery;
mod stats;
mod txn;

pub use error::{Error, HeaderPart};
pub use hw::flush::{CACHE_LINE, FlushMode};
pub use pmem_alloc::{PPtr, Persistent, type_hash};
pub use pool::{Pool, PoolInfo, PoolOptions, PoolUuid, Txn};
pub use stats::Stats;

/// The simulated persistence domain, for crash tests.
#[cfg(feature = "simulation")]
pub mod simulation {
    pub use crate::hw::crash_test::{
        CrashReport, ScratchFile, check_every_fence, recover, seed, small_pool,
    };
    pub use crate::hw::mutation::{PersistenceCall, with_call_skipped};
    pub use crate::hw::sim::{CrashImage, CrashPoint, Simulation};
}
pub use txn::{PMut, in_transaction, log_range};
