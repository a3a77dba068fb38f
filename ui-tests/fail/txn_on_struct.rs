// Misuse: `#[txn]` on a struct; only code runs in a transaction, so it applies to functions, methods and `impl` blocks.
#[pmem::txn]
struct Account {
    balance: u64,
}

fn main() {}
