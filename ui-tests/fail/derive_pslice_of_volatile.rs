// Misuse: a `PSlice<Box<u64>>` field: a persistent slice's elements must be persistent too, and a `Box` is a volatile pointer.
use pmem::{PSlice, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Root {
    boxes: PSlice<Box<u64>>,
}

fn main() {}
