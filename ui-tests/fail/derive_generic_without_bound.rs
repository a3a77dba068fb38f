// Misuse: a generic field `T` without a `T: Persistent` bound.
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Slot<T> {
    value: T,
}

fn main() {}
