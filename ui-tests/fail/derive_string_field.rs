// Misuse: a `String` field (a volatile heap pointer, meaningless after a restart).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: String,
}

fn main() {}
