// Misuse: a `name` that is not a `::`-separated path (a typo here would silently change the identity).
use pmem::Persistent;

#[derive(Persistent)]
#[persistent(name = "bank:Account")]
#[repr(C)]
struct Account {
    balance: u64,
}

fn main() {}
