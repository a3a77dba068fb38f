// Misuse: storing into an object through `pool.get(ptr)`, a shared `&T`; stores go through `tx.get_mut(ptr)` inside a transaction, which logs them.
use pmem::{PPtr, Pool};

#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit(pool: &Pool<PPtr<Counter>>) {
    pool.get(*pool.root()).unwrap().hits += 1;
}

fn main() {}
