// Correct: `#[txn]` on an `impl` block of a trait, and on a default method that has a body.
use pmem::{PMut, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
    resets: u64,
}

trait Tally {
    fn bump(&mut self);

    #[pmem::txn]
    fn bump_twice(&mut self) {
        self.bump();
        self.bump();
    }
}

#[pmem::txn]
impl Tally for PMut<'_, Counter> {
    fn bump(&mut self) {
        self.hits += 1;
    }
}

fn main() {
    let _ = <PMut<'_, Counter> as Tally>::bump_twice;
}
