// Misuse: a struct with trailing padding (7 bytes after `tag` to round the size up to 16).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Record {
    value: u64,
    tag: u8,
}

fn main() {}
