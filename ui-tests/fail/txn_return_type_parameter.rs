// Misuse: a `#[txn]` function returning a bare type parameter; if `T` is a `Result`, `#[txn]` cannot see its `Err` and would commit it, so spell the return type `Result<_, _>`.
use pmem::{PMut, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

#[pmem::txn]
fn count_then<T>(mut counter: PMut<'_, Counter>, then: impl FnOnce() -> T) -> T {
    counter.hits += 1;
    then()
}

fn main() {}
