// Misuse: `#[txn]` on an `async fn`; a transaction is tied to one thread and cannot stay open across an `.await`.
#[pmem::txn]
async fn credit(balance: &mut u64) {
    *balance += 1;
}

fn main() {}
