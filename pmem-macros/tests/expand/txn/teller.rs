// `#[txn]` on an `impl` block instruments each method; `&mut self` is volatile (the
// reference was logged when it was made), so its stores are left alone.
impl Teller {
    fn deposit(&mut self, mut account: PMut<'_, Account>, amount: u64) {
        account.balance += amount;
        self.served += 1;
    }
}
