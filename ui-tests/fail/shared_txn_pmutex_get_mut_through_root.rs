// Misuse: `PMutex::get_mut` through the `&PMutex` that `tx.root()` gives in a shared transaction; `get_mut` skips the lock, so it needs `&mut` (an exclusive transaction's `tx.root_mut()`): in a shared one, lock with `tx.lock`.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn hit(pool: &Pool<Counter>) {
    pool.shared_txn(|tx| *tx.root().hits.get_mut() += 1);
}

fn main() {}
