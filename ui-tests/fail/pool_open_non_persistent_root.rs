// Misuse: opening a pool as `Pool<Vec<u64>>` (a volatile heap pointer cannot be a root).
use pmem::Pool;

fn main() {
    let _ = Pool::<Vec<u64>>::open("/nonexistent/never-created.pool");
}
