// Misuse: a generic struct that has padding only for some arguments (`Pair<u8, u64>`), caught when that instantiation is used.
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Pair<A: Persistent, B: Persistent> {
    first: A,
    second: B,
}

fn main() {
    let _ = <Pair<u64, u64> as Persistent>::LAYOUT_HASH;
    let _ = <Pair<u8, u64> as Persistent>::LAYOUT_HASH;
}
