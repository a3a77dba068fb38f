//! Transactions from many threads at once (`Pool::shared_txn`), and [`SharedTxn`], the handle
//! their bodies get.
//!
//! A shared transaction borrows the pool by shared reference, takes a lane (its own log
//! slot, `lanes.rs`), and may change only what it locks ([`SharedTxn::lock`]) or allocates.
//! `docs/src/memory-model.md` says what one thread may assume about another's writes and
//! their durability; `lock.rs` how locks join transactions; `log.rs` why entries of two
//! transactions never overlap.

use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use pmem_alloc::{HiddenSlot, PPtr, PSlice, Persistent};

use crate::error::Error;
use crate::header::ROOT_OFFSET;
use crate::hw::flush::Event;
use crate::hw::mutation::PersistenceCall;
use crate::lock::{self, PMutex};
use crate::pin::Pinned;
use crate::pmut::PMut;
use crate::txn::{self, LogGrowthPanic, TxnGuard};

use super::active::{self, SharedActivePool};
use super::heap::SharedAllocation;
use super::{Pool, Visibility};

impl<R: Persistent> Pool<R> {
    /// Runs `body` as a transaction that other threads' shared transactions may run beside,
    /// on the same pool: `&Pool` in scoped threads, or an `Arc<Pool>`. It commits as
    /// [`txn`](Pool::txn) does, durably before `shared_txn` returns, and is rolled back if
    /// `body` panics or dooms it.
    ///
    /// Data reachable from the pool is read-only in a shared transaction except behind a
    /// [`PMutex`]: [`SharedTxn::lock`] takes the lock until the transaction has ended and
    /// gives the value to change. Objects the transaction allocates it may change freely.
    ///
    /// Each running transaction takes a lane ([`PoolOptions::lanes`](super::PoolOptions::lanes));
    /// when all are taken, `shared_txn` waits for one.
    ///
    /// A shared transaction never collects garbage: when the heap is full it grows the pool
    /// (up to [`PoolOptions::max_size`](super::PoolOptions::max_size)). Collections need the
    /// pool to themselves ([`collect`](Pool::collect), and the allocations of [`txn`](Pool::txn)).
    ///
    /// ```
    /// # use pmem::{Persistent, PMutex, PoolOptions};
    /// #[derive(Persistent)]
    /// #[repr(C)]
    /// struct Bank {
    ///     accounts: [PMutex<u64>; 2],
    /// }
    /// # let file = pmem::simulation::ScratchFile::new("shared-txn-doc");
    /// let pool = PoolOptions::new().lanes(2).create(
    ///     file.path(),
    ///     Bank { accounts: [PMutex::new(100), PMutex::new(0)] },
    /// )?;
    /// std::thread::scope(|scope| {
    ///     for _ in 0..2 {
    ///         scope.spawn(|| {
    ///             for _ in 0..10 {
    ///                 // Locks are taken in one order (index 0, then 1): no deadlock.
    ///                 pool.shared_txn(|tx| {
    ///                     let bank = tx.root();
    ///                     *tx.lock(&bank.accounts[0]) -= 1;
    ///                     *tx.lock(&bank.accounts[1]) += 1;
    ///                 });
    ///             }
    ///         });
    ///     }
    /// });
    /// let total = pool.shared_txn(|tx| {
    ///     let bank = tx.root();
    ///     *tx.lock(&bank.accounts[0]) + *tx.lock(&bank.accounts[1])
    /// });
    /// assert_eq!(total, 100);
    /// # Ok::<(), pmem::Error>(())
    /// ```
    ///
    /// Its log grows into the heap as [`txn`](Pool::txn)'s does, and if the heap cannot
    /// give it a block, it is rolled back and `shared_txn` panics with the error
    /// ([`try_shared_txn`](Pool::try_shared_txn) returns it).
    ///
    /// # Panics
    ///
    /// If `body` panics, or the log cannot grow (see above), or another transaction is
    /// active on this thread.
    pub fn shared_txn<T>(&self, body: impl FnOnce(&mut SharedTxn<'_, R>) -> T) -> T {
        let result = self.run_shared_txn(|tx| Ok::<T, core::convert::Infallible>(body(tx)));
        match result {
            Ok(Ok(value)) => value,
            Err(error) => panic!("{}", LogGrowthPanic(&error)),
        }
    }

    /// Runs `body` as a shared transaction that commits if it returns `Ok` and is rolled
    /// back if it returns `Err` or panics; see [`shared_txn`](Pool::shared_txn).
    ///
    /// # Errors
    ///
    /// The error `body` returned, after its changes have been rolled back; or, converted
    /// into an `E`, the [`Error`] that kept the log from growing, after the transaction has
    /// been rolled back (see [`try_txn`](Pool::try_txn)).
    ///
    /// # Panics
    ///
    /// If `body` panics, or another transaction is active on this thread.
    pub fn try_shared_txn<T, E: From<Error>>(
        &self,
        body: impl FnOnce(&mut SharedTxn<'_, R>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run_shared_txn(body)
            .unwrap_or_else(|error| Err(E::from(error)))
    }

    /// Runs `body` as a shared transaction (see [`try_shared_txn`](Pool::try_shared_txn));
    /// `Err` if its log could not grow, after it has been rolled back.
    fn run_shared_txn<T, E>(
        &self,
        body: impl FnOnce(&mut SharedTxn<'_, R>) -> Result<T, E>,
    ) -> Result<Result<T, E>, Error> {
        assert!(
            !txn::in_transaction(),
            "pmem: a transaction is already active on this thread; a shared transaction cannot run inside another transaction"
        );
        let lane = self.lanes.take(&self.flusher);
        self.write_back_deferred_lines();
        let transaction = TxnGuard::begin(self.access(lane.index(), true), &mut Vec::new());
        let mut handle = SharedTxn {
            pool: self,
            lane: lane.index(),
            hidden: Vec::new(),
            not_send: PhantomData,
        };
        let collections = SharedActivePool::new(self);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            active::with_active_pool(&collections, || body(&mut handle))
        }));
        // Revealed when the transaction has ended, just before it releases its locks: a
        // thread that takes one of them next must find the objects this one linked under
        // it, and the buffers of the collections it changed under them. Not before: a
        // rollback writes the claimed buffers back, and a reader that reaches one through
        // another collection naming it (a damaged file, or a value stashed out of a
        // rolled-back transaction) must not find it while it does.
        txn::reveal_at_end(
            handle
                .hidden
                .drain(..)
                .chain(collections.hidden.into_inner()),
        );
        let result = match outcome {
            Ok(Ok(value)) => {
                transaction.end();
                Ok(Ok(value))
            }
            Ok(Err(error)) => {
                transaction.roll_back();
                Ok(Err(error))
            }
            Err(panic) => {
                transaction.roll_back();
                Err(txn::log_growth_error(panic))
            }
        };
        // The lane is given back (dropped) only now, after the transaction has ended.
        result
    }

    /// Makes the lines that exclusive transactions deferred durable now: a shared
    /// transaction cannot leave them to the next commit, whose fence may run on another
    /// thread and so would not order this thread's write-backs.
    fn write_back_deferred_lines(&self) {
        // Set only by exclusive transactions, which end before the pool can be shared: the
        // borrow that ends them orders this load after their store. A load first, so
        // that threads on other cores keep the line shared.
        if !self.deferred_pending.load(Ordering::Relaxed)
            || !self.deferred_pending.swap(false, Ordering::Relaxed)
        {
            return;
        }
        self.sync_group();
        let mut inner = self.inner();
        if inner.deferred_lines.is_empty() {
            return;
        }
        let mut lines = core::mem::take(&mut inner.deferred_lines);
        self.flusher
            .flush_lines_for(PersistenceCall::DeferredFlush, &self.mapping, &mut lines);
        self.flusher.fence();
    }
}

/// A transaction running on a shared pool, handed to the body of [`Pool::shared_txn`].
///
/// It reads the pool ([`root`](SharedTxn::root), [`get`](SharedTxn::get)) with references
/// that last for the whole transaction, and changes it only through the [`PMutex`]es it
/// locks and the objects it allocates. It cannot leave the transaction's closure or its
/// thread.
pub struct SharedTxn<'t, R: Persistent> {
    pool: &'t Pool<R>,
    lane: u32,
    /// The objects this transaction allocated, hidden from other threads until its body
    /// has returned.
    hidden: Vec<HiddenSlot>,
    not_send: txn::ThreadBound,
}

impl<'t, R: Persistent> SharedTxn<'t, R> {
    /// The root object, to read, and to find the locks to take.
    #[must_use]
    pub fn root(&self) -> &'t R {
        self.pool.root()
    }

    /// The object `pointer` points at, to read; see [`Pool::get`].
    ///
    /// # Errors
    ///
    /// As [`Pool::get`].
    pub fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&'t T, Error> {
        self.pool.get(pointer)
    }

    /// Takes `mutex`, waiting while another transaction holds it, and gives its value to
    /// change. The lock is held until this transaction has ended and its commit (or
    /// rollback) is durable. Taking a lock the transaction already holds does not wait.
    ///
    /// A transaction that waits here for a lock held by a transaction waiting for one it
    /// holds deadlocks: take locks in one order everywhere, or use
    /// [`try_lock`](SharedTxn::try_lock).
    ///
    /// # Panics
    ///
    /// If `mutex` is not inside this pool's data.
    pub fn lock<T: Persistent>(&mut self, mutex: &'t PMutex<T>) -> PMut<'_, T> {
        self.take(mutex, true)
            .expect("a blocking lock is always taken")
    }

    /// Takes `mutex` as [`lock`](SharedTxn::lock) does if no other transaction holds it.
    ///
    /// # Errors
    ///
    /// [`Error::LockBusy`] if another transaction holds it. Returning the error from the
    /// transaction rolls it back and releases its locks, after which it can be retried.
    ///
    /// # Panics
    ///
    /// As [`lock`](SharedTxn::lock).
    pub fn try_lock<T: Persistent>(&mut self, mutex: &'t PMutex<T>) -> Result<PMut<'_, T>, Error> {
        self.take(mutex, false).ok_or(Error::LockBusy {
            type_name: core::any::type_name::<T>(),
        })
    }

    fn take<T: Persistent>(&mut self, mutex: &'t PMutex<T>, wait: bool) -> Option<PMut<'_, T>> {
        let _layout_checked: u64 = const { PMutex::<T>::LAYOUT_HASH };
        let pool = self.pool;
        let base = pool.mapping.address_of(0) as usize;
        let word_offset = (core::ptr::from_ref(mutex) as usize).wrapping_sub(base);
        assert!(
            pool.in_data(word_offset, size_of::<PMutex<T>>()),
            "pmem: SharedTxn::lock was given a PMutex outside this pool's data"
        );
        let word = mutex.word();
        if !txn::holds_lock(word) {
            if wait {
                lock::acquire(word, pool.run_id, &pool.flusher);
            } else if !lock::try_acquire(word, pool.run_id) {
                return None;
            }
            pool.flusher.tell(Event::Volatile {
                offset: word_offset,
                len: size_of::<u64>(),
            });
            txn::note_lock(word, word_offset + size_of::<u64>(), size_of::<T>());
        }
        let value = NonNull::new(mutex.value()).expect("a reference is not null");
        // SAFETY: the value lies inside the pool's data (checked above), is a valid, aligned
        // `T` (a field of a `PMutex<T>`), and this transaction holds its lock until it ends,
        // so no other thread reaches it; the `PMut` borrows `self` mutably, so no other
        // reference this transaction hands out reaches it while the `PMut` lives.
        Some(unsafe { PMut::new(value) })
    }

    /// Allocates a new object in the pool's heap, set to `value`; see [`Txn::alloc`](super::Txn::alloc).
    /// A shared transaction grows the pool rather than collect (see [`Pool::shared_txn`]).
    ///
    /// # Errors
    ///
    /// As [`Txn::alloc`](super::Txn::alloc).
    pub fn alloc<T: Persistent>(&mut self, value: T) -> Result<PPtr<T>, Error> {
        self.pool.alloc_in_transaction(
            value,
            Some(SharedAllocation {
                lane: self.lane,
                hidden: &mut self.hidden,
            }),
        )
    }

    /// Allocates like [`alloc`](SharedTxn::alloc) and returns the new object to change.
    ///
    /// # Errors
    ///
    /// As [`alloc`](SharedTxn::alloc).
    pub fn alloc_mut<T: Persistent + Sync>(&mut self, value: T) -> Result<PMut<'_, T>, Error> {
        let pointer = self.alloc(value)?;
        self.get_mut(pointer)
    }

    /// An object this transaction allocated, to change. Objects it did not allocate are
    /// changed through the locks that guard them.
    ///
    /// Until the transaction ends, no one else reads the objects it allocates:
    /// [`get`](SharedTxn::get) and [`Pool::get`] refuse them (on every thread, this one
    /// included), so the `PMut` this gives is the only reference to its object.
    ///
    /// # Errors
    ///
    /// As [`Pool::get`], and [`Error::InvalidPointer`] if this transaction did not
    /// allocate the object.
    pub fn get_mut<T: Persistent + Sync>(
        &mut self,
        pointer: PPtr<T>,
    ) -> Result<PMut<'_, T>, Error> {
        let object = self
            .pool
            .checked_address(pointer, Visibility::WrittenByThisTransaction)?;
        if pointer.offset() == ROOT_OFFSET || !txn::is_fresh(pointer.offset() as usize) {
            return Err(Error::InvalidPointer {
                offset: pointer.offset(),
                type_name: core::any::type_name::<T>(),
                reason: "a shared transaction changes only objects it allocated, and others through their locks",
            });
        }
        // SAFETY: `checked_address` checked that the object is valid, aligned and inside the
        // pool's data; this transaction allocated it, and the heap hides it from every
        // `get` until the transaction has ended, so no other reference to it exists; the
        // `PMut` borrows `self` mutably.
        Ok(unsafe { PMut::new_fresh(object) })
    }

    /// Allocates a slice, element `i` set to `element(i)`; see
    /// [`Txn::alloc_slice_with`](super::Txn::alloc_slice_with). Like every object a shared
    /// transaction allocates, it is hidden from other readers until the transaction ends.
    ///
    /// # Errors
    ///
    /// As [`Txn::alloc_slice_with`](super::Txn::alloc_slice_with).
    pub fn alloc_slice_with<T: Persistent>(
        &mut self,
        len: usize,
        element: impl FnMut(usize) -> T,
    ) -> Result<PSlice<T>, Error> {
        self.pool.alloc_slice_in_transaction(
            len,
            element,
            Some(SharedAllocation {
                lane: self.lane,
                hidden: &mut self.hidden,
            }),
        )
    }

    /// Allocates a slice holding a copy of `elements`; see
    /// [`alloc_slice_with`](SharedTxn::alloc_slice_with).
    ///
    /// # Errors
    ///
    /// As [`alloc_slice_with`](SharedTxn::alloc_slice_with).
    pub fn alloc_slice_copied<T: Persistent + Copy>(
        &mut self,
        elements: &[T],
    ) -> Result<PSlice<T>, Error> {
        self.alloc_slice_with(elements.len(), |index| elements[index])
    }

    /// The slice `slice` points at, to read; see [`Pool::get_slice`].
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`].
    pub fn get_slice<T: Persistent + Sync>(&self, slice: PSlice<T>) -> Result<&'t [T], Error> {
        self.pool.get_slice(slice)
    }

    /// A slice this transaction allocated, to change; see [`get_mut`](SharedTxn::get_mut).
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`], and [`Error::InvalidPointer`] if this transaction did not
    /// allocate it.
    pub fn get_slice_mut<T: Persistent + Sync>(
        &mut self,
        slice: PSlice<T>,
    ) -> Result<PMut<'_, [T]>, Error> {
        let elements = self
            .pool
            .checked_slice(slice, Visibility::WrittenByThisTransaction)?;
        if !txn::is_fresh(slice.offset() as usize) {
            return Err(Error::InvalidPointer {
                offset: slice.offset(),
                type_name: core::any::type_name::<[T]>(),
                reason: "a shared transaction changes only objects it allocated, and others through their locks",
            });
        }
        active::claim_for_handle(
            core::ptr::from_ref(self) as usize,
            slice.offset(),
            core::any::type_name::<[T]>(),
        )?;
        // SAFETY: `checked_slice` checked that the elements are valid, aligned and inside
        // one heap object; this transaction allocated it, and the heap hides it from every
        // reader until the transaction has ended, so no other reference to it exists; the
        // `PMut` borrows `self` mutably.
        Ok(unsafe { PMut::new_fresh(elements) })
    }

    /// Pins the object `pointer` points at; see [`Pool::pin`].
    ///
    /// # Errors
    ///
    /// As [`Pool::pin`].
    pub fn pin<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<Pinned<T>, Error> {
        if txn::is_fresh(pointer.offset() as usize) {
            self.pool
                .checked_address(pointer, Visibility::WrittenByThisTransaction)?;
            return Ok(self.pool.pin_unchecked(pointer));
        }
        self.pool.pin(pointer)
    }

    /// The object stored under `name`, if there is one; see [`Pool::named_root`]. Named
    /// roots are set by exclusive transactions ([`Txn::set_named_root`](super::Txn::set_named_root)).
    ///
    /// # Errors
    ///
    /// As [`Pool::named_root`].
    pub fn named_root<T: Persistent>(&self, name: &str) -> Result<Option<PPtr<T>>, Error> {
        self.pool.named_root(name)
    }
}
