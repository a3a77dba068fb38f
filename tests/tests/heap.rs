//! The persistent heap through the pool: allocation in transactions, rollback, collection,
//! growth, named roots, pins, and the errors of each.

use pmem::simulation::ScratchFile;
use pmem::{Error, HeapError, PPtr, Persistent, Pool, PoolOptions, Stats, Txn, txn};

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
struct List {
    head: PPtr<Node>,
    len: u64,
}

#[txn]
fn push(tx: &mut Txn<'_, List>, value: u64) -> Result<PPtr<Node>, Error> {
    let next = tx.root().head;
    let node = tx.alloc(Node { value, next })?;
    let mut list = tx.root_mut();
    list.head = node;
    list.len += 1;
    Ok(node)
}

fn values(pool: &Pool<List>) -> Vec<u64> {
    values_from(pool, pool.root().head)
}

/// The values of the list that starts at `head`.
fn values_from<R: Persistent>(pool: &Pool<R>, head: PPtr<Node>) -> Vec<u64> {
    let mut values = Vec::new();
    let mut at = head;
    while !at.is_null() {
        let node = pool.get(at).expect("a reachable node");
        values.push(node.value);
        at = node.next;
    }
    values
}

fn small_list_pool(path: &ScratchFile, size: u64, max_size: u64) -> Pool<List> {
    PoolOptions::new()
        .size(size)
        .max_size(max_size)
        .log_size(1 << 14)
        .create(path.path(), List::default())
        .expect("create")
}

#[test]
fn an_open_leaves_the_garbage_to_the_first_collection_which_runs_before_the_pool_grows() {
    let path = ScratchFile::new("heap-lazy-open");
    let mut pool = small_list_pool(&path, 1 << 20, 4 << 20);
    pool.txn(|tx| -> Result<(), Error> {
        for value in 0..20_000 {
            push(tx, value)?;
        }
        Ok(())
    })
    .expect("fill");
    pool.txn(|tx| *tx.root_mut() = List::default());
    let size = pool.info().size;
    drop(pool);

    let mut pool = Pool::<List>::open(path.path()).expect("open");
    assert_eq!(
        pool.info().collection_at_open,
        None,
        "the open did not collect"
    );
    let stats = pool.heap_stats();
    assert_eq!(stats.collections, 0);
    assert!(
        stats.allocated_objects >= 20_000,
        "the garbage counts as allocated until a collection: {stats:?}"
    );
    // More nodes than the free pages hold: the allocation that finds no free page collects
    // (freeing the old list) instead of growing the pool.
    let nodes = stats.free_page_bytes / 16 + 1000;
    pool.txn(|tx| -> Result<(), Error> {
        for value in 0..nodes {
            push(tx, value)?;
        }
        Ok(())
    })
    .expect("refill");
    assert_eq!(pool.info().size, size, "collected instead of growing");
    let stats = pool.heap_stats();
    assert_eq!(stats.collections, 1);
    assert_eq!(stats.allocated_objects, nodes);
    assert_eq!(values(&pool), (0..nodes).rev().collect::<Vec<_>>());
}

#[test]
fn after_an_open_that_did_not_collect_a_pointer_at_a_free_slot_of_a_new_span_dangles() {
    let path = ScratchFile::new("heap-lazy-dangling");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    pool.txn(|tx| push(tx, 1)).expect("push");
    drop(pool);
    let mut pool = Pool::<List>::open(path.path()).expect("open");
    assert_eq!(pool.info().collection_at_open, None);
    // The old span counts as full, so the node starts a new span, whose next slot is free.
    let free_slot = pool
        .txn(|tx| -> Result<PPtr<Node>, Error> {
            let node = tx.alloc(Node {
                value: 2,
                next: PPtr::null(),
            })?;
            let free_slot = PPtr::from_offset(node.offset() + size_of::<Node>() as u64);
            tx.root_mut().head = free_slot;
            Ok(free_slot)
        })
        .expect("store a pointer at a free slot");
    assert!(
        pool.get(free_slot).is_err(),
        "a new span knows its free slots"
    );
    let collection = pool.collect().expect("collect");
    assert_eq!(collection.dangling_pointers, 1);
    assert_eq!(
        collection.first_dangling.map(|pointer| pointer.reason),
        Some("points at a free slot")
    );
    assert_eq!(collection.live_objects, 0, "the free slot was not kept");
}

#[test]
fn allocated_objects_survive_reopen_and_the_open_collection_counts_them() {
    let path = ScratchFile::new("heap-reopen");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    for value in 0..1000 {
        pool.txn(|tx| push(tx, value)).expect("push");
    }
    drop(pool);
    let pool = pmem_tests::open_collecting::<List>(path.path()).expect("open");
    assert_eq!(values(&pool), (0..1000).rev().collect::<Vec<_>>());
    let collection = pmem_tests::collected_at_open(&pool);
    assert_eq!(collection.live_objects, 1000);
    assert_eq!(collection.live_bytes, 1000 * 16);
}

#[test]
fn an_allocation_costs_no_log_entry_and_no_fence() {
    let path = ScratchFile::new("heap-cost");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    pool.txn(|tx| push(tx, 0))
        .expect("warm up: the type record and the first span");
    let before = Stats::current_thread();
    pool.txn(|tx| push(tx, 1)).expect("push");
    let cost = Stats::current_thread() - before;
    // One entry for 40 bytes of the root's line (one line, one fence), and the commit's two
    // fences; the node's line is flushed with the commit, with the root's and the
    // generation's.
    assert_eq!(cost.logged_bytes, 40, "{cost:?}");
    assert_eq!(cost.fences, 3, "{cost:?}");
    assert_eq!(cost.lines_flushed, 1 + 1 + 1 + 1, "{cost:?}");
}

#[test]
fn an_allocation_nothing_links_costs_no_fence_until_a_commit_links_it() {
    let path = ScratchFile::new("heap-deferred");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    pool.txn(|tx| push(tx, 0))
        .expect("warm up: the type record and the first span");
    let before = Stats::current_thread();
    let pinned = pool
        .txn(|tx| {
            let node = tx.alloc(Node {
                value: 1,
                next: PPtr::null(),
            })?;
            tx.pin(node)
        })
        .expect("allocate and pin");
    let cost = Stats::current_thread() - before;
    assert_eq!((cost.fences, cost.lines_flushed), (0, 0), "{cost:?}");

    let before = Stats::current_thread();
    pool.txn(|tx| {
        let mut list = tx.root_mut();
        list.head = pinned.ptr();
        list.len = 1;
    });
    let cost = Stats::current_thread() - before;
    // The linking transaction's usual three fences, and one more line: the pinned node's.
    assert_eq!(cost.fences, 3, "{cost:?}");
    assert_eq!(cost.lines_flushed, 1 + 1 + 1 + 1, "{cost:?}");
    drop(pinned);
    assert_eq!(values(&pool), [1]);
}

#[test]
fn a_rolled_back_allocation_is_garbage_the_next_collection_frees() {
    let path = ScratchFile::new("heap-rollback");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    pool.txn(|tx| push(tx, 1)).expect("push");
    let refused: Result<(), Error> = pool.try_txn(|tx| {
        push(tx, 2)?;
        push(tx, 3)?;
        Err(Error::InvalidOption {
            option: "test",
            reason: "changed my mind",
        })
    });
    assert!(refused.is_err());
    assert_eq!(values(&pool), [1]);
    assert_eq!(pool.heap_stats().allocated_objects, 3);
    let collection = pool.collect().expect("collect");
    assert_eq!((collection.live_objects, collection.freed_objects), (1, 2));
    assert_eq!(pool.heap_stats().allocated_objects, 1);
}

#[test]
fn allocating_and_dropping_far_more_than_the_pool_never_runs_out() {
    let path = ScratchFile::new("heap-stress");
    let size = 256 << 10;
    let mut pool = small_list_pool(&path, size, size);
    let mut allocated_bytes = 0;
    for round in 0..2000u64 {
        pool.txn(|tx| {
            tx.root_mut().set(List::default());
            for value in 0..50 {
                push(tx, round * 100 + value)?;
            }
            Ok::<_, Error>(())
        })
        .unwrap_or_else(|error| panic!("round {round}: {error}"));
        allocated_bytes += 50 * 16;
    }
    assert!(
        allocated_bytes > 6 * size,
        "{allocated_bytes} bytes allocated"
    );
    assert_eq!(pool.info().size, size, "no growth was allowed");
    assert!(pool.heap_stats().collections > 1, "allocation collected");
    assert_eq!(values(&pool).len(), 50);
}

#[test]
fn the_heap_grows_in_place_and_keeps_its_size_after_reopen() {
    let path = ScratchFile::new("heap-grow");
    let mut pool = small_list_pool(&path, 128 << 10, 16 << 20);
    let first_size = pool.info().size;
    let first = pool.txn(|tx| push(tx, 0)).expect("push");
    let first_address: *const Node = pool.get(first).expect("node");
    for value in 1..20_000 {
        pool.txn(|tx| push(tx, value)).expect("push");
    }
    let grown = pool.info().size;
    assert!(grown > first_size, "{grown} > {first_size}");
    assert!(
        std::ptr::eq(first_address, pool.get(first).expect("node")),
        "no move"
    );
    drop(pool);
    assert_eq!(std::fs::metadata(path.path()).expect("file").len(), grown);
    let pool = Pool::<List>::open(path.path()).expect("open");
    assert_eq!(pool.info().size, grown);
    assert_eq!(values(&pool).len(), 20_000);
}

#[test]
fn a_full_heap_is_a_typed_error_and_the_transaction_rolls_back() {
    let path = ScratchFile::new("heap-full");
    let size = 128 << 10;
    let mut pool = small_list_pool(&path, size, size);
    let mut pushed = 0u64;
    let error = loop {
        match pool.txn(|tx| push(tx, pushed)) {
            Ok(_) => pushed += 1,
            Err(error) => break error,
        }
    };
    assert!(
        matches!(error, Error::Heap(HeapError::Full { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("after a collection"), "{error}");
    assert_eq!(
        values(&pool).len() as u64,
        pushed,
        "the failed push rolled back"
    );
    pool.txn(|tx| {
        let list = *tx.root();
        let second = tx.get(list.head)?.next;
        let mut root = tx.root_mut();
        root.head = second;
        root.len -= 1;
        Ok::<_, Error>(())
    })
    .expect("pop");
    pool.txn(|tx| push(tx, 999)).expect("room after a pop");
}

#[test]
fn a_collection_inside_a_transaction_keeps_what_a_rollback_would_bring_back() {
    let path = ScratchFile::new("heap-midtxn");
    let size = 128 << 10;
    let mut pool = small_list_pool(&path, size, size);
    for value in 0..2000 {
        pool.txn(|tx| push(tx, value)).expect("push");
    }
    let before = values(&pool);
    // Unlink the whole list, then allocate until the heap must collect: the unlinked nodes
    // are garbage in the transaction's view but not in the committed one.
    let outcome: Result<(), Error> = pool.txn(|tx| {
        tx.root_mut().set(List::default());
        for value in 0..6000 {
            push(tx, 1_000_000 + value)?;
        }
        pmem::abort();
        Ok(())
    });
    assert!(
        matches!(outcome, Err(Error::Heap(HeapError::Full { .. }))),
        "the new nodes and the kept old ones exceed the pool: {outcome:?}"
    );
    assert!(
        values(&pool) == before,
        "the rollback restored the old list"
    );
    drop(pool);
    let pool = Pool::<List>::open(path.path()).expect("reopen");
    assert!(values(&pool) == before, "and it survives a reopen");
}

/// A root whose first field is 44 bytes: a store into it is longer than the 40 bytes a
/// first entry for a line logs, and ends off an 8-byte boundary.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
struct TaggedList {
    tag: [u32; 11],
    pad: u32,
    head: PPtr<Node>,
    len: u64,
}

#[txn]
fn push_tagged(tx: &mut Txn<'_, TaggedList>, value: u64) -> Result<(), Error> {
    let next = tx.root().head;
    let node = tx.alloc(Node { value, next })?;
    let mut list = tx.root_mut();
    list.head = node;
    list.len += 1;
    Ok(())
}

#[txn]
fn retag_and_unlink(mut list: pmem::PMut<'_, TaggedList>) {
    list.tag = [7; 11];
    list.head = PPtr::null();
}

/// The entries of a line stay on 8-byte boundaries, so a collection inside the transaction
/// finds the old value of a pointer logged after an unaligned store in its line.
#[test]
fn a_collection_inside_a_transaction_finds_a_pointer_logged_after_an_unaligned_store() {
    let path = ScratchFile::new("heap-midtxn-unaligned");
    let size = 128 << 10;
    let mut pool = PoolOptions::new()
        .size(size)
        .max_size(size)
        .log_size(1 << 14)
        .create(path.path(), TaggedList::default())
        .expect("create");
    for value in 0..2000 {
        pool.txn(|tx| push_tagged(tx, value)).expect("push");
    }
    let before = values_from(&pool, pool.root().head);
    let outcome: Result<(), Error> = pool.txn(|tx| {
        retag_and_unlink(tx.root_mut());
        for value in 0..6000 {
            push_tagged(tx, 1_000_000 + value)?;
        }
        pmem::abort();
        Ok(())
    });
    assert!(
        matches!(outcome, Err(Error::Heap(HeapError::Full { .. }))),
        "{outcome:?}"
    );
    assert!(
        values_from(&pool, pool.root().head) == before,
        "the rollback restored the old list"
    );
    assert_eq!(pool.root().tag, [0; 11]);
}

#[test]
fn named_roots_are_typed_persistent_and_removable() {
    let path = ScratchFile::new("heap-named");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    pool.txn(|tx| {
        let node = tx.alloc(Node {
            value: 42,
            next: PPtr::null(),
        })?;
        tx.set_named_root("answer", node)?;
        let number = tx.alloc(7u64)?;
        tx.set_named_root("seven", number)
    })
    .expect("set");
    pool.collect().expect("collect");
    drop(pool);
    let mut pool = Pool::<List>::open(path.path()).expect("open");
    assert_eq!(pool.named_roots(), ["answer", "seven"]);
    let answer = pool
        .named_root::<Node>("answer")
        .expect("typed")
        .expect("present");
    assert_eq!(pool.get(answer).expect("node").value, 42);
    let seven = pool
        .named_root::<u64>("seven")
        .expect("typed")
        .expect("present");
    assert_eq!(*pool.get(seven).expect("number"), 7);
    match pool.named_root::<u32>("seven") {
        Err(error @ Error::NamedRootTypeMismatch { .. }) => {
            assert!(error.to_string().contains("u64"), "{error}");
        }
        other => panic!("expected a type mismatch, got {other:?}"),
    }
    assert_eq!(pool.named_root::<Node>("missing").expect("typed"), None);
    let removed = pool.txn(|tx| tx.remove_named_root("answer"));
    assert!(removed);
    let collection = pool.collect().expect("collect");
    assert_eq!(collection.live_objects, 1, "only the number is reachable");
    for name in ["", &"n".repeat(48), "nul\0"] {
        let refused = pool.txn(|tx| tx.set_named_root(name, PPtr::<u64>::null()));
        assert!(
            matches!(refused, Err(Error::Heap(HeapError::InvalidRootName { .. }))),
            "{name:?}: {refused:?}"
        );
    }
}

#[test]
fn named_roots_run_out_with_a_typed_error() {
    let path = ScratchFile::new("heap-named-full");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    let result = pool.try_txn(|tx| {
        for index in 0..pmem::NAMED_ROOTS {
            tx.set_named_root(&format!("root-{index}"), PPtr::<u64>::null())?;
        }
        tx.set_named_root("one-too-many", PPtr::<u64>::null())
    });
    assert!(
        matches!(result, Err(Error::Heap(HeapError::NamedRootsFull))),
        "{result:?}"
    );
    assert!(pool.named_roots().is_empty(), "the transaction rolled back");
}

#[test]
fn a_pin_keeps_an_unreachable_object_alive_until_dropped() {
    let path = ScratchFile::new("heap-pin");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    let loose = pool
        .txn(|tx| {
            tx.alloc(Node {
                value: 5,
                next: PPtr::null(),
            })
        })
        .expect("alloc");
    let pin = pool.pin(loose).expect("pin");
    let second = pin.clone();
    assert_eq!(pool.pinned(), 2);
    let collection = pool.collect().expect("collect");
    assert_eq!((collection.live_objects, collection.pinned), (1, 1));
    assert_eq!(pool.get(pin.ptr()).expect("pinned").value, 5);
    drop((pin, second));
    assert_eq!(pool.pinned(), 0);
    let collection = pool.collect().expect("collect");
    assert_eq!(collection.freed_objects, 1);
    match pool.get(loose) {
        Err(error @ Error::InvalidPointer { .. }) => {
            assert!(
                error.to_string().contains("no allocated heap object"),
                "{error}"
            );
        }
        other => panic!("a freed object: {other:?}"),
    }
    assert!(pool.pin(loose).is_err(), "a freed object cannot be pinned");
}

#[test]
fn get_refuses_a_heap_pointer_of_another_type() {
    let path = ScratchFile::new("heap-types");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    let node = pool.txn(|tx| push(tx, 1)).expect("push");
    let as_number = PPtr::<[u64; 2]>::from_offset(node.offset());
    match pool.get(as_number) {
        Err(error @ Error::InvalidPointer { .. }) => {
            assert!(error.to_string().contains("another type"), "{error}");
        }
        other => panic!("expected a type error, got {other:?}"),
    }
}

#[test]
fn a_damaged_pointer_dangles_and_the_pool_still_opens() {
    let path = ScratchFile::new("heap-damaged");
    let mut pool = small_list_pool(&path, 1 << 20, 1 << 20);
    let first = pool.txn(|tx| push(tx, 1)).expect("push");
    let second = pool.txn(|tx| push(tx, 2)).expect("push");
    drop(pool);
    let mut bytes = std::fs::read(path.path()).expect("read");
    let next_field = second.offset() as usize + 8;
    bytes[next_field..next_field + 8].copy_from_slice(&(first.offset() + 4).to_le_bytes());
    std::fs::write(path.path(), &bytes).expect("write");
    let mut pool =
        pmem_tests::open_collecting::<List>(path.path()).expect("one bad pointer bricks nothing");
    let found = pmem_tests::collected_at_open(&pool);
    assert_eq!(found.dangling_pointers, 1);
    let dangling = found.first_dangling.expect("reported");
    assert_eq!(
        (dangling.at, dangling.value),
        (next_field as u64, first.offset() + 4)
    );
    assert_eq!(pool.heap_stats().dangling_pointers, 1);
    let head = pool.get(second).expect("the head is alive");
    assert!(
        pool.get(head.next).is_err(),
        "reading through it is refused"
    );
    pool.txn(|tx| push(tx, 3)).expect("the pool is usable");
    pool.collect().expect("collect");
}
