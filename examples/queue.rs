//! A persistent job queue on the command line: a linked list of heap nodes, each holding a
//! string, pushed at the tail and popped at the head. Each run opens the pool (creating it
//! the first time), does one command in one transaction, and closes it. A popped node is
//! unlinked and left to the collector, which frees it when the pool needs the room, before
//! it would grow: no `free` anywhere.
//!
//! ```sh
//! cargo run --example queue -- push "wash the car" "feed the cat"
//! cargo run --example queue -- list
//! cargo run --example queue -- pop
//! cargo run --example queue -- --pool /tmp/jobs.pool len
//! ```
//!
//! The pool is `/dev/shm/pmem-queue.pool` (or in the temporary directory) unless
//! `--pool PATH` says otherwise.

use std::fmt;
use std::path::{Path, PathBuf};

use pmem::{Error, PPtr, PString, Persistent, Pool, Txn, txn};

/// A job: its text, and the next job.
#[derive(Persistent)]
#[repr(C)]
struct Job {
    text: PString,
    next: PPtr<Job>,
}

/// The pool's root: the queue's two ends and its length.
#[derive(Persistent, Default)]
#[repr(C)]
pub(crate) struct Queue {
    head: PPtr<Job>,
    tail: PPtr<Job>,
    len: u64,
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

const USAGE: &str = "usage: queue [--pool PATH] push TEXT... | pop | peek | list | len";

/// Appends a job holding `text` at the tail.
#[txn]
fn push(tx: &mut Txn<'_, Queue>, text: &str) -> Result<(), Error> {
    let job = tx.alloc(Job {
        text: PString::from_str_in(text)?,
        next: PPtr::null(),
    })?;
    let tail = tx.root().tail;
    if tail.is_null() {
        tx.root_mut().head = job;
    } else {
        tx.get_mut(tail)?.next = job;
    }
    let mut queue = tx.root_mut();
    queue.tail = job;
    queue.len += 1;
    Ok(())
}

/// Unlinks the job at the head, if there is one, and returns its text.
#[txn]
fn pop(tx: &mut Txn<'_, Queue>) -> Result<Option<String>, Error> {
    let head = tx.root().head;
    if head.is_null() {
        return Ok(None);
    }
    let job = tx.get(head)?;
    let (text, next) = (job.text.as_str(&*tx)?.to_owned(), job.next);
    let mut queue = tx.root_mut();
    queue.head = next;
    if next.is_null() {
        queue.tail = PPtr::null();
    }
    queue.len -= 1;
    Ok(Some(text))
}

/// The jobs' texts, head first.
fn texts(pool: &Pool<Queue>) -> Result<Vec<String>, Error> {
    let mut texts = Vec::new();
    let mut at = pool.root().head;
    while !at.is_null() {
        let job = pool.get(at)?;
        texts.push(job.text.as_str(pool)?.to_owned());
        at = job.next;
    }
    Ok(texts)
}

/// Runs one command on the queue at `path` and returns what it prints.
pub(crate) fn run(path: &Path, command: &[String]) -> Result<String, Failure> {
    let mut pool = Pool::open_or_create(path, Queue::default)?;
    match command {
        [verb, texts @ ..] if verb == "push" && !texts.is_empty() => {
            // All of them or, if any fails, none.
            pool.try_txn(|tx| texts.iter().try_for_each(|text| push(tx, text)))?;
            Ok(format!("{} queued\n", pool.root().len))
        }
        [verb] if verb == "pop" => Ok(match pool.try_txn(pop)? {
            Some(text) => format!("{text}\n"),
            None => "(empty)\n".to_owned(),
        }),
        [verb] if verb == "peek" => {
            let head = pool.root().head;
            Ok(if head.is_null() {
                "(empty)\n".to_owned()
            } else {
                format!("{}\n", pool.get(head)?.text.as_str(&pool)?)
            })
        }
        [verb] if verb == "list" => Ok(texts(&pool)?
            .iter()
            .map(|text| format!("{text}\n"))
            .collect()),
        [verb] if verb == "len" => Ok(format!("{}\n", pool.root().len)),
        _ => Err(Failure::Usage("unknown command".to_owned())),
    }
}

/// `--pool PATH` and the command after it.
fn parse(arguments: &[String]) -> (PathBuf, &[String]) {
    match arguments {
        [flag, path, rest @ ..] if flag == "--pool" => (PathBuf::from(path), rest),
        rest => (pmem::scratch_directory().join("pmem-queue.pool"), rest),
    }
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (path, command) = parse(&arguments);
    match run(&path, command) {
        Ok(output) => print!("{output}"),
        Err(failure) => {
            eprintln!("queue: {}: {failure}", path.display());
            std::process::exit(match failure {
                Failure::Usage(_) => 2,
                Failure::Pool(_) => 1,
            });
        }
    }
}
