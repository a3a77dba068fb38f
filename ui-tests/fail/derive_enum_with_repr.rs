// Misuse: deriving `Persistent` on a `#[repr(u8)]` enum; a fixed representation does not make every bit pattern a valid variant.
#[derive(pmem::Persistent)]
#[repr(u8)]
enum Colour {
    Red = 1,
    Green = 2,
}

fn main() {}
