// Correct: `#[txn]` on free functions, on an `impl` block and around a `txn_block!`, with stores through a `PMut` (assignments, `+=`, `&mut` places), `?`, early returns, `impl Trait` returns and `where` clauses.
use pmem::{PMut, Persistent, Pool};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Account {
    balance: u64,
    deposits: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Bank {
    accounts: [Account; 4],
    transfers: u64,
}

#[derive(Debug)]
enum TransferError {
    Insufficient,
    SameAccount,
}

fn check(from: usize, to: usize) -> Result<(), TransferError> {
    if from == to {
        Err(TransferError::SameAccount)
    } else {
        Ok(())
    }
}

/// Not `#[txn]`: it receives a plain `&mut` into the pool, already logged by the caller.
fn deposit(account: &mut Account, amount: u64) {
    account.balance += amount;
    account.deposits += 1;
}

#[pmem::txn]
fn transfer(
    mut bank: PMut<'_, Bank>,
    i: usize,
    j: usize,
    amount: u64,
) -> Result<(), TransferError> {
    check(i, j)?;
    if bank.accounts[i].balance < amount {
        return Err(TransferError::Insufficient);
    }
    bank.accounts[i].balance = bank.accounts[i].balance - amount;
    deposit(&mut bank.accounts[j], amount);
    bank.transfers += 1;
    Ok(())
}

#[pmem::txn]
fn balances(bank: PMut<'_, Bank>) -> impl Iterator<Item = u64> {
    let balances: Vec<u64> = bank
        .accounts
        .iter()
        .map(|account| account.balance)
        .collect();
    balances.into_iter()
}

#[pmem::txn]
fn set_all<T>(mut bank: PMut<'_, Bank>, value: T)
where
    T: Into<u64> + Copy,
{
    for index in 0..4 {
        bank.accounts[index].balance = value.into();
    }
}

struct Teller {
    served: u64,
}

#[pmem::txn]
impl Teller {
    fn serve(&mut self, mut bank: PMut<'_, Bank>, account: usize) {
        self.served += 1;
        bank.accounts[account].deposits += 1;
    }

    fn credit_all<A: Into<u64> + Copy>(&self, mut bank: PMut<'_, Bank>, amount: A) {
        for index in 0..4 {
            bank.accounts[index].balance += amount.into();
        }
    }
}

#[allow(dead_code)]
fn run(pool: &mut Pool<Bank>) -> Result<u64, TransferError> {
    let mut teller = Teller { served: 0 };
    pool.txn(|tx| {
        set_all(tx.root_mut(), 100u32);
        transfer(tx.root_mut(), 0, 1, 30)?;
        teller.serve(tx.root_mut(), 2);
        teller.credit_all(tx.root_mut(), 5u8);
        let total: u64 = balances(tx.root_mut()).sum();
        let mut bank = tx.root_mut();
        pmem::txn_block! {
            bank.accounts[3].balance -= 1;
            bank.transfers += 1;
        }
        Ok(total)
    })
}

fn main() {}
