// Misuse: implementing `Drop` for a `Persistent` type (the collector reclaims objects, never drops them).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Handle {
    id: u64,
}

impl Drop for Handle {
    fn drop(&mut self) {}
}

fn main() {}
