// Misuse: holding the `&[u64]` that `as_slice` read through the transaction while pushing onto the same vector: the push could move the elements the slice points at.
use pmem::{PVec, Persistent, Pool};

#[derive(Persistent, Default)]
#[repr(C)]
struct Root {
    numbers: PVec<u64>,
}

fn first_again(pool: &mut Pool<Root>) -> Result<(), pmem::Error> {
    pool.txn(|tx| {
        let numbers = tx.root().numbers.as_slice(tx)?;
        tx.root_mut().numbers.push(numbers[0])?;
        Ok(())
    })
}

fn main() {}
