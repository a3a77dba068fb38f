// The brief's example: field and element stores through a `PMut`, a compound assignment,
// and an `Err` that rolls the transaction back.
fn transfer(mut bank: PMut<'_, Bank>, from: usize, to: usize, amount: u64) -> Result<(), Insufficient> {
    if bank.accounts[from].balance < amount {
        return Err(Insufficient);
    }
    bank.accounts[from].balance -= amount;
    bank.accounts[to].balance += amount;
    bank.transfers = bank.transfers + 1;
    Ok(())
}
