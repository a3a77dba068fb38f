//! The persistent heap of `pmem`.
//!
//! This crate knows nothing of files or transactions. Today it defines what may live in
//! persistent memory ([`Persistent`]), how a type is identified across program runs
//! ([`type_hash`]) and the relocatable pointer ([`PPtr`]); the allocator, the persisted
//! pointer maps and the garbage collector join it as the heap is built.

mod persistent;
mod ptr;
pub mod type_hash;

pub use persistent::Persistent;
pub use ptr::PPtr;
