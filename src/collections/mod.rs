//! Persistent collections: [`PVec`], [`PString`], [`PHashMap`] and [`PBTreeMap`], written with `#[txn]` on top of
//! [`PSlice`](crate::PSlice), the runtime-sized heap object.
//!
//! A collection is a small value (a length and a buffer pointer) stored in a pool, in the
//! root or in a heap object. Its buffer is a heap slice that only it reaches: the pointer is
//! private, so two collections never share one (the runtime checks it too, for damaged
//! files, see [`owned_slice_mut`](crate::owned_slice_mut)). It changes inside an exclusive
//! transaction through the `&mut` a [`PMut`](crate::PMut) gives, and reads through any
//! [`Reader`](crate::Reader).

mod btree;
mod map;
mod string;
mod vec;

pub use btree::{BTreeIter, PBTreeMap};
pub use map::PHashMap;
pub use string::PString;
pub use vec::PVec;
