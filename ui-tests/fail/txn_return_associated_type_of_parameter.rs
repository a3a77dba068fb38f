// Misuse: a `#[txn]` function returning `S::Out` of a type parameter; it may be a `Result`, whose `Err` `#[txn]` cannot see there and would commit.
trait Step {
    type Out;

    fn run(&mut self) -> Self::Out;
}

#[pmem::txn]
fn run_step<S: Step>(step: &mut S) -> S::Out {
    step.run()
}

fn main() {}
