// Misuse: an `Option<u64>` field (the discriminant could hold any bit pattern).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: Option<u64>,
}

fn main() {}
