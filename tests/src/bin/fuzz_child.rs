//! The child process of the pool fuzz test (`tests/tests/fuzz.rs`):
//! `fuzz_child <command> <pool path>`.
//!
//! - `create-clean`: creates the base pool of [`pmem_tests::fuzz`] and closes it;
//! - `create-dirty`: the same, then opens it again and exits in the middle of a transaction
//!   that changed the root, several objects and the named roots, so that the undo log
//!   holds valid entries;
//! - `check`: opens the pool (a mutant of a base pool) collecting at open, which checks
//!   it whole, walks everything reachable through `Pool::get`, collects, commits a
//!   transaction that changes the root and allocates, closes, reopens, walks and collects
//!   again. It prints one line naming the outcome (`opened-ok`, `opened-ok-get-refused`,
//!   `opened-ok-type-refused` (the pool's record of a type the commit allocates disagrees
//!   with the program's type: a typed error, and the pool reopens), `refused: <error>`,
//!   `collect-refused: <error>`, `commit-refused: <error>`, `reopen-refused: <error>`,
//!   `recollect-refused: <error>`) and exits 0. A panic or a signal is the runtime's
//!   failure, which the test reports.
//! - `check-lazy`: the same, but the first open leaves the collection for later, as a
//!   program's does; so a damage that only tracing finds (a reachable slice whose stored
//!   length exceeds its slot) is refused by the first collection instead
//!   (`opened-ok-collect-refused`).

use pmem::{Pool, PoolOptions};
use pmem_tests::fuzz::{self, FuzzRoot};

fn check(path: &str, collect_at_open: bool) -> String {
    let class = |stage: &str, error: pmem::Error| format!("{stage}: {}", fuzz::error_class(&error));
    let opened = PoolOptions::new()
        .collect_at_open(collect_at_open)
        .open::<FuzzRoot>(path);
    let mut pool = match opened {
        Ok(pool) => pool,
        Err(error) => return class("refused", error),
    };
    let first = fuzz::walk(&pool);
    match pool.collect() {
        Ok(_) => {}
        Err(pmem::Error::HeapCorrupted {
            source: pmem::HeapError::Corrupted { what, .. },
            ..
        }) if !collect_at_open && what == "a slice's length exceeds its slot" => {
            return "opened-ok-collect-refused".to_owned();
        }
        Err(error) => return class("collect-refused", error),
    }
    let mut type_refused = false;
    match pool.try_txn(fuzz::committed_changes) {
        Ok(()) => {}
        Err(pmem::Error::HeapCorrupted {
            source: pmem::HeapError::TypeRecordMismatch { .. },
            ..
        }) => type_refused = true,
        Err(error) => return class("commit-refused", error),
    }
    pool.close();
    let mut pool = match Pool::<FuzzRoot>::open(path) {
        Ok(pool) => pool,
        Err(error) => return class("reopen-refused", error),
    };
    let second = fuzz::walk(&pool);
    if let Err(error) = pool.collect() {
        return class("recollect-refused", error);
    }
    pool.close();
    if type_refused {
        "opened-ok-type-refused".to_owned()
    } else if first.refused + second.refused == 0 {
        "opened-ok".to_owned()
    } else {
        "opened-ok-get-refused".to_owned()
    }
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [command, path] = arguments.as_slice() else {
        eprintln!("usage: fuzz_child <command> <pool path>");
        std::process::exit(2);
    };
    match command.as_str() {
        "create-clean" => fuzz::create(path.as_ref()).expect("create the base pool"),
        "create-dirty" => {
            fuzz::create(path.as_ref()).expect("create the base pool");
            let mut pool = Pool::<FuzzRoot>::open(path).expect("reopen the base pool");
            let interrupted: Result<(), pmem::Error> = pool.try_txn(|tx| {
                fuzz::interrupted_changes(tx)?;
                std::process::exit(0)
            });
            interrupted.expect("the interrupted transaction");
        }
        "check" => println!("{}", check(path, true)),
        "check-lazy" => println!("{}", check(path, false)),
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
}
