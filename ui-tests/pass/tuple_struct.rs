// Correct: a `#[repr(C)]` tuple struct with fields in decreasing alignment.
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Entry(u64, u32, u16, u8, u8);

fn main() {
    let entry = Entry(1, 2, 3, 4, 5);
    assert_eq!(
        entry.0 + entry.1 as u64 + entry.2 as u64 + entry.3 as u64 + entry.4 as u64,
        15
    );
    let _ = <Entry as Persistent>::LAYOUT_HASH;
}
