// Misuse: moving a `PMut` from `tx.lock` into another thread; the lock and the undo log belong to the transaction's thread, so a store from another would be logged in no transaction.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn hit_elsewhere(pool: &Pool<Counter>) {
    pool.shared_txn(|tx| {
        let mut hits = tx.lock(&tx.root().hits);
        // A scoped thread, so that `Send` is the only bound broken (`thread::spawn` would
        // also need `'static`, which the borrow of `tx` breaks too).
        std::thread::scope(|scope| {
            scope.spawn(move || {
                *hits += 1;
            });
        });
    });
}

fn main() {}
