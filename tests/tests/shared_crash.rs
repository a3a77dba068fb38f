//! Shared pools crashed with several transactions in flight (see
//! `pmem_tests::shared_workloads`), and regression tests of the faults that found.
//!
//! The bank test runs seeds 1 to 8 of the scheduler, each with three threads crashed at
//! every fence and with two threads crashed before every store too; a failure names the
//! seed and the crash image. Knobs:
//!
//! - `PMEM_SHARED_CRASH_SEEDS=<n>`: seeds 1 to `n` instead (each seed costs about 1.3 s in
//!   a debug build);
//! - `PMEM_SHARED_CRASH_SEED=<seed>`: that one seed, to replay a failure (the seed decides
//!   both the interleaving and the eviction choices of the images).

use std::collections::BTreeSet;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use pmem::simulation::{ScratchFile, Simulation};
use pmem::{PPtr, PoolOptions};
use pmem_tests::shared_workloads::{Move, Record, SharedBank, SharedBankRun, seeds, shared_bank};

#[test]
fn shared_transfers_are_all_or_nothing_and_durable_at_every_fence_of_every_thread() {
    let started = Instant::now();
    let seeds = seeds(8);
    let mut totals = (0, 0);
    for (threads, transfers, at_stores) in [(3, 5, false), (2, 4, true)] {
        let mut interleavings = BTreeSet::new();
        for &seed in &seeds {
            let report = shared_bank(SharedBankRun {
                seed,
                threads,
                transfers,
                at_stores,
                images_per_point: 64,
            });
            println!("seed {seed}, {threads} threads, at stores: {at_stores}: {report:?}");
            assert!(
                report.overlapping > 0 && report.committed > 0,
                "seed {seed}: {report:?}"
            );
            interleavings.insert(report.interleaving);
            totals.0 += report.crash_points;
            totals.1 += report.images;
        }
        assert!(
            seeds.len() == 1 || interleavings.len() > 1,
            "every seed interleaved the {threads} threads alike"
        );
    }
    println!(
        "{} seeds: {} crash points, {} images, in {:.1?}",
        seeds.len(),
        totals.0,
        totals.1,
        started.elapsed()
    );
}

/// A regression test: a shared transaction that allocated the first object of a new span
/// wrote the span's page-table entry and flushed it only at its own commit. Another
/// transaction could allocate the next slot of the span and commit a pointer to it first;
/// a crash then left a committed pointer into a span the heap did not know.
#[test]
fn an_object_in_a_span_another_running_transaction_created_survives_a_crash() {
    let simulation = Simulation::new();
    let path = ScratchFile::new("shared-span");
    let pool = PoolOptions::new()
        .size(1 << 16)
        .log_size(1 << 12)
        .lanes(2)
        .simulation(&simulation)
        .create(path.path(), SharedBank::opening())
        .expect("create");
    let record = |thread| Record {
        transfer: Move {
            thread,
            seq: 0,
            from: 0,
            to: 1,
            amount: 0,
        },
        next: PPtr::null(),
    };
    let (allocated, wait_for_allocation) = mpsc::channel();
    let (committed, wait_for_commit) = mpsc::channel();
    std::thread::scope(|scope| {
        let (pool, simulation) = (&pool, &simulation);
        scope.spawn(move || {
            pool.shared_txn(|tx| {
                tx.alloc(record(0)).expect("the span's first object");
                allocated.send(()).expect("send");
                wait_for_commit.recv().expect("recv");
                simulation.capture(true);
                // An entry fence: a crash point while this transaction runs, after the
                // other one's commit.
                *tx.lock(&tx.root().committed[0]) += 1;
            });
        });
        scope.spawn(move || {
            wait_for_allocation.recv().expect("recv");
            pool.shared_txn(|tx| {
                let second = tx.alloc(record(1)).expect("the span's second object");
                *tx.lock(&tx.root().records) = second;
            });
            committed.send(()).expect("send");
        });
    });
    simulation.capture(false);
    drop(pool);
    let points = simulation.take_crash_points();
    let image = ScratchFile::new("shared-span-image");
    let first = points
        .first()
        .expect("a crash point in the first transaction");
    std::fs::write(image.path(), first.durable()).expect("write the image");
    let pool =
        pmem_tests::open_collecting::<SharedBank>(image.path()).expect("open the crash image");
    let collection = &pmem_tests::collected_at_open(&pool);
    assert_eq!(
        collection.dangling_pointers, 0,
        "{:?}",
        collection.first_dangling
    );
    let head = pool.shared_txn(|tx| *tx.lock(&tx.root().records));
    let second = pool
        .shared_txn(|tx| tx.get(head).map(|record| record.transfer.thread))
        .expect("the committed record");
    assert_eq!(second, 1);
}

/// A regression test: the pool's heap lock was an OS mutex held across domain events (a
/// new type's record and fence, a new span's entry), at each of which the scheduler hands
/// the baton on. A scheduled thread that then allocated blocked on the mutex while its
/// holder waited for the baton: the run never ended.
#[test]
fn scheduled_threads_that_allocate_do_not_deadlock_on_the_heap() {
    const THREADS: usize = 2;
    for seed in 1..=4 {
        let simulation = Simulation::new();
        let path = ScratchFile::new("shared-heap-lock");
        let pool = Arc::new(
            PoolOptions::new()
                .size(1 << 16)
                .log_size(1 << 12)
                .lanes(THREADS as u32)
                .simulation(&simulation)
                .create(path.path(), SharedBank::opening())
                .expect("create"),
        );
        simulation.schedule(seed, THREADS);
        let (done, finished) = mpsc::channel();
        for thread in 0..THREADS {
            let (pool, simulation, done) = (Arc::clone(&pool), simulation.clone(), done.clone());
            // Not scoped: a deadlocked worker must not keep the test from failing.
            std::thread::spawn(move || {
                let _turn = simulation.join(thread);
                for seq in 0..3 {
                    pool.shared_txn(|tx| {
                        let record = tx
                            .alloc(Record {
                                transfer: Move {
                                    thread: thread as u64,
                                    seq,
                                    from: 0,
                                    to: 1,
                                    amount: 0,
                                },
                                next: PPtr::null(),
                            })
                            .expect("alloc");
                        let previous =
                            core::mem::replace(&mut *tx.lock(&tx.root().records), record);
                        tx.get_mut(record).expect("fresh").next = previous;
                    });
                }
                done.send(()).expect("send");
            });
        }
        for _ in 0..THREADS {
            finished
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("seed {seed}: the scheduled workers deadlocked"));
        }
    }
}
