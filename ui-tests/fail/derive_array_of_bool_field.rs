// Misuse: a `[bool; 4]` field (an array is only as persistent as its element).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: [bool; 4],
}

fn main() {}
