// Misuse: a field whose type is a plain struct that does not derive `Persistent`.
use pmem::Persistent;

#[repr(C)]
struct Point {
    x: u64,
    y: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Segment {
    start: Point,
    end: Point,
}

fn main() {}
