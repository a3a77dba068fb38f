// Misuse: a `&'static mut u64` field (an address, meaningless after a restart, and a store through it would bypass the undo log).
#[derive(pmem::Persistent)]
#[repr(C)]
struct Cursor {
    position: &'static mut u64,
}

fn main() {}
