// Misuse: a const parameter named like a variable of the derive's generated code (`hash`), which a `let` there could not shadow.
use pmem::Persistent;

#[allow(non_upper_case_globals)]
#[derive(Persistent)]
#[repr(C)]
struct Blob<const hash: usize> {
    bytes: [u8; hash],
}

fn main() {}
