//! Pools: creating, opening and closing a pool file, reading its root, and its heap.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pmem_alloc::{
    Collection, Growth, Heap, HeapError, HeapStats, MIN_HEAP_LEN, Marks, NamedRoot, PPtr,
    Persistent, RootObject, TypeInfo,
};

use crate::error::Error;
use crate::header::{
    self, HEADER_LEN, HeaderError, Identity, LogArea, MAX_LAYOUT_LEN, ROOT_OFFSET, State,
};
use crate::heap::{Growable, PoolRegion};
use crate::hw::flush::{FlushMode, Flusher};
use crate::hw::mapping::Mapping;
use crate::pin::{PinTable, Pinned};
use crate::recovery;
use crate::txn::{self, DataRanges, PMut, PoolAccess, Transaction};

const DEFAULT_SIZE: u64 = 8 << 20;
const DEFAULT_MAX_SIZE: u64 = 64 << 30;
const DEFAULT_LOG_SIZE: u64 = 1 << 20;

/// Options for creating or opening a pool, in the style of [`std::fs::OpenOptions`].
///
/// ```no_run
/// let balances = [0u64; 16];
/// let pool = pmem_runtime::PoolOptions::new()
///     .layout("bank-v1")
///     .size(64 << 20)
///     .create("/dev/shm/bank.pool", balances)?;
/// # Ok::<(), pmem_runtime::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolOptions {
    size: u64,
    max_size: u64,
    log_size: u64,
    layout: Option<String>,
    flush_mode: Option<FlushMode>,
    #[cfg(feature = "simulation")]
    simulation: Option<crate::hw::sim::Simulation>,
    #[cfg(feature = "simulation")]
    copy_on_write: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl PoolOptions {
    /// The defaults: an 8 MiB pool that may grow to 64 GiB, a 1 MiB undo log, no layout
    /// name, and the flush mode that `PMEM_FLUSH` forces or that suits the file.
    #[must_use]
    pub fn new() -> Self {
        Self {
            size: DEFAULT_SIZE,
            max_size: DEFAULT_MAX_SIZE,
            log_size: DEFAULT_LOG_SIZE,
            layout: None,
            flush_mode: None,
            #[cfg(feature = "simulation")]
            simulation: None,
            #[cfg(feature = "simulation")]
            copy_on_write: false,
        }
    }

    /// The size of a new pool file in bytes, rounded up to whole 4096-byte pages.
    #[must_use]
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = bytes;
        self
    }

    /// The size of a new pool's undo log in bytes, rounded up to whole 4096-byte pages:
    /// it bounds how much one transaction can change (each changed cache line takes 64
    /// bytes, each run of adjacent lines 24 more). A transaction that outgrows it panics
    /// and is rolled back.
    #[must_use]
    pub fn log_size(mut self, bytes: u64) -> Self {
        self.log_size = bytes;
        self
    }

    /// How large the pool may grow while it is open: this much address space is reserved
    /// when the pool is mapped (address space only, no memory). `create` refuses a maximum
    /// below the new pool's size; `open` raises it to the pool's size.
    #[must_use]
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// A name for the pool's layout, at most 63 bytes, recorded at creation. Opening with a
    /// layout name refuses a pool created with another one; opening without one accepts any.
    #[must_use]
    pub fn layout(mut self, name: impl Into<String>) -> Self {
        self.layout = Some(name.into());
        self
    }

    /// Forces a flush mode for this pool, overriding `PMEM_FLUSH` and detection.
    #[must_use]
    pub fn flush_mode(mut self, mode: FlushMode) -> Self {
        self.flush_mode = Some(mode);
        self
    }

    /// Creates a new pool file at `path` whose root object is `root`, and opens it.
    ///
    /// The file must not exist. On any error, a file this call created is removed again.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyExists`] if `path` exists, [`Error::InvalidOption`] for a size or
    /// layout out of range, [`Error::UnknownFlushMode`] or [`Error::UnsupportedFlushMode`]
    /// for a flush mode that cannot be used, and [`Error::Io`] if the file cannot be
    /// created, sized or mapped (a full file system included).
    pub fn create<R: Persistent>(&self, path: impl AsRef<Path>, root: R) -> Result<Pool<R>, Error> {
        self.create_with(path, move |slot: &mut R| *slot = root)
    }

    /// Creates a new pool file at `path` and opens it, after `init` has set up the root
    /// object in place: it starts all zeros, a valid value of every [`Persistent`] type.
    ///
    /// This is the way to create a pool whose root is too large to pass by value on the
    /// stack. `init` runs before the pool exists as a pool (its magic is not yet written),
    /// so its stores are not logged. If it panics, the file is removed.
    ///
    /// # Errors
    ///
    /// As [`create`](PoolOptions::create).
    pub fn create_with<R: Persistent>(
        &self,
        path: impl AsRef<Path>,
        init: impl FnOnce(&mut R),
    ) -> Result<Pool<R>, Error> {
        let path = path.as_ref();
        let layout = self.layout.clone().unwrap_or_default();
        if layout.len() > MAX_LAYOUT_LEN || layout.contains('\0') {
            return Err(Error::InvalidOption {
                option: "layout",
                reason: "a layout name is at most 63 bytes of text without NUL",
            });
        }
        let log_area = u32::try_from(self.log_size.max(1).next_multiple_of(HEADER_LEN as u64))
            .ok()
            .and_then(|slot_len| LogArea::after_root(size_of::<R>() as u64, 1, slot_len))
            .ok_or(Error::InvalidOption {
                option: "log_size",
                reason: "an undo log is less than 4 GiB",
            })?;
        let size = log_area
            .end()
            .and_then(|log_end| log_end.checked_add(MIN_HEAP_LEN as u64))
            .map(|heap_end| self.size.max(heap_end))
            .and_then(|size| size.checked_next_multiple_of(HEADER_LEN as u64))
            .filter(|&size| usize::try_from(size).is_ok())
            .ok_or(Error::InvalidOption {
                option: "size",
                reason: "larger than the address space",
            })?;
        if self.max_size < size {
            return Err(Error::InvalidOption {
                option: "max_size",
                reason: "the maximum size is smaller than the pool",
            });
        }
        if align_of::<R>() > HEADER_LEN {
            return Err(Error::InvalidOption {
                option: "root",
                reason: "the root type's alignment exceeds 4096 bytes",
            });
        }
        let forced_mode = self.forced_flush_mode()?;
        let io = |operation| {
            move |source| Error::Io {
                path: path.to_owned(),
                operation,
                source,
            }
        };

        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
        {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists {
                    path: path.to_owned(),
                });
            }
            Err(error) => return Err(io("create")(error)),
        };
        let mut created = RemoveOnError { path, armed: true };
        lock(&file, path)?;
        allocate(&file, size).map_err(io("allocate space for"))?;
        let reserve = usize::try_from(self.max_size).unwrap_or(usize::MAX);
        let mapping = Mapping::map(&file, size as usize, reserve, false).map_err(io("map"))?;
        let flusher = self.flusher(forced_mode, &mapping)?;

        let identity = Identity {
            uuid: new_uuid().map_err(io("generate a UUID for"))?,
            created_unix_nanos: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| {
                    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
                }),
            root_layout_hash: R::LAYOUT_HASH,
            root_size: size_of::<R>() as u64,
            root_align: align_of::<R>() as u64,
            root_offset: ROOT_OFFSET,
            log: log_area,
            layout,
            root_type: header::stored_root_type_name(core::any::type_name::<R>()),
        };
        let state = State {
            sequence: 1,
            pool_size: size,
            clean_shutdown: false,
        };
        let root_address = mapping
            .address_of(ROOT_OFFSET as usize)
            .cast_mut()
            .cast::<R>();
        // SAFETY: the root slot lies inside the mapping (size >= ROOT_OFFSET + size_of::<R>()),
        // is aligned for `R` (page-aligned base, align_of::<R>() <= 4096 divides ROOT_OFFSET),
        // holds zeros from `allocate`, a valid `R` since every bit pattern is one, and is not
        // yet visible to anyone else: the file has no magic yet and is locked.
        init(unsafe { &mut *root_address });
        flusher.flush(&mapping, ROOT_OFFSET as usize, size_of::<R>());
        let mut region = PoolRegion::fixed(&mapping, &flusher);
        let root_object = RootObject {
            offset: ROOT_OFFSET,
            size: size_of::<R>() as u64,
        };
        let heap_start = log_area.end().expect("checked above") as usize;
        let heap = Heap::format(&mut region, heap_start, root_object, &TypeInfo::of::<R>())
            .map_err(Error::Heap)?;
        let identity_bytes = identity.encode();
        let magic_len = header::MAGIC.len();
        // SAFETY: header bytes are never referenced as Rust values.
        unsafe { mapping.write(magic_len, &identity_bytes[magic_len..]) };
        // SAFETY: as above.
        unsafe { mapping.write(state.slot_offset(), &state.encode()) };
        flusher.flush(&mapping, 0, HEADER_LEN);
        flusher.fence();
        // SAFETY: as above. The magic is one aligned word, so it persists atomically.
        unsafe { mapping.store_word(0, header::MAGIC) };
        flusher.flush(&mapping, 0, header::MAGIC.len());
        flusher.fence();
        flusher.settle();
        sync_parent_directory(path).map_err(io("make the directory entry durable for"))?;

        created.armed = false;
        Ok(Pool::assemble(
            Parts {
                path,
                file,
                mapping,
                flusher,
                identity,
                state,
                heap,
                max_size: self.max_size,
            },
            true,
        ))
    }

    /// Opens the existing pool at `path`, whose root must be of type `R`.
    ///
    /// Opening rolls back the transactions a crash interrupted and collects garbage. Nothing
    /// is written to the file unless the pool is opened successfully: every check runs
    /// first, on the pool as recovery will leave it (`docs/src/file-format.md`, "Opening a
    /// pool"). A pointer in the pool that leads nowhere is not an error: it is counted in
    /// [`PoolInfo::collection_at_open`] (`dangling_pointers`).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if the pool is open elsewhere; [`Error::NotAPool`],
    /// [`Error::Truncated`], [`Error::Corrupted`], [`Error::LogCorrupted`],
    /// [`Error::HeapCorrupted`] or [`Error::UnsupportedVersion`] if the file is not a sound
    /// pool of this format; [`Error::RootTypeMismatch`] or [`Error::LayoutMismatch`] if it
    /// was made for another root type or layout; the flush mode errors; and [`Error::Io`] if
    /// the file cannot be opened or mapped.
    pub fn open<R: Persistent>(&self, path: impl AsRef<Path>) -> Result<Pool<R>, Error> {
        let path = path.as_ref();
        let io = |operation| {
            move |source| Error::Io {
                path: path.to_owned(),
                operation,
                source,
            }
        };
        let forced_mode = self.forced_flush_mode()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(io("open"))?;
        lock(&file, path)?;
        let file_len = file.metadata().map_err(io("read the length of"))?.len();
        let head = read_head(&file).map_err(io("read"))?;
        let (identity, state) =
            header::decode(&head, file_len).map_err(|error| header_error(path, error))?;
        if let Some(expected) = &self.layout {
            if *expected != identity.layout {
                return Err(Error::LayoutMismatch {
                    path: path.to_owned(),
                    expected: expected.clone(),
                    found: identity.layout,
                });
            }
        }
        if identity.root_layout_hash != R::LAYOUT_HASH
            || identity.root_size != size_of::<R>() as u64
            || identity.root_align != align_of::<R>() as u64
        {
            return Err(Error::RootTypeMismatch {
                path: path.to_owned(),
                expected: core::any::type_name::<R>().to_owned(),
                found: identity.root_type,
            });
        }
        let pool_size = usize::try_from(state.pool_size).map_err(|_| Error::InvalidOption {
            option: "max_size",
            reason: "the pool is larger than the address space",
        })?;
        let max_size = if self.is_copy_on_write() {
            state.pool_size
        } else {
            self.max_size.max(state.pool_size)
        };
        let reserve = usize::try_from(max_size).unwrap_or(usize::MAX);
        let mapping =
            Mapping::map(&file, pool_size, reserve, self.is_copy_on_write()).map_err(io("map"))?;
        let flusher = self.flusher(forced_mode, &mapping)?;

        let data = data_ranges(&identity, state.pool_size);
        let unfinished =
            recovery::scan(&mapping, identity.log, data).map_err(|damage| Error::LogCorrupted {
                path: path.to_owned(),
                offset: damage.offset,
                what: damage.what,
            })?;
        // Everything is checked on the pool as recovery will leave it before a byte is
        // written (see `recovery.rs`): on a private copy-on-write mapping if there is
        // anything to roll back.
        let checked = if unfinished.is_empty() {
            check_heap::<R>(path, &PoolRegion::fixed(&mapping, &flusher), data)?
        } else {
            let preview =
                Mapping::map(&file, pool_size, pool_size, true).map_err(io("map a preview of"))?;
            for slot in &unfinished {
                recovery::restore(&preview, slot, |_| {});
            }
            let unflushed = Flusher::new(FlushMode::None);
            check_heap::<R>(path, &PoolRegion::fixed(&preview, &unflushed), data)?
        };
        let (mut heap, marks) = checked;
        let rolled_back = recovery::roll_back(&mapping, &flusher, &unfinished);
        let collection = heap.sweep(&mut PoolRegion::fixed(&mapping, &flusher), marks);
        flusher.settle();
        let was_clean = state.clean_shutdown;
        let parts = Parts {
            path,
            file,
            mapping,
            flusher,
            identity,
            state,
            heap,
            max_size,
        };
        let mut pool = Pool::assemble(parts, was_clean);
        pool.info.transactions_rolled_back = rolled_back;
        pool.info.collection_at_open = collection;
        pool.write_state(false);
        Ok(pool)
    }

    /// Runs the pool on a simulated persistence domain: flushes and fences are reported to
    /// `simulation`, which decides what a crash would keep (see
    /// [`Simulation`](crate::simulation::Simulation)). For crash tests.
    #[cfg(feature = "simulation")]
    #[must_use]
    pub fn simulation(mut self, simulation: &crate::hw::sim::Simulation) -> Self {
        self.simulation = Some(simulation.clone());
        self
    }

    /// Opens pools copy-on-write: every change, recovery's included, stays in this process,
    /// and the file is never written (the pool cannot grow). For checking crash images: the
    /// file still holds the image when the pool is closed, so the next image can be written
    /// over it as a few changed words instead of a whole file.
    #[cfg(feature = "simulation")]
    #[must_use]
    pub fn copy_on_write(mut self) -> Self {
        self.copy_on_write = true;
        self
    }

    fn is_copy_on_write(&self) -> bool {
        #[cfg(feature = "simulation")]
        {
            self.copy_on_write
        }
        #[cfg(not(feature = "simulation"))]
        {
            false
        }
    }

    fn flusher(&self, forced_mode: Option<FlushMode>, mapping: &Mapping) -> Result<Flusher, Error> {
        #[cfg(feature = "simulation")]
        if let Some(simulation) = &self.simulation {
            return Ok(Flusher::simulated(simulation.clone(), mapping));
        }
        Ok(Flusher::new(FlushMode::choose(
            forced_mode,
            mapping.is_dax(),
        )?))
    }

    fn forced_flush_mode(&self) -> Result<Option<FlushMode>, Error> {
        match self.flush_mode {
            Some(mode) => Ok(Some(mode)),
            None => FlushMode::from_env(),
        }
    }
}

/// An open pool whose root object is an `R`.
///
/// A pool is one file, mapped into memory and locked against other openers until the `Pool`
/// is dropped or [`close`](Pool::close)d, which records a clean shutdown.
pub struct Pool<R: Persistent> {
    // Fields drop in declaration order: the pool is unmapped before the file closes, which
    // releases the lock that the open file holds. The mapping is boxed so that a running
    // transaction's pointer to it stays valid while its `Txn` borrows the pool mutably.
    mapping: Box<Mapping>,
    file: File,
    flusher: Flusher,
    heap: Heap,
    pins: Arc<PinTable>,
    /// Lines of unreachable fresh objects that fence-free transactions left unwritten (see
    /// `txn.rs`'s `Active::defer_unlogged_lines`).
    deferred_lines: Vec<usize>,
    max_size: u64,
    state: State,
    data: DataRanges,
    log: LogArea,
    info: PoolInfo,
    root: PhantomData<R>,
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
        let data = data_ranges(&identity, state.pool_size);
        let log = identity.log;
        let info = PoolInfo {
            path: path.to_owned(),
            uuid: PoolUuid(identity.uuid),
            created: UNIX_EPOCH + Duration::from_nanos(identity.created_unix_nanos),
            layout: identity.layout,
            root_type: identity.root_type,
            size: state.pool_size,
            flush_mode: flusher.mode(),
            dax: mapping.is_dax(),
            previous_shutdown_clean,
            transactions_rolled_back: 0,
            collection_at_open: Collection::default(),
        };
        Self {
            mapping: Box::new(mapping),
            file,
            flusher,
            heap,
            pins: Arc::default(),
            deferred_lines: Vec::new(),
            max_size,
            data,
            log,
            state,
            info,
            root: PhantomData,
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
    /// into the heap, if no allocated `T` starts where it points, or the pool records `T`
    /// with another size or alignment (a pointer into the root object may point at any part
    /// of it).
    pub fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&T, Error> {
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
            usize::try_from(offset).is_ok_and(|offset| self.data.contains(offset, size_of::<T>()));
        if !in_bounds {
            return Err(invalid("the object would lie outside the pool's data"));
        }
        let in_root = offset
            .checked_add(size_of::<T>() as u64)
            .is_some_and(|end| offset >= ROOT_OFFSET && end <= ROOT_OFFSET + size_of::<R>() as u64);
        if !in_root {
            let object_type = self
                .heap
                .object_type(offset)
                .and_then(|index| self.heap.type_info(index));
            match object_type {
                None => return Err(invalid("no allocated heap object starts there")),
                Some(info) if info.layout_hash != T::LAYOUT_HASH => {
                    return Err(invalid("the object there is of another type"));
                }
                Some(info)
                    if info.size != size_of::<T>() as u64
                        || info.align != align_of::<T>() as u64 =>
                {
                    return Err(invalid(
                        "the pool records the type with another size or alignment than the program's",
                    ));
                }
                Some(_) => {}
            }
        }
        let address = self.mapping.address_of(offset as usize).cast::<T>();
        // SAFETY: checked above: the object lies inside the pool's data, which is mapped, and
        // is aligned for `T` (the base is page-aligned). `T: Persistent` makes every bit
        // pattern a valid `T`. Nothing writes to the pool while `&self` is borrowed:
        // transactions borrow the pool mutably.
        Ok(unsafe { &*address })
    }

    /// Runs `body` as a transaction: every change it makes to the pool is undo-logged, and
    /// the changes are durable together when `txn` returns. If `body` panics, every change
    /// is rolled back and the panic continues. If the transaction was doomed (the outermost
    /// `#[txn]` call returned `Err`, a panic unwound through a `#[txn]` call, or
    /// [`abort`](crate::abort) was called), it is rolled back when `body` returns, and
    /// `body`'s value is returned as it is.
    ///
    /// ```no_run
    /// # use pmem_runtime::Pool;
    /// let mut pool = Pool::<[u64; 2]>::open("/dev/shm/pair.pool")?;
    /// pool.txn(|tx| {
    ///     let mut pair = tx.root_mut();
    ///     let [a, b] = *pair;
    ///     *pair.at(0) = b;
    ///     *pair.at(1) = a;
    /// });
    /// # Ok::<(), pmem_runtime::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `body` panics, or the transaction outgrows the undo log
    /// ([`PoolOptions::log_size`]), or another transaction is active on this thread.
    pub fn txn<T>(&mut self, body: impl FnOnce(&mut Txn<'_, R>) -> T) -> T {
        let result: Result<T, core::convert::Infallible> = self.try_txn(|tx| Ok(body(tx)));
        match result {
            Ok(value) => value,
        }
    }

    /// Runs `body` as a transaction that commits if it returns `Ok` and is rolled back if it
    /// returns `Err` or panics; see [`txn`](Pool::txn).
    ///
    /// # Errors
    ///
    /// The error `body` returned, after its changes have been rolled back.
    ///
    /// # Panics
    ///
    /// As [`txn`](Pool::txn).
    pub fn try_txn<T, E>(
        &mut self,
        body: impl FnOnce(&mut Txn<'_, R>) -> Result<T, E>,
    ) -> Result<T, E> {
        // Refused before anything is taken from the pool: unwinding from `begin` would drop
        // the deferred lines that the pool still has to write back.
        assert!(
            !txn::in_transaction(),
            "pmem: a transaction is already active on this thread; transactions on two pools at once are not supported"
        );
        let transaction = Transaction::begin(PoolAccess {
            mapping: NonNull::from(&*self.mapping),
            flusher: self.flusher.clone(),
            data: self.data,
            slot_offset: self.log.slot_offset(0) as usize,
            slot_len: self.log.slot_len as usize,
            deferred_lines: core::mem::take(&mut self.deferred_lines),
        });
        let mut handle = Txn {
            pool: self,
            not_send: PhantomData,
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| body(&mut handle)));
        match outcome {
            Ok(Ok(value)) => {
                self.deferred_lines = transaction.end();
                Ok(value)
            }
            Ok(Err(error)) => {
                self.deferred_lines = transaction.roll_back();
                Err(error)
            }
            Err(panic) => {
                self.deferred_lines = transaction.roll_back();
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// What the pool is and how it is mapped and flushed.
    #[must_use]
    pub fn info(&self) -> &PoolInfo {
        &self.info
    }

    /// Closes the pool, recording a clean shutdown. Dropping the pool does the same.
    pub fn close(self) {
        drop(self);
    }

    /// Writes a new state record (see [`header`]) and makes it durable.
    fn write_state(&mut self, clean_shutdown: bool) {
        let pool_size = self.state.pool_size;
        persist_state(
            &self.mapping,
            &self.flusher,
            &mut self.state,
            pool_size,
            clean_shutdown,
        );
    }

    /// A view of the pool for the heap, able to grow the pool while transactions run.
    fn heap_and_region(&mut self) -> (&mut Heap, PoolRegion<'_>) {
        let region = PoolRegion {
            mapping: &self.mapping,
            flusher: &self.flusher,
            growable: Some(Growable {
                file: &self.file,
                state: &mut self.state,
                max_size: self.max_size,
            }),
        };
        (&mut self.heap, region)
    }

    /// A read-only view of the pool for the heap.
    fn region(&self) -> PoolRegion<'_> {
        PoolRegion::fixed(&self.mapping, &self.flusher)
    }

    /// Collects garbage: frees every heap object that neither the root, the named roots
    /// nor a [`Pinned`] handle reaches. Opening a pool runs one too. It needs the pool to
    /// itself, so no reference into the heap can be alive.
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
    /// [`Error::HeapCorrupted`] if tracing finds that a type record was lost (see
    /// `docs/src/heap.md`, "The collector"); nothing has been freed then.
    pub fn collect(&mut self) -> Result<Collection, Error> {
        let collection = self.collect_from(Vec::new(), &HashMap::new())?;
        self.flusher.settle();
        Ok(collection)
    }

    /// How the heap is used: its size, what is allocated, what is free, per type.
    #[must_use]
    pub fn heap_stats(&self) -> HeapStats {
        self.heap.stats()
    }

    /// Pins the object `pointer` points at: it stays alive across collections while the
    /// returned handle (or a clone) lives. See [`Pinned`].
    ///
    /// # Errors
    ///
    /// As [`get`](Pool::get): only a valid pointer can be pinned.
    pub fn pin<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<Pinned<T>, Error> {
        self.get(pointer)?;
        Ok(Pinned::new(Arc::clone(&self.pins), pointer))
    }

    /// How many [`Pinned`] handles of this pool are alive.
    #[must_use]
    pub fn pinned(&self) -> usize {
        self.pins.handles()
    }

    /// The object stored under `name` by [`Txn::set_named_root`], if there is one.
    ///
    /// # Errors
    ///
    /// [`Error::NamedRootTypeMismatch`] if it is not a `T`.
    pub fn named_root<T: Persistent>(&self, name: &str) -> Result<Option<PPtr<T>>, Error> {
        let Some(entry) = self.find_named_root(name) else {
            return Ok(None);
        };
        let found = self.heap.type_info(entry.type_index);
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
        let region = self.region();
        self.heap
            .named_roots(&region)
            .into_iter()
            .map(|entry| entry.name)
            .collect()
    }

    /// Logs `bytes.len()` bytes at `offset` in the running transaction, then writes them.
    fn write_logged(&self, offset: usize, bytes: &[u8]) {
        txn::log_range(self.mapping.address_of(offset), bytes.len());
        // SAFETY: the range (a named-root entry) is never referenced as a Rust value, and it
        // was logged just above.
        unsafe { self.mapping.write(offset, bytes) };
    }

    /// The heap's index for `T`, recording the type first if it is new.
    fn type_index_of<T: Persistent>(&mut self) -> Result<u32, Error> {
        if let Some(index) = self.heap.type_index(T::LAYOUT_HASH) {
            self.heap
                .verify_type(index, &TypeInfo::of::<T>())
                .map_err(|source| Error::HeapCorrupted {
                    path: self.info.path.clone(),
                    source,
                })?;
            return Ok(index);
        }
        let (heap, mut region) = self.heap_and_region();
        heap.register(&mut region, &TypeInfo::of::<T>())
            .map_err(Error::Heap)
    }

    /// Allocates a slot for a `T` inside the running transaction, collecting first if
    /// enough has been allocated since the last collection, and growing the pool if needed.
    fn allocate_slot(&mut self, type_index: u32) -> Result<u64, Error> {
        let growth = if self.heap.collection_due() {
            Growth::Refused
        } else {
            Growth::Allowed
        };
        let (heap, mut region) = self.heap_and_region();
        let first = heap.alloc(&mut region, type_index, growth);
        let offset = match first {
            Ok(offset) => offset,
            Err(HeapError::Full { .. }) => {
                self.collect_in_transaction()?;
                let (heap, mut region) = self.heap_and_region();
                heap.alloc(&mut region, type_index, Growth::Allowed)
                    .map_err(Error::Heap)?
            }
            Err(error) => return Err(Error::Heap(error)),
        };
        let size = self.mapping.mapped_len();
        if size != self.data.pool_end {
            self.data.pool_end = size;
            self.info.size = size as u64;
            txn::pool_grew(size);
        }
        Ok(offset)
    }

    /// A collection inside the running transaction: what the transaction allocated, and
    /// what the pool reached before it began, stay alive (see `Heap::collect`).
    fn collect_in_transaction(&mut self) -> Result<Collection, Error> {
        self.collect_from(txn::fresh_objects(), &txn::previous_words())
    }

    /// A collection whose roots are the pool's, the pinned objects and `extra_roots`;
    /// `previous` as in `Heap::collect`.
    fn collect_from(
        &mut self,
        mut extra_roots: Vec<u64>,
        previous: &HashMap<u64, u64>,
    ) -> Result<Collection, Error> {
        extra_roots.extend(self.pins.roots());
        let path = self.info.path.clone();
        let (heap, mut region) = self.heap_and_region();
        heap.collect(&mut region, &extra_roots, previous)
            .map_err(|source| Error::HeapCorrupted { path, source })
    }

    /// The named-root entry called `name`, if there is one.
    fn find_named_root(&self, name: &str) -> Option<NamedRoot> {
        self.heap
            .named_roots(&self.region())
            .into_iter()
            .find(|entry| entry.name == name)
    }
}

/// Loads the heap of a pool whose root is an `R` from `region` and marks it, writing
/// nothing: every check of the heap that open makes.
fn check_heap<R: Persistent>(
    path: &Path,
    region: &PoolRegion<'_>,
    data: DataRanges,
) -> Result<(Heap, Marks), Error> {
    let heap_corrupted = |source| Error::HeapCorrupted {
        path: path.to_owned(),
        source,
    };
    let heap = Heap::load(region, data.heap_start, &TypeInfo::of::<R>()).map_err(heap_corrupted)?;
    if heap.root().offset != ROOT_OFFSET {
        return Err(heap_corrupted(HeapError::Corrupted {
            offset: data.heap_start as u64,
            what: "the heap's root record disagrees with the pool header",
        }));
    }
    let marks = heap
        .mark(region, &[], &HashMap::new())
        .map_err(heap_corrupted)?;
    Ok((heap, marks))
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

/// Writes the state record after `state` (see [`header`]) with `pool_size` and
/// `clean_shutdown`, and makes it durable.
pub(crate) fn persist_state(
    mapping: &Mapping,
    flusher: &Flusher,
    state: &mut State,
    pool_size: u64,
    clean_shutdown: bool,
) {
    let next = state.next(pool_size, clean_shutdown);
    let offset = next.slot_offset();
    // SAFETY: header bytes are never referenced as Rust values.
    unsafe { mapping.write(offset, &next.encode()) };
    flusher.flush(mapping, offset, header::STATE_LEN);
    flusher.fence();
    *state = next;
}

impl<R: Persistent> Drop for Pool<R> {
    fn drop(&mut self) {
        // While unwinding, a failed msync would panic again and abort; the pool is then
        // left marked in use, as after a crash, which recovery handles.
        if std::thread::panicking() {
            return;
        }
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

/// What a pool is and how it is used, from [`Pool::info`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolInfo {
    /// The pool file.
    pub path: PathBuf,
    /// The pool's identity, chosen at random at creation.
    pub uuid: PoolUuid,
    /// When the pool was created.
    pub created: SystemTime,
    /// The layout name given at creation (empty if none was).
    pub layout: String,
    /// The root type's name as recorded at creation.
    pub root_type: String,
    /// The pool's size in bytes.
    pub size: u64,
    /// How stores are made durable.
    pub flush_mode: FlushMode,
    /// Whether the file is mapped synchronously from a DAX file system (`MAP_SYNC`). If not,
    /// durability comes from `msync` (or from nowhere, under a forced cache-line mode).
    pub dax: bool,
    /// Whether the pool was closed cleanly before this open (true for a new pool). False
    /// means the last process using it crashed or was killed.
    pub previous_shutdown_clean: bool,
    /// How many unfinished transactions recovery rolled back when the pool was opened.
    pub transactions_rolled_back: u32,
    /// What the collection at open found (all zeros for a new pool).
    pub collection_at_open: Collection,
}

impl fmt::Display for PoolInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pool        {}", self.path.display())?;
        writeln!(f, "uuid        {}", self.uuid)?;
        writeln!(f, "layout      {:?}", self.layout)?;
        writeln!(f, "root type   {}", self.root_type)?;
        writeln!(f, "size        {} bytes", self.size)?;
        writeln!(
            f,
            "mapping     {}",
            if self.dax {
                "DAX (MAP_SYNC)"
            } else {
                "page cache"
            }
        )?;
        writeln!(f, "flush mode  {}", self.flush_mode)?;
        write!(
            f,
            "rolled back {} unfinished transaction(s) at open\nlast close  {}",
            self.transactions_rolled_back,
            if self.previous_shutdown_clean {
                "clean"
            } else {
                "unclean"
            }
        )
    }
}

/// A pool's 128-bit identity (a random version-4 UUID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolUuid(pub [u8; 16]);

impl fmt::Display for PoolUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, byte) in self.0.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

fn header_error(path: &Path, error: HeaderError) -> Error {
    let path = path.to_owned();
    match error {
        HeaderError::NotAPool => Error::NotAPool { path },
        HeaderError::Truncated { expected, found } => Error::Truncated {
            path,
            expected,
            found,
        },
        HeaderError::UnsupportedVersion { found } => Error::UnsupportedVersion {
            path,
            found,
            supported: header::FORMAT_VERSION,
        },
        HeaderError::Corrupted(part) => Error::Corrupted { path, part },
    }
}

/// Takes the file's exclusive lock without waiting.
fn lock(file: &File, path: &Path) -> Result<(), Error> {
    // SAFETY: flock on a file descriptor we own has no memory-safety preconditions.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::WouldBlock {
        Err(Error::Locked {
            path: path.to_owned(),
        })
    } else {
        Err(Error::Io {
            path: path.to_owned(),
            operation: "lock",
            source: error,
        })
    }
}

/// Gives the file `len` bytes of real storage, so that a full file system is an error now
/// rather than a SIGBUS at some later store.
pub(crate) fn allocate(file: &File, len: u64) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: posix_fallocate on a file descriptor we own has no memory-safety preconditions.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Reads the first [`HEADER_LEN`] bytes of the file, or all of it if it is shorter.
fn read_head(file: &File) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match file.read_at(&mut head[filled..], filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    head.truncate(filled);
    Ok(head)
}

fn new_uuid() -> io::Result<[u8; 16]> {
    let mut uuid = [0u8; 16];
    let mut filled = 0;
    while filled < uuid.len() {
        let remaining = &mut uuid[filled..];
        // SAFETY: the buffer is valid for writes of `remaining.len()` bytes.
        let read = unsafe { libc::getrandom(remaining.as_mut_ptr().cast(), remaining.len(), 0) };
        match usize::try_from(read) {
            Ok(read) => filled += read,
            Err(_) => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    Ok(uuid)
}

fn sync_parent_directory(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Removes the file at `path` when dropped, unless disarmed: undoes a failed `create`.
struct RemoveOnError<'a> {
    path: &'a Path,
    armed: bool,
}

impl Drop for RemoveOnError<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

/// Where a pool's objects may be: from the root to the log area, and after the log area.
fn data_ranges(identity: &Identity, pool_size: u64) -> DataRanges {
    DataRanges {
        data_start: ROOT_OFFSET as usize,
        log_start: identity.log.offset as usize,
        heap_start: identity
            .log
            .end()
            .expect("checked when the header was read") as usize,
        pool_end: pool_size as usize,
    }
}

/// An open transaction on a pool with root `R`, handed to the body of [`Pool::txn`].
///
/// It is the only way to change a pool: [`root_mut`](Txn::root_mut) and
/// [`get_mut`](Txn::get_mut) give [`PMut`]s, which log before they allow a write. It
/// cannot leave the transaction's closure or its thread.
pub struct Txn<'p, R: Persistent> {
    pool: &'p mut Pool<R>,
    not_send: txn::ThreadBound,
}

impl<R: Persistent> Txn<'_, R> {
    /// The root object, to read.
    #[must_use]
    pub fn root(&self) -> &R {
        self.pool.root()
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
        self.pool.get(pointer)
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
    /// ([`PoolOptions::max_size`]), or cannot hold a `T` (larger than 2 MiB or aligned
    /// beyond a page), or its type table is full; [`Error::HeapCorrupted`] if the
    /// collection found damage, or if the pool's record of `T` disagrees with `T`
    /// ([`HeapError::TypeRecordMismatch`]). Return the error from the transaction to roll
    /// it back.
    pub fn alloc<T: Persistent>(&mut self, value: T) -> Result<PPtr<T>, Error> {
        let _layout_checked: u64 = const { T::LAYOUT_HASH };
        let pool = &mut *self.pool;
        let type_index = pool.type_index_of::<T>()?;
        let offset = pool.allocate_slot(type_index)?;
        let address = pool
            .mapping
            .address_of(offset as usize)
            .cast_mut()
            .cast::<T>();
        // SAFETY: the heap returned a free slot of `T`'s class: inside the mapping, aligned
        // for `T` (slots are multiples of its alignment from a page boundary), at least
        // `size_of::<T>()` bytes, and referenced by nothing (no pointer in the pool reaches a
        // free slot, and the transaction's handle is borrowed mutably).
        unsafe { address.write(value) };
        txn::note_fresh(offset as usize, size_of::<T>());
        Ok(PPtr::from_offset(offset))
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
        let pool = &mut *self.pool;
        let type_index = pool.type_index_of::<T>()?;
        let entry =
            Heap::encode_named_root(name, type_index, pointer.offset()).map_err(Error::Heap)?;
        let slot = match pool.find_named_root(name) {
            Some(existing) => Some(existing.slot),
            None => {
                let used = pool.heap.named_roots(&pool.region());
                (0..pmem_alloc::NAMED_ROOTS)
                    .find(|slot| used.iter().all(|entry| entry.slot != *slot))
            }
        }
        .ok_or(Error::Heap(HeapError::NamedRootsFull))?;
        pool.write_logged(pool.heap.named_root_offset(slot), &entry);
        Ok(())
    }

    /// Removes the named root `name`; returns whether it existed. Its object is garbage from
    /// the next collection on, unless something else reaches it.
    pub fn remove_named_root(&mut self, name: &str) -> bool {
        let pool = &mut *self.pool;
        let found = pool.find_named_root(name);
        if let Some(entry) = &found {
            pool.write_logged(pool.heap.named_root_offset(entry.slot), &[0; 64]);
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
}
