// Misuse: keeping the transaction token `tx` after `pool.txn` returns; the transaction has committed, so nothing could log through it.
#[derive(pmem::Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn keep_token(pool: &mut pmem::Pool<Counter>) {
    let mut kept = None;
    pool.txn(|tx| kept = Some(tx));
    let _ = kept;
}

fn main() {}
