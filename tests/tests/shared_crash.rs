//! Shared pools crashed with several transactions in flight (see
//! `pmem_tests::shared_workloads`), and regression tests of the faults that found.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use pmem::simulation::{ScratchFile, Simulation};
use pmem::{PPtr, PoolOptions};
use pmem_tests::shared_workloads::{Move, Record, SharedBank};

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
