//! Transactions of any size: a transaction whose entries outgrow its log slot grows the
//! log into the heap (`pmem-runtime/src/log.rs`, "Extension blocks"), with the default
//! `PoolOptions`, exclusive and shared alike.

use pmem::simulation::ScratchFile;
use pmem::{Error, HeapError, PMutex, PPtr, Persistent, Pool, PoolOptions, Stats};

const NODES: usize = 100_000;

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Default)]
#[repr(C)]
struct List {
    head: PPtr<Node>,
}

/// Builds a list of `NODES` nodes holding `0..NODES` in order, a thousand per transaction.
fn build(pool: &mut Pool<List>) {
    for batch in (0..NODES).step_by(1000).rev() {
        pool.try_txn(|tx| {
            let mut head = tx.root().head;
            for value in (batch..batch + 1000).rev() {
                head = tx.alloc(Node {
                    value: value as u64,
                    next: head,
                })?;
            }
            tx.root_mut().head = head;
            Ok::<_, Error>(())
        })
        .expect("build");
    }
}

fn values(pool: &Pool<List>) -> Vec<u64> {
    let mut values = Vec::with_capacity(NODES);
    let mut at = pool.root().head;
    while !at.is_null() {
        let node = pool.get(at).expect("a listed node");
        values.push(node.value);
        at = node.next;
    }
    values
}

#[test]
fn relinking_100000_nodes_in_one_exclusive_transaction_works_and_survives_reopen() {
    let path = ScratchFile::new("relink-100000");
    let mut pool = Pool::create(path.path(), List::default()).expect("create");
    build(&mut pool);
    let before = Stats::current_thread();
    // Reverses the list: every node's `next` changes, in one transaction.
    pool.try_txn(|tx| {
        let mut previous = PPtr::null();
        let mut at = tx.root().head;
        while !at.is_null() {
            let mut node = tx.get_mut(at)?;
            let next = node.next;
            node.next = previous;
            previous = at;
            at = next;
        }
        tx.root_mut().head = previous;
        Ok::<_, Error>(())
    })
    .expect("relink");
    let cost = Stats::current_thread() - before;
    assert!(
        cost.logged_bytes > 1 << 20 && cost.log_blocks >= 1,
        "the transaction outgrew the 1 MiB slot: {cost:?}"
    );
    let reversed: Vec<u64> = (0..NODES as u64).rev().collect();
    assert_eq!(values(&pool), reversed);
    pool.collect().expect("collect");
    assert_eq!(values(&pool), reversed, "the blocks are not the list's");
    drop(pool);
    let pool = Pool::<List>::open(path.path()).expect("reopen");
    assert_eq!(values(&pool), reversed);
    assert_eq!(pool.info().transactions_rolled_back, 0);
}

#[test]
fn a_relink_that_is_rolled_back_restores_every_node() {
    let path = ScratchFile::new("relink-abort");
    let mut pool = Pool::create(path.path(), List::default()).expect("create");
    build(&mut pool);
    pool.txn(|tx| {
        let mut at = tx.root().head;
        while !at.is_null() {
            let mut node = tx.get_mut(at).expect("a node");
            node.value += 1;
            at = node.next;
        }
        pmem::abort();
    });
    assert_eq!(values(&pool), (0..NODES as u64).collect::<Vec<_>>());
}

#[derive(Persistent)]
#[repr(C)]
struct SharedNode {
    value: u64,
    next: PMutex<PPtr<SharedNode>>,
}

#[derive(Persistent)]
#[repr(C)]
struct SharedList {
    head: PMutex<PPtr<SharedNode>>,
}

fn shared_values(pool: &Pool<SharedList>) -> Vec<u64> {
    pool.shared_txn(|tx| {
        let mut values = Vec::with_capacity(NODES);
        let mut at = *tx.lock(&tx.root().head);
        while !at.is_null() {
            let node = tx.get(at).expect("a listed node");
            values.push(node.value);
            at = *tx.lock(&node.next);
        }
        values
    })
}

#[test]
fn relinking_100000_nodes_in_one_shared_transaction_works_and_survives_reopen() {
    let path = ScratchFile::new("relink-shared");
    let pool = PoolOptions::new()
        .lanes(2)
        .create(
            path.path(),
            SharedList {
                head: PMutex::new(PPtr::null()),
            },
        )
        .expect("create");
    for batch in (0..NODES).step_by(1000).rev() {
        pool.try_shared_txn(|tx| {
            let mut head = *tx.lock(&tx.root().head);
            for value in (batch..batch + 1000).rev() {
                head = tx.alloc(SharedNode {
                    value: value as u64,
                    next: PMutex::new(head),
                })?;
            }
            *tx.lock(&tx.root().head) = head;
            Ok::<_, Error>(())
        })
        .expect("build");
    }
    let before = Stats::current_thread();
    pool.shared_txn(|tx| {
        let mut previous = PPtr::null();
        let mut at = *tx.lock(&tx.root().head);
        while !at.is_null() {
            let node = tx.get(at).expect("a node");
            let mut next = tx.lock(&node.next);
            let following = core::mem::replace(&mut *next, previous);
            previous = at;
            at = following;
        }
        *tx.lock(&tx.root().head) = previous;
    });
    let cost = Stats::current_thread() - before;
    assert!(cost.log_blocks >= 1, "{cost:?}");
    let reversed: Vec<u64> = (0..NODES as u64).rev().collect();
    assert_eq!(shared_values(&pool), reversed);
    drop(pool);
    let pool = Pool::<SharedList>::open(path.path()).expect("reopen");
    assert_eq!(shared_values(&pool), reversed);
}

#[test]
fn a_log_that_cannot_grow_rolls_back_and_try_txn_returns_the_error() {
    let path = ScratchFile::new("log-cannot-grow");
    let mut pool = PoolOptions::new()
        .size(1 << 16)
        .max_size(1 << 16)
        .log_size(4096)
        .create_with(path.path(), |values: &mut [u64; 4096]| values.fill(1))
        .expect("create");
    let outcome = pool.try_txn(|tx| {
        let mut array = tx.root_mut();
        for index in 0..4096 {
            *array.at(index) = 0;
        }
        Ok::<_, Error>(())
    });
    assert!(
        matches!(outcome, Err(Error::Heap(HeapError::Full { .. }))),
        "{outcome:?}"
    );
    assert!(pool.root().iter().all(|&value| value == 1), "rolled back");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.txn(|tx| {
            let mut array = tx.root_mut();
            for index in 0..4096 {
                *array.at(index) = 2;
            }
        });
    }))
    .expect_err("txn panics");
    let message = panicked.downcast_ref::<String>().expect("a message");
    assert!(message.contains("could not grow"), "{message}");
    assert!(pool.root().iter().all(|&value| value == 1), "rolled back");
    drop(pool);
    let pool = Pool::<[u64; 4096]>::open(path.path()).expect("reopen");
    assert!(pool.root().iter().all(|&value| value == 1));
}

/// Stores `value` into the first `count` elements, one line's worth of entry per 8.
fn fill(pool: &mut Pool<[u64; 1024]>, count: usize, value: u64) -> Stats {
    let before = Stats::current_thread();
    pool.txn(|tx| {
        let mut array = tx.root_mut();
        for index in 0..count {
            *array.at(index) = value + index as u64;
        }
    });
    Stats::current_thread() - before
}

#[test]
fn a_growth_step_costs_one_fence_and_moving_into_an_attached_block_none() {
    let path = ScratchFile::new("growth-cost");
    let mut pool = PoolOptions::new()
        .log_size(4096)
        .create_with(path.path(), |values: &mut [u64; 1024]| values.fill(1))
        .expect("create");
    // 64 lines: one block beyond the slot; the block type's record is written (one fence
    // more, once in the life of the pool).
    let first = fill(&mut pool, 512, 10);
    assert_eq!(first.log_blocks, 1, "{first:?}");
    // 128 lines, 11 KiB of entries: the slot, the attached block, and one more.
    let grown = fill(&mut pool, 1024, 20);
    assert_eq!(grown.log_blocks, 1, "{grown:?}");
    // The same stores again, into the attached chain.
    let reused = fill(&mut pool, 1024, 30);
    assert_eq!(reused.log_blocks, 0, "{reused:?}");
    assert_eq!(
        grown.fences - reused.fences,
        1,
        "one fence per growth step: grown {grown:?}, reused {reused:?}"
    );
    assert_eq!(grown.logged_bytes, reused.logged_bytes);
    // The reused chain costs what a slot large enough would, but for the ranges split at
    // a block's end: one fence per entry (128 lines, 2 of them split in two), two per
    // commit.
    assert_eq!(reused.fences, 128 + 2 + 2, "{reused:?}");
}
