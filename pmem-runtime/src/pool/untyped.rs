//! Pools without their program: [`UntypedPool`], what a pool tool opens (`pmem info`,
//! `check`, `gc`, `dump`).
//!
//! A pool records everything the collector needs to trace it (type records with pointer
//! maps, page tables, named roots), so a program that does not know the root's type can
//! still check a pool, walk its object graph and collect it. An untyped open makes every
//! check a typed one does, but takes the root's type as the pool records it (the heap's
//! record of it must agree with the header's), and gives no access to the objects' values
//! as Rust types: only their words.
//!
//! [`UntypedPool::open_read_only`] writes nothing: the file is opened read-only, under a
//! shared lock (so no writer has it open, and none can open it meanwhile), and mapped
//! copy-on-write, so recovery and the collection run on this process's private copy and
//! report what they would do.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use pmem_alloc::{Collection, DanglingPointer, HeapStats, NamedRoot, ObjectVisit, TypeInfo};

use crate::error::Error;
use crate::header::{FORMAT_VERSION, ROOT_OFFSET};
use crate::hw::flush::{FlushMode, FlushModeError};

use super::open::{Access, RootCheck};
use super::{Pool, PoolInfo, PoolOptions};

/// A pool opened without its root type: for tools that check, inspect or collect any pool.
///
/// ```no_run
/// let pool = pmem::inspect::UntypedPool::open_read_only("/dev/shm/bank.pool")?;
/// println!("{}: {} live objects", pool.info().root_type, pool.heap_stats().allocated_objects);
/// # Ok::<(), pmem::Error>(())
/// ```
#[derive(Debug)]
pub struct UntypedPool {
    pool: Pool<()>,
    read_only: bool,
    would_flush: Result<FlushMode, FlushModeError>,
    dax: bool,
}

/// What an [`UntypedPool`] knows of its pool beyond [`PoolInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolDetails {
    /// The file format's version.
    pub format_version: u32,
    /// The root object's size, alignment and layout hash, as recorded.
    pub root_size: u64,
    /// See `root_size`.
    pub root_align: u64,
    /// See `root_size`.
    pub root_layout_hash: u64,
    /// Where the root object starts (the format fixes it: right after the header page).
    pub root_offset: u64,
    /// Each lane's undo log slot, in bytes.
    pub log_slot_len: u64,
    /// Where the heap starts.
    pub heap_start: u64,
    /// The file's length in bytes.
    pub file_len: u64,
    /// How a program opening the pool here would make stores durable (`PMEM_FLUSH`, or
    /// what suits the file), or why it could not.
    pub flush_mode: Result<FlushMode, FlushModeError>,
    /// Whether the file is on a DAX file system, so that a program maps it synchronously
    /// (`MAP_SYNC`) and makes its stores durable with cache-line write-backs.
    pub dax: bool,
    /// How far a program's open lets the pool grow unless it asks otherwise
    /// ([`PoolOptions::max_size`]): the pool does not record a limit.
    pub default_max_size: u64,
}

impl UntypedPool {
    /// Opens the pool at `path` without writing to it: every check of
    /// [`PoolOptions::open`] runs, then recovery and the collection run on a private copy,
    /// so [`info`](UntypedPool::info) says what they would do (transactions rolled back,
    /// pointers found dangling), and [`heap_stats`](UntypedPool::heap_stats) and
    /// [`walk`](UntypedPool::walk) show the pool as an open would leave it.
    ///
    /// # Errors
    ///
    /// As [`PoolOptions::open`], but for the root type, which is never refused, and for
    /// `PMEM_FLUSH`, which a read-only open does not use ([`details`](UntypedPool::details)
    /// reports a bad one); [`Error::Locked`] if a writer has the pool open.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path.as_ref(), Access::ReadOnly)
    }

    /// Opens the pool at `path` as [`PoolOptions::open`] does with
    /// [`collect_at_open`](PoolOptions::collect_at_open), whatever its root type: recovery
    /// rolls back what a crash interrupted, and the collection frees garbage, in the file.
    ///
    /// # Errors
    ///
    /// As [`PoolOptions::open`], but for the root type, which is never refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path.as_ref(), Access::ReadWrite)
    }

    fn open_with(path: &Path, access: Access) -> Result<Self, Error> {
        let options = PoolOptions::new().collect_at_open(true);
        let pool = super::open::open_as(&options, path, RootCheck::AsRecorded, access)?;
        let dax = match access {
            Access::ReadWrite => pool.mapping.is_dax(),
            Access::ReadOnly => {
                crate::hw::mapping::supports_sync_mapping_of(&pool.file).unwrap_or(false)
            }
        };
        let would_flush = match access {
            Access::ReadWrite => Ok(pool.flusher.mode()),
            Access::ReadOnly => {
                FlushMode::from_env().and_then(|forced| FlushMode::choose(forced, dax))
            }
        };
        Ok(Self {
            pool,
            read_only: access == Access::ReadOnly,
            would_flush,
            dax,
        })
    }

    /// Whether this open writes nothing to the file.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// What the pool is, and what its open did (or, read-only, would do).
    #[must_use]
    pub fn info(&self) -> PoolInfo {
        self.pool.info()
    }

    /// What the collection at open found (or, read-only, would find): an untyped open
    /// always collects ([`PoolOptions::collect_at_open`]).
    #[must_use]
    pub fn collection_at_open(&self) -> Collection {
        self.pool
            .info
            .collection_at_open
            .expect("an untyped open collects")
    }

    /// The pool's format, its root's record, its log and heap areas, and the flush mode
    /// a program would use.
    #[must_use]
    pub fn details(&self) -> PoolDetails {
        let root = self.root_type();
        PoolDetails {
            format_version: FORMAT_VERSION,
            root_size: root.size,
            root_align: root.align,
            root_layout_hash: root.layout_hash,
            root_offset: ROOT_OFFSET,
            log_slot_len: u64::from(self.pool.log.slot_len),
            heap_start: self.pool.log.end().expect("checked at open"),
            file_len: self.file_len().unwrap_or(0),
            flush_mode: self.would_flush.clone(),
            dax: self.dax,
            default_max_size: super::options::DEFAULT_MAX_SIZE,
        }
    }

    fn file_len(&self) -> io::Result<u64> {
        Ok(self.pool.file.metadata()?.size())
    }

    /// The root's type record.
    fn root_type(&self) -> TypeInfo {
        let inner = self.pool.inner_read();
        inner
            .heap
            .type_info(inner.heap.root_type())
            .expect("a loaded heap records its root's type")
            .clone()
    }

    /// How the heap is used: after the collection at open, every allocated object is live.
    #[must_use]
    pub fn heap_stats(&self) -> HeapStats {
        self.pool.heap_stats()
    }

    /// The type records of the heap, by type index.
    #[must_use]
    pub fn types(&self) -> Vec<TypeInfo> {
        let inner = self.pool.inner_read();
        (0..)
            .map_while(|index| inner.heap.type_info(index).cloned())
            .collect()
    }

    /// The named roots in use.
    #[must_use]
    pub fn named_roots(&self) -> Vec<NamedRoot> {
        let inner = self.pool.inner_read();
        inner.heap.named_roots(&self.pool.region())
    }

    /// The first [`MAX_LISTED_DANGLING`](pmem_alloc::MAX_LISTED_DANGLING) dangling
    /// pointers the last collection found (the collection at open, unless
    /// [`collect`](UntypedPool::collect) ran since): pointers that lead to no object of
    /// their type. [`Collection::dangling_pointers`] counts them all.
    #[must_use]
    pub fn dangling_pointers(&self) -> Vec<DanglingPointer> {
        self.pool.inner_read().heap.last_dangling().to_vec()
    }

    /// Visits every object reachable from the roots, as [`Heap::walk`](pmem_alloc::Heap::walk)
    /// documents: the root first, each object once, with where each of its pointers leads.
    ///
    /// # Errors
    ///
    /// [`Error::HeapCorrupted`] for a slice longer than its slot or a pointer map that
    /// reaches past the pool, which a pool that opened never has.
    pub fn walk(&self, visit: impl FnMut(&ObjectVisit)) -> Result<(), Error> {
        let inner = self.pool.inner_read();
        inner
            .heap
            .walk(&self.pool.region(), visit)
            .map_err(|source| Error::HeapCorrupted {
                path: self.pool.info.path.clone(),
                source,
            })
    }

    /// The 8-byte little-endian words of `len` bytes at pool offset `offset`, as far as
    /// the pool reaches (a last partial word padded with zeros).
    #[must_use]
    pub fn words(&self, offset: u64, len: u64) -> Vec<u64> {
        let mapped = self.pool.mapping.mapped_len() as u64;
        let start = offset.min(mapped);
        let end = offset.saturating_add(len).min(mapped);
        let mut bytes = vec![0u8; (end - start) as usize];
        pmem_alloc::Region::read(&self.pool.region(), start as usize, &mut bytes);
        bytes
            .chunks(8)
            .map(|chunk| {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                u64::from_le_bytes(word)
            })
            .collect()
    }

    /// Collects garbage, as [`Pool::collect`]: in the file, unless the pool was opened
    /// read-only.
    ///
    /// # Errors
    ///
    /// As [`Pool::collect`].
    pub fn collect(&mut self) -> Result<Collection, Error> {
        self.pool.collect()
    }

    /// Closes the pool, recording a clean shutdown (unless it was opened read-only).
    pub fn close(self) {
        drop(self);
    }
}
