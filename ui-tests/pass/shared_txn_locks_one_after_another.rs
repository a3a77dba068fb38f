// Correct: two locks in one shared transaction, each `PMut` dropped before the next `tx.lock` (every `PMut` borrows the transaction); both locks stay held until the commit is durable, and taking one again is free.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Bank {
    accounts: [PMutex<u64>; 2],
}

fn transfer(pool: &Pool<Bank>, amount: u64) -> bool {
    pool.shared_txn(|tx| {
        let bank = tx.root();
        let source = tx.lock(&bank.accounts[0]);
        if *source < amount {
            return false;
        }
        drop(source);
        *tx.lock(&bank.accounts[1]) += amount;
        // Still held by this transaction: relocking does not wait.
        *tx.lock(&bank.accounts[0]) -= amount;
        true
    })
}

fn main() {
    let _ = transfer;
}
