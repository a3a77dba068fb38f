//! A second process for the pool tests: `pool_child <command> <pool path>`.
//!
//! - `exit-without-close`: opens the pool and exits at once, skipping destructors, as a
//!   crash would leave it;
//! - `hold`: opens the pool, prints `open`, and keeps it open until its stdin closes;
//! - `report-mode`: opens the pool and prints its flush mode, or the error.

use std::io::{BufRead, Write};

use pmem::Pool;
use pmem_tests::Ledger;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [command, path] = arguments.as_slice() else {
        eprintln!("usage: pool_child exit-without-close|hold|report-mode <pool path>");
        std::process::exit(2);
    };
    let pool = match Pool::<Ledger>::open(path) {
        Ok(pool) => pool,
        Err(error) => {
            println!("error: {error}");
            std::process::exit(1);
        }
    };
    match command.as_str() {
        "exit-without-close" => std::process::exit(0),
        "hold" => {
            println!("open");
            std::io::stdout().flush().expect("stdout");
            for _ in std::io::stdin().lock().lines() {}
            pool.close();
        }
        "report-mode" => println!("mode: {}", pool.info().flush_mode),
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
}
