// Misuse: a `*const u8` field (an address, meaningless after a restart).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: *const u8,
}

fn main() {}
