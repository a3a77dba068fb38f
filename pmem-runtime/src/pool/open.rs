//! Opening a pool: the order of checks of `docs/src/file-format.md`, "Opening a pool".
//! Everything is checked, on the pool as recovery will leave it, before anything is written.
//! The heap's metadata comes first: recovery never changes it (it is never logged), and the
//! log's check needs it to know which page-table pages are data (those inside huge objects).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
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
    let io = |operation| {
        move |source| Error::Io {
            path: path.to_owned(),
            operation,
            source,
        }
    };
    let forced_mode = options.forced_flush_mode()?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(io("open"))?;
    file::lock(&file, path)?;
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
    let max_size = if options.is_copy_on_write() {
        state.pool_size
    } else {
        options.max_size.max(state.pool_size)
    };
    let reserve = usize::try_from(max_size).unwrap_or(usize::MAX);
    let mapping =
        Mapping::map(&file, pool_size, reserve, options.is_copy_on_write()).map_err(io("map"))?;
    let flusher = options.flusher(forced_mode, &mapping)?;

    // The heap's metadata is never logged, so it reads the same before and after recovery:
    // loading it first tells the log's check which page-table pages are data (those inside
    // huge objects, `pmem-alloc`'s `layout.rs`).
    let heap_start = identity
        .log
        .end()
        .expect("checked when the header was read") as usize;
    let heap = load_heap::<R>(path, &PoolRegion::fixed(&mapping, &flusher), heap_start)?;
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
    // Everything is checked on the pool as recovery will leave it before a byte is
    // written (see `recovery.rs`): on a private copy-on-write mapping if there is
    // anything to roll back.
    let marks = if unfinished.is_empty() {
        check_heap(
            path,
            &heap,
            &PoolRegion::fixed(&mapping, &flusher),
            &log_blocks,
        )?
    } else {
        let preview =
            Mapping::map(&file, pool_size, pool_size, true).map_err(io("map a preview of"))?;
        for slot in &unfinished {
            recovery::restore(&preview, slot, |_| {});
        }
        let unflushed = Flusher::new(FlushMode::None);
        check_heap(
            path,
            &heap,
            &PoolRegion::fixed(&preview, &unflushed),
            &log_blocks,
        )?
    };
    let mut heap = heap;
    let rolled_back = recovery::roll_back(&mapping, &flusher, &unfinished);
    let mut collection = heap.sweep(&mut PoolRegion::fixed(&mapping, &flusher), marks);
    // No pin survives a restart: the extra roots of the collection at open are log blocks.
    collection.pinned = 0;
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
    pool.write_state(false);
    Ok(pool)
}

/// The log extension blocks that the slots chain (see `recovery::scan`), and their type.
struct LogBlocks<'a> {
    offsets: &'a [u64],
    info: TypeInfo,
}

/// Loads the heap of a pool whose root is an `R`, at `heap_start` in `region`, writing
/// nothing, and checks its root against the pool header's.
fn load_heap<R: Persistent>(
    path: &Path,
    region: &PoolRegion<'_>,
    heap_start: usize,
) -> Result<Heap, Error> {
    let heap_corrupted = |source| Error::HeapCorrupted {
        path: path.to_owned(),
        source,
    };
    let heap = Heap::load(region, heap_start, &TypeInfo::of::<R>()).map_err(heap_corrupted)?;
    if heap.root().offset != ROOT_OFFSET {
        return Err(heap_corrupted(HeapError::Corrupted {
            offset: heap_start as u64,
            what: "the heap's root record disagrees with the pool header",
        }));
    }
    Ok(heap)
}

/// Marks `heap` in `region` (the pool as recovery will leave it), writing nothing: with
/// [`load_heap`], every check of the heap that open makes. Every chained log block must be
/// an object of the log-block type, and is a root.
fn check_heap(
    path: &Path,
    heap: &Heap,
    region: &PoolRegion<'_>,
    log_blocks: &LogBlocks<'_>,
) -> Result<Marks, Error> {
    let heap_corrupted = |source| Error::HeapCorrupted {
        path: path.to_owned(),
        source,
    };
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
    heap.mark(region, log_blocks.offsets, &HashMap::new())
        .map_err(heap_corrupted)
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
