//! The pool side of the persistent heap: the [`Region`] that `pmem-alloc` manages, and
//! growth.
//!
//! `pmem-alloc` reads and writes through [`PoolRegion`]. Its metadata writes are stored
//! and announced to a simulated domain as deliberate unlogged stores (see `hw/sim/`).
//! Outside a transaction they are flushed at once, and the heap fences when it needs them
//! durable (a collection's sweep). Inside one they join the transaction's lines: written
//! back before the commit fence, or deferred with the fresh objects they describe when the
//! transaction logs nothing (`txn/running.rs`), or written back before a fence the heap asks for.
//! `pmem-alloc`'s `layout.rs` gives the rules.
//!
//! **Growth** extends the pool file in place: the file is first cut back to the pool's
//! recorded size (dropping whatever an interrupted growth left beyond it) and then extended,
//! so the new bytes read as zero; the new part is mapped into the address range reserved at
//! open; and only then is a new state record with the new size written, flushed and fenced.
//! A crash before that record is durable leaves the old size, and a file that may be longer,
//! which `open` accepts. A crash after it leaves the new size, and zero pages, which hold no
//! span.

use std::fs::File;

use pmem_alloc::{FenceFor, GrowError, Region};

use crate::header::{HEADER_LEN, State};
use crate::hw::flush::{Event, Flusher};
use crate::hw::mapping::Mapping;
use crate::hw::mutation::PersistenceCall;

/// What growing the pool needs besides the mapping.
pub(crate) struct Growable<'a> {
    pub(crate) file: &'a File,
    pub(crate) state: &'a mut State,
    pub(crate) max_size: u64,
}

/// A pool's mapping, as the heap sees it.
pub(crate) struct PoolRegion<'a> {
    pub(crate) mapping: &'a Mapping,
    pub(crate) flusher: &'a Flusher,
    /// `None` while the pool is being created, when it cannot grow.
    pub(crate) growable: Option<Growable<'a>>,
}

impl<'a> PoolRegion<'a> {
    /// A view that cannot grow: while a pool is created or opened, and for reading.
    pub(crate) fn fixed(mapping: &'a Mapping, flusher: &'a Flusher) -> Self {
        Self {
            mapping,
            flusher,
            growable: None,
        }
    }
}

impl Region for PoolRegion<'_> {
    fn len(&self) -> usize {
        self.mapping.mapped_len()
    }

    fn read(&self, offset: usize, buffer: &mut [u8]) {
        assert!(
            offset
                .checked_add(buffer.len())
                .is_some_and(|end| end <= self.len()),
            "the heap read {} bytes at {offset:#x}, outside the pool",
            buffer.len()
        );
        // SAFETY: the range is inside the mapping (asserted). The heap reads while the pool
        // is borrowed mutably (a transaction's allocation, a collection) or before it is
        // handed out (open), so no `&mut` into it is alive; reading does not invalidate
        // shared references.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.mapping.address_of(offset),
                buffer.as_mut_ptr(),
                buffer.len(),
            );
        }
    }

    fn write_metadata(&mut self, offset: usize, bytes: &[u8]) {
        if bytes.len() == 8 && offset % 8 == 0 {
            let word: [u8; 8] = bytes.try_into().expect("eight bytes");
            // SAFETY: heap metadata (page tables, type records, the heap header) is never
            // referenced as a Rust value; the word is aligned and inside the mapping.
            unsafe { self.mapping.store_word(offset, word) };
        } else {
            // SAFETY: as above.
            unsafe { self.mapping.write(offset, bytes) };
        }
        self.flusher.tell(Event::Unlogged {
            offset,
            len: bytes.len(),
        });
        if !crate::txn::note_metadata(self.mapping, offset, bytes.len()) {
            self.flusher.flush_for(
                PersistenceCall::HeapMetadataFlush,
                self.mapping,
                offset,
                bytes.len(),
            );
        }
    }

    fn fence(&mut self, reason: FenceFor) {
        crate::txn::flush_metadata(self.mapping);
        self.flusher.fence_for(match reason {
            FenceFor::TypeRecord => PersistenceCall::TypeRecordFence,
            FenceFor::Sweep => PersistenceCall::SweepFence,
            FenceFor::HugeSpan => PersistenceCall::HugeSpanFence,
            FenceFor::HugeTables => PersistenceCall::HugeTablesFence,
        });
    }

    fn grow(&mut self, min_len: usize) -> Result<(), GrowError> {
        let reserved = self.mapping.reserved_len();
        let Some(growable) = self.growable.as_mut() else {
            return Err(GrowError {
                max_len: self.mapping.mapped_len(),
                io: None,
            });
        };
        let max_len = usize::try_from(growable.max_size)
            .unwrap_or(usize::MAX)
            .min(reserved)
            / HEADER_LEN
            * HEADER_LEN;
        let old_len = self.mapping.mapped_len();
        if min_len > max_len {
            return Err(GrowError { max_len, io: None });
        }
        let new_len = min_len
            .max(old_len.saturating_mul(2))
            .next_multiple_of(HEADER_LEN)
            .min(max_len);
        let failed = |io| GrowError {
            max_len,
            io: Some(io),
        };
        growable.file.set_len(old_len as u64).map_err(failed)?;
        crate::file::allocate(growable.file, new_len as u64).map_err(failed)?;
        growable.file.sync_all().map_err(failed)?;
        self.mapping.grow(growable.file, new_len).map_err(failed)?;
        self.flusher.tell(Event::Grew {
            len: self.mapping.mapped_len(),
        });
        growable
            .state
            .persist(self.mapping, self.flusher, new_len as u64, false);
        Ok(())
    }
}
