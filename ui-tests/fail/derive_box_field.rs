// Misuse: a `Box<u64>` field (a volatile heap pointer, meaningless after a restart).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: Box<u64>,
}

fn main() {}
