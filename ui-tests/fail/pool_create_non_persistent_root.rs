// Misuse: creating a pool whose root is a `String` (a volatile heap pointer).
use pmem::Pool;

fn main() {
    let _ = Pool::create("/nonexistent/never-created.pool", String::new());
}
