//! [`PMutex`]: a lock that lives in persistent objects, and joins transactions.
//!
//! **On disk.** A `PMutex<T>` is an 8-byte lock word followed by the `T`. The lock word is
//! volatile state kept in the pool: while a transaction holds the lock it holds the pool's
//! *run id* (random, drawn at every open) shifted left by two, with bit 0 set (and bit 1
//! set when another thread waits). Every other value means unlocked. So a lock word that a
//! crash (or a copy of the file) left "locked" reads as unlocked in the next run: lock state
//! never survives a restart, and nothing has to reset the locks at open (PMDK compares a
//! run id the same way). The lock word is written without a log entry, inside and outside
//! transactions; recovery and the collector never read it, and an undo entry never
//! restores it in a shared transaction (entries there cover only lock values).
//!
//! **Two-phase locking.** [`SharedTxn::lock`](crate::SharedTxn::lock) takes the lock for
//! the rest of the transaction; it is released only after the transaction has committed
//! and its commit is durable, or has been rolled back and the rollback is durable
//! (`txn/running.rs`). So no other thread sees bytes a crash could still take back, and a
//! thread that takes a lock after another released it sees (happens-after) every write the
//! other made under it. Taking a lock the transaction already holds is free and hands out
//! the value again. A transaction that waits for a lock another waits to take from it
//! deadlocks: take locks in one global order, or use
//! [`try_lock`](crate::SharedTxn::try_lock) and retry the transaction
//! (`docs/src/memory-model.md`).

use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use std::hash::{BuildHasher, RandomState};

use pmem_alloc::type_hash::{hash_str, hash_u64};
use pmem_alloc::{Persistent, PointerMap};

use crate::hw::flush::Flusher;
use crate::park;

/// A mutual-exclusion lock inside a persistent object, guarding a `T`.
///
/// In a transaction on a shared pool ([`Pool::shared_txn`](crate::Pool::shared_txn)), the
/// only way to change data is to lock it: [`SharedTxn::lock`](crate::SharedTxn::lock)
/// gives a [`PMut<T>`](crate::PMut), and the lock stays held until the transaction has
/// ended durably (two-phase locking). In an exclusive transaction ([`Pool::txn`](crate::Pool::txn)),
/// which has the pool to itself, [`get_mut`](PMutex::get_mut) reaches the value without
/// locking.
///
/// `T` must leave no padding after the lock word: its alignment at most 8 and its size a
/// multiple of 8 (checked at compile time, when the type is first used with a pool).
///
/// ```
/// # use pmem::{Persistent, PMutex, PoolOptions};
/// #[derive(Persistent)]
/// #[repr(C)]
/// struct Counters {
///     hits: PMutex<u64>,
/// }
/// # let file = pmem::simulation::ScratchFile::new("pmutex-doc");
/// let pool = PoolOptions::new()
///     .lanes(2)
///     .create(file.path(), Counters { hits: PMutex::new(0) })?;
/// std::thread::scope(|scope| {
///     for _ in 0..2 {
///         scope.spawn(|| {
///             pool.shared_txn(|tx| *tx.lock(&tx.root().hits) += 1);
///         });
///     }
/// });
/// assert_eq!(pool.shared_txn(|tx| *tx.lock(&tx.root().hits)), 2);
/// # Ok::<(), pmem::Error>(())
/// ```
#[repr(C)]
pub struct PMutex<T> {
    word: AtomicU64,
    value: UnsafeCell<T>,
}

// SAFETY: a shared `&PMutex<T>` reaches the `T` only through `SharedTxn::lock`, which takes
// the lock first (two-phase locking: held until the transaction has ended), so one thread
// at a time reaches the value; `T: Persistent` is plain data, which any thread may own.
unsafe impl<T: Persistent> Sync for PMutex<T> {}

impl<T> PMutex<T> {
    /// Refuses a `T` that would leave padding after the lock word; evaluated where a
    /// `PMutex<T>` is made or described, so the error names the user's call.
    const NO_PADDING: () = assert!(
        size_of::<Self>() == size_of::<AtomicU64>() + size_of::<T>(),
        "a PMutex<T> must hold no padding: T must be aligned to at most 8 bytes and its size a multiple of 8"
    );

    /// A new, unlocked lock guarding `value`: to allocate, or to build a root with.
    pub const fn new(value: T) -> Self {
        let () = Self::NO_PADDING;
        Self {
            word: AtomicU64::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, through an exclusive reference: inside an exclusive transaction, through
    /// a [`PMut`](crate::PMut) of the object that holds the lock, which logged it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    pub(crate) fn word(&self) -> &AtomicU64 {
        &self.word
    }

    pub(crate) fn value(&self) -> *mut T {
        self.value.get()
    }
}

impl<T> fmt::Debug for PMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PMutex { .. }")
    }
}

// SAFETY: a `PMutex<T>` is a `u64`-sized atomic and a `T` (`#[repr(C)]`); every bit pattern
// is a valid atomic and, `T` being `Persistent`, a valid `T`. The assertion in
// `LAYOUT_HASH` refuses padding. Its `UnsafeCell` is the one interior mutability the
// `Persistent` rules allow: the value changes only under the lock in a transaction, which
// logs it, and the lock word is volatile state that nothing reads after a restart. The
// value's pointers are described at its offset.
unsafe impl<T: Persistent> Persistent for PMutex<T> {
    const NAME_HASH: u64 = hash_str(T::NAME_HASH, "pmem::PMutex");
    const LAYOUT_HASH: u64 = {
        let () = Self::NO_PADDING;
        hash_u64(
            hash_str(T::LAYOUT_HASH, "pmem::PMutex"),
            size_of::<Self>() as u64,
        )
    };
    const CONTAINS_LOCK: bool = true;

    fn describe_pointers(map: &mut PointerMap, offset: usize) {
        T::describe_pointers(map, offset + size_of::<AtomicU64>());
    }
}

/// A run id for a new open of a pool: 62 random bits (from the standard library's
/// randomly keyed hasher, mixed with the pool's state sequence number).
pub(crate) fn new_run_id(sequence: u64) -> u64 {
    RandomState::new().hash_one(sequence) >> 2
}

/// The lock word of a lock held in the run `run_id`.
fn held_by(run_id: u64) -> u64 {
    (run_id << 2) | 1
}

/// Whether a lock word with value `word` is held in the run `run_id`.
fn is_held(word: u64, run_id: u64) -> bool {
    word & !2 == held_by(run_id)
}

/// Takes the lock if it is free; returns whether it did.
pub(crate) fn try_acquire(word: &AtomicU64, run_id: u64) -> bool {
    let current = word.load(Ordering::Relaxed);
    !is_held(current, run_id)
        && word
            .compare_exchange(
                current,
                held_by(run_id),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok()
}

/// Takes the lock, waiting while another transaction holds it.
pub(crate) fn acquire(word: &AtomicU64, run_id: u64, flusher: &Flusher) {
    if try_acquire(word, run_id) {
        return;
    }
    let contended = held_by(run_id) | 2;
    park::wait_until(flusher, core::ptr::from_ref(word) as usize, || {
        let mut current = word.load(Ordering::SeqCst);
        loop {
            if is_held(current, run_id) && current == contended {
                // A waiter is announced: the release will wake this one.
                return false;
            }
            // Held without a waiter announced: announces one, so that the release wakes
            // it. Free: takes it as contended, since other waiters may sleep on it and the
            // release must wake them. Either way, a failed exchange means the word changed
            // (released, taken again, or announced by another waiter): look again, for a
            // waiter that sleeps without having announced itself is never woken.
            match word.compare_exchange(current, contended, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return !is_held(current, run_id),
                Err(now) => current = now,
            }
        }
    });
}

/// Releases a lock this run holds.
pub(crate) fn release(word: &AtomicU64) {
    let previous = word.swap(0, Ordering::SeqCst);
    if previous & 2 != 0 {
        park::wake(core::ptr::from_ref(word) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_word_of_another_run_reads_as_unlocked() {
        let word = AtomicU64::new(held_by(7) | 2);
        assert!(
            try_acquire(&word, 8),
            "a lock held in run 7 is free in run 8"
        );
        assert!(!try_acquire(&word, 8), "and now held in run 8");
        release(&word);
        assert!(try_acquire(&word, 8));
    }

    #[test]
    fn run_ids_differ_between_opens() {
        assert_ne!(new_run_id(5), new_run_id(5));
        assert_eq!(new_run_id(5) >> 62, 0);
    }
}
