// Correct: nested arrays of persistent elements, including arrays of persistent structs and pointers.
use pmem::{PPtr, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Cell {
    value: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Grid {
    cells: [[Cell; 4]; 4],
    bytes: [[[u8; 2]; 3]; 4],
    links: [PPtr<Grid>; 2],
}

fn main() {
    assert_eq!(core::mem::size_of::<Grid>(), 16 * 8 + 24 + 16);
    let _ = <Grid as Persistent>::LAYOUT_HASH;
}
