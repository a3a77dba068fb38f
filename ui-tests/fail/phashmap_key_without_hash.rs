// Misuse: a `PHashMap` whose key type is not `Hash` (nor `Copy`): lookups could not find it again.
use pmem::{PHashMap, Persistent, Pool};

#[derive(Persistent, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
struct Point {
    x: u64,
    y: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Root {
    seen: PHashMap<Point, u64>,
}

fn create(path: &str) -> Result<Pool<Root>, pmem::Error> {
    Pool::create(path, Root { seen: PHashMap::new() })
}

fn main() {}
