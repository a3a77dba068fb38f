// Misuse: a struct with padding bytes (7 bytes after `tag`, which undo logging would read undefined).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Record {
    tag: u8,
    value: u64,
}

fn main() {}
