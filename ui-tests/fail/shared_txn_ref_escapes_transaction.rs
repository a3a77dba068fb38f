// Misuse: returning a reference obtained from `tx.root()` out of `pool.shared_txn`; a shared transaction's references end with it, as an exclusive one's do.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn leak(pool: &Pool<Counter>) -> &PMutex<u64> {
    pool.shared_txn(|tx| &tx.root().hits)
}

fn main() {}
