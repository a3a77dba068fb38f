// Misuse: implementing the unsafe trait `Persistent` by hand without `unsafe impl`.
use pmem::Persistent;

#[repr(C)]
struct Raw {
    bits: u64,
}

impl Persistent for Raw {
    const NAME_HASH: u64 = 1;
    const LAYOUT_HASH: u64 = 2;
}

fn main() {}
