// Misuse: a `PMutex<u32>` in a pool; the 4-byte value after the 8-byte lock word leaves 4 bytes of padding, which undo logging and checksums would read undefined (store a `u64`, or pad the value to a multiple of 8).
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u32>,
}

fn main() {
    let _ = Pool::create(
        "/nonexistent/pmutex_padding.pool",
        Counter {
            hits: PMutex::new(0),
        },
    );
}
