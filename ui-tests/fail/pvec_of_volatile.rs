// Misuse: a `PVec<String>`: a persistent vector's elements live in the pool, and a `String` is a volatile heap pointer.
use pmem::{PVec, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Root {
    names: PVec<String>,
}

fn main() {}
