// Misuse: an option `#[persistent]` does not have (a misspelt `name` would silently change the identity).
use pmem::Persistent;

#[derive(Persistent)]
#[persistent(rename = "bank::Account")]
#[repr(C)]
struct Account {
    balance: u64,
}

fn main() {}
