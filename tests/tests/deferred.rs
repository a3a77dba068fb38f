//! Deferred durability (`Durability::Deferred`, `txn/group.rs`): transactions commit in
//! groups made durable together. A crash loses at most the transactions since the last
//! sync, and leaves a prefix of the committed ones, each whole; a member that is rolled
//! back undoes itself alone; and a group costs two fences, not two per transaction.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pmem::simulation::{CrashTest, ScratchFile, small_pool};
use pmem::{Durability, Error, PPtr, Persistent, Pool, PoolOptions, Stats, Txn};
use pmem_tests::workloads::{self, Array, IMAGES_PER_FENCE, counting, swap, swap_pair};
use pmem_tests::xorshift;

fn deferred_pool(label: &str) -> (ScratchFile, Pool<Array>) {
    let path = ScratchFile::new(label);
    let pool = small_pool()
        .durability(Durability::Deferred)
        .create(path.path(), counting())
        .expect("create");
    (path, pool)
}

/// The pool at `path` as a crash now would leave it: a copy of the file, opened.
fn crash_copy(path: &ScratchFile, label: &str) -> (ScratchFile, Pool<Array>) {
    let copy = ScratchFile::new(label);
    std::fs::copy(path.path(), copy.path()).expect("copy");
    let pool = Pool::<Array>::open(copy.path()).expect("open the copy");
    (copy, pool)
}

#[test]
fn a_crash_loses_what_was_not_synced_and_keeps_what_was() {
    let (path, mut pool) = deferred_pool("deferred-prefix");
    for value in 0..5 {
        pool.txn(|tx| *tx.root_mut().at(0) = 100 + value);
    }
    pool.sync();
    for value in 0..3 {
        pool.txn(|tx| *tx.root_mut().at(1) = 200 + value);
    }
    assert_eq!((pool.root()[0], pool.root()[1]), (104, 202));
    let (_copy, crashed) = crash_copy(&path, "deferred-prefix-copy");
    assert_eq!(
        crashed.info().transactions_rolled_back,
        1,
        "the pending group"
    );
    assert_eq!((crashed.root()[0], crashed.root()[1]), (104, 1));
    drop(crashed);
    pool.close();
    let reopened = Pool::<Array>::open(path.path()).expect("reopen");
    assert_eq!(
        (reopened.root()[0], reopened.root()[1]),
        (104, 202),
        "closing syncs"
    );
}

#[test]
fn a_group_costs_two_fences_and_a_line_changed_again_one_write_back() {
    let (_path, mut pool) = deferred_pool("deferred-fences");
    let before = Stats::current_thread();
    for value in 0..10 {
        pool.txn(|tx| *tx.root_mut().at(0) = value);
    }
    let members = Stats::current_thread() - before;
    assert_eq!(
        members.fences, 1,
        "one entry for the line, for the whole group"
    );
    assert_eq!(
        members.lines_flushed, 1,
        "the entry's line (its header and 40 bytes of the stored line)"
    );
    assert_eq!(members.commits, 10);
    pool.sync();
    let group = Stats::current_thread() - before;
    assert_eq!(group.fences, 3, "the entry, then the group's two");
    assert_eq!(group.logged_bytes, 40);

    pool.set_durability(Durability::Immediate);
    let before = Stats::current_thread();
    for value in 0..10 {
        pool.txn(|tx| *tx.root_mut().at(0) = value);
    }
    assert_eq!((Stats::current_thread() - before).fences, 30);
}

#[test]
fn a_group_is_made_durable_when_it_is_full() {
    let (path, mut pool) = deferred_pool("deferred-full");
    for value in 0..64 {
        pool.txn(|tx| *tx.root_mut().at(0) = 1000 + value);
    }
    let (_copy, crashed) = crash_copy(&path, "deferred-full-copy");
    assert_eq!(crashed.root()[0], 1063, "64 members make a group durable");
    drop(crashed);
    pool.txn(|tx| *tx.root_mut().at(0) = 5);
    let (_copy, crashed) = crash_copy(&path, "deferred-full-copy-2");
    assert_eq!(crashed.root()[0], 1063);
}

#[test]
fn a_member_rolled_back_undoes_itself_alone() {
    let (path, mut pool) = deferred_pool("deferred-member");
    pool.txn(|tx| *tx.root_mut().at(0) = 10);
    pool.txn(|tx| *tx.root_mut().at(1) = 11);
    // An error, an abort and a panic, each after changing a line an earlier member
    // changed and one it did not.
    let refused: Result<(), Error> = pool.try_txn(|tx| {
        *tx.root_mut().at(0) = 99;
        *tx.root_mut().at(100) = 99;
        Err(Error::NoTransaction)
    });
    assert!(refused.is_err());
    pool.txn(|tx| {
        *tx.root_mut().at(1) = 98;
        *tx.root_mut().at(200) = 98;
        pmem::abort();
    });
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        pool.txn(|tx| {
            *tx.root_mut().at(0) = 97;
            panic!("a member that panics");
        })
    }));
    assert!(panicked.is_err());
    pool.txn(|tx| *tx.root_mut().at(2) = 12);
    let expected = |array: &Array| {
        assert_eq!(array[..3], [10, 11, 12]);
        assert_eq!((array[100], array[200]), (100, 200));
    };
    expected(pool.root());
    let (_copy, crashed) = crash_copy(&path, "deferred-member-copy");
    assert_eq!(
        crashed.root()[..3],
        [0, 1, 2],
        "the whole group rolled back"
    );
    assert_eq!((crashed.root()[100], crashed.root()[200]), (100, 200));
    drop(crashed);
    pool.close();
    expected(Pool::<Array>::open(path.path()).expect("reopen").root());
}

#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
struct Stack {
    top: PPtr<Node>,
    depth: u64,
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

fn push(tx: &mut Txn<'_, Stack>, value: u64) -> Result<PPtr<Node>, Error> {
    let next = tx.root().top;
    let node = tx.alloc(Node { value, next })?;
    let mut stack = tx.root_mut();
    stack.top = node;
    stack.depth += 1;
    Ok(node)
}

fn pop(tx: &mut Txn<'_, Stack>) -> Result<(), Error> {
    let top = tx.root().top;
    if !top.is_null() {
        let next = tx.get(top)?.next;
        let mut stack = tx.root_mut();
        stack.top = next;
        stack.depth -= 1;
    }
    Ok(())
}

fn values(pool: &Pool<Stack>) -> Vec<u64> {
    let mut found = Vec::new();
    let mut at = pool.root().top;
    while !at.is_null() {
        let node = pool.get(at).expect("a node");
        found.push(node.value);
        at = node.next;
    }
    assert_eq!(found.len() as u64, pool.root().depth);
    found
}

#[test]
fn a_member_that_changes_an_earlier_members_object_and_is_rolled_back_leaves_it() {
    let path = ScratchFile::new("deferred-fresh");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .durability(Durability::Deferred)
        .create(path.path(), Stack::default())
        .expect("create");
    let node = pool.try_txn(|tx| push(tx, 1)).expect("push");
    let refused: Result<(), Error> = pool.try_txn(|tx| {
        tx.get_mut(node)?.value = 666;
        push(tx, 2)?;
        Err(Error::NoTransaction)
    });
    assert!(refused.is_err());
    assert_eq!(
        values(&pool),
        [1],
        "the earlier member's fresh object is whole"
    );
    pool.collect().expect("collect");
    assert_eq!(values(&pool), [1]);
    pool.close();
    assert_eq!(
        values(&Pool::open(path.path()).expect("reopen")),
        [1],
        "durable"
    );
}

#[test]
fn a_shared_transaction_makes_the_group_durable_first() {
    let (path, mut pool) = deferred_pool("deferred-shared");
    pool.txn(|tx| *tx.root_mut().at(0) = 42);
    pool.shared_txn(|_| ());
    let (_copy, crashed) = crash_copy(&path, "deferred-shared-copy");
    assert_eq!(crashed.root()[0], 42);
}

#[test]
fn deferred_swaps_recover_a_prefix_at_every_fence() {
    let mut random = 0x2545_f491_4f6c_dd1d;
    let report = CrashTest::new("deferred-swaps")
        .images_per_point(IMAGES_PER_FENCE)
        .deferred(5)
        .run(
            counting(),
            30,
            |pool, step| {
                let (i, j) = swap_pair(&mut random, step);
                swap(pool, i, j);
            },
            |pool| *pool.root(),
        );
    println!("deferred swaps: {report:?}");
    assert!(report.crash_points >= 30, "{report:?}");
}

#[test]
fn deferred_transfers_errors_and_panics_recover_a_prefix_at_every_fence() {
    let report = workloads::bank_transfers_on(
        CrashTest::new("deferred-bank")
            .images_per_point(IMAGES_PER_FENCE)
            .deferred(4),
    );
    println!("deferred bank: {report:?}");
    assert!(report.crash_points >= 18, "{report:?}");
}

#[test]
fn deferred_pushes_and_pops_recover_a_prefix_at_every_fence() {
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    let report = CrashTest::new("deferred-stack")
        .pool(PoolOptions::new().size(1 << 17).log_size(1 << 13))
        .images_per_point(16)
        .deferred(3)
        .run(
            Stack::default(),
            40,
            |pool, step| {
                let random = xorshift(&mut random);
                let outcome: Result<(), Error> = pool.try_txn(|tx| {
                    if random % 3 == 0 {
                        pop(tx)?;
                    } else {
                        push(tx, step as u64)?;
                        push(tx, 1000 + step as u64)?;
                    }
                    if random % 5 == 0 {
                        return Err(Error::NoTransaction);
                    }
                    Ok(())
                });
                assert!(outcome.is_ok() || random % 5 == 0);
                if step % 10 == 9 {
                    pool.collect().expect("collect");
                }
            },
            values,
        );
    println!("deferred stack: {report:?}");
    assert!(report.crash_points >= 40, "{report:?}");
}
