// Misuse: a `#[repr(C, packed)]` struct (references to its fields could be misaligned).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C, packed)]
struct Record {
    tag: u8,
    value: u64,
}

fn main() {}
