// Correct: persistent structs nested inside persistent structs, and all the numeric primitives.
use pmem::{PPtr, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Numbers {
    a: u128,
    b: i128,
    c: u64,
    d: i64,
    e: f64,
    f: usize,
    g: isize,
    h: u32,
    i: i32,
    j: f32,
    k: u16,
    l: i16,
    m: u8,
    n: i8,
    o: [u8; 6],
}

#[derive(Persistent)]
#[repr(C)]
struct Outer {
    numbers: Numbers,
    unit: (),
    link: PPtr<Outer>,
    _pad: u64,
}

fn main() {
    let _ = <Outer as Persistent>::LAYOUT_HASH;
}
