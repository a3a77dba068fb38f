//! Running a transaction on a pool (`Pool::txn`, `Pool::try_txn`), and [`Txn`], the handle
//! its body gets: the only way to change a pool.

use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;
use std::sync::PoisonError;

use pmem_alloc::{Heap, HeapError, PPtr, PSlice, Persistent};

use crate::error::Error;
use crate::header::ROOT_OFFSET;
use crate::pin::Pinned;
use crate::pmut::PMut;
use crate::txn::{self, Ending, GROUP_LIMIT, LogGrowthPanic, PoolAccess, TxnGuard};

use super::heap::SharedAllocation;
use super::{Durability, Pool, active};

impl<R: Persistent> Pool<R> {
    /// Runs `body` as a transaction: every change it makes to the pool is undo-logged, and
    /// the changes are durable together when `txn` returns. If `body` panics, every change
    /// is rolled back and the panic continues. If the transaction was doomed (the outermost
    /// `#[txn]` call returned `Err`, a panic unwound through a `#[txn]` call, or
    /// [`abort`](crate::abort) was called), it is rolled back when `body` returns, and
    /// `body`'s value is returned as it is.
    ///
    /// ```no_run
    /// # use pmem::Pool;
    /// let mut pool = Pool::<[u64; 2]>::open("/dev/shm/pair.pool")?;
    /// pool.txn(|tx| {
    ///     let mut pair = tx.root_mut();
    ///     let [a, b] = *pair;
    ///     *pair.at(0) = b;
    ///     *pair.at(1) = a;
    /// });
    /// # Ok::<(), pmem::Error>(())
    /// ```
    ///
    /// A transaction may change any amount: when its entries outgrow the log slot
    /// ([`PoolOptions::log_size`](super::PoolOptions::log_size)), the log grows into the
    /// heap, one block at a time, and keeps the blocks for later transactions. If the heap
    /// cannot give a block (it is full and the pool cannot grow), the store that needed it
    /// does not happen: the transaction is rolled back, and `txn` panics with the error
    /// ([`try_txn`](Pool::try_txn) returns it).
    ///
    /// # Panics
    ///
    /// If `body` panics, or the log cannot grow (see above), or another transaction is
    /// active on this thread.
    pub fn txn<T>(&mut self, body: impl FnOnce(&mut Txn<'_, R>) -> T) -> T {
        let result = self.run_txn(|tx| Ok::<T, core::convert::Infallible>(body(tx)));
        match result {
            Ok(Ok(value)) => value,
            Err(error) => panic!("{}", LogGrowthPanic(&error)),
        }
    }

    /// Runs `body` as a transaction that commits if it returns `Ok` and is rolled back if it
    /// returns `Err` or panics; see [`txn`](Pool::txn).
    ///
    /// # Errors
    ///
    /// The error `body` returned, after its changes have been rolled back; or, converted
    /// into an `E`, the [`Error`] that kept the log from growing (the heap is full and the
    /// pool cannot grow: [`Error::Heap`]), after the transaction has been rolled back.
    ///
    /// # Panics
    ///
    /// If `body` panics, or another transaction is active on this thread.
    pub fn try_txn<T, E: From<Error>>(
        &mut self,
        body: impl FnOnce(&mut Txn<'_, R>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run_txn(body)
            .unwrap_or_else(|error| Err(E::from(error)))
    }

    /// Runs `body` as a transaction (see [`try_txn`](Pool::try_txn)); `Err` if its log
    /// could not grow, after it has been rolled back.
    fn run_txn<T, E>(
        &mut self,
        body: impl FnOnce(&mut Txn<'_, R>) -> Result<T, E>,
    ) -> Result<Result<T, E>, Error> {
        // No shared transaction runs while the pool is borrowed mutably, so every lane is
        // free.
        let lane = 0;
        let group = self
            .group
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // A group is only ever pending under `Deferred` (`set_durability` syncs first); a
        // member of one ends as a member, whatever the setting.
        let deferred = self.durability == Durability::Deferred || group.is_some();
        let transaction = match group {
            Some(group) => TxnGuard::resume(group),
            None => {
                let access = self.access(lane, false);
                let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
                TxnGuard::begin(access, &mut inner.deferred_lines)
            }
        };
        let mut handle = Txn {
            pool: self,
            not_send: PhantomData,
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            active::with_active_pool(handle.pool, || body(&mut handle))
        }));
        let ending = match (&outcome, deferred) {
            (Ok(Ok(_)), true) => transaction.end_in_group(GROUP_LIMIT),
            (Ok(Ok(_)), false) => Ending::Durable(transaction.end()),
            (_, true) => transaction.roll_back_in_group(GROUP_LIMIT),
            (_, false) => Ending::Durable(transaction.roll_back()),
        };
        // The pool takes the group back before a panic from the body goes on unwinding.
        match ending {
            Ending::Durable(lines) => self.keep_deferred_lines(lines),
            Ending::Pending(group) => {
                *self.group.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(group);
                // A shared transaction makes the group durable before it begins.
                *self.deferred_pending.get_mut() = true;
            }
        }
        match outcome {
            Ok(result) => Ok(result),
            Err(panic) => Err(txn::log_growth_error(panic)),
        }
    }
}

/// An open transaction on a pool with root `R`, handed to the body of [`Pool::txn`].
///
/// It is the only way to change a pool: [`root_mut`](Txn::root_mut) and
/// [`get_mut`](Txn::get_mut) give [`PMut`]s, which log before they allow a write. It
/// cannot leave the transaction's closure or its thread.
pub struct Txn<'p, R: Persistent> {
    pool: &'p Pool<R>,
    not_send: txn::ThreadBound,
}

impl<R: Persistent> Txn<'_, R> {
    /// The root object, to read.
    #[must_use]
    pub fn root(&self) -> &R {
        self.pool.root()
    }

    /// A persistent pointer to the root object, as [`Pool::root_ptr`].
    #[must_use]
    pub fn root_ptr(&self) -> PPtr<R> {
        self.pool.root_ptr()
    }

    /// The root object, to change.
    pub fn root_mut(&mut self) -> PMut<'_, R> {
        let address = self
            .pool
            .mapping
            .address_of(ROOT_OFFSET as usize)
            .cast_mut()
            .cast::<R>();
        let root = NonNull::new(address).expect("a mapped address is not null");
        // SAFETY: the root is valid and aligned (see `Pool::root`) in the pool's data, this
        // thread's transaction is on this pool, and the `PMut` borrows `self` mutably, so
        // no other reference into the pool exists while it lives.
        unsafe { PMut::new(root) }
    }

    /// The object `pointer` points at, to read; see [`Pool::get`].
    ///
    /// # Errors
    ///
    /// As [`Pool::get`].
    pub fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&T, Error> {
        let object = self.pool.get(pointer)?;
        txn::note_lent(pointer.offset());
        Ok(object)
    }

    /// The object `pointer` points at, to change.
    ///
    /// # Errors
    ///
    /// As [`Pool::get`].
    pub fn get_mut<T: Persistent + Sync>(
        &mut self,
        pointer: PPtr<T>,
    ) -> Result<PMut<'_, T>, Error> {
        let object = NonNull::from(self.pool.get(pointer)?);
        txn::note_lent(pointer.offset());
        if txn::is_fresh(pointer.offset() as usize) {
            // SAFETY: as below, and this transaction allocated the object.
            return Ok(unsafe { PMut::new_fresh(object) });
        }
        // SAFETY: `Pool::get` checked that the object is valid, aligned and inside the pool's
        // data; the `PMut` borrows `self` mutably, so no other reference into the pool exists
        // while it lives.
        Ok(unsafe { PMut::new(object) })
    }

    /// Allocates a new object in the pool's heap, set to `value`, and returns a pointer to
    /// it.
    ///
    /// The object costs no undo-log entry and no fence: if the transaction does not commit,
    /// nothing points to it, and the next collection reclaims it. Its bytes are made durable
    /// by the commit. Store the pointer somewhere the pool reaches (a field of the root or
    /// of a reachable object, or a named root) before the transaction ends, or the object is
    /// garbage.
    ///
    /// # Errors
    ///
    /// [`Error::Heap`] if the heap is full even after a collection and cannot grow
    /// ([`PoolOptions::max_size`](super::PoolOptions::max_size)), or cannot hold a `T`
    /// (larger than 64 GiB or aligned beyond a page), or its type table is full; [`Error::HeapCorrupted`] if the
    /// collection found damage, or if the pool's record of `T` disagrees with `T`
    /// ([`HeapError::TypeRecordMismatch`]). Return the error from the transaction to roll
    /// it back.
    pub fn alloc<T: Persistent>(&mut self, value: T) -> Result<PPtr<T>, Error> {
        self.pool.alloc_in_transaction(value, None)
    }

    /// Pins the object `pointer` refers to, as [`Pool::pin`] does: an object allocated in
    /// this transaction and pinned stays alive after it commits without being linked into
    /// the pool, at no fence (it is lost at a crash or restart, like every pin).
    ///
    /// # Errors
    ///
    /// As [`Pool::pin`].
    pub fn pin<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<Pinned<T>, Error> {
        self.pool.pin(pointer)
    }

    /// The object stored under `name`, if there is one; see [`Pool::named_root`].
    ///
    /// # Errors
    ///
    /// As [`Pool::named_root`].
    pub fn named_root<T: Persistent>(&self, name: &str) -> Result<Option<PPtr<T>>, Error> {
        self.pool.named_root(name)
    }

    /// Stores `pointer` under `name`, replacing what the name held: a root that keeps its
    /// object alive, found again with [`named_root`](Txn::named_root) (go-pmem's
    /// `pmem.New`/`pmem.Get`). The change is part of the transaction.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPointer`] if `pointer` is neither null nor valid (see [`Pool::get`]),
    /// and [`Error::Heap`] if `name` is empty, longer than 47 bytes or holds a NUL, or all 63
    /// named roots are in use.
    pub fn set_named_root<T: Persistent + Sync>(
        &mut self,
        name: &str,
        pointer: PPtr<T>,
    ) -> Result<(), Error> {
        if !pointer.is_null() {
            self.pool.get(pointer)?;
        }
        let pool = self.pool;
        let type_index = pool.type_index_of::<T>()?;
        let entry =
            Heap::encode_named_root(name, type_index, pointer.offset()).map_err(Error::Heap)?;
        let slot = match pool.find_named_root(name) {
            Some(existing) => Some(existing.slot),
            None => {
                let used = pool.inner().heap.named_roots(&pool.region());
                (0..pmem_alloc::NAMED_ROOTS)
                    .find(|slot| used.iter().all(|entry| entry.slot != *slot))
            }
        }
        .ok_or(Error::Heap(HeapError::NamedRootsFull))?;
        let offset = pool.inner().heap.named_root_offset(slot);
        pool.write_logged(offset, &entry);
        Ok(())
    }

    /// Removes the named root `name`; returns whether it existed. Its object is garbage from
    /// the next collection on, unless something else reaches it.
    pub fn remove_named_root(&mut self, name: &str) -> bool {
        let pool = self.pool;
        let found = pool.find_named_root(name);
        if let Some(entry) = &found {
            let offset = pool.inner().heap.named_root_offset(entry.slot);
            pool.write_logged(offset, &[0; 64]);
        }
        found.is_some()
    }

    /// Allocates like [`alloc`](Txn::alloc) and returns the new object to change.
    ///
    /// # Errors
    ///
    /// As [`alloc`](Txn::alloc).
    pub fn alloc_mut<T: Persistent + Sync>(&mut self, value: T) -> Result<PMut<'_, T>, Error> {
        let pointer = self.alloc(value)?;
        self.get_mut(pointer)
    }

    /// Allocates a slice of `len` elements in the pool's heap, element `i` set to
    /// `element(i)`, and returns a pointer to it. Its length is stored with it and never
    /// changes. As for [`alloc`](Txn::alloc), it costs no undo-log entry and no fence, and
    /// is garbage unless the pool reaches it when the transaction ends. A slice larger
    /// than an arena's 511 data pages (2 MiB less 4 KiB, its 8-byte length included) gets
    /// whole arenas of its own (a *huge* object, grown into if the pool must), whose
    /// allocation costs one fence: `pmem-alloc`'s `layout.rs`, rule 4.
    ///
    /// # Errors
    ///
    /// As [`alloc`](Txn::alloc); [`HeapError::ObjectTooLarge`](crate::HeapError) if the
    /// slice with its 8-byte length exceeds 64 GiB less 4 KiB
    /// ([`MAX_OBJECT_PAGES`](pmem_alloc::MAX_OBJECT_PAGES)).
    pub fn alloc_slice_with<T: Persistent>(
        &mut self,
        len: usize,
        element: impl FnMut(usize) -> T,
    ) -> Result<PSlice<T>, Error> {
        self.pool.alloc_slice_in_transaction(len, element, None)
    }

    /// Allocates a slice holding a copy of `elements`; see
    /// [`alloc_slice_with`](Txn::alloc_slice_with).
    ///
    /// # Errors
    ///
    /// As [`alloc_slice_with`](Txn::alloc_slice_with).
    pub fn alloc_slice_copied<T: Persistent + Copy>(
        &mut self,
        elements: &[T],
    ) -> Result<PSlice<T>, Error> {
        self.alloc_slice_with(elements.len(), |index| elements[index])
    }

    /// The slice `slice` points at; see [`Pool::get_slice`].
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`].
    pub fn get_slice<T: Persistent + Sync>(&self, slice: PSlice<T>) -> Result<&[T], Error> {
        let elements = self.pool.get_slice(slice)?;
        txn::note_lent(slice.offset());
        Ok(elements)
    }

    /// The slice `slice` points at, to change. Stores through the `PMut` are logged as
    /// [`PMut`] says: inside a `#[txn]` function, `elements[i] = x` logs element `i`;
    /// outside one, narrow it with [`PMut::at`] first, as a first `&mut [T]` logs the
    /// whole slice.
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`].
    pub fn get_slice_mut<T: Persistent + Sync>(
        &mut self,
        slice: PSlice<T>,
    ) -> Result<PMut<'_, [T]>, Error> {
        let elements = NonNull::from(self.pool.get_slice(slice)?);
        txn::note_lent(slice.offset());
        active::claim_for_handle(
            core::ptr::from_ref(self) as usize,
            slice.offset(),
            core::any::type_name::<[T]>(),
        )?;
        if txn::is_fresh(slice.offset() as usize) {
            // SAFETY: as below, and this transaction allocated the slice.
            return Ok(unsafe { PMut::new_fresh(elements) });
        }
        // SAFETY: `Pool::get_slice` checked that the elements are valid, aligned and inside
        // the pool's data; the `PMut` borrows `self` mutably, so no other reference into
        // the pool exists while it lives.
        Ok(unsafe { PMut::new(elements) })
    }
}

impl<R: Persistent> Pool<R> {
    /// Keeps the lines an exclusive transaction deferred, for the next one to write back.
    fn keep_deferred_lines(&mut self, lines: Vec<usize>) {
        *self.deferred_pending.get_mut() = !lines.is_empty();
        self.inner
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .deferred_lines = lines;
    }

    /// What a transaction in lane `lane` needs from the pool.
    pub(super) fn access(&self, lane: u32, shared: bool) -> PoolAccess {
        PoolAccess {
            mapping: NonNull::from(&*self.mapping),
            flusher: self.flusher.clone(),
            data: self.data(),
            slot_offset: self.log.slot_offset(lane) as usize,
            slot_len: self.log.slot_len as usize,
            block_len: crate::log::block_len(self.log.slot_len as usize),
            growth: self.log_growth(),
            deferred_lines: Vec::new(),
            shared,
            rolled_back: NonNull::from(&*self.rolled_back),
        }
    }

    /// Allocates a new object set to `value` in the running transaction (see
    /// [`Txn::alloc`]); `shared` as in `allocate_slot`.
    pub(super) fn alloc_in_transaction<T: Persistent>(
        &self,
        value: T,
        shared: Option<SharedAllocation<'_>>,
    ) -> Result<PPtr<T>, Error> {
        let _layout_checked: u64 = const { T::LAYOUT_HASH };
        let offset = self.allocate_slot::<T>(shared)?;
        let address = self
            .mapping
            .address_of(offset as usize)
            .cast_mut()
            .cast::<T>();
        // SAFETY: the heap returned a free slot of `T`'s class: inside the mapping, aligned
        // for `T` (slots are multiples of its alignment from a page boundary), at least
        // `size_of::<T>()` bytes, and referenced by nothing (no pointer in the pool reaches a
        // free slot, and no other transaction is given it).
        unsafe { address.write(value) };
        txn::note_fresh(offset as usize, size_of::<T>());
        Ok(PPtr::from_offset(offset))
    }
}
