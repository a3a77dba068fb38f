// Correct: the gap after a `u8` filled with an explicit `[u8; 7]` field, so the struct has no padding.
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C)]
struct Record {
    tag: u8,
    _reserved: [u8; 7],
    value: u64,
}

fn main() {
    let record = Record {
        tag: 1,
        _reserved: [0; 7],
        value: 2,
    };
    assert_eq!(record.tag as u64 + record.value, 3);
    assert_eq!(record._reserved, [0; 7]);
    let _ = <Record as Persistent>::LAYOUT_HASH;
}
