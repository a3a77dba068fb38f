//! Creating a pool: the protocol of `docs/src/file-format.md`, "Creating a pool". The magic
//! is written last, so a crash leaves a file that is not a pool, never a damaged one.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use pmem_alloc::{Heap, MIN_HEAP_LEN, Persistent, RootObject, TypeInfo};

use crate::error::Error;
use crate::file::{self, RemoveOnError};
use crate::header::{
    self, HEADER_LEN, Identity, LogArea, MAX_LANES, MAX_LAYOUT_LEN, ROOT_OFFSET, State,
};
use crate::hw::flush::Event;
use crate::hw::mapping::Mapping;
use crate::region::PoolRegion;

use super::{Parts, Pool, PoolOptions};

/// The create protocol for [`PoolOptions::create_with`].
pub(super) fn create<R: Persistent>(
    options: &PoolOptions,
    path: &Path,
    init: impl FnOnce(&mut R),
) -> Result<Pool<R>, Error> {
    let root = NewRoot {
        info: TypeInfo::of::<R>(),
        type_name: header::stored_root_type_name(core::any::type_name::<R>()),
        identity: None,
    };
    create_pool(options, path, root, |mapping| {
        let root_address = mapping
            .address_of(ROOT_OFFSET as usize)
            .cast_mut()
            .cast::<R>();
        // SAFETY: the root slot lies inside the mapping (size >= ROOT_OFFSET +
        // size_of::<R>()), is aligned for `R` (page-aligned base, align_of::<R>() <= 4096
        // divides ROOT_OFFSET), holds zeros from `allocate`, a valid `R` since every bit
        // pattern is one, and is not yet visible to anyone else: the file has no magic yet
        // and is locked.
        init(unsafe { &mut *root_address });
    })
}

/// The root of a pool to create, as its records will describe it.
pub(super) struct NewRoot {
    /// The root's type.
    pub(super) info: TypeInfo,
    /// Its name as the header stores it.
    pub(super) type_name: String,
    /// The UUID and creation time to record, for a pool that replaces another
    /// (compaction); a new pool gets new ones.
    pub(super) identity: Option<([u8; 16], u64)>,
}

/// The create protocol for a root described by `root`, whose bytes `init` writes into the
/// mapping at [`ROOT_OFFSET`] (zeros until then) before the pool exists as one; as `Pool<R>`
/// (for an untyped root, `Pool<()>`).
pub(super) fn create_pool<R: Persistent>(
    options: &PoolOptions,
    path: &Path,
    root: NewRoot,
    init: impl FnOnce(&Mapping),
) -> Result<Pool<R>, Error> {
    let layout = options.layout.clone().unwrap_or_default();
    if layout.len() > MAX_LAYOUT_LEN || layout.contains('\0') {
        return Err(Error::InvalidOption {
            option: "layout",
            reason: "a layout name is at most 63 bytes of text without NUL",
        });
    }
    if !(1..=MAX_LANES).contains(&options.lanes) {
        return Err(Error::InvalidOption {
            option: "lanes",
            reason: "a pool has from 1 to 1024 lanes",
        });
    }
    let log_area = u32::try_from(options.log_size.max(1).next_multiple_of(HEADER_LEN as u64))
        .ok()
        .and_then(|slot_len| LogArea::after_root(root.info.size, options.lanes, slot_len))
        .ok_or(Error::InvalidOption {
            option: "log_size",
            reason: "an undo log is less than 4 GiB, and all lanes' logs together too",
        })?;
    let size = log_area
        .end()
        .and_then(|log_end| log_end.checked_add(MIN_HEAP_LEN as u64))
        .map(|heap_end| options.size.max(heap_end))
        .and_then(|size| size.checked_next_multiple_of(HEADER_LEN as u64))
        .filter(|&size| usize::try_from(size).is_ok())
        .ok_or(Error::InvalidOption {
            option: "size",
            reason: "larger than the address space",
        })?;
    if options.max_size < size {
        return Err(Error::InvalidOption {
            option: "max_size",
            reason: "the maximum size is smaller than the pool",
        });
    }
    if root.info.align > HEADER_LEN as u64 {
        return Err(Error::InvalidOption {
            option: "root",
            reason: "the root type's alignment exceeds 4096 bytes",
        });
    }
    let forced_mode = options.forced_flush_mode()?;
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
    file::lock(&file, path)?;
    file::allocate(&file, size).map_err(io("allocate space for"))?;
    let reserve = usize::try_from(options.max_size).unwrap_or(usize::MAX);
    let mapping = Mapping::map(&file, size as usize, reserve, false).map_err(io("map"))?;
    let flusher = options.flusher(forced_mode, &mapping)?;

    let (uuid, created_unix_nanos) = match root.identity {
        Some(kept) => kept,
        None => (
            file::new_uuid().map_err(io("generate a UUID for"))?,
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| {
                    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
                }),
        ),
    };
    let identity = Identity {
        uuid,
        created_unix_nanos,
        root_layout_hash: root.info.layout_hash,
        root_size: root.info.size,
        root_align: root.info.align,
        root_offset: ROOT_OFFSET,
        log: log_area,
        layout,
        root_type: root.type_name,
    };
    let state = State {
        sequence: 1,
        pool_size: size,
        clean_shutdown: false,
    };
    init(&mapping);
    flusher.flush(&mapping, ROOT_OFFSET as usize, root.info.size as usize);
    let mut region = PoolRegion::fixed(&mapping, &flusher);
    let root_object = RootObject {
        offset: ROOT_OFFSET,
        size: root.info.size,
    };
    let heap_start = log_area.end().expect("checked above") as usize;
    let heap =
        Heap::format(&mut region, heap_start, root_object, &root.info).map_err(Error::Heap)?;
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
    flusher.tell(Event::Settled);
    file::sync_parent_directory(path).map_err(io("make the directory entry durable for"))?;

    created.armed = false;
    let mut pool = Pool::assemble(
        Parts {
            path,
            file,
            mapping,
            flusher,
            identity,
            state,
            heap,
            max_size: options.max_size,
        },
        true,
    );
    pool.durability = options.durability;
    Ok(pool)
}
