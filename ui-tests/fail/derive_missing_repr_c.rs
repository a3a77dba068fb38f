// Misuse: a `Persistent` struct without `#[repr(C)]` (the default Rust layout is not stable).
use pmem::Persistent;

#[derive(Persistent)]
struct Account {
    balance: u64,
}

fn main() {}
