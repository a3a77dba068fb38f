//! Pinning: volatile handles that keep persistent objects alive across collections.
//!
//! A persistent pointer held in volatile memory (a local variable, a cache) is invisible to
//! the collector, which traces only what the pool itself points to. [`Pinned`] makes such a
//! pointer a root: while any `Pinned` for an object lives, no collection frees the object
//! (or anything it points to). Dropping the last one unpins it: the bounded, RAII pinning
//! the Go discussion asked for. Pins live in the process, not in the pool, so they end
//! with it; after a restart, only what the pool reaches is alive.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pmem_alloc::PPtr;

/// The pins of one open pool: one slot per live `Pinned` handle, holding the pinned
/// object's offset (0, which no object has, marks a free slot). A handle knows its slot, so
/// pinning and unpinning cost a lock and a vector access, no hashing.
#[derive(Debug, Default)]
pub(crate) struct PinTable {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    offsets: Vec<u64>,
    free: Vec<usize>,
}

impl PinTable {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pin(&self, offset: u64) -> usize {
        let mut slots = self.slots();
        match slots.free.pop() {
            Some(slot) => {
                slots.offsets[slot] = offset;
                slot
            }
            None => {
                slots.offsets.push(offset);
                slots.offsets.len() - 1
            }
        }
    }

    fn unpin(&self, slot: usize) {
        let mut slots = self.slots();
        slots.offsets[slot] = 0;
        slots.free.push(slot);
    }

    /// The pinned objects' offsets, once per live handle.
    pub(crate) fn roots(&self) -> Vec<u64> {
        let slots = self.slots();
        slots
            .offsets
            .iter()
            .copied()
            .filter(|&offset| offset != 0)
            .collect()
    }

    /// How many `Pinned` handles are alive.
    pub(crate) fn handles(&self) -> usize {
        let slots = self.slots();
        slots.offsets.len() - slots.free.len()
    }
}

/// A volatile handle that keeps a persistent object alive across collections; from
/// [`Pool::pin`](crate::Pool::pin). Cloning it adds a pin; dropping the last unpins.
///
/// It does not borrow the pool, so collections and transactions may run while it lives.
pub struct Pinned<T> {
    table: Arc<PinTable>,
    slot: usize,
    pointer: PPtr<T>,
}

impl<T> Pinned<T> {
    /// # Panics
    ///
    /// If `pointer` is null: a null pointer pins nothing.
    pub(crate) fn new(table: Arc<PinTable>, pointer: PPtr<T>) -> Self {
        assert!(!pointer.is_null(), "pmem: a null pointer cannot be pinned");
        let slot = table.pin(pointer.offset());
        Self {
            table,
            slot,
            pointer,
        }
    }

    /// The pinned object's pointer.
    #[must_use]
    pub fn ptr(&self) -> PPtr<T> {
        self.pointer
    }
}

impl<T> Clone for Pinned<T> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.table), self.pointer)
    }
}

impl<T> Drop for Pinned<T> {
    fn drop(&mut self) {
        self.table.unpin(self.slot);
    }
}

impl<T> fmt::Debug for Pinned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pinned").field(&self.pointer).finish()
    }
}
