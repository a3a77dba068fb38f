// Misuse: a `#[txn]` default method returning `Self`; `Self` may be a `Result`, whose `Err` `#[txn]` cannot see there and would commit.
trait Restart: Sized {
    fn fresh() -> Self;

    #[pmem::txn]
    fn restart(&mut self) -> Self {
        std::mem::replace(self, Self::fresh())
    }
}

fn main() {}
