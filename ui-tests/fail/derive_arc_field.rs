// Misuse: an `Arc<u64>` field (a volatile reference-counted pointer).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: std::sync::Arc<u64>,
}

fn main() {}
