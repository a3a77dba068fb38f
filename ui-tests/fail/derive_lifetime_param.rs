// Misuse: a `Persistent` struct with a lifetime parameter (a persistent value cannot borrow).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct View<'a> {
    data: &'a u64,
}

fn main() {}
