// Misuse: moving a `PMut` into another thread; a transaction belongs to one thread, so stores from another would be logged in no transaction.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit_elsewhere(pool: &mut pmem::Pool<Counter>) {
    pool.txn(|tx| {
        let mut root = tx.root_mut();
        // A scoped thread, so that `Send` is the only bound broken (`thread::spawn` would
        // also need `'static`, which the borrow of `tx` breaks too).
        std::thread::scope(|scope| {
            scope.spawn(move || {
                root.hits += 1;
            });
        });
    });
}

fn main() {}
