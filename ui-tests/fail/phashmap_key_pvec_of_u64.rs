// Misuse: a `PHashMap` keyed by a vector of `u64`: of the vectors, only the byte string
// `PVec<u8>` is a key, hashed by its bytes.
use pmem::{PHashMap, PVec, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Root {
    seen: PHashMap<PVec<u64>, u64>,
}

fn create(path: &str) -> Result<Pool<Root>, pmem::Error> {
    Pool::create(path, Root { seen: PHashMap::new() })
}

fn main() {}
