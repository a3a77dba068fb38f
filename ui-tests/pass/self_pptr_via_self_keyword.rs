// Correct: `PPtr<Self>` written with the `Self` keyword inside the struct definition.
use pmem::{PPtr, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct List {
    head: u64,
    tail: PPtr<Self>,
}

fn main() {
    let _ = <List as Persistent>::LAYOUT_HASH;
    let list = List {
        head: 1,
        tail: PPtr::null(),
    };
    assert!(list.tail.is_null() && list.head == 1);
}
