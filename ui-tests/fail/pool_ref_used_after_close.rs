// Misuse: a reference into the pool used after the pool is closed (its memory is unmapped by then).
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn read_after_close(pool: pmem::Pool<Counter>) -> u64 {
    let root = pool.root();
    pool.close();
    root.hits
}

fn main() {}
