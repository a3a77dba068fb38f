// Misuse: a `Persistent` struct with a const generic parameter (not supported by the derive).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Buffer<const N: usize> {
    bytes: [u64; N],
}

fn main() {}
