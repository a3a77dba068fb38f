// Correct: a `#[txn]` function called with `&mut *account`, a `PMut` from `tx.lock`, inside a shared transaction; its stores land in the locked value, which the transaction owns.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Account {
    balance: u64,
    deposits: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Bank {
    accounts: [PMutex<Account>; 2],
}

#[pmem::txn]
fn deposit(account: &mut Account, amount: u64) {
    account.balance += amount;
    account.deposits += 1;
}

fn deposit_shared(pool: &Pool<Bank>, index: usize, amount: u64) {
    pool.shared_txn(|tx| {
        let mut account = tx.lock(&tx.root().accounts[index]);
        deposit(&mut *account, amount);
    });
}

fn main() {
    let _ = deposit_shared;
}
