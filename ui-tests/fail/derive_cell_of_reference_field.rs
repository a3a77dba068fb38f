// Misuse: a `Cell<&'static u64>` field (a volatile address behind interior mutability).
use std::cell::Cell;

#[derive(pmem::Persistent)]
#[repr(C)]
struct Cache {
    last: Cell<&'static u64>,
}

fn main() {}
