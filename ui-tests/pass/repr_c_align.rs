// Correct: `#[repr(C, align(64))]` for a cache-line-sized struct without padding.
use pmem::Persistent;

#[derive(Persistent)]
#[repr(C, align(64))]
struct Line {
    words: [u64; 8],
}

fn main() {
    assert_eq!(core::mem::size_of::<Line>(), 64);
    assert_eq!(Line { words: [0; 8] }.words.len(), 8);
    let _ = <Line as Persistent>::LAYOUT_HASH;
}
