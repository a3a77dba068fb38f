//! The pool's side of the log's extension blocks (`log.rs`, "Extension blocks"): the heap
//! allocation a running transaction's growing log asks for, and the chained blocks every
//! collection keeps.

use core::ptr::NonNull;

use pmem_alloc::{Growth, Persistent};

use crate::error::Error;
use crate::log;
use crate::txn::LogGrowth;

use super::Pool;

impl<R: Persistent> Pool<R> {
    /// What a transaction on this pool calls to grow its log.
    pub(super) fn log_growth(&self) -> LogGrowth {
        LogGrowth {
            pool: NonNull::from(self).cast(),
            allocate: allocate_log_block::<R>,
        }
    }

    /// Every block chained from a log slot, which a collection must keep: the chains were
    /// checked at open (`recovery::scan`), and only transactions' log growth has changed
    /// them since, by appending blocks the heap gave it.
    pub(super) fn log_blocks(&self) -> Vec<u64> {
        let mut blocks = Vec::new();
        for lane in 0..self.log.slot_count {
            let slot = self.log.slot_offset(lane) as usize;
            let mut link = log::read_word(&self.mapping, slot + log::SLOT_LINK);
            while link != 0 {
                blocks.push(link);
                link = log::read_word(&self.mapping, link as usize + log::BLOCK_LINK);
            }
        }
        blocks
    }

    /// Allocates a log block from the heap, recording the block type first if it is new.
    /// It never collects (a collection would run in the middle of logging a store) and
    /// grows the pool if the heap is full. The heap's metadata writes are flushed as they
    /// are made, since the transaction is busy logging (see `txn::with_active`): the
    /// growth's fence makes them durable before the block is linked.
    fn allocate_log_block(&self) -> Result<usize, Error> {
        let info = log::block_type(self.log.slot_len as usize);
        let mut inner = self.inner();
        let (heap, mut region) = self.heap_and_region(&mut inner);
        let type_index = match heap.type_index(info.layout_hash) {
            Some(index) => {
                heap.verify_type(index, || info.clone()).map_err(|source| {
                    Error::HeapCorrupted {
                        path: self.info.path.clone(),
                        source,
                    }
                })?;
                index
            }
            None => heap.register(&mut region, &info).map_err(Error::Heap)?,
        };
        let offset = heap
            .alloc(&mut region, type_index, Growth::Allowed)
            .map_err(Error::Heap)?;
        Ok(usize::try_from(offset).expect("a heap offset lies in the mapping"))
    }
}

/// [`Pool::allocate_log_block`] for the type-erased pool of a [`LogGrowth`].
///
/// # Safety
///
/// `pool` must point at a live `Pool<R>`, borrowed for the call.
unsafe fn allocate_log_block<R: Persistent>(pool: NonNull<()>) -> Result<usize, Error> {
    // SAFETY: the caller passes the pointer `log_growth` made from a `&Pool<R>`, while the
    // transaction that holds it keeps that pool borrowed; the pool is only read through it
    // (the heap behind its lock), as the transaction's own allocations read it.
    let pool = unsafe { pool.cast::<Pool<R>>().as_ref() };
    pool.allocate_log_block()
}
