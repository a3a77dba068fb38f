// Misuse: assigning to a field of `tx.root()` in a shared transaction; other threads read the root at the same time, so data reachable from a shared pool changes only behind a `PMutex` the transaction locks.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit(pool: &pmem::Pool<Counter>) {
    pool.shared_txn(|tx| tx.root().hits += 1);
}

fn main() {}
