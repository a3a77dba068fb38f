// Misuse: a tuple struct holding a `Box<u64>` (a volatile heap pointer, meaningless after a restart).
#[derive(pmem::Persistent)]
#[repr(C)]
struct Holder(u64, Box<u64>);

fn main() {}
