// Misuse: `#[txn = "..."]`, a malformed attribute; `#[txn]` is written without arguments.
#[pmem::txn = "logged"]
fn bump(counter: &mut u64) {
    *counter += 1;
}

fn main() {}
