// Misuse: holding the `&[u64]` of `tx.get_slice` while changing the same slice through `tx.get_slice_mut`; the shared borrow would see the store.
use pmem::{PSlice, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Root {
    numbers: PSlice<u64>,
}

fn copy_first(pool: &mut Pool<Root>) -> Result<(), pmem::Error> {
    let numbers = pool.root().numbers;
    pool.txn(|tx| {
        let read = tx.get_slice(numbers)?;
        let mut write = tx.get_slice_mut(numbers)?;
        write.at(1).set(read[0]);
        Ok(())
    })
}

fn main() {}
