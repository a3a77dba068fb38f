// Misuse: a `Vec<u8>` field (a volatile heap pointer, meaningless after a restart).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: Vec<u8>,
}

fn main() {}
