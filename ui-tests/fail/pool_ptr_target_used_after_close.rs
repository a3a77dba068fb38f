// Misuse: an object read through a persistent pointer, then used after its pool is closed.
use pmem::{PPtr, Pool};

fn read_after_close(pool: Pool<PPtr<u64>>) -> u64 {
    let number = pool.get(*pool.root()).unwrap();
    pool.close();
    *number
}

fn main() {}
