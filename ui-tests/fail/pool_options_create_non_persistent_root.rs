// Misuse: `PoolOptions::create` with a root of a struct that does not derive `Persistent`.
use pmem::PoolOptions;

struct Settings {
    verbose: bool,
}

fn main() {
    let _ = PoolOptions::new().create(
        "/nonexistent/never-created.pool",
        Settings { verbose: true },
    );
}
