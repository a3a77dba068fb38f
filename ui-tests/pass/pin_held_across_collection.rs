// A `Pinned` handle does not borrow its pool: a collection (which needs `&mut Pool`) and
// transactions run while it lives.
use pmem::{PPtr, Pool};

fn main() {
    let path = "/dev/shm/pmem-ui-pin-held-across-collection.pool";
    let _ = std::fs::remove_file(path);
    let mut pool = Pool::create(path, PPtr::<u64>::null()).unwrap();
    let number = pool.txn(|tx| tx.alloc(7u64)).unwrap();
    let pin = pool.pin(number).unwrap();
    pool.collect().unwrap();
    pool.txn(|tx| tx.alloc(8u64)).unwrap();
    assert_eq!(*pool.get(pin.ptr()).unwrap(), 7);
    drop(pin);
    drop(pool);
    std::fs::remove_file(path).unwrap();
}
