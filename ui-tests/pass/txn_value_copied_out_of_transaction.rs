// Correct: values copied out of a transaction (not references into the pool, which end with it), and objects changed through `tx.get_mut`.
use pmem::{PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit(pool: &mut Pool<PPtr<Counter>>) -> Result<u64, pmem::Error> {
    pool.try_txn(|tx| {
        let counter = *tx.root();
        let mut counter = tx.get_mut(counter)?;
        counter.hits += 1;
        Ok(counter.hits)
    })
}

fn read_then_collect(pool: &mut Pool<PPtr<Counter>>) -> Result<Counter, pmem::Error> {
    let counter = *pool.get(*pool.root())?;
    pool.collect()?;
    Ok(counter)
}

fn main() {
    let _ = (hit, read_then_collect);
}
