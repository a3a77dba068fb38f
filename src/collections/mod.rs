//! Persistent collections: [`PVec`], [`PString`], [`PHashMap`] and [`PBTreeMap`], written with `#[txn]` on top of
//! [`PSlice`](crate::PSlice), the runtime-sized heap object.
//!
//! A collection is a small value (a length and a buffer pointer) stored in a pool, in the
//! root or in a heap object. Its buffer is a heap slice that only it reaches: the pointer is
//! private, so two collections never share one (the runtime checks it too, for damaged
//! files, see [`owned_slice_mut`](crate::owned_slice_mut)). It changes inside a transaction
//! through the `&mut` a [`PMut`](crate::PMut) gives (a shared transaction's, for a
//! collection behind a [`PMutex`](crate::PMutex) it locked), and reads through any
//! [`Reader`](crate::Reader), or, behind a lock, through the running transaction
//! ([`PVec::with_elements`], [`PString::with_str`]).
//!
//! The maps' keys are [`MapKey`]s (and, for [`PHashMap`], [`HashKey`]s): plain `Copy`
//! values, or collections such as [`PString`], compared and looked up by their view (a
//! `&str`). Values may be anything `Persistent`: a `PHashMap<PString, PVec<u64>>` maps
//! strings to vectors.

mod btree;
mod key;
mod map;
mod string;
mod vec;

pub use btree::{BTreeIter, PBTreeMap};
pub use key::{HashKey, MapKey};
pub use map::PHashMap;
pub use string::PString;
pub use vec::PVec;

use crate::Persistent;

/// A `T` of all-zero bytes: what a collection's unused slots hold.
fn zeroed<T: Persistent>() -> T {
    // SAFETY: every bit pattern of a `Persistent` type is a valid value (its contract).
    unsafe { core::mem::zeroed() }
}

/// A bitwise copy of `value`. A `Persistent` type is plain data without `Drop`, so the copy
/// and the original are two valid values, and moving an element from one slot or buffer to
/// another is this copy.
fn copied<T: Persistent>(value: &T) -> T {
    // SAFETY: `value` is a valid, aligned `T`; `T: Persistent` has no `Drop` (the derive
    // refuses one) and every bit pattern is valid, so both copies may be used.
    unsafe { core::ptr::read(value) }
}
