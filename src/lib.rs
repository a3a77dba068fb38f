//! Persistent-memory programming for Rust.
//!
//! A *pool* is a file mapped into memory whose contents survive the process: a root object
//! of a [`Persistent`] type, and a garbage-collected heap reached from it through
//! [`PPtr`]s, updated by crash-consistent transactions.
//!
//! ```no_run
//! use pmem::{Persistent, Pool, PPtr};
//!
//! #[derive(Persistent)]
//! #[repr(C)]
//! struct Counter {
//!     hits: u64,
//!     home: PPtr<Counter>,
//! }
//!
//! let pool = Pool::create("/dev/shm/counter.pool", Counter { hits: 7, home: PPtr::null() })?;
//! pool.close();
//! let pool = Pool::<Counter>::open("/dev/shm/counter.pool")?;
//! assert_eq!(pool.root().hits, 7);
//! # Ok::<(), pmem::Error>(())
//! ```
//!
//! Changes happen in transactions, written as ordinary Rust in `#[txn]` functions: each
//! store into the pool is logged first, precisely (one cache line for one field), and an
//! `Err` rolls the whole transaction back.
//!
//! ```no_run
//! use pmem::{PMut, Persistent, Pool, txn};
//!
//! #[derive(Persistent)]
//! #[repr(C)]
//! struct Bank {
//!     balances: [u64; 1024],
//! }
//!
//! #[derive(Debug)]
//! struct Insufficient;
//!
//! #[txn]
//! fn transfer(mut bank: PMut<'_, Bank>, from: usize, to: usize, amount: u64) -> Result<(), Insufficient> {
//!     if bank.balances[from] < amount {
//!         return Err(Insufficient);
//!     }
//!     bank.balances[from] -= amount;
//!     bank.balances[to] += amount;
//!     Ok(())
//! }
//!
//! let mut pool = Pool::<Bank>::open("/dev/shm/bank.pool")?;
//! let outcome = pool.txn(|tx| transfer(tx.root_mut(), 3, 7, 100));
//! println!("{outcome:?}, balance now {}", pool.root().balances[7]);
//! # Ok::<(), pmem::Error>(())
//! ```
//!
//! The guide in `docs/` explains the file format, the flush modes and the design.

// The derive and `#[txn]` name this crate as `::pmem`, in its own collections too.
extern crate self as pmem;

pub mod collections;

pub use collections::{HashKey, MapKey, PBTreeMap, PHashMap, PString, PVec};
pub use pmem_macros::{Persistent, txn, txn_block};
pub use pmem_runtime::{
    CACHE_LINE, Collection, DanglingPointer, Durability, Error, FlushMode, FlushModeError,
    HeaderPart, HeapError, HeapStats, MAX_ROOT_NAME, NAMED_ROOTS, PMut, PMutex, PPtr, PSlice,
    Persistent, Pinned, PointerMap, PointerRun, Pool, PoolInfo, PoolOptions, PoolUuid, Reader,
    SharedTxn, Stats, Txn, TypeStats, abort, alloc_slice_with, buffer_outlived_a_rollback,
    owned_slice_mut, owned_slice_mut_by, release_claims, scratch_directory, with_owned_slice,
};

#[cfg(feature = "simulation")]
pub use pmem_runtime::simulation;
pub use pmem_runtime::{format, inspect};

/// The guide (`docs/src/`) and the README, compiled and run as doctests of this crate, so
/// that an example written against a renamed or changed API fails `cargo test` instead of
/// misleading its reader. One empty module per page: rustdoc collects the examples of each
/// module's documentation.
#[cfg(doctest)]
mod guide {
    macro_rules! pages {
        ($($module:ident = $page:literal),* $(,)?) => {$(
            #[doc = include_str!(concat!("../docs/src/", $page))]
            mod $module {}
        )*};
    }

    pages! {
        introduction = "introduction.md",
        getting_started = "getting-started.md",
        architecture = "architecture.md",
        persistent_types = "persistent-types.md",
        transactions = "transactions.md",
        heap = "heap.md",
        collections = "collections.md",
        checks = "checks.md",
        file_format = "file-format.md",
        flush_modes = "flush-modes.md",
        tool = "tool.md",
    }

    // The crash-testing page uses `pmem::simulation`, which exists only with the feature
    // (`cargo test --workspace` enables it: the integration tests depend on it).
    #[cfg(feature = "simulation")]
    pages! {
        crash_testing = "crash-testing.md",
        memory_model = "memory-model.md",
    }

    #[doc = include_str!("../README.md")]
    mod readme {}
}

/// Named by the compiler when a transaction's token or handle is moved to another thread;
/// public so that the message reads `pmem::ThisThreadsTransaction`.
#[doc(hidden)]
pub use pmem_runtime::ThisThreadsTransaction;

/// What generated code names; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use pmem_runtime::__private::*;
    pub use pmem_runtime::type_hash::{SEED, hash_str, hash_u64, hash_u128};
    pub use pmem_runtime::{Persistent, PointerMap, log_range};
}

#[cfg(test)]
mod tests {
    /// A page added to the guide must be added to `guide` as well, or its examples go
    /// untested.
    #[test]
    fn every_page_of_the_guide_is_a_doctest() {
        let summary = include_str!("../docs/src/SUMMARY.md");
        let this_file = include_str!("lib.rs");
        let pages = summary
            .split("](")
            .skip(1)
            .filter_map(|link| link.split(')').next());
        for page in pages {
            assert!(
                this_file.contains(&format!("= \"{page}\"")),
                "docs/src/{page} is not included in `guide`"
            );
        }
    }
}
