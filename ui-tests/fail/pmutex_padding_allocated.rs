// Misuse: allocating a `PMutex<u32>` in a shared transaction; the 4-byte value after the 8-byte lock word leaves 4 bytes of padding (store a `u64`, or pad the value to a multiple of 8). A generic use, so the check runs at monomorphization: `cargo build` reports it, `cargo check` does not.
use pmem::{PMutex, PPtr, Pool};

fn main() {
    let pool = Pool::create(
        "/nonexistent/pmutex_padding_allocated.pool",
        PPtr::<u64>::null(),
    )
    .unwrap();
    let _ = pool.try_shared_txn(|tx| tx.alloc(PMutex::new(0u32)).map(|_| ()));
}
