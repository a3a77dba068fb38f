//! Opening a pool: the order of checks of `docs/src/file-format.md`, "Opening a pool".
//! Everything is checked, on the pool as recovery will leave it, before anything is written.
//! The heap's metadata comes first: recovery never changes it (it is never logged), and the
//! log's check needs it to know which page-table pages are data (those inside huge objects).
//! An open that collects ([`PoolOptions::collect_at_open`]) also marks the heap as recovery
//! will leave it before writing; one that does not leaves the first collection for later,
//! so its time grows with the heap's metadata (a word per page), not with its objects.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use pmem_alloc::{Heap, HeapError, Marks, Persistent, TypeInfo};

use crate::data::DataRanges;
use crate::error::Error;
use crate::file;
use crate::header::{self, HEADER_LEN, HeaderError, ROOT_OFFSET};
use crate::hw::flush::{Event, FlushMode, Flusher};
use crate::hw::mapping::Mapping;
use crate::log;
use crate::recovery;
use crate::region::PoolRegion;

use super::{Parts, Pool, PoolOptions};

/// The open protocol for [`PoolOptions::open`].
pub(super) fn open<R: Persistent>(options: &PoolOptions, path: &Path) -> Result<Pool<R>, Error> {
    open_as(
        options,
        path,
        RootCheck::Type(TypeInfo::of::<R>()),
        Access::ReadWrite,
    )
}

/// What open checks the pool's root against.
pub(super) enum RootCheck {
    /// The program's root type: the header's and the heap's records must describe it.
    Type(TypeInfo),
    /// Whatever the pool records (a tool's open, as `Pool<()>`): the heap's record of the
    /// root must agree with the header's.
    AsRecorded,
}

/// Whether an open may write the file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// As [`PoolOptions::open`]: recovery and a collection at open write the file.
    ReadWrite,
    /// The file is opened read-only under a shared lock and mapped copy-on-write:
    /// recovery and a collection at open run on this process's private copy, and the file is
    /// left exactly as it was.
    ReadOnly,
}

/// The open protocol, for a pool whose root is an `R` (or, for [`RootCheck::AsRecorded`],
/// of any type, opened as `Pool<()>`).
pub(super) fn open_as<R: Persistent>(
    options: &PoolOptions,
    path: &Path,
    root_check: RootCheck,
    access: Access,
) -> Result<Pool<R>, Error> {
    let io = |operation| {
        move |source| Error::Io {
            path: path.to_owned(),
            operation,
            source,
        }
    };
    let read_only = access == Access::ReadOnly;
    // A read-only open flushes nothing: how a writer would flush (`PMEM_FLUSH`) is no
    // reason to refuse it (`UntypedPool::details` reports the choice, or what is wrong).
    let forced_mode = if read_only {
        None
    } else {
        options.forced_flush_mode()?
    };
    let file = open_locked(path, read_only)?;
    let file_len = file.metadata().map_err(io("read the length of"))?.len();
    let head = read_head(&file).map_err(io("read"))?;
    let (identity, state) =
        header::decode(&head, file_len).map_err(|error| header_error(path, error))?;
    if let Some(expected) = &options.layout {
        if *expected != identity.layout {
            return Err(Error::LayoutMismatch {
                path: path.to_owned(),
                expected: expected.clone(),
                found: identity.layout,
            });
        }
    }
    if let RootCheck::Type(root) = &root_check
        && (identity.root_layout_hash != root.layout_hash
            || identity.root_size != root.size
            || identity.root_align != root.align)
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
    let private = read_only || options.is_copy_on_write();
    let max_size = if private {
        state.pool_size
    } else {
        options.max_size.max(state.pool_size)
    };
    let reserve = usize::try_from(max_size).unwrap_or(usize::MAX);
    let mapping = Mapping::map(&file, pool_size, reserve, private).map_err(io("map"))?;
    let flusher = if read_only {
        Flusher::new(FlushMode::None)
    } else {
        options.flusher(forced_mode, &mapping)?
    };

    // The heap's metadata is never logged, so it reads the same before and after recovery:
    // loading it first tells the log's check which page-table pages are data (those inside
    // huge objects, `pmem-alloc`'s `layout.rs`).
    let heap_start = identity
        .log
        .end()
        .expect("checked when the header was read") as usize;
    let heap = load_heap(
        path,
        &PoolRegion::fixed(&mapping, &flusher),
        heap_start,
        &root_check,
        &identity,
    )?;
    let data = DataRanges::of(&identity, state.pool_size, heap.data_tables());
    let recovery::Scan { unfinished, blocks } = recovery::scan(&mapping, identity.log, &data)
        .map_err(|damage| Error::LogCorrupted {
            path: path.to_owned(),
            offset: damage.offset,
            what: damage.what,
        })?;
    let log_blocks = LogBlocks {
        offsets: &blocks,
        info: log::block_type(identity.log.slot_len as usize),
    };
    check_log_blocks(path, &heap, &log_blocks)?;
    // With a collection at open, everything is checked on the pool as recovery will leave
    // it before a byte is written (see `recovery.rs`): on a private copy-on-write mapping
    // if there is anything to roll back. Without one, what is left to check is the heap's
    // metadata, which recovery does not change.
    let marks = if !options.collect_at_open {
        None
    } else if unfinished.is_empty() {
        Some(mark_heap(
            path,
            &heap,
            &PoolRegion::fixed(&mapping, &flusher),
            &log_blocks,
        )?)
    } else {
        let preview =
            Mapping::map(&file, pool_size, pool_size, true).map_err(io("map a preview of"))?;
        for slot in &unfinished {
            recovery::restore(&preview, slot, |_| {});
        }
        let unflushed = Flusher::new(FlushMode::None);
        Some(mark_heap(
            path,
            &heap,
            &PoolRegion::fixed(&preview, &unflushed),
            &log_blocks,
        )?)
    };
    let mut heap = heap;
    let rolled_back = recovery::roll_back(&mapping, &flusher, &unfinished);
    let collection = marks.map(|marks| {
        let mut collection = heap.sweep(&mut PoolRegion::fixed(&mapping, &flusher), marks);
        // No pin survives a restart: the extra roots of the collection at open are log
        // blocks.
        collection.pinned = 0;
        collection
    });
    flusher.tell(Event::Settled);
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
    pool.durability = options.durability;
    pool.write_state(false);
    Ok(pool)
}

/// Opens the file at `path` and locks it (shared if `read_only`). A compaction replaces a
/// pool by renaming a new file over it while it holds the old one's lock, so a file that
/// is no longer the one `path` names once the lock is held is opened again: its lock
/// would guard nothing.
fn open_locked(path: &Path, read_only: bool) -> Result<File, Error> {
    let io = |operation| {
        move |source| Error::Io {
            path: path.to_owned(),
            operation,
            source,
        }
    };
    loop {
        // Without blocking, which only a FIFO or a device would do (for ever, opening a
        // FIFO no one writes, or reading it): a pool is a regular file, anything else is
        // refused. On a regular file the flag changes nothing.
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(io("open"))?;
        let kind = file
            .metadata()
            .map_err(io("read the metadata of"))?
            .file_type();
        if kind.is_dir() {
            // As a read-write open of a directory fails, for either access.
            return Err(io("open")(io::Error::from(io::ErrorKind::IsADirectory)));
        }
        if !kind.is_file() {
            return Err(Error::NotAPool {
                path: path.to_owned(),
            });
        }
        if read_only {
            file::lock_shared(&file, path)?;
        } else {
            file::lock(&file, path)?;
        }
        let opened = file.metadata().map_err(io("read the metadata of"))?;
        match std::fs::metadata(path) {
            Ok(named) if named.dev() == opened.dev() && named.ino() == opened.ino() => {
                return Ok(file);
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(io("read the metadata of")(error)),
        }
    }
}

/// The log extension blocks that the slots chain (see `recovery::scan`), and their type.
struct LogBlocks<'a> {
    offsets: &'a [u64],
    info: TypeInfo,
}

/// Loads the heap at `heap_start` in `region`, writing nothing, and checks its root
/// against `root_check` and the pool header's.
fn load_heap(
    path: &Path,
    region: &PoolRegion<'_>,
    heap_start: usize,
    root_check: &RootCheck,
    identity: &header::Identity,
) -> Result<Heap, Error> {
    let heap_corrupted = |source| Error::HeapCorrupted {
        path: path.to_owned(),
        source,
    };
    let heap = match root_check {
        RootCheck::Type(root) => Heap::load(region, heap_start, root),
        RootCheck::AsRecorded => Heap::load_as_recorded(region, heap_start),
    }
    .map_err(heap_corrupted)?;
    let recorded_root = heap
        .type_info(heap.root_type())
        .expect("a loaded heap records its root's type");
    if recorded_root.layout_hash != identity.root_layout_hash
        || recorded_root.size != identity.root_size
        || recorded_root.align != identity.root_align
    {
        return Err(heap_corrupted(HeapError::Corrupted {
            offset: heap_start as u64,
            what: "the heap's record of the root's type disagrees with the pool header",
        }));
    }
    if heap.root().offset != ROOT_OFFSET {
        return Err(heap_corrupted(HeapError::Corrupted {
            offset: heap_start as u64,
            what: "the heap's root record disagrees with the pool header",
        }));
    }
    Ok(heap)
}

/// Checks that every log block the slots chain is an object of the log-block type.
fn check_log_blocks(path: &Path, heap: &Heap, log_blocks: &LogBlocks<'_>) -> Result<(), Error> {
    let block_type = heap
        .type_index(log_blocks.info.layout_hash)
        .filter(|&index| heap.verify_type(index, || log_blocks.info.clone()).is_ok());
    for &block in log_blocks.offsets {
        if block_type.is_none() || heap.object_type(block) != block_type {
            return Err(Error::LogCorrupted {
                path: path.to_owned(),
                offset: block,
                what: "a log chain names a block that is not a log block object of the heap",
            });
        }
    }
    Ok(())
}

/// Marks `heap` in `region` (the pool as recovery will leave it), writing nothing, with the
/// log blocks as roots: with [`load_heap`], every check of the heap that a collecting open
/// makes.
fn mark_heap(
    path: &Path,
    heap: &Heap,
    region: &PoolRegion<'_>,
    log_blocks: &LogBlocks<'_>,
) -> Result<Marks, Error> {
    heap.mark(region, log_blocks.offsets, &HashMap::new())
        .map_err(|source| Error::HeapCorrupted {
            path: path.to_owned(),
            source,
        })
}

pub(super) fn header_error(path: &Path, error: HeaderError) -> Error {
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

/// Reads the first [`HEADER_LEN`] bytes of the file, or all of it if it is shorter.
pub(super) fn read_head(file: &File) -> io::Result<Vec<u8>> {
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
