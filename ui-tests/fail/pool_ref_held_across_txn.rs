// Misuse: a reference into the pool held across a transaction, which may change (or roll back) the bytes it points at.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn stale_read(pool: &mut pmem::Pool<Counter>) -> u64 {
    let root = pool.root();
    pool.txn(|tx| tx.root_mut().hits += 1);
    root.hits
}

fn main() {}
