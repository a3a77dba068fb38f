//! The pool's side of its heap: when to collect and grow, allocation inside transactions,
//! pins, and named roots.
//!
//! An object larger than an arena's 511 data pages (a huge one, `pmem-alloc`'s `layout.rs`)
//! is allocated like any other: the heap finds, or grows the pool to make, whole free
//! arenas, and fences the new span's entry itself before it returns (rule 4), so nothing
//! here orders it; the heap updates the list of table pages that are data, which the
//! pool's `DataRanges` shares, before the slot is handed out.

use std::collections::HashMap;
use std::sync::Arc;

use pmem_alloc::{
    Collection, Growth, Heap, HeapError, HeapStats, HiddenSlot, NamedRoot, PPtr, Persistent,
    TypeInfo,
};

use crate::error::Error;
use crate::hw::flush::Event;
use crate::pin::Pinned;
use crate::region::PoolRegion;
use crate::txn;

use super::{Inner, Pool};

/// At most how many slots a lane takes from the heap beyond the one it allocates, when its
/// cache has none of the type: the rest of that slot's span, up to a page of 16-byte
/// slots. Most allocations then skip the heap's lock, each lane first-touches pages no
/// other lane writes, and the slots a lane leaves unused stay within one span per type.
const SLOT_BATCH: usize = 255;

/// A type the heap records: its layout hash, and how to describe it when it is new.
pub(super) struct TypeKey {
    pub(super) layout_hash: u64,
    pub(super) info: fn() -> TypeInfo,
}

impl TypeKey {
    pub(super) fn of<T: Persistent>() -> Self {
        Self {
            layout_hash: T::LAYOUT_HASH,
            info: TypeInfo::of::<T>,
        }
    }
}

/// What a shared transaction's allocation needs: its lane, whose cache it takes slots
/// from, and where it keeps the hidden slots it reveals when its body has returned.
pub(super) struct SharedAllocation<'a> {
    pub(super) lane: u32,
    pub(super) hidden: &'a mut Vec<HiddenSlot>,
}

impl<R: Persistent> Pool<R> {
    /// Collects garbage: frees every heap object that neither the root, the named roots
    /// nor a [`Pinned`] handle reaches. Allocation runs one when the heap would grow, and
    /// opening a pool does with [`PoolOptions::collect_at_open`](super::PoolOptions::collect_at_open).
    /// It needs the pool to itself, so no reference into the heap can be alive.
    ///
    /// A [`PPtr`] kept in volatile memory does not keep its object alive: after a
    /// collection it may point at a freed slot, and [`get`](Pool::get) then refuses it
    /// (or, once the slot is reused, finds the new object of the same type). Pin what you
    /// keep across transactions.
    ///
    /// A pointer that leads to no object of its type is not followed: the collection counts
    /// it ([`Collection::dangling_pointers`]) and frees what only it reached.
    ///
    /// # Errors
    ///
    /// [`Error::HeapCorrupted`] if a pointer map reaches past the pool's end, which a heap
    /// that open accepted never does; nothing has been freed then.
    pub fn collect(&mut self) -> Result<Collection, Error> {
        self.sync_group();
        self.lanes.empty_caches();
        let collection = self.collect_from(&mut self.inner(), Vec::new(), &HashMap::new())?;
        self.flusher.tell(Event::Settled);
        Ok(collection)
    }

    /// How the heap is used: its size, what is allocated, what is free, per type. Slots
    /// that lanes keep for their next shared allocations count as free.
    #[must_use]
    pub fn heap_stats(&self) -> HeapStats {
        let cached = self.lanes.cached_slots();
        self.inner_read().heap.stats_with_reserved(&cached)
    }

    /// Pins the object `pointer` points at: it stays alive across collections while the
    /// returned handle (or a clone) lives. See [`Pinned`].
    ///
    /// # Errors
    ///
    /// As [`get`](Pool::get): only a valid pointer can be pinned.
    pub fn pin<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<Pinned<T>, Error> {
        self.get(pointer)?;
        Ok(self.pin_unchecked(pointer))
    }

    /// Pins `pointer`, which the caller checked.
    pub(super) fn pin_unchecked<T>(&self, pointer: PPtr<T>) -> Pinned<T> {
        Pinned::new(Arc::clone(&self.pins), pointer)
    }

    /// How many [`Pinned`] handles of this pool are alive.
    #[must_use]
    pub fn pinned(&self) -> usize {
        self.pins.handles()
    }

    /// The object stored under `name` by [`Txn::set_named_root`](super::Txn::set_named_root), if there is one.
    ///
    /// # Errors
    ///
    /// [`Error::NamedRootTypeMismatch`] if it is not a `T`.
    pub fn named_root<T: Persistent>(&self, name: &str) -> Result<Option<PPtr<T>>, Error> {
        let Some(entry) = self.find_named_root(name) else {
            return Ok(None);
        };
        let inner = self.inner_read();
        let found = inner.heap.type_info(entry.type_index);
        if found.is_none_or(|info| info.layout_hash != T::LAYOUT_HASH) {
            return Err(Error::NamedRootTypeMismatch {
                name: name.to_owned(),
                expected: core::any::type_name::<T>(),
                found: found.map_or_else(|| "unknown type".to_owned(), |info| info.name.clone()),
            });
        }
        Ok(Some(PPtr::from_offset(entry.pointer)))
    }

    /// The names of the named roots in use.
    #[must_use]
    pub fn named_roots(&self) -> Vec<String> {
        self.inner_read()
            .heap
            .named_roots(&self.region())
            .into_iter()
            .map(|entry| entry.name)
            .collect()
    }

    /// Logs `bytes.len()` bytes at `offset` in the running transaction, then writes them.
    pub(super) fn write_logged(&self, offset: usize, bytes: &[u8]) {
        txn::log_range(self.mapping.address_of(offset), bytes.len());
        // SAFETY: the range (a named-root entry) is never referenced as a Rust value, and it
        // was logged just above.
        unsafe { self.mapping.write(offset, bytes) };
    }

    /// The heap's index for `T`, recording the type first if it is new.
    pub(super) fn type_index_of<T: Persistent>(&self) -> Result<u32, Error> {
        self.type_index_for(&TypeKey::of::<T>())
    }

    /// The heap's index for the type `key` describes, recording it first if it is new.
    pub(super) fn type_index_for(&self, key: &TypeKey) -> Result<u32, Error> {
        {
            let inner = self.inner_read();
            if let Some(index) = inner.heap.type_index(key.layout_hash) {
                return self.verified(&inner.heap, index, key);
            }
        }
        // Another thread may record it between the read lock and the write lock, which
        // `type_index_in` looks for again.
        self.type_index_in(&mut self.inner(), key)
    }

    /// [`type_index_for`](Pool::type_index_for), through `inner`, which the caller holds.
    fn type_index_in(&self, inner: &mut Inner, key: &TypeKey) -> Result<u32, Error> {
        if let Some(index) = inner.heap.type_index(key.layout_hash) {
            return self.verified(&inner.heap, index, key);
        }
        let (heap, mut region) = self.heap_and_region(inner);
        heap.register(&mut region, &(key.info)())
            .map_err(Error::Heap)
    }

    /// `index`, once the heap's record of it is checked against `key` (once per type).
    fn verified(&self, heap: &Heap, index: u32, key: &TypeKey) -> Result<u32, Error> {
        heap.verify_type(index, key.info)
            .map(|()| index)
            .map_err(|source| Error::HeapCorrupted {
                path: self.info.path.clone(),
                source,
            })
    }

    /// Allocates a slot for a `T` inside the running transaction, growing the pool if
    /// needed. An exclusive transaction (`shared` is `None`) collects first when enough
    /// has been allocated since the last collection, and when the heap is full. A shared
    /// one allocates from its lane's cache of slots, refilled in batches, and never
    /// collects (see `Pool::shared_txn`); the heap hides its slots from other readers
    /// (`Heap::hide`), and the transaction reveals them when its body has returned.
    pub(super) fn allocate_slot<T: Persistent>(
        &self,
        shared: Option<SharedAllocation<'_>>,
    ) -> Result<u64, Error> {
        let Some(SharedAllocation { lane, hidden }) = shared else {
            return self.allocate_exclusive::<T>();
        };
        let mut cache = self.lanes.cache(lane);
        if let Some((offset, slot)) = cache.take(T::LAYOUT_HASH) {
            hidden.push(slot);
            return Ok(offset);
        }
        let type_index = self.type_index_of::<T>()?;
        let mut inner = self.inner();
        let size = self.mapping.mapped_len();
        let (heap, mut region) = self.heap_and_region(&mut inner);
        let offset = heap
            .alloc(&mut region, type_index, Growth::Allowed)
            .map_err(Error::Heap)?;
        let batch = heap.alloc_rest_of_span(offset, SLOT_BATCH);
        let mut hide = |offset: u64| {
            let slot = heap.hide(offset).expect("the heap just allocated the slot");
            (offset, slot)
        };
        hidden.push(hide(offset).1);
        let batch: Vec<_> = batch.into_iter().map(hide).collect();
        // A new span's page-table entry is durable before any of its slots is used. If
        // the lane took all of them, no other lane can use one, so the fence waits until
        // the heap is let go; if not, another lane's transaction could allocate from the
        // span and commit before this one ends, and its commit fence, on another thread,
        // would not order this thread's write-back.
        let span_taken_whole = batch.len() < SLOT_BATCH;
        cache.keep(T::LAYOUT_HASH, batch);
        if !span_taken_whole {
            txn::persist_shared_metadata(&self.mapping);
        }
        drop(inner);
        if span_taken_whole {
            txn::persist_shared_metadata(&self.mapping);
        }
        self.note_growth(size);
        Ok(offset)
    }

    /// The exclusive transaction's allocation: one acquisition of the heap's lock, which
    /// no other thread contends for, finds the type and the slot.
    fn allocate_exclusive<T: Persistent>(&self) -> Result<u64, Error> {
        self.allocate_exclusive_with(&TypeKey::of::<T>(), |heap, region, type_index, growth| {
            heap.alloc(region, type_index, growth)
        })
    }

    /// An exclusive transaction's allocation of an object of the type `key` describes, by
    /// `alloc`; as [`allocate_exclusive`](Pool::allocate_exclusive).
    pub(super) fn allocate_exclusive_with(
        &self,
        key: &TypeKey,
        alloc: impl Fn(&mut Heap, &mut PoolRegion<'_>, u32, Growth) -> Result<u64, HeapError>,
    ) -> Result<u64, Error> {
        self.lanes.empty_caches();
        let mut inner = self.inner();
        let type_index = self.type_index_in(&mut inner, key)?;
        let size = self.mapping.mapped_len();
        let growth = if inner.heap.collection_due() {
            Growth::Refused
        } else {
            Growth::Allowed
        };
        let (heap, mut region) = self.heap_and_region(&mut inner);
        let offset = match alloc(heap, &mut region, type_index, growth) {
            Ok(offset) => offset,
            Err(HeapError::Full { .. }) => {
                // Kept too: the objects the transaction handed out references to, which
                // may still be alive (a `PMut` held across a collection's growth, through
                // `alloc_slice_with`), or be written by its rollback (a huge object's
                // bytes on its covered table pages, which freed are page tables again).
                let mut roots = txn::fresh_objects();
                roots.extend(txn::lent_objects());
                roots.extend(txn::member_previous_values());
                self.collect_from(&mut inner, roots, &txn::previous_words())?;
                let (heap, mut region) = self.heap_and_region(&mut inner);
                alloc(heap, &mut region, type_index, Growth::Allowed).map_err(Error::Heap)?
            }
            Err(error) => return Err(Error::Heap(error)),
        };
        self.note_growth(size);
        Ok(offset)
    }

    /// Tells the running transaction the pool's new end, if it grew from `size` bytes.
    pub(super) fn note_growth(&self, size: usize) {
        let grown = self.mapping.mapped_len();
        if grown != size {
            txn::pool_grew(grown);
        }
    }

    /// A collection whose roots are the pool's, the pinned objects and `extra_roots`;
    /// `previous` as in `Heap::collect`. Inside a transaction, `extra_roots` are what it
    /// allocated and `previous` what the pool reached before it began.
    fn collect_from(
        &self,
        inner: &mut Inner,
        mut extra_roots: Vec<u64>,
        previous: &HashMap<u64, u64>,
    ) -> Result<Collection, Error> {
        extra_roots.extend(self.pins.roots());
        let log_blocks = self.log_blocks();
        extra_roots.extend(&log_blocks);
        let (heap, mut region) = self.heap_and_region(inner);
        let mut collection =
            heap.collect(&mut region, &extra_roots, previous)
                .map_err(|source| Error::HeapCorrupted {
                    path: self.info.path.clone(),
                    source,
                })?;
        // The log's blocks are roots, not pins.
        collection.pinned -= log_blocks.len() as u64;
        Ok(collection)
    }

    /// The named-root entry called `name`, if there is one.
    pub(super) fn find_named_root(&self, name: &str) -> Option<NamedRoot> {
        self.inner_read()
            .heap
            .named_roots(&self.region())
            .into_iter()
            .find(|entry| entry.name == name)
    }
}
