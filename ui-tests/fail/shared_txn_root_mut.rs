// Misuse: asking a shared transaction for `root_mut()`; a shared transaction has no writable root (other threads read it at the same time), only the `PMutex`es in it, through `tx.lock`.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit(pool: &pmem::Pool<Counter>) {
    pool.shared_txn(|tx| tx.root_mut().hits += 1);
}

fn main() {}
