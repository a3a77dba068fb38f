// Misuse: sharing a `&PMut` with another thread; a transaction's handles stay on its thread, so copy out the values another thread needs.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn read_elsewhere(pool: &mut pmem::Pool<Counter>) {
    pool.txn(|tx| {
        let root = tx.root_mut();
        let shared = &root;
        std::thread::scope(|scope| {
            scope.spawn(move || shared.hits);
        });
    });
}

fn main() {}
