// Misuse: an `async fn` inside a `#[txn] impl` block; every method becomes transactional, and a transaction cannot span an `.await`.
struct S;

#[pmem::txn]
impl S {
    async fn f(&self) {}
}

fn main() {}
