// Misuse: `Self` returned from a `#[txn]` blanket `impl<T> ... for T`; `Self` may be a `Result`, whose `Err` `#[txn]` cannot see there and would commit.
trait Restart {
    fn restart(&mut self) -> Self;
}

#[pmem::txn]
impl<T: Default> Restart for T {
    fn restart(&mut self) -> Self {
        std::mem::take(self)
    }
}

fn main() {}
