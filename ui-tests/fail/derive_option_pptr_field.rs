// Misuse: an `Option<PPtr<T>>` field (a `PPtr` is nullable itself: `PPtr::null()`).
use pmem::{PPtr, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Node {
    value: u64,
    next: Option<PPtr<Node>>,
}

fn main() {}
