// Misuse: a `Cell<u64>` field (interior mutability would bypass the undo log).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: std::cell::Cell<u64>,
}

fn main() {}
