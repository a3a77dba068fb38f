// Correct: an `Arc<Pool>` moved into `std::thread::spawn` workers, each running shared transactions (`Pool<R>` is `Send` and `Sync` when `R` is, and a `Persistent` root always is).
use std::sync::Arc;

use pmem::{PMutex, Persistent, Pool, PoolOptions};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn hit_from_workers(pool: Arc<Pool<Counter>>) -> u64 {
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                for _ in 0..10 {
                    pool.shared_txn(|tx| *tx.lock(&tx.root().hits) += 1);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    pool.shared_txn(|tx| *tx.lock(&tx.root().hits))
}

fn run(path: &std::path::Path) -> Result<(), pmem::Error> {
    let pool = PoolOptions::new().lanes(2).create(
        path,
        Counter {
            hits: PMutex::new(0),
        },
    )?;
    assert_eq!(hit_from_workers(Arc::new(pool)), 40);
    Ok(())
}

fn main() {
    let _ = run;
}
