// Misuse: a `char` field (not every bit pattern is a valid `char`).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: char,
}

fn main() {}
