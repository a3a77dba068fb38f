// Misuse: allocating a `String` (a volatile heap pointer) in a pool's heap.
use pmem::Pool;

fn main() {
    let mut pool = Pool::<u64>::open("/dev/shm/never-opened.pool").unwrap();
    pool.txn(|tx| {
        let _name = tx.alloc(String::from("volatile"));
    });
}
