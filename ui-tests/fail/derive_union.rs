// Misuse: deriving `Persistent` on a union (no one can tell which field is live).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
union Word {
    int: u64,
    float: f64,
}

fn main() {}
