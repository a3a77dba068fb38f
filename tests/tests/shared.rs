//! Shared pools: transactions from many threads on one pool, `PMutex`, lanes, and what a
//! shared transaction may and may not change.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use pmem::simulation::ScratchFile;
use pmem::{Error, PMutex, PPtr, Persistent, Pinned, Pool, PoolOptions};
use pmem_tests::xorshift;

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn counter_pool(file: &ScratchFile, lanes: u32) -> Pool<Counter> {
    PoolOptions::new()
        .lanes(lanes)
        .log_size(1 << 14)
        .create(
            file.path(),
            Counter {
                hits: PMutex::new(0),
            },
        )
        .expect("create")
}

fn hits(pool: &Pool<Counter>) -> u64 {
    pool.shared_txn(|tx| *tx.lock(&tx.root().hits))
}

#[test]
fn threads_increment_one_counter_under_its_lock() {
    let file = ScratchFile::new("shared-counter");
    let pool = counter_pool(&file, 2);
    assert_eq!(pool.info().lanes, 2);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..250 {
                    pool.shared_txn(|tx| *tx.lock(&tx.root().hits) += 1);
                }
            });
        }
    });
    assert_eq!(hits(&pool), 1000);
    drop(pool);
    let reopened = Pool::<Counter>::open(file.path()).expect("reopen");
    assert!(reopened.info().previous_shutdown_clean);
    assert_eq!(hits(&reopened), 1000, "every commit is durable");
}

#[test]
fn an_arc_pool_serves_spawned_threads_with_one_lane() {
    let file = ScratchFile::new("shared-one-lane");
    let pool = Arc::new(counter_pool(&file, 1));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    pool.shared_txn(|tx| *tx.lock(&tx.root().hits) += 1);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    assert_eq!(hits(&pool), 300, "threads waited for the one lane");
}

#[test]
fn a_thread_waits_for_the_lock_until_the_holder_has_committed() {
    let file = ScratchFile::new("shared-wait");
    let pool = counter_pool(&file, 2);
    let (locked, wait_for_lock) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            pool.shared_txn(|tx| {
                *tx.lock(&tx.root().hits) = 7;
                locked.send(()).expect("send");
                // The other thread is now waiting for the lock; it must not see 7 before
                // this commit, nor anything but 8 after it.
                std::thread::sleep(Duration::from_millis(50));
                *tx.lock(&tx.root().hits) = 8;
            });
        });
        wait_for_lock.recv().expect("recv");
        let seen = pool.shared_txn(|tx| *tx.lock(&tx.root().hits));
        assert_eq!(seen, 8, "the lock is released only after the commit");
    });
}

#[derive(Persistent)]
#[repr(C)]
struct Pair {
    /// Two locks whose values share one cache line.
    left: PMutex<u64>,
    right: PMutex<u64>,
}

#[test]
fn a_rollback_restores_only_its_own_bytes_of_a_shared_line() {
    let file = ScratchFile::new("shared-line");
    let pool = PoolOptions::new()
        .lanes(2)
        .create(
            file.path(),
            Pair {
                left: PMutex::new(1),
                right: PMutex::new(2),
            },
        )
        .expect("create");
    let (left_written, wait_left) = mpsc::channel();
    let (right_committed, wait_right) = mpsc::channel();
    let pool = &pool;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let outcome = pool.try_shared_txn(|tx| {
                *tx.lock(&tx.root().left) = 10;
                left_written.send(()).expect("send");
                wait_right.recv().expect("recv");
                Err::<(), Box<dyn std::error::Error>>("give up".into())
            });
            assert_eq!(
                outcome.map_err(|error| error.to_string()),
                Err("give up".to_owned())
            );
        });
        scope.spawn(move || {
            wait_left.recv().expect("recv");
            pool.shared_txn(|tx| *tx.lock(&tx.root().right) = 20);
            right_committed.send(()).expect("send");
        });
    });
    let (left, right) = pool.shared_txn(|tx| {
        let root = tx.root();
        let left = *tx.lock(&root.left);
        (left, *tx.lock(&root.right))
    });
    assert_eq!(left, 1, "the rolled-back store is undone");
    assert_eq!(
        right, 20,
        "the other transaction's committed store in the same line stays"
    );
}

#[test]
fn a_panic_rolls_back_and_releases_the_lock() {
    let file = ScratchFile::new("shared-panic");
    let pool = counter_pool(&file, 2);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        pool.shared_txn(|tx| {
            *tx.lock(&tx.root().hits) = 99;
            panic!("fails mid-way");
        })
    }));
    assert!(panicked.is_err());
    let seen = std::thread::scope(|scope| {
        scope
            .spawn(|| pool.shared_txn(|tx| tx.try_lock(&tx.root().hits).map(|hits| *hits)))
            .join()
            .expect("join")
    });
    assert_eq!(
        seen.expect("the lock was released"),
        0,
        "and the store undone"
    );
}

#[test]
fn locking_twice_in_one_transaction_gives_the_value_again() {
    let file = ScratchFile::new("shared-relock");
    let pool = counter_pool(&file, 1);
    let total = pool.shared_txn(|tx| {
        *tx.lock(&tx.root().hits) += 1;
        *tx.lock(&tx.root().hits) += 1;
        *tx.try_lock(&tx.root().hits)
            .expect("held by this transaction") += 1;
        *tx.lock(&tx.root().hits)
    });
    assert_eq!(total, 3);
}

#[test]
fn try_lock_reports_a_busy_lock_and_the_transaction_can_retry() {
    let file = ScratchFile::new("shared-busy");
    let pool = counter_pool(&file, 2);
    let (locked, wait_for_lock) = mpsc::channel();
    let (tried, wait_for_try) = mpsc::channel();
    let pool = &pool;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            pool.shared_txn(|tx| {
                *tx.lock(&tx.root().hits) += 1;
                locked.send(()).expect("send");
                wait_for_try.recv().expect("recv");
            });
        });
        wait_for_lock.recv().expect("recv");
        let busy = pool.try_shared_txn(|tx| {
            *tx.try_lock(&tx.root().hits)? += 10;
            Ok::<(), Error>(())
        });
        assert!(
            matches!(busy, Err(Error::LockBusy { type_name: "u64" })),
            "{busy:?}"
        );
        tried.send(()).expect("send");
    });
    assert_eq!(hits(pool), 1, "the busy transaction changed nothing");
}

const ACCOUNTS: usize = 8;

#[derive(Persistent)]
#[repr(C)]
struct Bank {
    accounts: [PMutex<u64>; ACCOUNTS],
}

/// Transfers between random accounts, locking in random order and backing off with
/// `try_lock`: no deadlock, and the total never changes.
#[test]
fn transfers_in_any_lock_order_keep_the_total_with_try_lock_and_retry() {
    let file = ScratchFile::new("shared-bank");
    let pool = PoolOptions::new()
        .lanes(2)
        .create(
            file.path(),
            Bank {
                accounts: core::array::from_fn(|_| PMutex::new(100)),
            },
        )
        .expect("create");
    let retries = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for seed in 1..=3u64 {
            let (pool, retries) = (&pool, &retries);
            scope.spawn(move || {
                let mut state = seed;
                for _ in 0..300 {
                    let from = (xorshift(&mut state) % ACCOUNTS as u64) as usize;
                    let to = (xorshift(&mut state) % ACCOUNTS as u64) as usize;
                    let amount = xorshift(&mut state) % 20;
                    loop {
                        let done = pool.try_shared_txn(|tx| {
                            let bank = tx.root();
                            let mut source = tx.try_lock(&bank.accounts[from])?;
                            if *source < amount {
                                return Ok(());
                            }
                            *source -= amount;
                            *tx.try_lock(&bank.accounts[to])? += amount;
                            Ok::<(), Error>(())
                        });
                        match done {
                            Ok(()) => break,
                            Err(Error::LockBusy { .. }) => {
                                retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                std::thread::yield_now();
                            }
                            Err(other) => panic!("{other}"),
                        }
                    }
                }
            });
        }
    });
    let total: u64 = pool.shared_txn(|tx| {
        let bank = tx.root();
        (0..ACCOUNTS).map(|i| *tx.lock(&bank.accounts[i])).sum()
    });
    assert_eq!(total, 100 * ACCOUNTS as u64);
}

#[derive(Persistent)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent)]
#[repr(C)]
struct List {
    head: PMutex<PPtr<Node>>,
}

/// A pool of `options` at `file` whose root is an empty list.
fn empty_list(file: &ScratchFile, options: PoolOptions) -> Pool<List> {
    options
        .create(
            file.path(),
            List {
                head: PMutex::new(PPtr::null()),
            },
        )
        .expect("create")
}

#[test]
fn threads_allocate_and_link_objects_then_an_exclusive_collection_keeps_pins() {
    let file = ScratchFile::new("shared-alloc");
    let mut pool = empty_list(&file, PoolOptions::new().lanes(2).size(1 << 20));
    let size_before = pool.info().size;
    let pins: Vec<Pinned<Node>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2u64)
            .map(|thread| {
                let pool = &pool;
                scope.spawn(move || {
                    let mut pins = Vec::new();
                    for i in 0..2000u64 {
                        let value = thread * 10_000 + i;
                        pool.shared_txn(|tx| {
                            let node = tx
                                .alloc(Node {
                                    value,
                                    next: PPtr::null(),
                                })
                                .expect("alloc");
                            if i % 100 == 0 {
                                // Pinned, never linked: only the pin keeps it.
                                pins.push(tx.pin(node).expect("pin"));
                                return;
                            }
                            let old = core::mem::replace(&mut *tx.lock(&tx.root().head), node);
                            tx.get_mut(node).expect("fresh").next = old;
                        });
                    }
                    pins
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("worker"))
            .collect()
    });
    assert!(
        pool.info().size > size_before,
        "shared allocation grew the pool"
    );
    let mut linked = 0;
    let mut at = pool.shared_txn(|tx| *tx.lock(&tx.root().head));
    while !at.is_null() {
        linked += 1;
        at = pool.get(at).expect("linked node").next;
    }
    assert_eq!(linked, 2 * 1980);
    let collection = pool.collect().expect("collect");
    assert_eq!(collection.live_objects, 2 * 1980 + pins.len() as u64);
    for pin in &pins {
        assert_eq!(pool.get(pin.ptr()).expect("pinned").value % 100, 0);
    }
    drop(pins);
    let collection = pool.collect().expect("collect");
    assert_eq!(
        collection.live_objects,
        2 * 1980,
        "unpinned, the unlinked nodes are freed"
    );
}

/// Each lane takes the rest of a span when it needs slots, so two threads allocating at
/// the same time never write (and so never first-touch) the same page.
#[test]
fn threads_allocating_together_write_pages_of_their_own() {
    let file = ScratchFile::new("shared-own-pages");
    let pool = empty_list(&file, PoolOptions::new().lanes(2).size(1 << 20));
    let together = Barrier::new(2);
    let pages: Vec<std::collections::BTreeSet<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2u64)
            .map(|thread| {
                let (pool, together) = (&pool, &together);
                scope.spawn(move || {
                    // Both in a transaction at once: each thread takes a lane of its own,
                    // and keeps to it from then on.
                    pool.shared_txn(|_| together.wait());
                    let mut pages = std::collections::BTreeSet::new();
                    for value in 0..1000 {
                        together.wait();
                        let node = pool.shared_txn(|tx| {
                            let next = *tx.lock(&tx.root().head);
                            let node = tx.alloc(Node {
                                value: thread << 32 | value,
                                next,
                            });
                            node.inspect(|&node| *tx.lock(&tx.root().head) = node)
                        });
                        pages.insert(node.expect("alloc").offset() / 4096);
                    }
                    pages
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("worker"))
            .collect()
    });
    assert!(pages[0].len() >= 4 && pages[1].len() >= 4, "{pages:?}");
    let shared: Vec<_> = pages[0].intersection(&pages[1]).collect();
    assert!(shared.is_empty(), "pages both threads wrote: {shared:?}");
    let stats = pool.heap_stats();
    assert_eq!(
        stats.allocated_objects, 2000,
        "the slots the lanes keep for later count as free"
    );
    assert_eq!(stats.types[0].objects, 2000);
}

#[test]
fn a_shared_transaction_changes_only_what_it_locked_or_allocated() {
    let file = ScratchFile::new("shared-get-mut");
    let pool = empty_list(&file, PoolOptions::new());
    let node = pool.shared_txn(|tx| {
        let node = tx
            .alloc(Node {
                value: 1,
                next: PPtr::null(),
            })
            .expect("alloc");
        *tx.lock(&tx.root().head) = node;
        node
    });
    let refused = pool.shared_txn(|tx| tx.get_mut(node).map(|_| ()));
    assert!(
        matches!(refused, Err(Error::InvalidPointer { reason, .. }) if reason.contains("through their locks")),
        "{refused:?}"
    );
}

#[test]
fn a_pointer_into_a_root_that_holds_a_lock_is_refused() {
    let file = ScratchFile::new("shared-root-interior");
    let pool = counter_pool(&file, 1);
    let inside = PPtr::<u64>::from_offset(pool.root_ptr().offset() + 8);
    assert!(matches!(
        pool.get(inside),
        Err(Error::InvalidPointer { reason, .. }) if reason.contains("holds a PMutex")
    ));
    assert!(pool.get(pool.root_ptr()).is_ok(), "the whole root is fine");
}

#[test]
fn lock_state_does_not_survive_a_restart() {
    let file = ScratchFile::new("shared-stale-lock");
    let copy = ScratchFile::new("shared-stale-lock-copy");
    let pool = counter_pool(&file, 1);
    pool.shared_txn(|tx| {
        *tx.lock(&tx.root().hits) = 5;
        // A crash now would leave the lock word "held": the file has it so.
        std::fs::write(copy.path(), file.contents()).expect("copy the pool while locked");
    });
    drop(pool);
    let reopened = Pool::<Counter>::open(copy.path()).expect("open the copy");
    assert!(!reopened.info().previous_shutdown_clean);
    let seen = reopened.shared_txn(|tx| tx.try_lock(&tx.root().hits).map(|hits| *hits));
    assert_eq!(
        seen.expect("the stale lock reads as free"),
        0,
        "and its change rolled back"
    );
}

#[test]
fn lanes_are_refused_outside_one_to_1024() {
    for lanes in [0, 1025] {
        let file = ScratchFile::new("shared-lanes");
        let refused = PoolOptions::new().lanes(lanes).create(
            file.path(),
            Counter {
                hits: PMutex::new(0),
            },
        );
        assert!(
            matches!(
                refused,
                Err(Error::InvalidOption {
                    option: "lanes",
                    ..
                })
            ),
            "{lanes} lanes"
        );
        assert!(!file.path().exists(), "nothing was created");
    }
}

#[test]
fn an_exclusive_transaction_reaches_a_locked_value_without_locking() {
    let file = ScratchFile::new("shared-exclusive");
    let mut pool = counter_pool(&file, 2);
    pool.txn(|tx| *tx.root_mut().hits.get_mut() += 4);
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                barrier.wait();
                pool.shared_txn(|tx| *tx.lock(&tx.root().hits) += 1);
            });
        }
    });
    pool.txn(|tx| *tx.root_mut().hits.get_mut() += 4);
    assert_eq!(hits(&pool), 10);
}

/// A shared transaction's new objects are hidden from every reader, its own included,
/// until it ends: the `PMut` from `get_mut` is the only reference to them, and no other
/// thread reads one while it is written, even with a pointer it guessed.
#[test]
fn no_reader_finds_an_object_while_its_transaction_writes_it() {
    let file = ScratchFile::new("shared-hidden");
    let pool = empty_list(&file, PoolOptions::new().lanes(2));
    let (allocated, wait_for_allocation) = mpsc::channel();
    let (looked, wait_for_look) = mpsc::channel();
    let pool = &pool;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            pool.shared_txn(|tx| {
                let node = tx
                    .alloc(Node {
                        value: 1,
                        next: PPtr::null(),
                    })
                    .expect("alloc");
                let hidden = |result: Result<&Node, Error>| {
                    matches!(result, Err(Error::InvalidPointer { reason, .. }) if reason.contains("being written"))
                };
                assert!(hidden(tx.get(node)), "not through the transaction");
                assert!(hidden(pool.get(node)), "nor through the pool");
                tx.get_mut(node).expect("fresh").value = 2;
                allocated.send(node.offset()).expect("send");
                wait_for_look.recv().expect("recv");
                *tx.lock(&tx.root().head) = node;
            });
        });
        let offset = wait_for_allocation.recv().expect("recv");
        let guessed = PPtr::<Node>::from_offset(offset);
        assert!(
            pool.get(guessed).is_err(),
            "another thread cannot read it either"
        );
        looked.send(()).expect("send");
    });
    let head = pool.shared_txn(|tx| *tx.lock(&tx.root().head));
    assert_eq!(pool.get(head).expect("published at the end").value, 2);
}

#[derive(Persistent)]
#[repr(C)]
struct Account {
    balance: u64,
    withdrawals: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Wallet {
    account: PMutex<Account>,
}

#[derive(Debug, PartialEq, Eq)]
struct Insufficient;

#[pmem::txn]
fn withdraw(account: &mut Account, amount: u64) -> Result<(), Insufficient> {
    account.withdrawals += 1;
    if account.balance < amount {
        return Err(Insufficient);
    }
    account.balance -= amount;
    Ok(())
}

#[test]
fn a_txn_function_changes_a_locked_value_and_its_err_rolls_the_shared_transaction_back() {
    let file = ScratchFile::new("shared-txn-fn");
    let pool = PoolOptions::new()
        .create(
            file.path(),
            Wallet {
                account: PMutex::new(Account {
                    balance: 10,
                    withdrawals: 0,
                }),
            },
        )
        .expect("create");
    let read = |pool: &Pool<Wallet>| {
        pool.shared_txn(|tx| {
            let account = tx.lock(&tx.root().account);
            (account.balance, account.withdrawals)
        })
    };
    let fine = pool.shared_txn(|tx| withdraw(&mut tx.lock(&tx.root().account), 4));
    assert_eq!(fine, Ok(()));
    assert_eq!(read(&pool), (6, 1));
    let refused = pool.shared_txn(|tx| withdraw(&mut tx.lock(&tx.root().account), 100));
    assert_eq!(refused, Err(Insufficient));
    assert_eq!(
        read(&pool),
        (6, 1),
        "the Err rolled back the counted withdrawal"
    );
}

/// An exclusive transaction that only allocates defers its lines to the next commit; a
/// shared transaction writes them back before it begins, since the next commit may run on
/// another thread. The simulated domain reports a line left dirty at a commit.
#[test]
fn lines_an_exclusive_transaction_deferred_are_durable_before_shared_ones_run() {
    use pmem::simulation::Simulation;
    let simulation = Simulation::new();
    let file = ScratchFile::new("shared-deferred");
    let mut pool = empty_list(&file, PoolOptions::new().simulation(&simulation));
    let pinned = pool.txn(|tx| {
        let node = tx
            .alloc(Node {
                value: 3,
                next: PPtr::null(),
            })
            .expect("alloc");
        tx.pin(node).expect("pin")
    });
    let before = simulation.fences();
    pool.txn(|_| ());
    assert_eq!(
        simulation.fences(),
        before,
        "nothing written: the lines are deferred"
    );
    pool.shared_txn(|tx| *tx.lock(&tx.root().head) = pinned.ptr());
    let faults: Vec<_> = simulation
        .lints()
        .into_iter()
        .filter(|lint| !lint.is_performance())
        .collect();
    assert_eq!(faults, [], "every line was durable at the shared commit");
    let head = pool.shared_txn(|tx| *tx.lock(&tx.root().head));
    assert_eq!(pool.get(head).expect("linked").value, 3);
}
