//! Lanes: the log slots that running transactions take, one each.
//!
//! A pool has as many lanes as log slots (`PoolOptions::lanes`, recorded in the header).
//! A transaction takes a free lane when it begins and gives it back when it has ended
//! (committed or rolled back, and durable), so two running transactions never write one
//! slot. Each lane's flag has a cache line of its own, and a thread tries the lane it used
//! last first, so threads that each keep to their own lane share no written line. A thread
//! that finds no lane free waits (`park.rs`) until one is given back.
//!
//! Each lane also keeps a cache of heap slots, per type, that its transactions allocate
//! from without taking the heap's lock: a lane is used by one transaction at a time, so
//! the cache's own lock is never contended. The slots are taken from the heap in batches
//! (`Heap::alloc_rest_of_span`: the rest of the span the first one came from, so that
//! each lane's new objects lie on pages of their own) and count as allocated there; unused ones are
//! unreachable, so a collection frees them, and every collection first empties the caches
//! ([`Lanes::empty_caches`]) so that no cached slot is handed out after it was freed.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pmem_alloc::HiddenSlot;

use crate::hw::flush::Flusher;
use crate::park;

thread_local! {
    /// The lane this thread took last, tried first next time.
    static PREFERRED: Cell<u32> = const { Cell::new(0) };
}

/// One lane's state, in cache lines of its own.
#[repr(align(64))]
struct LaneState {
    taken: AtomicBool,
    cache: Mutex<SlotCache>,
}

/// Heap slots a lane has taken for its next allocations, hidden until used and revealed:
/// pool offsets, per type (by layout hash, so that an allocation from the cache needs no
/// lookup in the heap).
#[derive(Default)]
pub(super) struct SlotCache {
    slots: Vec<(u64, Vec<(u64, HiddenSlot)>)>,
}

impl SlotCache {
    /// A cached slot of the type whose layout hash is `layout_hash`, if there is one.
    pub(super) fn take(&mut self, layout_hash: u64) -> Option<(u64, HiddenSlot)> {
        self.slots
            .iter_mut()
            .find(|(hash, _)| *hash == layout_hash)
            .and_then(|(_, slots)| slots.pop())
    }

    /// Keeps `slots` of the type whose layout hash is `layout_hash` for later allocations.
    pub(super) fn keep(&mut self, layout_hash: u64, slots: Vec<(u64, HiddenSlot)>) {
        match self.slots.iter_mut().find(|(hash, _)| *hash == layout_hash) {
            Some((_, kept)) => kept.extend(slots),
            None => self.slots.push((layout_hash, slots)),
        }
    }
}

/// The pool's lanes, and which are taken.
pub(super) struct Lanes {
    lanes: Box<[LaneState]>,
    /// Whether a cache may hold slots, so that emptying them costs one load when none do.
    caches_used: AtomicBool,
}

impl Lanes {
    pub(super) fn new(count: u32) -> Self {
        Self {
            lanes: (0..count)
                .map(|_| LaneState {
                    taken: AtomicBool::new(false),
                    cache: Mutex::default(),
                })
                .collect(),
            caches_used: AtomicBool::new(false),
        }
    }

    /// The slot cache of lane `index`, which the caller's transaction holds.
    pub(super) fn cache(&self, index: u32) -> MutexGuard<'_, SlotCache> {
        // Written once, so that lanes on other cores keep the line shared.
        if !self.caches_used.load(Ordering::Relaxed) {
            self.caches_used.store(true, Ordering::Relaxed);
        }
        self.lanes[index as usize]
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool offsets of every lane's cached slots.
    pub(super) fn cached_slots(&self) -> Vec<u64> {
        if !self.caches_used.load(Ordering::Relaxed) {
            return Vec::new();
        }
        self.lanes
            .iter()
            .flat_map(|lane| {
                let cache = lane.cache.lock().unwrap_or_else(PoisonError::into_inner);
                cache
                    .slots
                    .iter()
                    .flat_map(|(_, slots)| slots.iter().map(|&(offset, _)| offset))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Forgets every cached slot, before a collection (which will free them: nothing
    /// reaches them). Called only while no shared transaction runs.
    pub(super) fn empty_caches(&self) {
        // A load first: the common case, no cache used, then costs no locked instruction.
        if self.caches_used.load(Ordering::Relaxed)
            && self.caches_used.swap(false, Ordering::Relaxed)
        {
            for lane in &self.lanes {
                lane.cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .slots
                    .clear();
            }
        }
    }

    /// Takes a free lane, waiting for one if all are taken.
    pub(super) fn take(&self, flusher: &Flusher) -> Lane<'_> {
        let mut index = None;
        park::wait_until(flusher, self.key(), || {
            index = self.try_take();
            index.is_some()
        });
        let index = index.expect("wait_until returns once a lane was taken");
        PREFERRED.set(index);
        Lane { lanes: self, index }
    }

    fn try_take(&self) -> Option<u32> {
        let count = self.lanes.len() as u32;
        let first = PREFERRED.get() % count;
        (0..count)
            .map(|step| (first + step) % count)
            .find(|&index| {
                let flag = &self.lanes[index as usize].taken;
                !flag.load(Ordering::Relaxed)
                    && flag
                        .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
            })
    }

    fn key(&self) -> usize {
        self.lanes.as_ptr() as usize
    }
}

/// A lane taken by a running transaction; given back when dropped.
pub(super) struct Lane<'a> {
    lanes: &'a Lanes,
    index: u32,
}

impl Lane<'_> {
    pub(super) fn index(&self) -> u32 {
        self.index
    }
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        self.lanes.lanes[self.index as usize]
            .taken
            .store(false, Ordering::SeqCst);
        park::wake(self.lanes.key());
    }
}
