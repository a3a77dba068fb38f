// Misuse: `#[repr(align(N))]` alone does not fix the field order; `#[repr(C)]` is still needed.
use pmem::Persistent;

#[derive(Persistent)]
#[repr(align(64))]
struct Line {
    words: [u64; 8],
}

fn main() {}
