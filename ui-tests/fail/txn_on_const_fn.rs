// Misuse: `#[txn]` on a `const fn`, which may run at compile time, where there is no pool to log into.
#[pmem::txn]
const fn zero_balance() -> u64 {
    0
}

fn main() {}
