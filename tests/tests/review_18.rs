//! Holes found by the 18:00 review of `pmem::inspect` (`UntypedPool`, `compact`), one test
//! each; every one of them failed on the code it was written against. The tests that end
//! the file are not holes: they are what the review tried and found sound (collections,
//! huge and aligned objects, pointers into the root, a dirty pool with a grown log, damaged
//! pools, writers racing compactions), kept as regressions.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use pmem::inspect::{UntypedPool, compact, temporary_path};
use pmem::simulation::{ScratchFile, Simulation, seed};
use pmem::{
    Error, PBTreeMap, PHashMap, PMutex, PPtr, PSlice, PString, PVec, Persistent, Pool, PoolOptions,
};
use pmem_tests::{graph_signature, xorshift};

#[derive(Persistent, Debug, Clone, Copy)]
#[repr(C)]
struct Item {
    value: u64,
    next: PPtr<Item>,
}

/// A list of items, as a root.
#[derive(Persistent, Debug, Default, Clone, Copy)]
#[repr(C)]
struct Chain {
    head: PPtr<Item>,
    len: u64,
}

/// The values of the list at `path`, head first.
fn chain_values(path: &Path) -> Vec<u64> {
    let pool = Pool::<Chain>::open(path).expect("open");
    let mut at = pool.root().head;
    let mut values = Vec::new();
    while !at.is_null() {
        let item = pool.get(at).expect("item");
        values.push(item.value);
        at = item.next;
    }
    values
}

/// A closed pool at `path` holding a list of `len` items, allocated after as many
/// unreachable ones, so that compaction moves every item.
fn chain(path: &Path, len: u64) {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .create(path, Chain::default())
        .expect("create");
    pool.try_txn(|tx| {
        for value in 0..len {
            tx.alloc(Item {
                value,
                next: PPtr::null(),
            })?;
        }
        for value in 0..len {
            let next = tx.root().head;
            let item = tx.alloc(Item { value, next })?;
            tx.root_mut().head = item;
            tx.root_mut().len += 1;
        }
        Ok::<_, Error>(())
    })
    .expect("fill");
    pool.collect().expect("collect");
    pool.close();
}

// Finding 1, a `PHashMap` keyed by pointers: `PPtr<T>` is a plain `Copy + Hash + Eq`
// value, so it was a `HashKey` by the blanket implementation, hashed as its offset.
// Compaction moves the objects and rewrites the keys, but cannot rehash the map, so every
// lookup after it missed and an insert of the same key added a second entry. Fixed at
// compile time: a `Copy` key that holds a pointer (`Persistent::POINTER_FREE` false) is
// refused where its map is made, `PHashMap::new` and `PBTreeMap::new`, and where a key is
// read (`ui-tests/fail/phashmap_key_holding_a_pointer.rs`). `PString` and `PVec<u8>` keys
// hash their contents and stay allowed.

/// Compaction creates the new file as any new pool is created, mode 0600 and owned by the
/// process, and renames it over the pool: a pool shared by a group (0660) lost its group's
/// access, and one compacted by root (`pmem gc --compact` run by an administrator) became
/// root's, unopenable by the user who owns it. The new file now gets the old one's owner,
/// group and permission bits before it is renamed; a compaction that cannot keep the owner
/// fails, leaving the old pool.
#[test]
fn compaction_keeps_the_pool_files_owner_and_permissions() {
    let path = ScratchFile::new("review18-access");
    chain(path.path(), 10);
    std::fs::set_permissions(path.path(), std::fs::Permissions::from_mode(0o664)).expect("chmod");
    // Another owner, if this process may give one (as root).
    let owner = std::os::unix::fs::chown(path.path(), Some(4321), Some(4321)).is_ok();
    let before = std::fs::metadata(path.path()).expect("metadata");
    compact(path.path()).expect("compact");
    let after = std::fs::metadata(path.path()).expect("metadata");
    assert_ne!(after.ino(), before.ino(), "the file was replaced");
    assert_eq!(after.mode() & 0o7777, 0o664, "permissions");
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    if owner {
        assert_eq!((after.uid(), after.gid()), (4321, 4321));
    }
    assert_eq!(chain_values(path.path()), (0..10).rev().collect::<Vec<_>>());
}

/// `compact(link)` for a symbolic link to a pool wrote the new file beside the *link* and
/// renamed it over the link: the link became a regular file holding the compacted pool,
/// and the pool file it led to stayed as it was, a second copy with the same UUID. A program
/// that opens the pool by its real name then works on the stale copy, and the two diverge
/// (writes through one name are missing from the other). Compaction now resolves the path
/// first, and replaces the file the link leads to.
#[test]
fn compacting_through_a_symlink_compacts_the_pool_it_names() {
    let target = ScratchFile::new("review18-target");
    chain(target.path(), 10);
    let link = ScratchFile::new("review18-link");
    std::os::unix::fs::symlink(target.path(), link.path()).expect("symlink");
    let inode = std::fs::metadata(target.path()).expect("metadata").ino();
    compact(link.path()).expect("compact");
    assert!(
        std::fs::symlink_metadata(link.path())
            .expect("metadata")
            .file_type()
            .is_symlink(),
        "compaction replaced the link with a copy of the pool"
    );
    assert_ne!(
        std::fs::metadata(target.path()).expect("metadata").ino(),
        inode,
        "the pool the link names was not compacted"
    );
    assert!(pmem_tests::compaction_leftovers(link.path()).is_empty());
    assert!(pmem_tests::compaction_leftovers(target.path()).is_empty());
    // One pool under both names: a change through one is seen through the other.
    let mut pool = Pool::<Chain>::open(target.path()).expect("open");
    pool.txn(|tx| tx.root_mut().len = 99);
    drop(pool);
    assert_eq!(
        Pool::<Chain>::open(link.path()).expect("open").root().len,
        99
    );
}

/// Compaction removed whatever `POOL.compacting` held before it created the new file
/// there, on the assumption that only a crashed compaction leaves a file by that name. But
/// the name was an ordinary one: a user's file (or another pool) called `x.compacting` was
/// deleted by `compact("x")`, without a word. Fixed: the temporary is named after the pool
/// and its UUID (`x.UUID.compacting`), a name only a compaction of this pool uses; files
/// named like the old temporary, or after another pool's UUID, are left alone.
#[test]
fn compaction_does_not_delete_a_file_it_did_not_leave() {
    let path = ScratchFile::new("review18-not-a-leftover");
    chain(path.path(), 5);
    let uuid = UntypedPool::open_read_only(path.path())
        .expect("open")
        .info()
        .uuid;
    let mut old_name = path.path().as_os_str().to_owned();
    old_name.push(".compacting");
    let other = ScratchFile::new("review18-other-pool");
    chain(other.path(), 7);
    let other_uuid = UntypedPool::open_read_only(other.path())
        .expect("open")
        .info()
        .uuid;
    let others_name = temporary_path(path.path(), other_uuid);
    std::fs::copy(other.path(), &old_name).expect("copy");
    std::fs::copy(other.path(), &others_name).expect("copy");
    let result = compact(path.path());
    let survived = [
        std::path::Path::new(&old_name).exists(),
        others_name.exists(),
    ];
    let _ = std::fs::remove_file(&old_name);
    let _ = std::fs::remove_file(&others_name);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(survived, [true, true], "compaction deleted another file");
    assert!(!temporary_path(path.path(), uuid).exists());
}

/// `PMEM_FLUSH` chooses how a program that *writes* a pool makes its stores durable, and
/// `UntypedPool::details().flush_mode` is there to report it, or why it is no good. But a
/// read-only open parsed it before anything else, like a writing open, and refused every
/// pool with `Error::UnknownFlushMode` when it did not parse: `pmem info` and `pmem check`
/// could inspect nothing in such an environment, and `details` never got to say what was
/// wrong. A read-only open flushes nothing, and now ignores the variable; `details` reports
/// it. (Run in a child process: the variable is the whole process's.)
#[test]
fn a_read_only_open_reports_a_bad_pmem_flush_instead_of_refusing_the_pool() {
    const BAD: &str = "no-such-mode";
    if let Some(pool) = std::env::var_os("REVIEW18_POOL") {
        let pool = UntypedPool::open_read_only(&pool).expect("a read-only open");
        let reported = pool.details().flush_mode;
        assert!(reported.is_err(), "{reported:?}");
        return;
    }
    if std::env::var_os("PMEM_FLUSH").is_some() {
        return;
    }
    let path = ScratchFile::new("review18-bad-flush");
    chain(path.path(), 3);
    let output = std::process::Command::new(std::env::current_exe().expect("this test"))
        .args([
            "a_read_only_open_reports_a_bad_pmem_flush_instead_of_refusing_the_pool",
            "--exact",
            "--nocapture",
            "--include-ignored",
        ])
        .env("PMEM_FLUSH", BAD)
        .env("REVIEW18_POOL", path.path())
        .output()
        .expect("run the child");
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A path that names a FIFO (a tool pointed at the wrong file, or at a hostile one): the
/// read-only open blocked in `open(2)` until some process opened the FIFO for writing, and
/// the read-write open (`UntypedPool::open`, `Pool::open`, `compact`) blocked reading its
/// header: the tool hung, for ever. Files are now opened without blocking, and anything but
/// a regular file is refused as not a pool.
#[test]
fn a_fifo_is_refused_instead_of_hanging_the_open() {
    let path = ScratchFile::new("review18-fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(path.path())
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let (sender, receiver) = std::sync::mpsc::channel();
    let fifo = path.path().to_owned();
    std::thread::spawn(move || {
        let read_only = UntypedPool::open_read_only(&fifo).map(drop);
        let read_write = UntypedPool::open(&fifo).map(drop);
        let compacted = compact(&fifo).map(drop);
        let _ = sender.send((read_only, read_write, compacted));
    });
    let outcome = receiver.recv_timeout(std::time::Duration::from_secs(5));
    if outcome.is_err() {
        // Unblock the stuck open, so that the thread ends.
        let _ = std::fs::OpenOptions::new().write(true).open(path.path());
    }
    let (read_only, read_write, compacted) = outcome.expect("the opens hung on a FIFO");
    for result in [read_only, read_write, compacted] {
        assert!(matches!(result, Err(Error::NotAPool { .. })), "{result:?}");
    }
}

// What the review found sound.

#[derive(Persistent, Debug)]
#[repr(C)]
struct Guarded {
    lock: PMutex<PVec<u64>>,
}

/// Aligned to 64 bytes: its slices have a 64-byte header.
#[derive(Persistent, Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Aligned {
    words: [u64; 7],
    item: PPtr<Item>,
}

#[derive(Persistent, Debug, Default)]
#[repr(C)]
struct Everything {
    names: PVec<PString>,
    by_name: PHashMap<PString, PVec<u64>>,
    ordered: PBTreeMap<u64, PString>,
    guarded: PPtr<Guarded>,
    big: PVec<u64>,
    many: PVec<PPtr<Item>>,
    items: PSlice<PPtr<Item>>,
    aligned: PSlice<Aligned>,
    counter: u64,
    inner: PPtr<u64>,
}

/// Elements of `big` (2.4 MB) and `many` (2.2 MB): huge objects, one of pointers.
const BIG: u64 = 300_000;
const MANY: usize = 270_000;

fn fill_everything(path: &Path) {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .create(path, Everything::default())
        .expect("create");
    pool.try_txn(|tx| {
        for value in 0..2_000 {
            tx.alloc(Item {
                value,
                next: PPtr::null(),
            })?;
        }
        let mut items = Vec::new();
        for value in 0..50 {
            let next = items.last().copied().unwrap_or_default();
            items.push(tx.alloc(Item { value, next })?);
        }
        let slice = tx.alloc_slice_copied(&items)?;
        let aligned = tx.alloc_slice_with(3, |index| Aligned {
            words: [index as u64; 7],
            item: items[index],
        })?;
        let guarded = tx.alloc(Guarded {
            lock: PMutex::new(PVec::new()),
        })?;
        tx.get_mut(guarded)?.lock.get_mut().extend(0..10)?;
        let inner = PPtr::from_offset(
            tx.root_ptr().offset() + core::mem::offset_of!(Everything, counter) as u64,
        );
        let mut root = tx.root_mut();
        for index in 0..5 {
            root.names
                .push(PString::from_str_in(&format!("name {index}"))?)?;
        }
        for index in 0..40u64 {
            root.by_name.insert(
                PString::from_str_in(&format!("key {index}"))?,
                PVec::from_elements(0..index)?,
            )?;
        }
        for index in 0..200u64 {
            root.ordered
                .insert(index, PString::from_str_in(&format!("v{index}"))?)?;
        }
        root.guarded = guarded;
        root.big.extend(0..BIG)?;
        root.many
            .extend((0..MANY).map(|index| items[index % items.len()]))?;
        root.items = slice;
        root.aligned = aligned;
        root.counter = 77;
        root.inner = inner;
        Ok::<_, Error>(())
    })
    .expect("fill");
    pool.collect().expect("collect");
    pool.close();
}

fn check_everything(path: &Path) {
    let pool = Pool::<Everything>::open(path).expect("open");
    let root = pool.root();
    let names: Vec<_> = root
        .names
        .iter(&pool)
        .expect("names")
        .map(|name| name.as_str(&pool).expect("name").to_owned())
        .collect();
    assert_eq!(
        names,
        (0..5).map(|i| format!("name {i}")).collect::<Vec<_>>()
    );
    assert!(
        root.names.capacity(&pool).expect("capacity") > 5,
        "spare capacity"
    );
    for index in 0..40u64 {
        let list = root
            .by_name
            .get(&pool, &format!("key {index}"))
            .expect("get")
            .expect("present");
        assert_eq!(
            list.as_slice(&pool).expect("list"),
            (0..index).collect::<Vec<_>>()
        );
    }
    for index in 0..200u64 {
        let value = root
            .ordered
            .get(&pool, &index)
            .expect("get")
            .expect("present");
        assert_eq!(value.as_str(&pool).expect("str"), format!("v{index}"));
    }
    pool.shared_txn(|tx| {
        let guarded = tx.get(tx.root().guarded).expect("guarded");
        let len = tx.lock(&guarded.lock).len();
        assert_eq!(len, 10);
    });
    assert!(root.big.iter(&pool).expect("big").copied().eq(0..BIG));
    let items = pool.get_slice(root.items).expect("items");
    assert_eq!(items.len(), 50);
    for (index, item) in items.iter().enumerate() {
        let at = pool.get(*item).expect("item");
        assert_eq!(at.value, index as u64);
        if index > 0 {
            assert_eq!(at.next, items[index - 1]);
        }
    }
    let many = root.many.as_slice(&pool).expect("many");
    assert_eq!(many.len(), MANY);
    assert!(
        many.iter()
            .enumerate()
            .all(|(index, item)| *item == items[index % items.len()])
    );
    let aligned = pool.get_slice(root.aligned).expect("aligned");
    for (index, value) in aligned.iter().enumerate() {
        assert_eq!(value.words, [index as u64; 7]);
        assert_eq!(value.item, items[index]);
    }
    assert_eq!(root.counter, 77);
    assert_eq!(*pool.get(root.inner).expect("inner"), 77);
}

/// Collections (a vector of strings with spare capacity, a map of strings to vectors, a
/// multi-level B-tree), a `PMutex` in a heap object, huge slices with and without
/// pointers, a slice of a 64-byte-aligned type and a pointer into the middle of the root
/// all survive compaction, read back through their own types.
#[test]
fn sound_collections_huge_and_aligned_objects_survive_compaction() {
    let path = ScratchFile::new("review18-everything");
    fill_everything(path.path());
    check_everything(path.path());
    let before = graph_signature(path.path());
    compact(path.path()).expect("compact");
    assert_eq!(graph_signature(path.path()), before);
    check_everything(path.path());
}

/// A pool left by a crash in a transaction whose undo log grew into the heap (log
/// extension blocks, two lanes): compaction rolls it back and keeps the graph a read-only
/// open shows, at eight crash points; and the clean pool whose log grew compacts too.
#[test]
fn sound_a_dirty_pool_with_a_grown_log_compacts_to_what_recovery_leaves() {
    let path = ScratchFile::new("review18-dirty");
    {
        let mut pool = PoolOptions::new()
            .size(1 << 20)
            .log_size(4096)
            .lanes(2)
            .create(path.path(), Chain::default())
            .expect("create");
        pool.try_txn(|tx| {
            for value in 0..600 {
                let next = tx.root().head;
                let item = tx.alloc(Item { value, next })?;
                tx.root_mut().head = item;
                tx.root_mut().len += 1;
            }
            Ok::<_, Error>(())
        })
        .expect("fill");
        pool.close();
    }
    let committed = chain_values(path.path());
    let simulation = Simulation::new();
    let mut pool = PoolOptions::new()
        .simulation(&simulation)
        .open::<Chain>(path.path())
        .expect("open");
    simulation.capture(true);
    pool.try_txn(|tx| {
        let mut at = tx.root().head;
        while !at.is_null() {
            let mut item = tx.get_mut(at)?;
            item.value += 1_000;
            at = item.next;
        }
        for value in 0..100 {
            let next = tx.root().head;
            let item = tx.alloc(Item { value, next })?;
            tx.root_mut().head = item;
        }
        Ok::<_, Error>(())
    })
    .expect("big transaction");
    simulation.capture(false);
    drop(pool);
    let points = simulation.take_crash_points();
    let mut rolled_back = 0;
    for point in points.iter().step_by(points.len().div_ceil(8).max(1)) {
        for image in point.images(1, seed()) {
            let crashed = ScratchFile::new("review18-dirty-crashed");
            std::fs::write(crashed.path(), &image.bytes).expect("write");
            let before = graph_signature(crashed.path());
            let report = compact(crashed.path())
                .unwrap_or_else(|error| panic!("{}: {error}", image.description));
            assert_eq!(
                graph_signature(crashed.path()),
                before,
                "{}",
                image.description
            );
            let values = chain_values(crashed.path());
            assert!(
                values == committed || values.len() == 700,
                "{}: {} values",
                image.description,
                values.len()
            );
            rolled_back += report.transactions_rolled_back;
        }
    }
    assert!(rolled_back > 3, "{rolled_back} dirty images");
    let before = graph_signature(path.path());
    compact(path.path()).expect("compact");
    assert_eq!(graph_signature(path.path()), before);
}

/// Damaged pools (random words in the heap's metadata and data, live objects' words aimed
/// at other objects, at their insides and at the root's): a read-only open never panics
/// nor writes; one that found no dangling pointer compacts to the same graph, one that
/// found some is refused with `CannotCompact` and left byte for byte.
#[test]
fn sound_damaged_pools_are_inspected_and_compacted_or_refused_without_harm() {
    let base = ScratchFile::new("review18-fuzz-base");
    pmem_tests::fuzz::create(base.path()).expect("base");
    let base_bytes = base.contents();
    let pool = UntypedPool::open_read_only(base.path()).expect("open");
    let heap_start = pool.details().heap_start as usize;
    let mut objects = Vec::new();
    pool.walk(|object| objects.push(object.offset))
        .expect("walk");
    drop(pool);
    let mut state = 0x1234_5678_9abc_def1_u64;
    let (mut compacted, mut refused) = (0, 0);
    for _ in 0..400 {
        let mut bytes = base_bytes.clone();
        let kind = xorshift(&mut state) % 4;
        for _ in 0..1 + xorshift(&mut state) % 3 {
            let pick = |state: &mut u64| objects[xorshift(state) as usize % objects.len()];
            let (at, value) = match kind {
                0 => (
                    heap_start + ((xorshift(&mut state) as usize % (5 * 4096)) & !7),
                    xorshift(&mut state),
                ),
                1 => (
                    heap_start
                        + ((xorshift(&mut state) as usize % (bytes.len() - heap_start)) & !7),
                    xorshift(&mut state) & 0xff_ffff,
                ),
                _ => {
                    let object =
                        pick(&mut state) as usize + 8 * (xorshift(&mut state) as usize % 4);
                    let value = pick(&mut state) + 8 * (kind - 2) * (xorshift(&mut state) % 4);
                    (object, value)
                }
            };
            bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        let file = ScratchFile::new("review18-fuzz");
        std::fs::write(file.path(), &bytes).expect("write");
        let Ok(pool) = UntypedPool::open_read_only(file.path()) else {
            assert!(file.contents() == bytes, "a refused read-only open wrote");
            continue;
        };
        let _ = (pool.details(), pool.types(), pool.named_roots());
        let _ = (pool.heap_stats(), pool.words(u64::MAX - 3, 100));
        let walked = pool.walk(|_| {});
        let dangling = pool.collection_at_open().dangling_pointers;
        drop(pool);
        assert!(file.contents() == bytes, "a read-only open wrote");
        if walked.is_err() {
            continue;
        }
        let before = (dangling == 0).then(|| graph_signature(file.path()));
        match compact(file.path()) {
            Ok(_) => {
                assert_eq!(Some(graph_signature(file.path())), before);
                compacted += 1;
            }
            Err(Error::CannotCompact { .. }) => {
                assert!(dangling > 0);
                assert!(file.contents() == bytes, "a refused compaction wrote");
                refused += 1;
            }
            Err(error) => panic!("compaction failed: {error}"),
        }
    }
    assert!(compacted > 50 && refused > 50, "{compacted} {refused}");
}

/// A writer opening, changing and closing the pool again and again while another thread
/// compacts it 60 times: every open lands on the file the path names (an open that locked
/// the file compaction replaced opens again), so no change is lost.
#[test]
fn sound_writers_racing_compactions_lose_nothing() {
    let path = ScratchFile::new("review18-race");
    Pool::create(path.path(), Chain::default())
        .expect("create")
        .close();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let pushed = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut pushed = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || pushed < 50 {
                let mut pool = match Pool::<Chain>::open(path.path()) {
                    Ok(pool) => pool,
                    Err(Error::Locked { .. }) => continue,
                    Err(error) => panic!("open: {error}"),
                };
                pool.try_txn(|tx| {
                    let next = tx.root().head;
                    let item = tx.alloc(Item {
                        value: pushed,
                        next,
                    })?;
                    tx.root_mut().head = item;
                    tx.root_mut().len += 1;
                    Ok::<_, Error>(())
                })
                .expect("push");
                pushed += 1;
            }
            pushed
        });
        let mut compactions = 0;
        while compactions < 60 {
            match compact(path.path()) {
                Ok(_) => compactions += 1,
                Err(Error::Locked { .. }) => {}
                Err(error) => panic!("compact: {error}"),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().expect("writer")
    });
    assert_eq!(
        chain_values(path.path()),
        (0..pushed).rev().collect::<Vec<_>>()
    );
}

/// `POOL.compacting` a directory: the compaction fails, and the old pool opens, clean.
#[test]
fn sound_a_directory_in_the_way_fails_the_compaction_and_leaves_the_pool() {
    let path = ScratchFile::new("review18-dir");
    chain(path.path(), 3);
    let before = path.contents();
    let uuid = UntypedPool::open_read_only(path.path())
        .expect("open")
        .info()
        .uuid;
    let dir = temporary_path(path.path(), uuid);
    std::fs::create_dir(&dir).expect("mkdir");
    let result = compact(path.path());
    std::fs::remove_dir(&dir).expect("rmdir");
    assert!(matches!(result, Err(Error::Io { .. })), "{result:?}");
    let pool = UntypedPool::open_read_only(path.path()).expect("open");
    assert!(pool.info().previous_shutdown_clean);
    drop(pool);
    assert_eq!(chain_values(path.path()), vec![2, 1, 0]);
    assert_eq!(path.contents().len(), before.len());
}
