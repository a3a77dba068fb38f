// Correct: a closure whose stores run in a transaction, written with `pmem::txn_block!` inside its body (attributes cannot mark closures on stable Rust).
use pmem::{PMut, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

fn hit_twice(pool: &mut Pool<Counter>) {
    pool.txn(|tx| {
        let bump = |mut counter: PMut<'_, Counter>| {
            pmem::txn_block! {
                counter.hits += 1;
            }
        };
        bump(tx.root_mut());
        bump(tx.root_mut());
    });
}

fn main() {
    let _ = hit_twice;
}
