//! A second process for the pool tests: `pool_child <command> <pool path>`.
//!
//! - `exit-without-close`: opens a [`Ledger`] pool and exits at once, skipping
//!   destructors, as a crash would leave it;
//! - `hold`: opens a [`Ledger`] pool, prints `open`, and keeps it open until its stdin
//!   closes;
//! - `report-mode`: opens a [`Ledger`] pool and prints its flush mode, or the error;
//! - `crash-mid-transaction`: opens a [`Counters`] pool, sets every counter to
//!   `1000 + index` inside a transaction, and exits before the transaction ends;
//! - `swap-forever`: opens a [`Counters`] pool, prints `ready`, and swaps pseudo-random
//!   pairs of counters, one transaction each, until it is killed;
//! - `stack-forever`: opens a [`Stack`] pool, prints `ready`, and pushes (allocating) or
//!   pops one to four nodes per transaction, collecting every 64 transactions, until it is
//!   killed;
//! - `shared-bank-forever`: opens a [`SharedBank`] pool, prints `ready`, and runs one
//!   worker thread per lane of the pool, each making transfers in shared transactions
//!   ([`shared_workloads::transfer`]) and printing `<thread> <seq>` once one has
//!   committed, in rounds of 100 transfers per worker; before each round, an exclusive
//!   transaction empties the list of records and a collection frees them. Until it is
//!   killed.
//! - `compact-forever`: prints `ready` and compacts the pool
//!   ([`pmem::inspect::compact`]) again and again, until it is killed.

use std::io::{BufRead, Write};

use pmem::{PPtr, Pool};
use pmem_tests::shared_workloads::{self, ACCOUNTS, OPENING_BALANCE, SharedBank};
use pmem_tests::{Counters, Ledger, Stack, StackNode, xorshift};

fn open<R: pmem::Persistent>(path: &str) -> Pool<R> {
    Pool::open(path).unwrap_or_else(|error| {
        println!("error: {error}");
        std::process::exit(1);
    })
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [command, path] = arguments.as_slice() else {
        eprintln!("usage: pool_child <command> <pool path>");
        std::process::exit(2);
    };
    match command.as_str() {
        "exit-without-close" => {
            let _pool = open::<Ledger>(path);
            std::process::exit(0);
        }
        "hold" => {
            let pool = open::<Ledger>(path);
            println!("open");
            std::io::stdout().flush().expect("stdout");
            for _ in std::io::stdin().lock().lines() {}
            pool.close();
        }
        "report-mode" => println!("mode: {}", open::<Ledger>(path).info().flush_mode),
        "crash-mid-transaction" => {
            let mut pool = open::<Counters>(path);
            pool.txn(|tx| {
                let mut counters = tx.root_mut();
                for index in 0..counters.len() {
                    *counters.at(index) = 1000 + index as u64;
                }
                std::process::exit(0);
            });
        }
        "compact-forever" => {
            println!("ready");
            std::io::stdout().flush().expect("stdout");
            loop {
                if let Err(error) = pmem::inspect::compact(path) {
                    println!("error: {error}");
                    std::process::exit(1);
                }
            }
        }
        "swap-forever" => {
            let mut pool = open::<Counters>(path);
            println!("ready");
            std::io::stdout().flush().expect("stdout");
            let mut state = u64::from(std::process::id()) | 1;
            loop {
                xorshift(&mut state);
                let (i, j) = ((state % 64) as usize, ((state >> 32) % 64) as usize);
                pool.txn(|tx| {
                    let mut counters = tx.root_mut();
                    let (a, b) = (*counters.at(i), *counters.at(j));
                    *counters.at(i) = b;
                    *counters.at(j) = a;
                });
            }
        }
        "stack-forever" => {
            let mut pool = open::<Stack>(path);
            println!("ready");
            std::io::stdout().flush().expect("stdout");
            let mut state = u64::from(std::process::id()) | 1;
            for round in 0u64.. {
                let random = xorshift(&mut state);
                let count = 1 + random % 4;
                let push = pool.root().depth < 8 || random % 3 != 0;
                pool.txn(|tx| {
                    for index in 0..count {
                        let root = *tx.root();
                        if push {
                            let value = round * 4 + index;
                            let node = StackNode {
                                value,
                                check: !value,
                                next: root.top,
                            };
                            let top = tx.alloc(node)?;
                            let mut stack = tx.root_mut();
                            stack.top = top;
                            stack.depth += 1;
                        } else if !root.top.is_null() {
                            let below = tx.get(root.top)?.next;
                            let mut stack = tx.root_mut();
                            stack.top = below;
                            stack.depth -= 1;
                        }
                    }
                    Ok::<_, pmem::Error>(())
                })
                .expect("push or pop");
                if round % 64 == 63 {
                    pool.collect().expect("collect");
                }
            }
        }
        "shared-bank-forever" => {
            let mut pool = open::<SharedBank>(path);
            let workers = pool.info().lanes as usize;
            println!("ready");
            std::io::stdout().flush().expect("stdout");
            let seed = u64::from(std::process::id());
            for round in 0u64.. {
                // Before each round, not after: a child killed mid-round would leave the
                // next one a list it never empties.
                pool.txn(|tx| *tx.root_mut().records.get_mut() = PPtr::null());
                pool.collect().expect("collect");
                std::thread::scope(|scope| {
                    for thread in 0..workers {
                        let pool = &pool;
                        scope.spawn(move || {
                            let mut state = (seed << 32 ^ round << 8 ^ thread as u64) | 1;
                            for _ in 0..100 {
                                let random = xorshift(&mut state);
                                let from = (random % ACCOUNTS as u64) as usize;
                                let to =
                                    (from + 1 + (random >> 8) as usize % (ACCOUNTS - 1)) % ACCOUNTS;
                                let amount = (random >> 16) % (OPENING_BALANCE * 4 / 5);
                                if let Some(done) =
                                    shared_workloads::transfer(pool, thread, from, to, amount)
                                {
                                    // Stdout is line-buffered: the parent has the line
                                    // before this worker's next transfer begins, so at
                                    // most one committed transfer per worker is unseen.
                                    println!("{thread} {}", done.seq);
                                }
                            }
                        });
                    }
                });
            }
        }
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
}
