// Correct: a `#[repr(C)]` struct of a `u64` and a persistent pointer to its own type.
use pmem::{PPtr, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

fn main() {
    let node = Node {
        value: 7,
        next: PPtr::null(),
    };
    assert_eq!(node.value, 7);
    assert!(node.next.is_null());
    assert_ne!(
        <Node as Persistent>::LAYOUT_HASH,
        <u64 as Persistent>::LAYOUT_HASH
    );
}
