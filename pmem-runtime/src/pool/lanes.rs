//! Lanes: the log slots that running transactions take, one each.
//!
//! A pool has as many lanes as log slots (`PoolOptions::lanes`, recorded in the header).
//! A transaction takes a free lane when it begins and gives it back when it has ended
//! (committed or rolled back, and durable), so two running transactions never write one
//! slot. Each lane's flag has a cache line of its own, and a thread tries the lane it used
//! last first, so threads that each keep to their own lane share no written line. A thread
//! that finds no lane free waits (`park.rs`) until one is given back.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::hw::flush::Flusher;
use crate::park;

thread_local! {
    /// The lane this thread took last, tried first next time.
    static PREFERRED: Cell<u32> = const { Cell::new(0) };
}

#[repr(align(64))]
struct LaneFlag(AtomicBool);

/// The pool's lanes, and which are taken.
pub(super) struct Lanes {
    taken: Box<[LaneFlag]>,
}

impl Lanes {
    pub(super) fn new(count: u32) -> Self {
        Self {
            taken: (0..count)
                .map(|_| LaneFlag(AtomicBool::new(false)))
                .collect(),
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
        let count = self.taken.len() as u32;
        let first = PREFERRED.get() % count;
        (0..count)
            .map(|step| (first + step) % count)
            .find(|&index| {
                let flag = &self.taken[index as usize].0;
                !flag.load(Ordering::Relaxed)
                    && flag
                        .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
            })
    }

    fn key(&self) -> usize {
        self.taken.as_ptr() as usize
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
        self.lanes.taken[self.index as usize]
            .0
            .store(false, Ordering::SeqCst);
        park::wake(self.lanes.key());
    }
}
