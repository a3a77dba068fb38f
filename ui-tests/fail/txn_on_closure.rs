// Misuse: `#[txn]` on a closure; attributes on expressions are not stable Rust, so use `pmem::txn_block!` inside the closure instead.
fn main() {
    let bump = #[pmem::txn]
    |counter: &mut u64| *counter += 1;
    let mut counter = 0;
    bump(&mut counter);
}
