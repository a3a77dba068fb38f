// Misuse: running an exclusive `pool.txn` while scoped threads run shared transactions on the same pool; an exclusive transaction (which may collect, and writes without locks) needs the pool to itself, `&mut Pool`.
use pmem::{PMutex, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: PMutex<u64>,
}

fn hit_beside(pool: &mut Pool<Counter>) {
    std::thread::scope(|scope| {
        scope.spawn(|| pool.shared_txn(|tx| *tx.lock(&tx.root().hits) += 1));
        pool.txn(|tx| *tx.root_mut().hits.get_mut() += 1);
    });
}

fn main() {}
