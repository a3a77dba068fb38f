//! `pmem::inspect::UntypedPool`: a pool opened without its root type, as the `pmem` tool
//! opens one. Read-only opens leave the file byte for byte as it was, dirty or clean, and
//! exclude writers; the walk finds exactly the reachable objects; a pointer that leads
//! nowhere is listed.

use pmem::inspect::{PointerTarget, UntypedPool};
use pmem::simulation::ScratchFile;
use pmem::{Error, PPtr, Persistent, Pool, PoolOptions};

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct List {
    head: PPtr<Node>,
    len: u64,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

/// A pool holding a list of `len` nodes and `garbage` unreachable ones, closed.
fn list_pool(label: &str, len: u64, garbage: u64) -> ScratchFile {
    let path = ScratchFile::new(label);
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .create(path.path(), List::default())
        .expect("create");
    pool.try_txn(|tx| {
        for value in 0..len {
            let next = tx.root().head;
            let node = tx.alloc(Node { value, next })?;
            tx.root_mut().head = node;
            tx.root_mut().len += 1;
        }
        for value in 0..garbage {
            tx.alloc(Node {
                value,
                next: PPtr::null(),
            })?;
        }
        Ok::<_, Error>(())
    })
    .expect("fill");
    pool.close();
    path
}

#[test]
fn a_read_only_open_walks_the_list_and_leaves_the_file_as_it_was() {
    let path = list_pool("inspect-walk", 50, 20);
    let before = path.contents();
    let pool = UntypedPool::open_read_only(path.path()).expect("open read-only");
    assert!(pool.is_read_only());
    assert!(pool.info().root_type.ends_with("List"));
    let mut values = Vec::new();
    let mut root_seen = false;
    pool.walk(|object| {
        let info = &pool.types()[object.type_index as usize];
        if info.name.ends_with("List") {
            root_seen = true;
            assert_eq!(object.pointers.len(), 1);
        } else {
            assert!(info.name.ends_with("Node"), "{}", info.name);
            values.push(pool.words(object.offset, 8)[0]);
            let next = object.pointers[0];
            assert!(matches!(
                next.target,
                PointerTarget::Object | PointerTarget::Null
            ));
        }
    })
    .expect("walk");
    assert!(root_seen);
    assert_eq!(values, (0..50).rev().collect::<Vec<_>>());
    let stats = pool.heap_stats();
    assert_eq!(
        stats.allocated_objects, 50,
        "the private collection freed the garbage"
    );
    assert_eq!(pool.collection_at_open().live_objects, 50);
    pool.close();
    assert!(path.contents() == before, "a read-only open wrote the file");
}

#[test]
fn read_only_opens_exclude_writers_and_share_with_readers() {
    let path = list_pool("inspect-locks", 3, 0);
    let reader = UntypedPool::open_read_only(path.path()).expect("reader");
    let second = UntypedPool::open_read_only(path.path()).expect("second reader");
    assert!(matches!(
        Pool::<List>::open(path.path()),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        UntypedPool::open(path.path()),
        Err(Error::Locked { .. })
    ));
    drop((reader, second));
    let writer = Pool::<List>::open(path.path()).expect("writer");
    assert!(matches!(
        UntypedPool::open_read_only(path.path()),
        Err(Error::Locked { .. })
    ));
    drop(writer);
}

#[test]
fn a_dirty_pool_is_rolled_back_in_private_only() {
    let original = list_pool("inspect-dirty-original", 5, 0);
    let image = ScratchFile::new("inspect-dirty");
    let mut pool = Pool::<List>::open(original.path()).expect("open");
    pool.txn(|tx| {
        tx.root_mut().len = 1000;
        std::fs::copy(original.path(), image.path()).expect("copy mid-transaction");
        pmem::abort();
    });
    drop(pool);
    let before = image.contents();
    let inspected = UntypedPool::open_read_only(image.path()).expect("open the dirty image");
    assert_eq!(inspected.info().transactions_rolled_back, 1);
    assert!(!inspected.info().previous_shutdown_clean);
    let len_offset = pool_root_offset(&inspected) + 8;
    assert_eq!(
        inspected.words(len_offset, 8),
        [5],
        "rolled back in private"
    );
    drop(inspected);
    assert!(
        image.contents() == before,
        "a read-only open wrote the file"
    );

    let mut repaired = UntypedPool::open(image.path()).expect("open to repair");
    assert_eq!(repaired.info().transactions_rolled_back, 1);
    repaired.collect().expect("collect");
    repaired.close();
    let pool = Pool::<List>::open(image.path()).expect("typed open after the repair");
    assert_eq!(pool.info().transactions_rolled_back, 0);
    assert!(pool.info().previous_shutdown_clean);
    assert_eq!(pool.root().len, 5);
}

fn pool_root_offset(pool: &UntypedPool) -> u64 {
    let mut root = None;
    pool.walk(|object| {
        root.get_or_insert(object.offset);
    })
    .expect("walk");
    root.expect("the root is visited first")
}

#[test]
fn a_pointer_that_leads_nowhere_is_listed() {
    let path = ScratchFile::new("inspect-dangling");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .create(path.path(), List::default())
        .expect("create");
    pool.txn(|tx| tx.root_mut().head = PPtr::from_offset(0x10_0008));
    pool.close();
    let inspected = UntypedPool::open_read_only(path.path()).expect("open");
    assert_eq!(inspected.collection_at_open().dangling_pointers, 1);
    let dangling = inspected.dangling_pointers();
    assert_eq!(dangling.len(), 1);
    assert_eq!(dangling[0].value, 0x10_0008);
    let mut targets = Vec::new();
    inspected
        .walk(|object| targets.extend(object.pointers.iter().map(|pointer| pointer.target)))
        .expect("walk");
    assert!(
        matches!(targets[..], [PointerTarget::Dangling(_)]),
        "{targets:?}"
    );
}
