// Misuse: returning a slice obtained from `tx.get_slice(slice)` out of `pool.shared_txn`; like `tx.get`'s references, it ends with the transaction.
use pmem::{PMutex, PSlice, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Root {
    numbers: PMutex<PSlice<u64>>,
}

fn leak(pool: &Pool<Root>, numbers: PSlice<u64>) -> Result<&[u64], pmem::Error> {
    pool.shared_txn(|tx| tx.get_slice(numbers))
}

fn main() {}
