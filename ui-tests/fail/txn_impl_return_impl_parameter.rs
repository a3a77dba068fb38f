// Misuse: a method of a `#[txn] impl<T>` block returning the block's `T`; if `T` is a `Result`, `#[txn]` cannot see its `Err` and would commit it.
use pmem::{PMut, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

struct Runner<T>(std::marker::PhantomData<T>);

#[pmem::txn]
impl<T> Runner<T> {
    fn run(&self, mut counter: PMut<'_, Counter>, then: impl FnOnce() -> T) -> T {
        counter.hits += 1;
        then()
    }
}

fn main() {}
