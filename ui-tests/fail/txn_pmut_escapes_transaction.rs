// Misuse: returning a `PMut` out of `pool.txn`; it would allow unlogged stores after the transaction has committed.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn leak(pool: &mut pmem::Pool<Counter>) {
    let root = pool.txn(|tx| tx.root_mut());
    let _ = root;
}

fn main() {}
