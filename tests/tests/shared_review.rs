//! Findings of the adversarial review of shared pools (`Pool::shared_txn`, `PMutex`, lanes
//! and their slot caches): each test reproduces one finding. A test of a finding not fixed
//! yet is `#[ignore]`d with the finding's number.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use pmem::simulation::{ScratchFile, Simulation};
use pmem::{Error, PMutex, PPtr, Persistent, Pool, PoolOptions};

#[derive(Persistent)]
#[repr(C)]
struct Plain {
    words: [u64; 4],
}

#[derive(Persistent)]
#[repr(C)]
struct Locked {
    lock: PMutex<u64>,
}

/// Finding 1: a root with no `PMutex` in it could be read as one (or as a type holding
/// one) through `Pool::get`. A shared transaction could then lock that "mutex" and write
/// the root's bytes, which every thread reads through `pool.root()` without a lock (a data
/// race), and which its own `tx.root()` reference still covered (a `&` aliased by a `&mut`).
#[test]
fn a_root_without_locks_cannot_be_read_as_a_pmutex() {
    let file = ScratchFile::new("review-root-as-pmutex");
    let pool = PoolOptions::new()
        .lanes(2)
        .create(file.path(), Plain { words: [0; 4] })
        .expect("create");
    let root = pool.root_ptr().offset();
    let refused = |result: Result<(), Error>| matches!(result, Err(Error::InvalidPointer { reason, .. }) if reason.contains("PMutex"));
    assert!(
        refused(pool.get(PPtr::<PMutex<u64>>::from_offset(root)).map(|_| ())),
        "the root as a PMutex<u64>"
    );
    assert!(
        refused(
            pool.get(PPtr::<PMutex<u64>>::from_offset(root + 16))
                .map(|_| ())
        ),
        "a PMutex<u64> inside the root"
    );
    assert!(
        refused(pool.get(PPtr::<Locked>::from_offset(root + 8)).map(|_| ())),
        "a struct holding a PMutex inside the root"
    );
    let locked = pool.shared_txn(|tx| {
        let words = &tx.root().words;
        let fake = tx.get(PPtr::<PMutex<u64>>::from_offset(root));
        if let Ok(fake) = fake {
            *tx.lock(fake) = 7;
        }
        words[1]
    });
    assert_eq!(locked, 0, "no shared transaction writes a lock-free root");
    // Reading the root as itself, or a plain part of it, stays allowed.
    assert!(pool.get(pool.root_ptr()).is_ok());
    assert_eq!(pool.get(PPtr::<u64>::from_offset(root + 8)).ok(), Some(&0));
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent)]
#[repr(C)]
struct List {
    head: PMutex<PPtr<Node>>,
    other: PMutex<u64>,
}

fn list() -> List {
    List {
        head: PMutex::new(PPtr::null()),
        other: PMutex::new(0),
    }
}

/// Finding 2: the objects a shared transaction commits are readable by whoever takes the
/// lock next. The lock used to be released (at the end of the commit) before the objects
/// were revealed, so a thread that took the lock in between found the pointer the commit
/// published, and `get` refused it as "being written by the running transaction".
///
/// Finding 5 (a lost wake-up) showed here too: the writer, asleep in `lock` without having
/// announced itself (its compare-exchange of the waiter bit failed and it slept anyway),
/// was never woken by the reader's releases, and the test hung.
#[test]
fn an_object_published_under_a_lock_is_readable_by_the_next_holder() {
    let file = ScratchFile::new("review-reveal-before-release");
    let pool = PoolOptions::new()
        .lanes(2)
        .log_size(1 << 14)
        .create(file.path(), list())
        .expect("create");
    let done = AtomicBool::new(false);
    let refusals = std::thread::scope(|scope| {
        scope.spawn(|| {
            for value in 0..2_000 {
                pool.shared_txn(|tx| {
                    let node = tx
                        .alloc(Node {
                            value,
                            next: PPtr::null(),
                        })
                        .expect("alloc");
                    *tx.lock(&tx.root().head) = node;
                });
            }
            done.store(true, Ordering::SeqCst);
        });
        let reader = scope.spawn(|| {
            let mut refusals = 0u64;
            while !done.load(Ordering::SeqCst) {
                pool.shared_txn(|tx| {
                    let head = *tx.lock(&tx.root().head);
                    if !head.is_null() && tx.get(head).is_err() {
                        refusals += 1;
                    }
                });
            }
            refusals
        });
        reader.join().expect("reader")
    });
    assert_eq!(
        refusals, 0,
        "a committed object linked under a lock was refused to the lock's next holder"
    );
}

/// Finding 3: a heap span made by a running shared transaction is written to the page
/// table and left to that transaction's commit to write back. Another lane's transaction
/// that allocates from the span and commits first does not write the entry back, so a
/// crash before the first transaction ends loses the span, and with it the second
/// transaction's committed, linked object: recovery finds a dangling pointer.
#[test]
fn a_committed_object_in_a_span_another_running_transaction_made_survives_a_crash() {
    let simulation = Simulation::new();
    let file = ScratchFile::new("review-span-durability");
    let pool = PoolOptions::new()
        .lanes(2)
        .log_size(1 << 14)
        .simulation(&simulation)
        .create(file.path(), list())
        .expect("create");
    let (made_span, wait_for_span) = mpsc::channel();
    let (committed, wait_for_commit) = mpsc::channel();
    let pool = &pool;
    let simulation_ref = &simulation;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            pool.shared_txn(|tx| {
                // The first `Node`: a new span, whose page-table entry this transaction
                // writes (and keeps to write back at its end).
                tx.alloc(Node {
                    value: 1,
                    next: PPtr::null(),
                })
                .expect("alloc");
                made_span.send(()).expect("send");
                wait_for_commit.recv().expect("recv");
                // Every fence from here on is a moment the other transaction had returned.
                simulation_ref.capture(true);
            });
        });
        wait_for_span.recv().expect("recv");
        pool.shared_txn(|tx| {
            let node = tx
                .alloc(Node {
                    value: 2,
                    next: PPtr::null(),
                })
                .expect("alloc");
            *tx.lock(&tx.root().head) = node;
        });
        committed.send(()).expect("send");
    });
    simulation.capture(false);
    let points = simulation.take_crash_points();
    assert!(
        !points.is_empty(),
        "the first transaction fenced at its end"
    );
    let crashed = ScratchFile::new("review-span-durability-crashed");
    std::fs::write(crashed.path(), points[0].durable()).expect("write the crash image");
    let reopened = Pool::<List>::open(crashed.path()).expect("recover");
    let head = reopened.shared_txn(|tx| *tx.lock(&tx.root().head));
    assert!(
        !head.is_null(),
        "the second transaction returned: it is durable"
    );
    assert_eq!(
        reopened.get(head).map(|node| node.value).ok(),
        Some(2),
        "its object survives the crash"
    );
}
