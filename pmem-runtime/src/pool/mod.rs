//! Pools: a pool file mapped into memory, its root, and its heap.
//!
//! One job per file:
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Pool`]: the open pool, its root, reading objects (`get`), closing |
//! | `options.rs` | [`PoolOptions`] and the choice of a flush mode |
//! | `create.rs` | the create protocol (`docs/src/file-format.md`, "Creating a pool") |
//! | `open.rs` | the open protocol: every check, then recovery and the collection |
//! | `transaction.rs` | running a transaction (`Pool::txn`) and its handle, [`Txn`] |
//! | `shared.rs` | transactions from many threads at once (`Pool::shared_txn`) and their handle, [`SharedTxn`] |
//! | `lanes.rs` | the log slots (lanes) that running transactions take |
//! | `heap.rs` | the pool's side of the heap: allocation and collection policy, pins, named roots |
//! | `log_blocks.rs` | the log's extension blocks in the heap: allocating one for a growing log, keeping the chained ones |
//! | `info.rs` | [`PoolInfo`] and [`PoolUuid`] |
//! | `slices.rs` | runtime-sized objects: allocating and reading slices ([`PSlice`](pmem_alloc::PSlice)) |
//! | `active.rs` | the pool whose exclusive transaction runs on this thread, for collections ([`alloc_slice_with`], [`owned_slice_mut`]) |
//! | `read.rs` | [`Reader`]: reading through a pool or a transaction alike |
//! | `untyped.rs` | [`UntypedPool`]: a pool opened without its root type, for tools |
//! | `compact.rs` | [`compact`]: moving live objects together into a smaller file, crash-safely |

mod active;
mod compact;
mod create;
mod heap;
mod info;
mod lanes;
mod log_blocks;
mod open;
mod options;
mod read;
mod shared;
mod slices;
mod transaction;
mod untyped;

pub use active::{
    alloc_slice_with, buffer_outlived_a_rollback, owned_slice_mut, owned_slice_mut_by,
    release_claims, with_owned_slice,
};
pub use read::Reader;

pub use compact::{Compaction, compact, compact_with, temporary_path};
pub use info::{PoolInfo, PoolUuid};
pub use options::{Durability, PoolOptions};
pub use shared::SharedTxn;
pub use transaction::Txn;
pub use untyped::{PoolDetails, UntypedPool};

use std::fmt;
use std::fs::File;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};
use std::time::{Duration, UNIX_EPOCH};

use pmem_alloc::{Collection, Heap, PPtr, Persistent, TypeInfo};

use crate::data::DataRanges;
use crate::error::Error;
use crate::header::{HEADER_LEN, Identity, LogArea, ROOT_OFFSET, State};
use crate::hw::flush::{Event, Flusher};
use crate::hw::mapping::Mapping;
use crate::pin::PinTable;
use crate::region::{Growable, PoolRegion};
use crate::txn::RolledBack;

use lanes::Lanes;

/// An open pool whose root object is an `R`.
///
/// A pool is one file, mapped into memory and locked against other openers until the `Pool`
/// is dropped or [`close`](Pool::close)d, which records a clean shutdown.
///
/// A pool runs transactions in two ways. [`txn`](Pool::txn) takes it mutably: one
/// transaction, which may change anything in the pool. [`shared_txn`](Pool::shared_txn)
/// takes it by shared reference, so many threads (`&Pool` in scoped threads, or
/// `Arc<Pool>`) run transactions at once, each in its own lane; data reachable from the
/// pool is then read-only except behind a [`PMutex`](crate::PMutex).
pub struct Pool<R: Persistent> {
    // Fields drop in declaration order: the pool is unmapped before the file closes, which
    // releases the lock that the open file holds. The mapping is boxed so that a running
    // transaction's pointer to it stays valid while its `Txn` borrows the pool mutably.
    mapping: Box<Mapping>,
    file: File,
    flusher: Flusher,
    /// What allocation and growth change, from whichever thread runs a transaction.
    inner: RwLock<Inner>,
    lanes: Lanes,
    /// Whether `inner`'s deferred lines are not empty: a shared transaction then writes
    /// them back first (`shared.rs`), and otherwise takes no lock to find out.
    deferred_pending: AtomicBool,
    pins: Arc<PinTable>,
    /// What rolled-back transactions may have left in program variables
    /// (`txn/rolled_back.rs`); boxed, as the mapping is, for the running transaction's
    /// pointer.
    rolled_back: Box<RolledBack>,
    max_size: u64,
    /// The pool's data as it was opened; [`data`](Pool::data) gives its current end.
    data: DataRanges,
    log: LogArea,
    /// Unique to this open of the pool: the lock words of [`PMutex`](crate::PMutex)es
    /// hold it while locked, so a lock word left by an earlier run reads as unlocked.
    run_id: u64,
    durability: Durability,
    /// The group of committed transactions not yet durable ([`Durability::Deferred`],
    /// `txn/group.rs`); behind a lock so that a shared transaction, which borrows the
    /// pool only shared, can make it durable first.
    group: std::sync::Mutex<Option<crate::txn::Group>>,
    info: PoolInfo,
    root: PhantomData<R>,
}

/// The parts of a pool that allocation and growth change.
struct Inner {
    heap: Heap,
    state: State,
    /// Lines of unreachable fresh objects that fence-free transactions left unwritten (see
    /// `txn/running.rs`, `RunningTxn::defer_unlogged_lines`).
    deferred_lines: Vec<usize>,
}

impl<R: Persistent> Pool<R> {
    /// Creates a pool with default [`PoolOptions`]; see [`PoolOptions::create`].
    ///
    /// # Errors
    ///
    /// As [`PoolOptions::create`].
    pub fn create(path: impl AsRef<Path>, root: R) -> Result<Self, Error> {
        PoolOptions::new().create(path, root)
    }

    /// Creates a pool with default [`PoolOptions`], its root set up in place by `init`; see
    /// [`PoolOptions::create_with`].
    ///
    /// # Errors
    ///
    /// As [`PoolOptions::create`].
    pub fn create_with(path: impl AsRef<Path>, init: impl FnOnce(&mut R)) -> Result<Self, Error> {
        PoolOptions::new().create_with(path, init)
    }

    /// Opens a pool with default [`PoolOptions`]; see [`PoolOptions::open`].
    ///
    /// # Errors
    ///
    /// As [`PoolOptions::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        PoolOptions::new().open(path)
    }

    /// Opens the pool at `path`, or creates it with the root `root()`, with default
    /// [`PoolOptions`]; see [`PoolOptions::open_or_create`].
    ///
    /// # Errors
    ///
    /// As [`PoolOptions::open_or_create`].
    pub fn open_or_create(path: impl AsRef<Path>, root: impl FnOnce() -> R) -> Result<Self, Error> {
        PoolOptions::new().open_or_create(path, root)
    }

    fn assemble(parts: Parts<'_>, previous_shutdown_clean: bool) -> Self {
        let Parts {
            path,
            file,
            mapping,
            flusher,
            identity,
            state,
            heap,
            max_size,
        } = parts;
        let data = DataRanges::of(&identity, state.pool_size, heap.data_tables());
        let log = identity.log;
        let run_id = crate::lock::new_run_id(state.sequence);
        let info = PoolInfo {
            path: path.to_owned(),
            uuid: PoolUuid(identity.uuid),
            created: UNIX_EPOCH + Duration::from_nanos(identity.created_unix_nanos),
            layout: identity.layout,
            root_type: identity.root_type,
            size: state.pool_size,
            lanes: log.slot_count,
            flush_mode: flusher.mode(),
            dax: mapping.is_dax(),
            previous_shutdown_clean,
            transactions_rolled_back: 0,
            collection_at_open: Some(Collection::default()),
        };
        Self {
            mapping: Box::new(mapping),
            file,
            flusher,
            inner: RwLock::new(Inner {
                heap,
                state,
                deferred_lines: Vec::new(),
            }),
            lanes: Lanes::new(log.slot_count),
            deferred_pending: AtomicBool::new(false),
            pins: Arc::default(),
            rolled_back: Box::default(),
            max_size,
            data,
            log,
            run_id,
            durability: Durability::Immediate,
            group: std::sync::Mutex::new(None),
            info,
            root: PhantomData,
        }
    }

    /// When committed transactions are durable: see [`Durability`].
    #[must_use]
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Sets when committed transactions are durable from now on (see [`Durability`]). Every
    /// transaction committed so far is durable when it returns.
    pub fn set_durability(&mut self, durability: Durability) {
        self.sync();
        self.durability = durability;
    }

    /// Makes every committed transaction durable: under [`Durability::Deferred`], the
    /// group not yet durable is made so (two fences, with the write-back of every line it
    /// changed); otherwise there is nothing to do.
    pub fn sync(&mut self) {
        self.sync_group();
    }

    /// Makes the pending group durable, if there is one (see `txn/group.rs`).
    fn sync_group(&self) {
        let group = self
            .group
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(group) = group {
            let deferred = group.commit();
            debug_assert!(
                deferred.is_empty(),
                "a group writes back the deferred lines"
            );
        }
    }

    /// The root object, read-only. To change it, run a transaction and write through
    /// [`Txn::root_mut`]: `pool.txn(|tx| tx.root_mut().count += 1)`.
    #[must_use]
    pub fn root(&self) -> &R {
        let address = self.mapping.address_of(ROOT_OFFSET as usize).cast::<R>();
        // SAFETY: the header check at open (or create) guarantees the root lies inside the
        // mapping and that its size and alignment are those of `R`, and the base is
        // page-aligned; `R: Persistent` makes every bit pattern a valid `R`. No safe API
        // writes to the pool while `&self` is borrowed.
        unsafe { &*address }
    }

    /// A persistent pointer to the root object.
    #[must_use]
    pub fn root_ptr(&self) -> PPtr<R> {
        PPtr::from_offset(ROOT_OFFSET)
    }

    /// The object `pointer` points at.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPointer`] if the pointer is null, misaligned for `T`, does not point
    /// at `size_of::<T>()` bytes inside the pool's data (past the header), or `T` is aligned
    /// to more than 4096 bytes (the alignment a pool's base guarantees); and, for a pointer
    /// into the heap, if no allocated `T` starts where it points, or the pool's record of
    /// `T` disagrees with `T` (size, alignment or pointer map; checked once per type). A
    /// pointer into the root object may point at any part of it.
    pub fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&T, Error> {
        let address = self.checked_address(pointer, Visibility::Published)?;
        // SAFETY: `checked_address` checked that the object lies inside the pool's data,
        // which is mapped, and is aligned for `T` (the base is page-aligned). `T:
        // Persistent` makes every bit pattern a valid `T`. While `&self` is borrowed, no
        // exclusive transaction runs, and shared ones write only behind the `PMutex`es they
        // hold, whose contents no `&T` reaches (a `PMutex` keeps them in an `UnsafeCell`,
        // and a pointer into the middle of a root that holds one is refused), and into the
        // objects they allocated, which the heap hides until they end.
        Ok(unsafe { &*address.as_ptr() })
    }

    /// Checks `pointer` as [`get`](Pool::get) documents and returns its address;
    /// `visibility` says whether an object a running transaction is writing may be found.
    fn checked_address<T: Persistent>(
        &self,
        pointer: PPtr<T>,
        visibility: Visibility,
    ) -> Result<NonNull<T>, Error> {
        // Evaluating the layout hash runs the derive's padding and `Drop` checks, which a
        // generic type otherwise meets only when it is a pool's root.
        let _layout_checked: u64 = const { T::LAYOUT_HASH };
        let offset = pointer.offset();
        let invalid = |reason| Error::InvalidPointer {
            offset,
            type_name: core::any::type_name::<T>(),
            reason,
        };
        if pointer.is_null() {
            return Err(invalid("the pointer is null"));
        }
        // The base is only known to be page-aligned, so an offset that is a multiple of a
        // larger alignment does not make the address one.
        if align_of::<T>() > HEADER_LEN {
            return Err(invalid("the type's alignment exceeds 4096 bytes"));
        }
        if offset % align_of::<T>() as u64 != 0 {
            return Err(invalid("the offset is not aligned for the type"));
        }
        let in_bounds =
            usize::try_from(offset).is_ok_and(|offset| self.in_data(offset, size_of::<T>()));
        if !in_bounds {
            return Err(invalid("the object would lie outside the pool's data"));
        }
        let in_root = offset
            .checked_add(size_of::<T>() as u64)
            .is_some_and(|end| offset >= ROOT_OFFSET && end <= ROOT_OFFSET + size_of::<R>() as u64);
        let whole_root = offset == ROOT_OFFSET && T::LAYOUT_HASH == R::LAYOUT_HASH;
        if in_root && R::CONTAINS_LOCK && !whole_root {
            return Err(invalid(
                "the root holds a PMutex, so only the whole root may be read through a pointer (a pointer into it could read bytes a lock guards)",
            ));
        }
        // Read as a `PMutex` (or a type holding one), a lock-free root's bytes could be
        // locked and written by a shared transaction while every thread reads them.
        if in_root && T::CONTAINS_LOCK && !whole_root {
            return Err(invalid(
                "the type holds a PMutex and the root does not: no PMutex lies there",
            ));
        }
        if !in_root {
            let heap = &self.inner_read().heap;
            let index = visibility.object_type(heap, offset).map_err(invalid)?;
            if heap
                .type_info(index)
                .is_none_or(|info| info.layout_hash != T::LAYOUT_HASH)
            {
                return Err(invalid("the object there is of another type"));
            }
            if heap.verify_type(index, TypeInfo::of::<T>).is_err() {
                return Err(invalid(
                    "the pool's record of the type disagrees with the program's type (size, alignment or pointers)",
                ));
            }
        }
        let address = self
            .mapping
            .address_of(offset as usize)
            .cast_mut()
            .cast::<T>();
        Ok(NonNull::new(address).expect("a mapped address is not null"))
    }

    /// What the pool is and how it is mapped and flushed.
    #[must_use]
    pub fn info(&self) -> PoolInfo {
        PoolInfo {
            size: self.mapping.mapped_len() as u64,
            ..self.info.clone()
        }
    }

    /// Closes the pool, recording a clean shutdown. Dropping the pool does the same.
    pub fn close(self) {
        drop(self);
    }

    /// Writes a new state record (see [`header`]) and makes it durable.
    fn write_state(&mut self, clean_shutdown: bool) {
        let state = &mut self
            .inner
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .state;
        let pool_size = state.pool_size;
        state.persist(&self.mapping, &self.flusher, pool_size, clean_shutdown);
    }

    /// The heap, the state record and the deferred lines, for one thread at a time.
    ///
    /// Its holder tells a simulated domain of events (heap metadata stores, a new type's
    /// fence, growth), and a scheduler hands the baton on at each of them: a thread blocked
    /// here would then wait for a holder that waits for the baton. So on a simulated domain
    /// a thread waits for the lock as for a `PMutex`, telling it that it waits.
    fn inner(&self) -> RwLockWriteGuard<'_, Inner> {
        if self.flusher.is_simulated() {
            return self.wait_simulated(|| self.inner.try_write());
        }
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The heap, to read: lookups from many threads at once (`get`, named roots, stats).
    fn inner_read(&self) -> RwLockReadGuard<'_, Inner> {
        if self.flusher.is_simulated() {
            return self.wait_simulated(|| self.inner.try_read());
        }
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a lock on a simulated domain, telling it while it waits (see `inner`).
    fn wait_simulated<G>(&self, mut attempt: impl FnMut() -> Result<G, TryLockError<G>>) -> G {
        loop {
            match attempt() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    self.flusher.tell(Event::Waiting);
                    std::thread::yield_now();
                }
            }
        }
    }

    /// The pool's data, up to its current end.
    fn data(&self) -> DataRanges {
        DataRanges {
            pool_end: self.mapping.mapped_len(),
            ..self.data.clone()
        }
    }

    /// Whether `[offset, offset + len)` lies in the pool's data, up to its current end.
    fn in_data(&self, offset: usize, len: usize) -> bool {
        self.data
            .contains_up_to(offset, len, self.mapping.mapped_len())
    }

    /// A view of the pool for the heap, able to grow the pool while transactions run,
    /// through `inner`, which must be this pool's.
    fn heap_and_region<'a>(&'a self, inner: &'a mut Inner) -> (&'a mut Heap, PoolRegion<'a>) {
        let region = PoolRegion {
            mapping: &self.mapping,
            flusher: &self.flusher,
            growable: Some(Growable {
                file: &self.file,
                state: &mut inner.state,
                max_size: self.max_size,
            }),
        };
        (&mut inner.heap, region)
    }

    /// A read-only view of the pool for the heap.
    fn region(&self) -> PoolRegion<'_> {
        PoolRegion::fixed(&self.mapping, &self.flusher)
    }
}

/// Which heap objects a pointer check finds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visibility {
    /// Only objects no running transaction is still writing: what `Pool::get` reads.
    Published,
    /// Also the objects the running shared transaction allocated, which the heap hides
    /// from every other reader until it ends.
    WrittenByThisTransaction,
    /// What [`Published`](Visibility::Published) finds, for a transaction about to claim
    /// a slice (a collection's buffer): it is not marked read, which would refuse the
    /// claim. Hidden objects are refused before anything of them is read, so a forged
    /// pointer never reads an object another transaction is still writing.
    Unhidden,
}

impl Visibility {
    /// The type index of the allocated object that starts at `offset` and is visible, or
    /// why there is none.
    fn object_type(self, heap: &Heap, offset: u64) -> Result<u32, &'static str> {
        Self::found(
            heap,
            offset,
            match self {
                Self::Published | Self::Unhidden => heap.object_type(offset),
                Self::WrittenByThisTransaction => heap.object_type_even_hidden(offset),
            },
        )
    }

    /// As [`object_type`](Visibility::object_type), for a slice: a published one is marked
    /// read before it is looked up, so that a shared transaction that claims it meanwhile
    /// (`Heap::claim`) either is seen hiding it, or sees this read.
    fn slice_type(self, heap: &Heap, offset: u64) -> Result<u32, &'static str> {
        Self::found(
            heap,
            offset,
            match self {
                Self::Published => heap.object_type_for_reader(offset),
                Self::Unhidden => heap.object_type(offset),
                Self::WrittenByThisTransaction => heap.object_type_even_hidden(offset),
            },
        )
    }

    /// The type index `found`, or why there is none.
    fn found(heap: &Heap, offset: u64, found: Option<u32>) -> Result<u32, &'static str> {
        // Asked only on failure: finding whether a slot is hidden costs a span lookup.
        found.ok_or_else(|| {
            if heap.is_hidden(offset) {
                "the object is being written by a running transaction (the one that allocated it, or another running transaction that changes it as a collection's buffer); others can reach it once that transaction has ended"
            } else {
                "no allocated heap object starts there"
            }
        })
    }
}

/// What a new `Pool` is made of.
struct Parts<'a> {
    path: &'a Path,
    file: File,
    mapping: Mapping,
    flusher: Flusher,
    identity: Identity,
    state: State,
    heap: Heap,
    max_size: u64,
}

impl<R: Persistent> Drop for Pool<R> {
    fn drop(&mut self) {
        // While unwinding, a failed msync would panic again and abort; the pool is then
        // left marked in use, as after a crash, which recovery handles.
        if std::thread::panicking() {
            return;
        }
        self.sync_group();
        self.write_state(true);
    }
}

impl<R: Persistent> fmt::Debug for Pool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}
