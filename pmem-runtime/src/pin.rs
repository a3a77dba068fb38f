//! Pinning: volatile handles that keep persistent objects alive across collections.
//!
//! A persistent pointer held in volatile memory (a local variable, a cache) is invisible to
//! the collector, which traces only what the pool itself points to. [`Pinned`] makes such a
//! pointer a root: while any `Pinned` for an object lives, no collection frees the object
//! (or anything it points to). Dropping the last one unpins it: the bounded, RAII pinning
//! the Go discussion asked for. Pins live in the process, not in the pool, so they end
//! with it; after a restart, only what the pool reaches is alive.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use pmem_alloc::PPtr;

/// The pins of one open pool: object offset to the number of live `Pinned` handles.
#[derive(Debug, Default)]
pub(crate) struct PinTable {
    counts: Mutex<HashMap<u64, usize>>,
}

impl PinTable {
    fn change(&self, offset: u64, add: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(offset).or_default();
        if add {
            *count += 1;
        } else {
            *count -= 1;
            if *count == 0 {
                counts.remove(&offset);
            }
        }
    }

    /// The pinned objects' offsets.
    pub(crate) fn roots(&self) -> Vec<u64> {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.keys().copied().collect()
    }

    /// How many `Pinned` handles are alive.
    pub(crate) fn handles(&self) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.values().sum()
    }
}

/// A volatile handle that keeps a persistent object alive across collections; from
/// [`Pool::pin`](crate::Pool::pin). Cloning it adds a pin; dropping the last unpins.
///
/// It does not borrow the pool, so collections and transactions may run while it lives.
pub struct Pinned<T> {
    table: Arc<PinTable>,
    pointer: PPtr<T>,
}

impl<T> Pinned<T> {
    pub(crate) fn new(table: Arc<PinTable>, pointer: PPtr<T>) -> Self {
        table.change(pointer.offset(), true);
        Self { table, pointer }
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
        self.table.change(self.pointer.offset(), false);
    }
}

impl<T> fmt::Debug for Pinned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pinned").field(&self.pointer).finish()
    }
}
