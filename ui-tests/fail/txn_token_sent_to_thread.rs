// Misuse: moving the transaction token into another thread; a transaction belongs to the thread that runs it.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit_elsewhere(pool: &mut pmem::Pool<Counter>) {
    pool.txn(|tx| {
        std::thread::scope(|scope| {
            scope.spawn(move || {
                tx.root_mut().hits += 1;
            });
        });
    });
}

fn main() {}
