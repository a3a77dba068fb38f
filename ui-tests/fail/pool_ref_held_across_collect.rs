// Misuse: a reference into the pool held across a collection, which may free and reuse the object's memory.
use pmem::{PPtr, Pool};

fn read_across_collection(pool: &mut Pool<PPtr<u64>>) -> u64 {
    let number = pool.get(*pool.root()).unwrap();
    pool.collect().unwrap();
    *number
}

fn main() {}
