// Misuse: storing into a pool through `pool.root()` (a shared `&R`); `#[txn]` does not make the root writable, only `tx.root_mut()` inside `pool.txn` does.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

#[pmem::txn]
fn hit(pool: &mut pmem::Pool<Counter>) {
    pool.root().hits += 1;
}

fn main() {}
