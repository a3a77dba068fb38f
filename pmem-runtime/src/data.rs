//! Where a pool's data lies: the bytes transactions store to and log, and pointers reach.
//!
//! The root object's pages (from the root to the log area), and in the heap the named-root
//! entries and the data pages (`pmem-alloc`'s `is_heap_data`), among them the page-table
//! pages that lie inside huge objects, as the heap's [`DataTablePages`] lists them; never
//! the header, the log area or heap metadata. `log.rs`, "What may be logged", says why recovery refuses entries
//! aimed elsewhere; the store barrier refuses stores there, and `Pool::get` pointers.

use std::sync::Arc;

use pmem_alloc::DataTablePages;

use crate::header::{Identity, ROOT_OFFSET};

/// Where a pool's data may be logged and stored (`log.rs`, "What may be logged"): the root
/// object's pages, and the heap's named-root entries and data pages; never the header, the
/// log area or heap metadata.
#[derive(Clone, Debug)]
pub(crate) struct DataRanges {
    pub(crate) data_start: usize,
    pub(crate) log_start: usize,
    pub(crate) heap_start: usize,
    pub(crate) pool_end: usize,
    /// The heap's table pages inside huge objects: shared with the heap, which changes it
    /// as it makes and frees them.
    pub(crate) data_tables: Arc<DataTablePages>,
}

impl DataRanges {
    /// Whether `[offset, offset + len)` lies in the pool's data.
    pub(crate) fn contains(&self, offset: usize, len: usize) -> bool {
        self.contains_up_to(offset, len, self.pool_end)
    }

    /// Whether `[offset, offset + len)` lies in the pool's data, were the pool `pool_end`
    /// bytes long.
    pub(crate) fn contains_up_to(&self, offset: usize, len: usize, pool_end: usize) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        offset >= self.data_start
            && end <= pool_end
            && (end <= self.log_start
                || (offset >= self.heap_start
                    && pmem_alloc::is_heap_data(offset - self.heap_start, len, &self.data_tables)))
    }
}

impl DataRanges {
    /// The data of a pool with `identity` and `pool_size` bytes, whose heap lists
    /// `data_tables`.
    pub(crate) fn of(
        identity: &Identity,
        pool_size: u64,
        data_tables: Arc<DataTablePages>,
    ) -> Self {
        Self {
            data_start: ROOT_OFFSET as usize,
            log_start: identity.log.offset as usize,
            heap_start: identity
                .log
                .end()
                .expect("checked when the header was read") as usize,
            pool_end: pool_size as usize,
            data_tables,
        }
    }
}
