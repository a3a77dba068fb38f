// Correct: a counter in a `PMutex`, incremented from scoped threads, each in its own shared transaction (`pool.shared_txn` borrows the pool by shared reference; `tx.lock` takes the lock until the commit is durable).
use pmem::{PMutex, Persistent, Pool, PoolOptions};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn hit_from_threads(pool: &Pool<Counter>) -> u64 {
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    pool.shared_txn(|tx| *tx.lock(&tx.root().hits) += 1);
                }
            });
        }
    });
    pool.shared_txn(|tx| *tx.lock(&tx.root().hits))
}

fn run(path: &std::path::Path) -> Result<(), pmem::Error> {
    let pool = PoolOptions::new().lanes(4).create(
        path,
        Counter {
            hits: PMutex::new(0),
        },
    )?;
    assert_eq!(hit_from_threads(&pool), 40);
    Ok(())
}

fn main() {
    let _ = run;
}
