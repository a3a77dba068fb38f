// Correct: a unit struct and an empty braced struct (no fields, no padding).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Marker;

#[derive(Persistent)]
#[repr(C)]
struct Nothing {}

fn main() {
    let (_, _) = (Marker, Nothing {});
    let _ = <Marker as Persistent>::LAYOUT_HASH;
    let _ = <Nothing as Persistent>::LAYOUT_HASH;
}
