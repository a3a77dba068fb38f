// Correct: allocating a `PMutex<T>` with `tx.alloc(PMutex::new(..))` in a shared transaction and publishing its pointer under a lock; a later shared transaction reads the pointer under that lock and locks the new `PMutex` through `tx.get(ptr)?`.
use pmem::{PMutex, PPtr, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Registry {
    counter: PMutex<PPtr<PMutex<u64>>>,
}

fn add_counter(pool: &Pool<Registry>) -> Result<PPtr<PMutex<u64>>, pmem::Error> {
    pool.try_shared_txn(|tx| {
        let counter = tx.alloc(PMutex::new(1u64))?;
        *tx.lock(&tx.root().counter) = counter;
        Ok(counter)
    })
}

fn hit(pool: &Pool<Registry>) -> Result<u64, pmem::Error> {
    pool.try_shared_txn(|tx| {
        let counter = *tx.lock(&tx.root().counter);
        let mut hits = tx.lock(tx.get(counter)?);
        *hits += 1;
        Ok(*hits)
    })
}

fn main() {
    let _ = add_counter;
    let _ = hit;
}
