// Misuse: a bare `#[persistent]` names no identity: the attribute exists only to give `name = "path::Type"`.
use pmem::Persistent;

#[derive(Persistent)]
#[persistent]
#[repr(C)]
struct Account {
    balance: u64,
}

fn main() {}
