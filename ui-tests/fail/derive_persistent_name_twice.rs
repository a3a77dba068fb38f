// Misuse: two `name`s: a type has one identity.
use pmem::Persistent;

#[derive(Persistent)]
#[persistent(name = "bank::Account")]
#[persistent(name = "ledger::Account")]
#[repr(C)]
struct Account {
    balance: u64,
}

fn main() {}
