// Misuse: a `&'static u64` field (an address, meaningless after a restart).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: &'static u64,
}

fn main() {}
