// Misuse: returning a reference obtained from `tx.get(ptr)` out of `pool.shared_txn`; a shared transaction's references end with it, as an exclusive one's do.
use pmem::{PMutex, PPtr, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Node {
    value: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct List {
    head: PMutex<PPtr<Node>>,
}

fn leak(pool: &Pool<List>, node: PPtr<Node>) -> Result<&Node, pmem::Error> {
    pool.shared_txn(|tx| tx.get(node))
}

fn main() {}
