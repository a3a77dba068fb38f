// Correct: `tx.try_lock(..)?` inside `pool.try_shared_txn` returning `pmem::Error`; a busy lock (`Error::LockBusy`) rolls the transaction back and releases its locks, so the caller can retry.
use pmem::{Error, PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Bank {
    accounts: [PMutex<u64>; 2],
}

fn transfer(pool: &Pool<Bank>, from: usize, to: usize, amount: u64) -> Result<bool, Error> {
    pool.try_shared_txn(|tx| {
        let bank = tx.root();
        let mut source = tx.try_lock(&bank.accounts[from])?;
        if *source < amount {
            return Ok(false);
        }
        *source -= amount;
        *tx.try_lock(&bank.accounts[to])? += amount;
        Ok(true)
    })
}

fn transfer_retrying(pool: &Pool<Bank>, from: usize, to: usize, amount: u64) -> bool {
    loop {
        match transfer(pool, from, to, amount) {
            Err(Error::LockBusy { .. }) => std::thread::yield_now(),
            done => return done.unwrap(),
        }
    }
}

fn main() {
    let _ = transfer_retrying;
}
