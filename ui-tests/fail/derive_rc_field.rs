// Misuse: an `Rc<u64>` field (a volatile reference-counted pointer).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Node {
    key: u64,
    value: std::rc::Rc<u64>,
}

fn main() {}
