// Misuse: asking the pool itself for `root_mut()`; a writable root exists only inside `pool.txn`, through the transaction token.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit(pool: &mut pmem::Pool<Counter>) {
    pool.root_mut().hits += 1;
}

fn main() {}
