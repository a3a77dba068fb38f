// Misuse: an `AtomicU64` field (interior mutability would bypass the undo log).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: std::sync::atomic::AtomicU64,
}

fn main() {}
