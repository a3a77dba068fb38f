// Misuse: two `&mut` into one `PMut` at once; each `&mut` place logs and borrows its whole base, so narrow one field first.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Pair {
    left: u64,
    right: u64,
}

#[pmem::txn]
fn swap_sides(mut pair: pmem::PMut<'_, Pair>) {
    std::mem::swap(&mut pair.left, &mut pair.right);
}

fn main() {}
