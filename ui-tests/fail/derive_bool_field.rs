// Misuse: a `bool` field (not every bit pattern is a valid `bool`).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: bool,
}

fn main() {}
