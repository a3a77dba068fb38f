//! Everything that touches the hardware's persistence machinery: cache-line write-back and
//! store fences ([`flush`]) and the mapping of pool files into the address space
//! ([`mapping`]).
//!
//! The rest of the runtime reaches persistence only through this module, so a simulated
//! persistence domain (for crash injection) can replace it without touching the pool,
//! log or heap code.

#[cfg(feature = "simulation")]
pub(crate) mod crash_test;
pub(crate) mod flush;
pub(crate) mod mapping;
pub(crate) mod mutation;
#[cfg(feature = "simulation")]
pub(crate) mod sim;
