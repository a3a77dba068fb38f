// Misuse: `impl Trait` returned by a generic `#[txn]` function; the hidden type may be the type parameter, and if it is a `Result`, `#[txn]` cannot see its `Err` and would commit it.
use pmem::{PMut, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

#[pmem::txn]
fn count_then<T: std::fmt::Debug>(
    mut counter: PMut<'_, Counter>,
    then: impl FnOnce() -> T,
) -> impl std::fmt::Debug {
    counter.hits += 1;
    then()
}

fn main() {}
