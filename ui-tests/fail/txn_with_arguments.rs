// Misuse: `#[txn(precise)]` passes an argument; `#[txn]` takes none (every rewritten store already logs only its own bytes).
#[pmem::txn(precise)]
fn credit(balance: &mut u64) {
    *balance += 1;
}

fn main() {}
