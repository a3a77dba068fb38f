// Correct: a `Pool` moved to another thread between transactions (the transaction, not the pool, belongs to one thread).
use pmem::{Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit_elsewhere(mut pool: Pool<Counter>) -> Pool<Counter> {
    std::thread::spawn(move || {
        pool.txn(|tx| tx.root_mut().hits += 1);
        pool
    })
    .join()
    .unwrap()
}

fn main() {
    let _ = hit_elsewhere;
}
