//! A persistent key-value store on the command line: PMDK's `hashmap_tx` example, ported
//! to pmem's collections. Each run opens the pool (creating it the first time), does one
//! command in one transaction, and closes it; kill it at any moment and the store is as it
//! was before the command or after it.
//!
//! ```sh
//! cargo run --example kv -- put greeting "hello, world"
//! cargo run --example kv -- get greeting
//! cargo run --example kv -- list
//! cargo run --example kv -- del greeting
//! cargo run --example kv -- --pool /tmp/my.pool list
//! ```
//!
//! The pool is `/dev/shm/pmem-kv.pool` (or in the temporary directory) unless `--pool PATH`
//! says otherwise. Keys and values are strings of any length; the store is a
//! `PHashMap<PString, PString>`, looked up by `&str`.

use std::fmt;
use std::path::{Path, PathBuf};

use pmem::{Error, PHashMap, PMut, PString, Persistent, Pool, txn};

/// The pool's root: the whole store.
#[derive(Persistent, Default)]
#[repr(C)]
struct Store {
    entries: PHashMap<PString, PString>,
}

/// What a run can fail with.
#[derive(Debug)]
pub(crate) enum Failure {
    Usage(String),
    Pool(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Pool(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => write!(f, "{message}\n{USAGE}"),
            Self::Pool(error) => write!(f, "{error}"),
        }
    }
}

const USAGE: &str = "usage: kv [--pool PATH] put KEY VALUE | get KEY | del KEY | list";

/// Sets `key` to `value`; whether it replaced a value.
#[txn]
fn put(mut store: PMut<'_, Store>, key: &str, value: &str) -> Result<bool, Error> {
    let entries = &mut store.entries;
    let (key, value) = (PString::from_str_in(key)?, PString::from_str_in(value)?);
    Ok(entries.insert(key, value)?.is_some())
}

/// Removes `key`; whether it was there.
#[txn]
fn delete(mut store: PMut<'_, Store>, key: &str) -> Result<bool, Error> {
    let entries = &mut store.entries;
    Ok(entries.remove(key)?.is_some())
}

/// Runs one command on the store at `path` and returns what it prints.
pub(crate) fn run(path: &Path, command: &[String]) -> Result<String, Failure> {
    let mut pool = Pool::open_or_create(path, Store::default)?;
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    match words[..] {
        ["put", key, value] => {
            let replaced = pool.txn(|tx| put(tx.root_mut(), key, value))?;
            Ok(if replaced { "replaced\n" } else { "added\n" }.to_owned())
        }
        ["get", key] => {
            let entries = &pool.root().entries;
            match entries.get(&pool, key)? {
                Some(value) => Ok(format!("{}\n", value.as_str(&pool)?)),
                None => Ok("(none)\n".to_owned()),
            }
        }
        ["del", key] => {
            let deleted = pool.txn(|tx| delete(tx.root_mut(), key))?;
            Ok(if deleted { "deleted\n" } else { "(none)\n" }.to_owned())
        }
        ["list"] => {
            let entries = &pool.root().entries;
            let mut lines = Vec::new();
            for (key, value) in entries.iter(&pool)? {
                // Both checked to be UTF-8: the file may have been damaged since.
                lines.push(format!(
                    "{}\t{}\n",
                    key.as_str(&pool)?,
                    value.as_str(&pool)?
                ));
            }
            lines.sort();
            Ok(lines.concat())
        }
        _ => Err(Failure::Usage("unknown command".to_owned())),
    }
}

/// `--pool PATH` and the command after it.
fn parse(arguments: &[String]) -> (PathBuf, &[String]) {
    match arguments {
        [flag, path, rest @ ..] if flag == "--pool" => (PathBuf::from(path), rest),
        rest => (pmem::scratch_directory().join("pmem-kv.pool"), rest),
    }
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (path, command) = parse(&arguments);
    match run(&path, command) {
        Ok(output) => print!("{output}"),
        Err(failure) => {
            eprintln!("kv: {}: {failure}", path.display());
            std::process::exit(match failure {
                Failure::Usage(_) => 2,
                Failure::Pool(_) => 1,
            });
        }
    }
}
