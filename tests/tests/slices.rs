//! Runtime-sized objects: slices allocated in a transaction, their length stored with them,
//! read back after a reopen, traced by the collector, checked on every read, and crashed at
//! every fence.

use pmem::simulation::{ScratchFile, check_every_fence_observing};
use pmem::{Error, HeapError, PMutex, PPtr, PSlice, Persistent, Pool, PoolOptions, Stats, txn};

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Node {
    value: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Root {
    numbers: PSlice<u64>,
    nodes: PSlice<PPtr<Node>>,
    big: PSlice<u64>,
}

fn empty_root() -> Root {
    Root {
        numbers: PSlice::null(),
        nodes: PSlice::null(),
        big: PSlice::null(),
    }
}

#[test]
fn slices_of_any_length_survive_a_reopen() {
    let file = ScratchFile::new("slices-reopen");
    let mut pool = Pool::create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        let numbers = tx.alloc_slice_copied(&[3u64, 1, 4, 1, 5, 9, 2, 6])?;
        let nodes = tx.alloc_slice_with(700, |_| PPtr::<Node>::null())?;
        let big = tx.alloc_slice_with(200_000, |index| index as u64 * 3)?;
        let mut root = tx.root_mut();
        root.numbers = numbers;
        root.nodes = nodes;
        root.big = big;
        Ok(())
    })
    .expect("allocate");
    drop(pool);
    let pool = Pool::<Root>::open(file.path()).expect("reopen");
    let root = pool.root();
    assert_eq!(
        pool.get_slice(root.numbers).expect("numbers"),
        [3, 1, 4, 1, 5, 9, 2, 6]
    );
    assert_eq!(pool.get_slice(root.nodes).expect("nodes").len(), 700);
    let big = pool.get_slice(root.big).expect("big");
    assert_eq!(big.len(), 200_000);
    assert!(
        big.iter()
            .enumerate()
            .all(|(index, &value)| value == index as u64 * 3)
    );
}

#[test]
fn an_empty_slice_is_not_a_null_one() {
    let file = ScratchFile::new("slices-empty");
    let mut pool = Pool::create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().numbers = tx.alloc_slice_copied::<u64>(&[])?;
        Ok(())
    })
    .expect("allocate");
    assert_eq!(
        pool.get_slice(pool.root().numbers).expect("empty"),
        [0u64; 0]
    );
    assert!(matches!(
        pool.get_slice(pool.root().nodes),
        Err(Error::InvalidPointer {
            reason: "the pointer is null",
            ..
        })
    ));
}

#[test]
fn the_collector_follows_the_pointers_of_every_element_and_frees_what_none_reach() {
    let file = ScratchFile::new("slices-trace");
    let mut pool = Pool::create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        let nodes: Vec<PPtr<Node>> = (0..300)
            .map(|value| tx.alloc(Node { value }))
            .collect::<Result<_, _>>()?;
        // Every other node is linked from the slice; the rest are garbage, as is a second
        // slice that nothing points at.
        let linked: Vec<PPtr<Node>> = nodes.iter().copied().step_by(2).collect();
        tx.root_mut().nodes = tx.alloc_slice_copied(&linked)?;
        tx.alloc_slice_copied(&nodes)?;
        Ok(())
    })
    .expect("allocate");
    let collection = pool.collect().expect("collect");
    assert_eq!(collection.live_objects, 1 + 150, "the slice and its nodes");
    assert_eq!(collection.freed_objects, 1 + 150);
    drop(pool);
    let pool = Pool::<Root>::open(file.path()).expect("reopen");
    let nodes = pool.get_slice(pool.root().nodes).expect("nodes");
    let values: Vec<u64> = nodes
        .iter()
        .map(|&node| pool.get(node).expect("a linked node").value)
        .collect();
    assert_eq!(values, (0..300).step_by(2).collect::<Vec<_>>());
}

#[test]
fn a_slice_is_checked_for_its_type_and_a_pointer_for_not_being_a_slice() {
    let file = ScratchFile::new("slices-types");
    let mut pool = Pool::create(file.path(), empty_root()).expect("create");
    let node = pool
        .txn(|tx| -> Result<PPtr<Node>, Error> {
            tx.root_mut().numbers = tx.alloc_slice_copied(&[1u64, 2])?;
            let node = tx.alloc(Node { value: 7 })?;
            tx.root_mut().nodes = tx.alloc_slice_copied(&[node])?;
            Ok(node)
        })
        .expect("allocate");
    let numbers = pool.root().numbers;
    let as_u32 = PSlice::<u32>::from_offset(numbers.offset());
    assert!(matches!(
        pool.get_slice(as_u32),
        Err(Error::InvalidPointer {
            reason: "the object there is not a slice of the type",
            ..
        })
    ));
    let as_node = PPtr::<u64>::from_offset(numbers.offset());
    assert!(matches!(
        pool.get(as_node),
        Err(Error::InvalidPointer {
            reason: "the object there is of another type",
            ..
        })
    ));
    let node_as_slice = PSlice::<Node>::from_offset(node.offset());
    assert!(pool.get_slice(node_as_slice).is_err(), "a node is no slice");
    let inside = PSlice::<u64>::from_offset(numbers.offset() + 8);
    assert!(matches!(
        pool.get_slice(inside),
        Err(Error::InvalidPointer {
            reason: "no allocated heap object starts there",
            ..
        })
    ));
}

#[test]
fn a_slice_too_large_for_any_span_is_a_typed_error_and_the_transaction_rolls_back() {
    let file = ScratchFile::new("slices-too-large");
    let mut pool = Pool::create(file.path(), empty_root()).expect("create");
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        tx.root_mut().numbers = tx.alloc_slice_copied(&[1u64])?;
        tx.root_mut().big = tx.alloc_slice_with(1 << 33, |_| 0u64)?;
        Ok(())
    });
    assert!(
        matches!(outcome, Err(Error::Heap(HeapError::ObjectTooLarge { .. }))),
        "{outcome:?}"
    );
    assert!(pool.root().numbers.is_null(), "rolled back");
}

/// A program's own error, which a transaction's errors convert into.
#[derive(Debug)]
enum Refusal {
    ChangedMyMind,
    Pool(Error),
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Self::Pool(error)
    }
}

#[txn]
fn set_element(mut numbers: pmem::PMut<'_, [u64]>, index: usize, value: u64) {
    numbers[index] = value;
}

#[test]
fn a_store_into_one_element_logs_that_element_and_rolls_back() {
    let file = ScratchFile::new("slices-store");
    let mut pool = Pool::create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().big = tx.alloc_slice_with(100_000, |index| index as u64)?;
        Ok(())
    })
    .expect("allocate");
    let big = pool.root().big;
    let before = Stats::current_thread();
    pool.txn(|tx| -> Result<(), Error> {
        set_element(tx.get_slice_mut(big)?, 50_000, 7);
        Ok(())
    })
    .expect("store");
    let cost = Stats::current_thread() - before;
    assert_eq!(
        cost.logged_bytes, 40,
        "40 bytes of one element's line, not 800 KB"
    );
    assert_eq!(pool.get_slice(big).expect("big")[50_000], 7);
    let outcome = pool.try_txn(|tx| -> Result<(), Refusal> {
        let mut elements = tx.get_slice_mut(big)?;
        elements.at(10).set(1);
        *elements.at(99_999) = 2;
        Err(Refusal::ChangedMyMind)
    });
    match outcome {
        Err(Refusal::ChangedMyMind) => {}
        Err(Refusal::Pool(error)) => panic!("the pool refused: {error}"),
        Ok(()) => panic!("the body returned an error"),
    }
    let elements = pool.get_slice(big).expect("big");
    assert_eq!(
        (elements[10], elements[99_999]),
        (10, 99_999),
        "rolled back"
    );
}

#[test]
fn a_damaged_length_is_refused_and_a_damaged_pointer_slice_fails_its_collection() {
    let file = ScratchFile::new("slices-damaged");
    let mut pool = Pool::create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().numbers = tx.alloc_slice_copied(&[1u64, 2, 3])?;
        let node = tx.alloc(Node { value: 1 })?;
        tx.root_mut().nodes = tx.alloc_slice_copied(&[node, node, node])?;
        Ok(())
    })
    .expect("allocate");
    let (numbers, nodes) = (pool.root().numbers.offset(), pool.root().nodes.offset());
    drop(pool);
    let patch = |offset: u64, len: u64| {
        let mut bytes = file.contents();
        bytes[offset as usize..offset as usize + 8].copy_from_slice(&len.to_le_bytes());
        std::fs::write(file.path(), &bytes).expect("write");
    };
    // The numbers hold no pointers, so the collection at open does not read them; the
    // read does, and refuses a length past the 32-byte slot.
    patch(numbers, 4);
    let pool = Pool::<Root>::open(file.path()).expect("open");
    assert!(matches!(
        pool.get_slice(pool.root().numbers),
        Err(Error::InvalidPointer {
            reason: "the slice's stored length exceeds the space the heap gave it: the pool is damaged",
            ..
        })
    ));
    drop(pool);
    patch(numbers, 3);
    // A collection traces the nodes slice and refuses it: at open, refusing the pool, or
    // later, refusing the collection, which then writes nothing.
    patch(nodes, 1 << 40);
    let damaged = file.contents();
    let opened = pmem_tests::open_collecting::<Root>(file.path());
    assert!(
        matches!(opened, Err(Error::HeapCorrupted { .. })),
        "{:?}",
        opened.err()
    );
    assert_eq!(file.contents(), damaged, "the file is left as it was");
    let mut pool = Pool::<Root>::open(file.path()).expect("an open that does not collect");
    assert!(pool.get_slice(pool.root().nodes).is_err());
    let opened = file.contents();
    assert!(matches!(pool.collect(), Err(Error::HeapCorrupted { .. })));
    assert!(
        file.contents() == opened,
        "the refused collection wrote nothing"
    );
}

#[derive(Persistent)]
#[repr(C)]
struct SharedRoot {
    lists: [PMutex<PSlice<u64>>; 2],
}

#[test]
fn threads_allocate_slices_that_others_read_once_committed() {
    let file = ScratchFile::new("slices-shared");
    let pool = PoolOptions::new()
        .lanes(2)
        .create(
            file.path(),
            SharedRoot {
                lists: [PMutex::new(PSlice::null()), PMutex::new(PSlice::null())],
            },
        )
        .expect("create");
    std::thread::scope(|scope| {
        for thread in 0..2u64 {
            let pool = &pool;
            scope.spawn(move || {
                for round in 1..=50u64 {
                    pool.try_shared_txn(|tx| -> Result<(), Error> {
                        let slice = tx.alloc_slice_with(round as usize, |index| {
                            thread * 1000 + index as u64
                        })?;
                        tx.get_slice_mut(slice)?.at(0).set(round);
                        *tx.lock(&tx.root().lists[thread as usize]) = slice;
                        Ok(())
                    })
                    .expect("shared transaction");
                }
            });
        }
    });
    for thread in 0..2u64 {
        let slice = pool.shared_txn(|tx| *tx.lock(&tx.root().lists[thread as usize]));
        let elements = pool.get_slice(slice).expect("committed");
        assert_eq!(elements.len(), 50);
        assert_eq!(elements[0], 50);
        assert_eq!(elements[49], thread * 1000 + 49);
    }
}

#[derive(Persistent, Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
struct Replaced {
    numbers: PSlice<u64>,
    nodes: PSlice<PPtr<Node>>,
}

#[test]
fn replacing_slices_is_all_or_nothing_at_every_fence() {
    let report = check_every_fence_observing(
        "slices-crash",
        Replaced {
            numbers: PSlice::null(),
            nodes: PSlice::null(),
        },
        6,
        |pool, step| {
            let len = [1, 40, 0, 600, 3, 2000][step];
            pool.txn(|tx| -> Result<(), Error> {
                let numbers = tx.alloc_slice_with(len, |index| (step * 10_000 + index) as u64)?;
                let node = tx.alloc(Node { value: step as u64 })?;
                let nodes = tx.alloc_slice_with(len % 7 + 1, |_| node)?;
                let mut root = tx.root_mut();
                root.numbers = numbers;
                root.nodes = nodes;
                Ok(())
            })
            .expect("replace");
            if step == 3 {
                pool.collect().expect("collect");
            }
        },
        |pool| {
            let root = *pool.root();
            let numbers = if root.numbers.is_null() {
                Vec::new()
            } else {
                pool.get_slice(root.numbers).expect("numbers").to_vec()
            };
            let nodes: Vec<u64> = if root.nodes.is_null() {
                Vec::new()
            } else {
                pool.get_slice(root.nodes)
                    .expect("nodes")
                    .iter()
                    .map(|&node| pool.get(node).expect("node").value)
                    .collect()
            };
            (numbers, nodes)
        },
        8,
    );
    println!("slices: {report:?}");
    assert!(report.crash_points >= 6 * 2, "{report:?}");
}
