//! Compaction: moving a pool's live objects together into a smaller file
//! ([`compact`], `pmem gc --compact`).
//!
//! PMDK's `pmemobj_defrag` moves only the objects whose every reference the caller lists,
//! and no PMDK pool ever shrinks. A pool here records every pointer's place (the pointer
//! maps of its type records), so compaction can move every object and rewrite every
//! pointer without the application's code.
//!
//! **The protocol.** Compaction writes a new pool beside the old one and renames it over
//! the old one:
//!
//! 1. The old pool is opened for writing, as any open (its lock is held to the end):
//!    recovery rolls back what a crash interrupted, and the collection frees garbage. A pool
//!    whose collection found a dangling pointer is refused ([`Error::CannotCompact`]): once
//!    objects move, the offset it holds could name a live object.
//! 2. A new pool is created at `POOL.UUID.compacting` (named after the pool's UUID, so a
//!    file there is one that a crash of an earlier compaction of this pool left: it is
//!    removed first), with the old one's identity (UUID,
//!    creation time, layout name, root type, lanes, log size), so that it *is* the same
//!    pool, moved. Its heap is as small as a new pool's and grows as objects are added.
//!    `POOL` is the pool's file: the one a symbolic link at the path leads to, so that the
//!    link still names the pool after step 5. (The other names of a file with several hard
//!    links keep the old pool.)
//! 3. Every object reachable from the roots is allocated in the new heap in the order a
//!    breadth-first walk from the roots finds it (so objects that point at each other tend
//!    to share pages), its bytes copied, and then every pointer of every copied object, of
//!    the root and of the named roots rewritten through the map of old offsets to new.
//! 4. The new file is given the old one's owner, group and permission bits, written back
//!    (every line, then a fence), closed (a clean state record), shortened to the end of
//!    its last span (growth doubles a pool, so the copy may leave up to half of it unused;
//!    a state record with the shorter size supersedes the close's), and synced with
//!    `fsync` (its length and owner are file-system metadata).
//! 5. The new file is renamed over the old one, and the directory synced.
//!
//! **What a crash leaves.** Until step 5 the old pool's file is where it was and, after
//! step 1, is not written again; `rename` replaces a directory entry atomically; so a
//! crash at any moment leaves either the old pool, whole, or the new one, whole (the
//! directory sync makes the new one durable). A crash before step 5 also leaves
//! `POOL.UUID.compacting`, which no open reads and the next compaction removes.
//! `tests/tests/compact.rs` crashes a compaction at every fence of the new pool (and
//! `tests/tests/processes.rs`'s `sigkill_during_compaction_leaves_the_old_pool_or_the_new_one` kills real ones with SIGKILL) and checks exactly this.
//!
//! **Who else sees the pool.** The old file stays locked until the new one has replaced
//! it. An open that opened the old file just before the rename, and is granted its lock
//! only after compaction released it, would be working on a file no path names: so every
//! open checks, once it holds the lock, that the path still names the file it locked,
//! and opens again if not (`open.rs`).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, Permissions};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pmem_alloc::{Growth, Heap, HeapError, NamedRoot, PointerTarget, TypeKind};

use crate::error::Error;
use crate::file;
use crate::header::{self, HEADER_LEN, ROOT_OFFSET};

use super::create::{self, NewRoot};
use super::open::{self, Access, RootCheck};
use super::{Pool, PoolOptions, PoolUuid};

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compaction {
    /// The pool file's length before, in bytes.
    pub size_before: u64,
    /// Its length after.
    pub size_after: u64,
    /// Objects moved (every live heap object).
    pub objects: u64,
    /// Their bytes (the bytes of each object's values; a slice's header included).
    pub bytes: u64,
    /// Pointers rewritten (non-null ones, the named roots' included).
    pub pointers: u64,
    /// Transactions the open of the old pool rolled back.
    pub transactions_rolled_back: u32,
    /// How long it took.
    pub duration: Duration,
}

/// Compacts the pool at `path`: moves its live objects together into a new file, rewrites
/// every pointer, and replaces the old file with it (see the module documentation for the
/// protocol and what a crash leaves). The pool's root type need not be known.
///
/// # Errors
///
/// As [`UntypedPool::open`](super::UntypedPool::open) for the old pool (which is then left
/// as it was); [`Error::CannotCompact`] if its collection found a dangling pointer; the
/// errors of [`PoolOptions::create`] for the new file (a full file system included); and
/// [`Error::Io`] if it cannot be given the old file's owner and permissions, synced or
/// renamed. The old pool is the pool until the
/// rename: any failure before it leaves the old pool, and removes the new file.
pub fn compact(path: impl AsRef<Path>) -> Result<Compaction, Error> {
    compact_with(path, &PoolOptions::new())
}

/// As [`compact`], with `options` for the new file: its flush mode, how far it may grow
/// while objects are copied ([`PoolOptions::max_size`]), or (for crash tests) a simulated
/// persistence domain. Its size, lanes, log size and layout are the old pool's.
///
/// # Errors
///
/// As [`compact`].
pub fn compact_with(path: impl AsRef<Path>, options: &PoolOptions) -> Result<Compaction, Error> {
    let began = Instant::now();
    // A symbolic link names the pool; the file it leads to is the pool. Renamed over the
    // link, the new file would replace the link, and leave the old pool under its own name,
    // a stale copy that whoever opens it by that name goes on using. (A path that does
    // not resolve is opened as given, for the open's error.)
    let resolved = std::fs::canonicalize(path.as_ref());
    let path = resolved.as_deref().unwrap_or(path.as_ref());
    // A pool to refuse is refused by a read-only open, so that it is left as it was; the
    // open that writes then checks again what it found, in case a writer came between.
    for access in [Access::ReadOnly, Access::ReadWrite] {
        let collecting = PoolOptions::new().collect_at_open(true);
        let pool: Pool<()> = open::open_as(&collecting, path, RootCheck::AsRecorded, access)?;
        let collection = pool.info.collection_at_open.expect("the open collected");
        if collection.dangling_pointers > 0 {
            return Err(Error::CannotCompact {
                path: path.to_owned(),
                reason: "its collection found a dangling pointer, whose offset could name a moved object (see `pmem check`)",
            });
        }
        if access == Access::ReadWrite {
            return replace(path, pool, options, began);
        }
    }
    unreachable!("the loop returns at its read-write open")
}

/// Steps 2 to 5 of the protocol, for the pool `old` at `path`, opened for writing.
fn replace(
    path: &Path,
    old: Pool<()>,
    options: &PoolOptions,
    began: Instant,
) -> Result<Compaction, Error> {
    let size_before = old.mapping.mapped_len() as u64;
    let rolled_back = old.info.transactions_rolled_back;
    let temporary = temporary_path(path, old.info.uuid);
    remove_leftover(&temporary)?;
    let new = create_replacement(&old, &temporary, options)?;
    let mut removal = file::RemoveOnError {
        path: &temporary,
        armed: true,
    };
    keep_access(&old.file, &new.file, &temporary)?;
    let mut report = copy_objects(&old, &new)?;
    // Nothing of the new pool was durable before: every line of it is written back now,
    // with one fence, before it is closed and synced.
    new.flusher.flush(&new.mapping, 0, new.mapping.mapped_len());
    new.flusher.fence();
    let used_len = used_len(&new);
    let new_file = new.file.try_clone().map_err(|source| Error::Io {
        path: temporary.clone(),
        operation: "duplicate the handle of",
        source,
    })?;
    new.close();
    trim(&new_file, &temporary, used_len)?;
    let io = |operation: &'static str, at: &Path| {
        let at = at.to_owned();
        move |source| Error::Io {
            path: at,
            operation,
            source,
        }
    };
    new_file
        .sync_all()
        .map_err(io("make durable", &temporary))?;
    report.size_after = new_file
        .metadata()
        .map_err(io("read the length of", &temporary))?
        .len();
    drop(new_file);
    std::fs::rename(&temporary, path).map_err(io("rename the compacted pool over", path))?;
    removal.armed = false;
    file::sync_parent_directory(path).map_err(io("make the directory entry durable for", path))?;
    // The old file is no longer named: closing it writes a clean state to a file no one
    // can open, which is harmless, and releases the lock.
    drop(old);
    report.size_before = size_before;
    report.transactions_rolled_back = rolled_back;
    report.duration = began.elapsed();
    Ok(report)
}

/// Gives the new file `new` (at `temporary`) the owner, group and permission bits of the
/// old pool's file, so that the rename changes no one's access to the pool: a new file is
/// the process's, mode 0600, and a pool shared with a group, or compacted by root for the
/// user who owns it, would otherwise be closed to them. Fails (and so leaves the old pool)
/// if the owner cannot be kept.
fn keep_access(old: &File, new: &File, temporary: &Path) -> Result<(), Error> {
    let io = |operation| {
        move |source| Error::Io {
            path: temporary.to_owned(),
            operation,
            source,
        }
    };
    let old = old
        .metadata()
        .map_err(io("read the old pool's owner and permissions for"))?;
    let current = new.metadata().map_err(io("read the owner of"))?;
    if (current.uid(), current.gid()) != (old.uid(), old.gid()) {
        std::os::unix::fs::fchown(new, Some(old.uid()), Some(old.gid()))
            .map_err(io("give the old pool's owner to"))?;
    }
    // After the owner: a change of owner may clear the set-id bits.
    new.set_permissions(Permissions::from_mode(old.mode() & 0o7777))
        .map_err(io("give the old pool's permissions to"))
}

fn created_unix_nanos(created: SystemTime) -> u64 {
    created.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    })
}

/// How long the new pool needs to be: to the end of its last span. Growth doubles a pool,
/// so the copy may have left up to half of it unused.
fn used_len(new: &Pool<()>) -> u64 {
    let heap_start = new.log.end().expect("checked at creation") as usize;
    new.inner_read()
        .heap
        .used_end()
        .max(heap_start + pmem_alloc::MIN_HEAP_LEN)
        .next_multiple_of(HEADER_LEN) as u64
}

/// Shortens the closed pool file `file` at `temporary` to `len` bytes, if it is longer,
/// recording the new size in a state record that supersedes the one its close wrote.
fn trim(file: &File, temporary: &Path, len: u64) -> Result<(), Error> {
    let io = |operation| {
        move |source| Error::Io {
            path: temporary.to_owned(),
            operation,
            source,
        }
    };
    let file_len = file.metadata().map_err(io("read the length of"))?.len();
    if len >= file_len {
        return Ok(());
    }
    let head = open::read_head(file).map_err(io("read"))?;
    let (_, state) =
        header::decode(&head, file_len).map_err(|error| open::header_error(temporary, error))?;
    let shorter = state.superseded(len, true);
    file.write_all_at(&shorter.encode(), shorter.slot_offset() as u64)
        .map_err(io("write the state of"))?;
    file.set_len(len).map_err(io("shorten"))
}

/// Removes the file at `temporary`, which only an interrupted compaction of this pool
/// leaves: the name holds the pool's UUID.
fn remove_leftover(temporary: &Path) -> Result<(), Error> {
    match std::fs::remove_file(temporary) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: temporary.to_owned(),
            operation: "remove a stale compaction file at",
            source,
        }),
    }
}

/// Where compaction writes the new file of the pool at `path`, whose UUID is `uuid`:
/// beside it, so that `rename` replaces it within one file system, named after it and its
/// UUID (`POOL.UUID.compacting`), so that a file there is one an interrupted compaction of
/// this pool left, never someone else's.
#[must_use]
pub fn temporary_path(path: &Path, uuid: PoolUuid) -> PathBuf {
    let mut name = OsString::from(path.file_name().unwrap_or_default());
    name.push(format!(".{uuid}.compacting"));
    path.with_file_name(name)
}

/// Creates the new, empty pool at `temporary`, with `old`'s identity, root and log area.
fn create_replacement(
    old: &Pool<()>,
    temporary: &Path,
    options: &PoolOptions,
) -> Result<Pool<()>, Error> {
    let inner = old.inner_read();
    let root_info = inner
        .heap
        .type_info(inner.heap.root_type())
        .expect("a loaded heap records its root's type")
        .clone();
    drop(inner);
    let root_len = root_info.size as usize;
    let mut root_bytes = vec![0u8; root_len];
    pmem_alloc::Region::read(&old.region(), ROOT_OFFSET as usize, &mut root_bytes);
    let options = PoolOptions {
        size: 0,
        log_size: u64::from(old.log.slot_len),
        lanes: old.log.slot_count,
        layout: Some(old.info.layout.clone()),
        ..options.clone()
    };
    let root = NewRoot {
        info: root_info,
        type_name: old.info.root_type.clone(),
        identity: Some((old.info.uuid.0, created_unix_nanos(old.info.created))),
    };
    create::create_pool(&options, temporary, root, |mapping| {
        // SAFETY: the root's bytes are never referenced as Rust values in an untyped pool,
        // and the file, not yet a pool, is locked by this process.
        unsafe { mapping.write(ROOT_OFFSET as usize, &root_bytes) };
    })
}

/// Copies every object reachable in `old` into `new`'s heap, and rewrites every pointer.
fn copy_objects(old: &Pool<()>, new: &Pool<()>) -> Result<Compaction, Error> {
    let old_inner = old.inner_read();
    let old_heap = &old_inner.heap;
    let old_region = old.region();
    let heap_corrupted = |pool: &Pool<()>| {
        let path = pool.info.path.clone();
        move |source| Error::HeapCorrupted { path, source }
    };
    let mut visits = Vec::new();
    old_heap
        .walk(&old_region, |object| visits.push(object.clone()))
        .map_err(heap_corrupted(old))?;
    let mut new_inner = new.inner();
    let mut moved: HashMap<u64, u64> = HashMap::with_capacity(visits.len());
    let mut new_types: HashMap<u32, u32> = HashMap::new();
    let mut report = Compaction {
        size_before: 0,
        size_after: 0,
        objects: 0,
        bytes: 0,
        pointers: 0,
        transactions_rolled_back: 0,
        duration: Duration::ZERO,
    };
    let full = |source: HeapError| Error::Heap(source);
    for object in visits.iter().skip(1) {
        let info = old_heap
            .type_info(object.type_index)
            .expect("walked objects have recorded types")
            .clone();
        let (heap, mut region) = new.heap_and_region(&mut new_inner);
        let type_index = match new_types.get(&object.type_index) {
            Some(&index) => index,
            None => {
                let index = heap.register(&mut region, &info).map_err(full)?;
                new_types.insert(object.type_index, index);
                index
            }
        };
        let (offset, len) = match info.kind {
            TypeKind::Sized => (
                heap.alloc(&mut region, type_index, Growth::Allowed),
                info.size,
            ),
            TypeKind::Slice => {
                let elements = object
                    .elements
                    .expect("slices are walked with their length");
                let header = pmem_alloc::slice_header_len(info.align) as u64;
                (
                    heap.alloc_slice(&mut region, type_index, elements, Growth::Allowed),
                    header + elements * info.size,
                )
            }
        };
        let offset = offset.map_err(full)?;
        moved.insert(object.offset, offset);
        report.objects += 1;
        report.bytes += len;
        let mut bytes = vec![0u8; len as usize];
        pmem_alloc::Region::read(&old_region, object.offset as usize, &mut bytes);
        // SAFETY: the new pool is this function's alone (locked, not yet named by its
        // path), and nothing references its objects' bytes.
        unsafe { new.mapping.write(offset as usize, &bytes) };
    }
    for object in &visits {
        let new_object = if object.offset == ROOT_OFFSET {
            ROOT_OFFSET
        } else {
            moved[&object.offset]
        };
        for pointer in &object.pointers {
            let value = match pointer.target {
                PointerTarget::Null => continue,
                PointerTarget::Root => pointer.value,
                PointerTarget::Object => moved
                    .get(&pointer.value)
                    .copied()
                    .expect("the walk visits every object a pointer reaches"),
                PointerTarget::Dangling(_) => unreachable!("refused before compaction began"),
            };
            report.pointers += 1;
            let at = new_object + (pointer.at - object.offset);
            // SAFETY: as above.
            unsafe { new.mapping.write(at as usize, &value.to_le_bytes()) };
        }
    }
    let named: Vec<NamedRoot> = old_heap.named_roots(&old_region);
    for root in named {
        let (heap, mut region) = new.heap_and_region(&mut new_inner);
        let info = old_heap
            .type_info(root.type_index)
            .expect("a named root's type is recorded")
            .clone();
        let type_index = heap.register(&mut region, &info).map_err(full)?;
        // Not dangling (refused above): null, into the root, which does not move, or at
        // a walked object.
        let pointer = moved.get(&root.pointer).copied().unwrap_or(root.pointer);
        if pointer != 0 {
            report.pointers += 1;
        }
        let entry = Heap::encode_named_root(&root.name, type_index, pointer).map_err(full)?;
        let at = heap.named_root_offset(root.slot);
        // SAFETY: as above; named-root entries are not referenced as Rust values.
        unsafe { new.mapping.write(at, &entry) };
    }
    Ok(report)
}
