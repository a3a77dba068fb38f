// Misuse: a `#[txn]` default method returning `Self::Out`; the implementation may make it a `Result`, whose `Err` `#[txn]` cannot see there and would commit.
trait Step {
    type Out;

    fn run(&mut self) -> Self::Out;

    #[pmem::txn]
    fn run_logged(&mut self) -> Self::Out {
        self.run()
    }
}

fn main() {}
