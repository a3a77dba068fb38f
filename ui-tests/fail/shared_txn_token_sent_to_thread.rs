// Misuse: moving a shared transaction's token `tx` into another thread; the transaction's lane, log and locks belong to the thread that runs `pool.shared_txn` (other threads run their own shared transactions).
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn hit_elsewhere(pool: &Pool<Counter>) {
    pool.shared_txn(|tx| {
        // A scoped thread, so that `Send` is the only bound broken.
        std::thread::scope(|scope| {
            scope.spawn(move || {
                *tx.lock(&tx.root().hits) += 1;
            });
        });
    });
}

fn main() {}
