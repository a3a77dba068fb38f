//! Options for creating and opening pools, and the choice of a flush mode.

use std::path::Path;

use pmem_alloc::Persistent;

use crate::error::Error;
use crate::hw::Domain;
use crate::hw::flush::{FlushMode, Flusher};
use crate::hw::mapping::Mapping;

use super::Pool;

const DEFAULT_SIZE: u64 = 8 << 20;
pub(super) const DEFAULT_MAX_SIZE: u64 = 64 << 30;
const DEFAULT_LOG_SIZE: u64 = 1 << 20;

/// Options for creating or opening a pool, in the style of [`std::fs::OpenOptions`].
///
/// ```no_run
/// let balances = [0u64; 16];
/// let pool = pmem::PoolOptions::new()
///     .layout("bank-v1")
///     .size(64 << 20)
///     .create("/dev/shm/bank.pool", balances)?;
/// # Ok::<(), pmem::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub(super) size: u64,
    pub(super) max_size: u64,
    pub(super) log_size: u64,
    pub(super) lanes: u32,
    pub(super) layout: Option<String>,
    pub(super) flush_mode: Option<FlushMode>,
    pub(super) durability: Durability,
    pub(super) collect_at_open: bool,
    pub(crate) domain: Domain,
}

/// When a committed exclusive transaction ([`Pool::txn`]) is durable: set per open pool
/// ([`PoolOptions::durability`], [`Pool::set_durability`]); not recorded in the file.
///
/// Whichever is chosen, a crash leaves the pool holding a prefix of its committed
/// transactions, each whole (`docs/src/memory-model.md`, promise 8). Shared transactions
/// ([`Pool::shared_txn`]) are always immediate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Each transaction is durable when `txn` returns: the default.
    #[default]
    Immediate,
    /// Transactions commit in groups: a committed transaction may be lost in a crash,
    /// together with every one committed after it, until [`Pool::sync`] returns (or the
    /// pool is closed, or the group fills: up to 64 transactions, or half a log slot of
    /// entries). A group costs one fence per line it logs and two fences in all at its
    /// end, where immediate transactions cost two fences each; a line the group changes
    /// again costs nothing more. For a cache, a log-structured store or a batch import,
    /// which can redo the last few changes.
    Deferred,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl PoolOptions {
    /// The defaults: an 8 MiB pool that may grow to 64 GiB, a 1 MiB undo log, no layout
    /// name, the flush mode that `PMEM_FLUSH` forces or that suits the file, immediate
    /// durability, and no collection at open.
    #[must_use]
    pub fn new() -> Self {
        Self {
            size: DEFAULT_SIZE,
            max_size: DEFAULT_MAX_SIZE,
            log_size: DEFAULT_LOG_SIZE,
            lanes: 1,
            layout: None,
            flush_mode: None,
            durability: Durability::Immediate,
            collect_at_open: false,
            domain: Domain::default(),
        }
    }

    /// The size of a new pool file in bytes, rounded up to whole 4096-byte pages.
    #[must_use]
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = bytes;
        self
    }

    /// The size of a new pool's undo log slots in bytes, rounded up to whole 4096-byte
    /// pages: how much one transaction can change before its log grows into the heap (a
    /// cache line it changes in one place takes a 64-byte entry; one it changes all over, up
    /// to 112 bytes in two entries; a run of adjacent whole lines, 64 bytes a line and 24 for
    /// the run). A
    /// transaction that outgrows it attaches extension blocks of this size (at most 1 MiB)
    /// from the heap, one fence each, and keeps them for later transactions.
    #[must_use]
    pub fn log_size(mut self, bytes: u64) -> Self {
        self.log_size = bytes;
        self
    }

    /// How many transactions a new pool can run at the same time (see
    /// [`Pool::shared_txn`]): each running transaction writes its own undo log, a *lane*,
    /// of [`log_size`](Self::log_size) bytes, so the pool's log area takes `lanes *
    /// log_size` bytes. A transaction that finds every lane in use waits for one. The
    /// default is 1, which suits a pool with one writer at a time; give a pool that
    /// threads share about one lane per thread that writes. `create` refuses 0 and more
    /// than 1024.
    #[must_use]
    pub fn lanes(mut self, count: u32) -> Self {
        self.lanes = count;
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

    /// When the pool's committed transactions are durable (see [`Durability`]); the
    /// default is [`Durability::Immediate`].
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Whether [`open`](PoolOptions::open) collects garbage before it returns; the default
    /// is `false`.
    ///
    /// By default `open` does not trace the heap, so its time does not grow with the heap:
    /// the objects the pool had count as allocated until the first collection, and new
    /// objects go to free pages. That collection runs when an exclusive transaction's
    /// allocation finds no room (instead of growing the pool), or on [`Pool::collect`]; it
    /// frees what a crash left unreachable and what the previous run left behind. Shared transactions never collect, so a program that
    /// allocates only in them reuses the old objects' free slots once it calls
    /// [`Pool::collect`].
    ///
    /// With `true`, `open` marks the whole heap, as recovery leaves it, before writing a
    /// byte, and sweeps it: a reachable slice whose stored length exceeds its slot is then
    /// refused at open ([`Error::HeapCorrupted`]) rather than by the first collection, and
    /// [`PoolInfo::collection_at_open`](super::PoolInfo::collection_at_open) reports what
    /// it found, dangling pointers included. Tools that check a pool do this.
    #[must_use]
    pub fn collect_at_open(mut self, collect: bool) -> Self {
        self.collect_at_open = collect;
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
        super::create::create(self, path.as_ref(), init)
    }

    /// Opens the existing pool at `path`, whose root must be of type `R`.
    ///
    /// Opening rolls back the transactions a crash interrupted, and (with
    /// [`collect_at_open`](PoolOptions::collect_at_open)) collects garbage; otherwise the
    /// first collection runs later. Nothing is written to the file unless the pool is opened
    /// successfully: every check runs first, on the pool as recovery will leave it
    /// (`docs/src/file-format.md`, "Opening a pool"). A pointer in the pool that leads
    /// nowhere is not an error: a collection counts it
    /// ([`Collection::dangling_pointers`](pmem_alloc::Collection::dangling_pointers)).
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
        super::open::open(self, path.as_ref())
    }

    /// Opens the pool at `path`, or creates it with the root `root()` if no file is there:
    /// what a program that keeps its data in one pool does at every start.
    ///
    /// If another process creates the file between the two steps, this opens the pool that
    /// process made.
    ///
    /// # Errors
    ///
    /// As [`open`](PoolOptions::open) for a file that exists (a file that is not a pool is
    /// refused, never replaced), and as [`create`](PoolOptions::create) for one that does not.
    pub fn open_or_create<R: Persistent>(
        &self,
        path: impl AsRef<Path>,
        root: impl FnOnce() -> R,
    ) -> Result<Pool<R>, Error> {
        let path = path.as_ref();
        match self.open(path) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                match self.create(path, root()) {
                    Err(Error::AlreadyExists { .. }) => self.open(path),
                    created => created,
                }
            }
            opened => opened,
        }
    }

    pub(super) fn is_copy_on_write(&self) -> bool {
        self.domain.is_copy_on_write()
    }

    pub(super) fn flusher(
        &self,
        forced_mode: Option<FlushMode>,
        mapping: &Mapping,
    ) -> Result<Flusher, Error> {
        Ok(self.domain.flusher(forced_mode, mapping)?)
    }

    pub(super) fn forced_flush_mode(&self) -> Result<Option<FlushMode>, Error> {
        match self.flush_mode {
            Some(mode) => Ok(Some(mode)),
            None => Ok(FlushMode::from_env()?),
        }
    }
}
