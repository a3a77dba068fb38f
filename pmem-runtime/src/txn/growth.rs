//! Growing a running transaction's log into the heap: `log.rs`, "Extension blocks", and
//! rule 4 of its ordering.

use core::ptr::NonNull;

use crate::error::Error;
use crate::hw::flush::Event;
use crate::log;
use crate::stats;

use super::running::RunningTxn;

/// How a running transaction gets a new extension block from its pool's heap: `allocate`
/// called with `pool`. The pool is generic over its root type and the transaction is not,
/// so the pool is passed type-erased, with the function that knows its type.
#[derive(Clone, Copy)]
pub(crate) struct LogGrowth {
    pub(crate) pool: NonNull<()>,
    /// Allocates a block (`log::block_type`) and returns its pool offset. It must be called
    /// with `pool`, while the pool that made this `LogGrowth` is still borrowed by the
    /// transaction.
    pub(crate) allocate: unsafe fn(NonNull<()>) -> Result<usize, Error>,
}

/// What a store barrier unwinds with when its transaction's log needs a new block and the
/// heap cannot give one: `Pool::try_txn` and `Pool::try_shared_txn` catch it, roll the
/// transaction back and return the error. The store it guarded has not happened.
pub(crate) struct LogGrowthFailed(pub(crate) Error);

/// The error a transaction's log growth failed with, if `panic` (what its body unwound
/// with) is a [`LogGrowthFailed`]; any other panic goes on unwinding.
pub(crate) fn log_growth_error(panic: Box<dyn core::any::Any + Send>) -> Error {
    match panic.downcast::<LogGrowthFailed>() {
        Ok(failed) => failed.0,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The message `Pool::txn` and `Pool::shared_txn` panic with when the log could not grow.
pub(crate) struct LogGrowthPanic<'a>(pub(crate) &'a Error);

impl core::fmt::Display for LogGrowthPanic<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "pmem: the transaction's undo log could not grow into the heap, so the transaction was rolled back: {} (try_txn returns this error)",
            self.0
        )
    }
}

impl RunningTxn {
    /// Moves the writer on to the next block of the slot's chain, attaching a new one at
    /// the end of the chain if there is none: called when the next entry would not fit
    /// where the writer is.
    pub(super) fn next_space(&mut self) {
        let next = log::read_word(self.mapping(), self.link_at);
        let block = match usize::try_from(next) {
            Ok(block) if block != 0 => block,
            _ => self.attach_block(),
        };
        self.next_entry = block + log::ENTRIES_START;
        self.space_end = block + self.pool.block_len;
        self.link_at = block + log::BLOCK_LINK;
        self.in_block = true;
    }

    /// Allocates a block from the heap, prepares it and links it after the writer's space
    /// (rule 4 of `log.rs`: one fence, then the link, which the block's first entry
    /// fences). On failure, dooms the transaction and unwinds with [`LogGrowthFailed`].
    fn attach_block(&mut self) -> usize {
        let LogGrowth { pool, allocate } = self.pool.growth;
        // SAFETY: `pool` is the pool this transaction runs on, which `Pool::try_txn` or
        // `Pool::try_shared_txn` holds borrowed until the transaction has ended.
        let allocated = unsafe { allocate(pool) };
        let block = match allocated {
            Ok(block) => block,
            Err(error) => {
                self.doomed = true;
                // Not `panic!`: no panic message, since the caller gets the error.
                std::panic::resume_unwind(Box::new(LogGrowthFailed(error)))
            }
        };
        // The heap may have grown the pool to make room.
        self.pool.data.pool_end = self.mapping().mapped_len();
        log::init_block(
            self.mapping(),
            &self.pool.flusher,
            block,
            self.pool.block_len,
        );
        if self.in_block {
            self.pool.flusher.tell(Event::Unlogged {
                offset: self.link_at,
                len: 8,
            });
        }
        log::write_link(self.mapping(), &self.pool.flusher, self.link_at, block);
        stats::count_log_block();
        block
    }
}
