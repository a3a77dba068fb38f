// Correct: `PMutex::get_mut` inside an exclusive `pool.txn`, through `tx.root_mut()`; the transaction has the pool to itself (`&mut Pool`), so it reaches the value without locking, and the `PMut` logged it.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
    resets: u64,
}

fn reset(pool: &mut Pool<Counter>) {
    pool.txn(|tx| {
        let mut root = tx.root_mut();
        *root.hits.get_mut() = 0;
        root.resets += 1;
    });
}

fn main() {
    let _ = reset;
}
