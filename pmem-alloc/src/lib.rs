//! The persistent heap of `pmem`.
//!
//! This crate knows nothing of files or transactions. It defines what may live in
//! persistent memory ([`Persistent`]), how a type is identified across program runs
//! ([`type_hash`]), the relocatable pointer ([`PPtr`]) and where a type keeps its pointers
//! ([`PointerMap`]). And it manages a persistent heap ([`Heap`]) in any [`Region`]: an
//! allocator whose spans hold objects of one type each, persisted type records and page
//! tables, and a precise mark-sweep collector. `layout.rs` specifies the format and its
//! ordering rules, [`format`](mod@format) its records, `gc.rs` the collector.

mod class;
mod error;
pub mod format;
mod gc;
mod heap;
mod layout;
mod load;
mod persistent;
mod pointer_map;
#[macro_use]
mod ptr;
mod region;
mod slice;
mod stats;
pub mod type_hash;
mod types;
mod walk;

pub use class::slice_header_len;
pub use error::HeapError;
pub use gc::{Collection, DanglingPointer, MAX_LISTED_DANGLING, Marks};
pub use heap::{ClaimRefused, Growth, Heap, HiddenSlot, NamedRoot, RootObject};
pub use layout::{
    DataTablePages, MAX_OBJECT_PAGES, MAX_ROOT_NAME, MAX_SPAN_PAGES, MIN_HEAP_LEN, NAMED_ROOTS,
    PAGE, is_heap_data,
};
pub use persistent::Persistent;
pub use pointer_map::{PointerMap, PointerRun};
pub use ptr::PPtr;
pub use region::{FenceFor, GrowError, Region};
pub use slice::{PSlice, slice_layout_hash};
pub use stats::{HeapStats, TypeStats};
pub use types::{TypeInfo, TypeKind};
pub use walk::{ObjectVisit, PointerField, PointerTarget};
