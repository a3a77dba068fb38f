// Misuse: holding two `PMut`s from two `tx.lock` calls at once; each `PMut` borrows the transaction mutably (so that two never reach one value), so take one, use it and drop it, then take the next: the first lock stays held until the transaction ends.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Bank {
    accounts: [PMutex<u64>; 2],
}

fn transfer(pool: &Pool<Bank>) {
    pool.shared_txn(|tx| {
        let bank = tx.root();
        let mut from = tx.lock(&bank.accounts[0]);
        let mut to = tx.lock(&bank.accounts[1]);
        *from -= 1;
        *to += 1;
    });
}

fn main() {}
