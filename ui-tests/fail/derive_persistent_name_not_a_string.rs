// Misuse: a `name` that is a Rust path rather than a string (the identity is hashed from text).
use pmem::Persistent;

#[derive(Persistent)]
#[persistent(name = bank::Account)]
#[repr(C)]
struct Account {
    balance: u64,
}

fn main() {}
