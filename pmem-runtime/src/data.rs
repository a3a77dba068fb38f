//! Where a pool's data lies: the bytes transactions store to and log, and pointers reach.
//!
//! The root object's pages (from the root to the log area), and in the heap the named-root
//! entries and the data pages (`pmem-alloc`'s `is_heap_data`); never the header, the log
//! area or heap metadata. `log.rs`, "What may be logged", says why recovery refuses entries
//! aimed elsewhere; the store barrier refuses stores there, and `Pool::get` pointers.

use crate::header::{Identity, ROOT_OFFSET};

/// Where a pool's data may be logged and stored (`log.rs`, "What may be logged"): the root
/// object's pages, and the heap's named-root entries and data pages; never the header, the
/// log area or heap metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DataRanges {
    pub(crate) data_start: usize,
    pub(crate) log_start: usize,
    pub(crate) heap_start: usize,
    pub(crate) pool_end: usize,
}

impl DataRanges {
    /// Whether `[offset, offset + len)` lies in the pool's data.
    pub(crate) fn contains(&self, offset: usize, len: usize) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        offset >= self.data_start
            && end <= self.pool_end
            && (end <= self.log_start
                || (offset >= self.heap_start
                    && pmem_alloc::is_heap_data(offset - self.heap_start, len)))
    }
}

impl DataRanges {
    /// The data of a pool with `identity` and `pool_size` bytes.
    pub(crate) fn of(identity: &Identity, pool_size: u64) -> Self {
        Self {
            data_start: ROOT_OFFSET as usize,
            log_start: identity.log.offset as usize,
            heap_start: identity
                .log
                .end()
                .expect("checked when the header was read") as usize,
            pool_end: pool_size as usize,
        }
    }
}
