// Misuse: returning a reference obtained from `tx.root()` out of `pool.txn`; a transaction's references end with it.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn leak(pool: &mut pmem::Pool<Counter>) -> &u64 {
    pool.txn(|tx| &tx.root().hits)
}

fn main() {}
