// Misuse: a `PPtr<String>` field (a persistent pointer to a type that cannot live in the pool).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: pmem::PPtr<String>,
}

fn main() {}
