//! Misuse: a map keyed by a persistent pointer would compare and hash its keys as
//! offsets, which `pmem gc --compact` changes: refused where the map is made.

use pmem::{PHashMap, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Item {
    value: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Index {
    position: PHashMap<PPtr<Item>, u64>,
}

fn create(path: &str) -> Result<Pool<Index>, pmem::Error> {
    Pool::create(path, Index { position: PHashMap::new() })
}

fn main() {
    let _ = create("/dev/shm/never.pool");
}
