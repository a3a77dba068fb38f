// Misuse: a `fn()` field (a code address, meaningless after a restart or rebuild).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: fn(),
}

fn main() {}
