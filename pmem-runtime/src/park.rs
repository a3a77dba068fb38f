//! Waiting for another thread: what a transaction does when the lock or the lane it needs
//! is taken.
//!
//! A waiter spins briefly, then sleeps on one of a fixed set of condition variables chosen
//! by the address it waits on (several addresses share one: a wake-up is a hint, and every
//! waiter checks its own condition again). The waker changes the state first, then wakes
//! only if a waiter announced itself; both sides use sequentially consistent operations on
//! the state and the waiter count, so either the waker sees the waiter or the waiter sees
//! the new state, and no wake-up is lost.
//!
//! On a simulated persistence domain, a waiter never sleeps: it tells the domain it waits
//! (`Event::Waiting`), so that a scheduler running one thread at a time lets another one
//! run, and tries again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use crate::hw::flush::{Event, Flusher};

/// How many times a waiter tries again before it sleeps.
const SPINS: u32 = 100;

struct Bucket {
    waiters: AtomicUsize,
    mutex: Mutex<()>,
    woken: Condvar,
}

impl Bucket {
    const fn new() -> Self {
        Self {
            waiters: AtomicUsize::new(0),
            mutex: Mutex::new(()),
            woken: Condvar::new(),
        }
    }
}

static BUCKETS: [Bucket; 64] = [const { Bucket::new() }; 64];

fn bucket(key: usize) -> &'static Bucket {
    let hash = (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
    &BUCKETS[hash as usize]
}

/// Returns once `attempt` succeeds, trying it again each time a thread may have released
/// what it waits for. `key` is the address of the state `attempt` reads; whoever changes
/// that state so that `attempt` could succeed calls [`wake`] with the same key.
pub(crate) fn wait_until(flusher: &Flusher, key: usize, mut attempt: impl FnMut() -> bool) {
    for _ in 0..SPINS {
        if attempt() {
            return;
        }
        if flusher.is_simulated() {
            flusher.tell(Event::Waiting);
        } else {
            core::hint::spin_loop();
        }
    }
    if flusher.is_simulated() {
        while !attempt() {
            flusher.tell(Event::Waiting);
            std::thread::yield_now();
        }
        return;
    }
    let bucket = bucket(key);
    let mut guard = bucket.mutex.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        bucket.waiters.fetch_add(1, Ordering::SeqCst);
        if attempt() {
            bucket.waiters.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        guard = bucket
            .woken
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner);
        bucket.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wakes the threads waiting on `key` (see [`wait_until`]), after the caller changed the
/// state they wait on with a sequentially consistent store.
pub(crate) fn wake(key: usize) {
    let bucket = bucket(key);
    if bucket.waiters.load(Ordering::SeqCst) > 0 {
        drop(bucket.mutex.lock().unwrap_or_else(PoisonError::into_inner));
        bucket.woken.notify_all();
    }
}
