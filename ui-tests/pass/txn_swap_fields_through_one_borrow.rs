// Correct: swapping two fields of a `PMut` through one `&mut` to the whole struct (logged once), which Rust can split into disjoint field borrows.
use pmem::{PMut, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Pair {
    left: u64,
    right: u64,
}

#[pmem::txn]
fn swap_sides(mut pair: PMut<'_, Pair>) {
    let pair: &mut Pair = &mut pair;
    std::mem::swap(&mut pair.left, &mut pair.right);
}

fn main() {
    let _ = swap_sides;
}
