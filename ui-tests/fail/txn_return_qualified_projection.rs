// Misuse: a `#[txn]` function returning `<S as Step>::Out`; it may be a `Result`, whose `Err` `#[txn]` cannot see there and would commit.
trait Step {
    type Out;

    fn run(&mut self) -> Self::Out;
}

#[pmem::txn]
fn run_step<S: Step>(step: &mut S) -> <S as Step>::Out {
    step.run()
}

fn main() {}
