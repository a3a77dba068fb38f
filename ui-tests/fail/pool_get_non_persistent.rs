// Misuse: reading a `PPtr<&'static str>` through a pool (a persistent pointer to a volatile reference).
use pmem::{PPtr, Pool};

fn read(pool: &Pool<u64>) {
    let _ = pool.get(PPtr::<&'static str>::null());
}

fn main() {}
