//! Creates a pool, writes its root, reopens it, changes it in transactions (one committed,
//! one rolled back), and prints what it found and what each step cost.
//!
//! ```text
//! cargo run --example quickstart [pool path]
//! ```
//!
//! The pool goes to `/dev/shm/pmem-quickstart.pool` (or the temporary directory where there
//! is no `/dev/shm`) unless a path is given. A pool left there by an earlier run is replaced.

use std::path::PathBuf;
use std::process::ExitCode;

use pmem::{PPtr, Persistent, PoolOptions, Stats};

/// The root object: what the pool holds when nothing else is allocated.
#[derive(Persistent)]
#[repr(C)]
struct Guestbook {
    /// How many greetings are written below.
    entries: u64,
    /// Up to four greetings of 32 bytes, zero-padded.
    greetings: [[u8; 32]; 4],
    /// A persistent pointer: an offset, valid wherever the pool is mapped.
    myself: PPtr<Guestbook>,
}

fn default_path() -> PathBuf {
    pmem::scratch_directory().join("pmem-quickstart.pool")
}

fn greeting(text: &str) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..text.len()].copy_from_slice(text.as_bytes());
    bytes
}

fn run(path: PathBuf) -> Result<(), pmem::Error> {
    match std::fs::remove_file(&path) {
        Ok(()) => println!("removed the pool of an earlier run at {}", path.display()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(pmem::Error::Io {
                path,
                operation: "remove",
                source,
            });
        }
    }

    let root = Guestbook {
        entries: 2,
        greetings: [
            greeting("hello from pmem"),
            greeting("written before a restart"),
            [0; 32],
            [0; 32],
        ],
        myself: PPtr::from_offset(4096),
    };
    let pool = PoolOptions::new()
        .layout("guestbook-v1")
        .create(&path, root)?;
    println!(
        "created {} ({} bytes, flush mode {})",
        path.display(),
        pool.info().size,
        pool.info().flush_mode
    );
    pool.close();

    let mut pool = PoolOptions::new()
        .layout("guestbook-v1")
        .open::<Guestbook>(&path)?;
    println!("reopened it:\n{}", pool.info());
    let book = pool.root();
    println!("the root holds {} greetings:", book.entries);
    for greeting in book.greetings.iter().take(book.entries as usize) {
        let end = greeting
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(greeting.len());
        println!("  {}", String::from_utf8_lossy(&greeting[..end]));
    }
    let through_pointer = pool.get(book.myself)?;
    println!(
        "root.myself = {:?} resolves to the root: {}",
        book.myself,
        std::ptr::eq(book, through_pointer)
    );

    let before = Stats::current_thread();
    pool.txn(|tx| {
        let mut book = tx.root_mut();
        let entry = book.entries as usize;
        book.greetings[entry] = greeting("added in a transaction");
        book.entries += 1;
    });
    let cost = Stats::current_thread() - before;
    println!(
        "committed a transaction: {} fences, {} bytes logged",
        cost.fences, cost.logged_bytes
    );

    let refused: Result<(), Box<dyn std::error::Error>> = pool.try_txn(|tx| {
        tx.root_mut().entries = 0;
        Err("changed my mind".into())
    });
    println!(
        "a transaction returned {refused:?} and was rolled back: {} greetings remain",
        pool.root().entries
    );
    Ok(())
}

fn main() -> ExitCode {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(default_path, PathBuf::from);
    match run(path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
