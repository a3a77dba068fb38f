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
//!   killed.

use std::io::{BufRead, Write};

use pmem::Pool;
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
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
}
