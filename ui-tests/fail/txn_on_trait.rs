// Misuse: `#[txn]` on a trait; only code runs in a transaction, so mark the `impl` blocks or the methods with bodies.
#[pmem::txn]
trait Bump {
    fn bump(&mut self);
}

fn main() {}
