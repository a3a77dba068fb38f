// Misuse: reading a `PMut` from `tx.lock` in another thread through a reference; the value is locked for the transaction's thread only, and another thread's transaction may not see it.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn peek_elsewhere(pool: &Pool<Counter>) {
    pool.shared_txn(|tx| {
        let hits = tx.lock(&tx.root().hits);
        let hits = &hits;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let _ = **hits;
            });
        });
    });
}

fn main() {}
