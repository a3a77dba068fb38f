// Misuse: `#[txn]` on a trait method without a body; there is no code to run in a transaction, so mark the implementations.
trait Bump {
    #[pmem::txn]
    fn bump(&mut self);
}

fn main() {}
