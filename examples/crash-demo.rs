//! A crash you can watch: a bank of 64 accounts in a pool, a child process making
//! transfers between them as fast as it can, one transaction each, and this process
//! killing it with SIGKILL at a random moment, then reopening the pool, which recovers it,
//! and checking it: the total is unchanged, every transfer the child reported as committed
//! is there, and the journal of the latest transfers (a vector in the pool's heap, which
//! each transaction appends to, and replaces every 256 transfers) agrees with the count.
//! Again and again.
//!
//! ```sh
//! cargo run --release --example crash-demo                 # 20 rounds
//! cargo run --release --example crash-demo -- --rounds 100 --pool /tmp/bank.pool
//! ```
//!
//! The child prints the number of transfers committed after each commit returns, so the
//! pool must hold at least that many after the crash; it may hold one more, committed but
//! not yet printed when the kill came. A transaction the kill cut short is rolled back when
//! the pool is opened (`PoolInfo::transactions_rolled_back`). Before each reopen, the pool
//! as the kill left it is checked as `pmem check` checks it, without writing to it; the
//! last line is that check's verdict on the pool the demo leaves.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pmem::{Error, PMut, PVec, Persistent, Pool, txn};

const ACCOUNTS: usize = 64;
const OPENING_BALANCE: u64 = 1_000;
const TOTAL: u64 = ACCOUNTS as u64 * OPENING_BALANCE;

/// How many transfers the journal holds at most: it starts again, in a new vector, after
/// every `JOURNAL`th.
const JOURNAL: u64 = 256;

/// The pool's root: the balances, how many transfers have committed, and the latest of
/// them, in a vector in the pool's heap. Its name is given, so that the tests, which
/// compile this file as a module of their own, open the same type.
#[derive(Persistent)]
#[repr(C)]
#[persistent(name = "crash_demo::Bank")]
pub(crate) struct Bank {
    balances: [u64; ACCOUNTS],
    transfers: u64,
    /// The transfers since the last multiple of [`JOURNAL`].
    journal: PVec<Transfer>,
}

/// One transfer, as the journal records it.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
#[persistent(name = "crash_demo::Transfer")]
pub(crate) struct Transfer {
    from: u64,
    to: u64,
    amount: u64,
}

impl Bank {
    fn opening() -> Self {
        Self {
            balances: [OPENING_BALANCE; ACCOUNTS],
            transfers: 0,
            journal: PVec::new(),
        }
    }
}

/// Moves `amount` from one account to another, if the first can cover it; counts the
/// transfer either way, and records it in the journal, which a new, empty vector replaces
/// after every [`JOURNAL`]th transfer (the old one's buffer is then garbage, which the
/// heap collects).
#[txn]
fn transfer(mut bank: PMut<'_, Bank>, from: usize, to: usize, amount: u64) -> Result<(), Error> {
    if bank.balances[from] >= amount {
        bank.balances[from] -= amount;
        bank.balances[to] += amount;
    }
    bank.transfers += 1;
    if bank.transfers % JOURNAL == 0 {
        bank.journal = PVec::new();
    } else {
        bank.journal.push(Transfer {
            from: from as u64,
            to: to as u64,
            amount,
        })?;
    }
    Ok(())
}

/// A xorshift64 step.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| since.subsec_nanos());
    u64::from(nanos) | 1
}

/// The child: transfers until it is killed, printing the count after each commit.
pub(crate) fn child(path: &Path) -> Result<(), Error> {
    let mut pool = open_when_free(path)?;
    let mut random = seed();
    let mut out = std::io::stdout().lock();
    loop {
        let from = (next(&mut random) % ACCOUNTS as u64) as usize;
        let to = (next(&mut random) % ACCOUNTS as u64) as usize;
        let amount = next(&mut random) % 200;
        pool.try_txn(|tx| transfer(tx.root_mut(), from, to, amount))?;
        // A closed pipe (the parent went away) ends the child too.
        if writeln!(out, "{}", pool.root().transfers).is_err() || out.flush().is_err() {
            return Ok(());
        }
    }
}

/// Opens the bank, waiting up to a second while the pool is locked: the parent has just
/// checked it, and a process another thread of the parent spawns meanwhile holds a copy
/// of each of its open files, that lock included, until it starts its program
/// (`Error::Locked`).
fn open_when_free(path: &Path) -> Result<Pool<Bank>, Error> {
    let mut waits = 0;
    loop {
        match Pool::<Bank>::open(path) {
            Err(Error::Locked { .. }) if waits < 100 => {
                waits += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            opened => return opened,
        }
    }
}

/// What one round saw.
pub(crate) struct Round {
    /// How long the child ran before the kill.
    pub(crate) killed_after: Duration,
    /// The last count the child printed.
    pub(crate) reported: u64,
    /// The count in the recovered pool.
    pub(crate) found: u64,
    /// Transactions the open rolled back.
    pub(crate) rolled_back: u32,
    /// How long the open, recovery included, took.
    pub(crate) recovery: Duration,
}

/// What `pmem check` checks, on the pool at `path` as it is: every check an open makes
/// (header, state, logs, heap metadata), on a private copy so that nothing is written, and
/// every pointer traced from the roots, none dangling. The live objects it found, or what
/// is wrong.
pub(crate) fn check(path: &Path) -> Result<u64, String> {
    let pool = pmem::inspect::UntypedPool::open_read_only(path)
        .map_err(|error| format!("pmem check: damaged: {error}"))?;
    let collection = pool.collection_at_open();
    match pool.dangling_pointers().first() {
        Some(pointer) => Err(format!(
            "pmem check: damaged: {} dangling pointer(s), the first: {pointer}",
            collection.dangling_pointers
        )),
        None => Ok(collection.live_objects),
    }
}

/// Starts `child`, kills it after `run_for`, checks the pool at `path` as the kill left
/// it, then reopens it, which recovers it, and checks the bank.
pub(crate) fn round(path: &Path, mut child: Command, run_for: Duration) -> Result<Round, String> {
    let mut running = child
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start the child: {error}"))?;
    let reported = Arc::new(AtomicU64::new(0));
    let stdout = running.stdout.take().ok_or("the child has no stdout")?;
    let reader = {
        let reported = Arc::clone(&reported);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(count) = line.trim().parse() {
                    reported.store(count, Ordering::Relaxed);
                }
            }
        })
    };
    let started = Instant::now();
    std::thread::sleep(run_for);
    if let Ok(Some(status)) = running.try_wait() {
        return Err(format!(
            "the child ended by itself, {status}, before the kill"
        ));
    }
    running
        .kill()
        .map_err(|error| format!("cannot kill the child: {error}"))?;
    let killed_after = started.elapsed();
    running
        .wait()
        .map_err(|error| format!("cannot reap the child: {error}"))?;
    reader.join().map_err(|_| "the reader thread panicked")?;
    let reported = reported.load(Ordering::Relaxed);
    check(path)?;
    let opening = Instant::now();
    let pool = Pool::<Bank>::open(path).map_err(|error| format!("reopen failed: {error}"))?;
    let recovery = opening.elapsed();
    let bank = pool.root();
    let total: u64 = bank.balances.iter().sum();
    if total != TOTAL {
        return Err(format!("the total is {total}, not {TOTAL}"));
    }
    if bank.transfers != reported && bank.transfers != reported + 1 {
        return Err(format!(
            "the child reported {reported} transfers committed, the pool holds {}",
            bank.transfers
        ));
    }
    let journal = bank
        .journal
        .as_slice(&pool)
        .map_err(|error| format!("the journal cannot be read: {error}"))?;
    if journal.len() as u64 != bank.transfers % JOURNAL
        || journal.iter().any(|transfer| {
            transfer.from >= ACCOUNTS as u64
                || transfer.to >= ACCOUNTS as u64
                || transfer.amount >= 200
        })
    {
        return Err(format!(
            "the journal holds {} transfers, not the {} since the last multiple of {JOURNAL}, or a transfer no one made",
            journal.len(),
            bank.transfers % JOURNAL
        ));
    }
    Ok(Round {
        killed_after,
        reported,
        found: bank.transfers,
        rolled_back: pool.info().transactions_rolled_back,
        recovery,
    })
}

/// Runs `rounds` rounds on the pool at `path` (created if missing), each child started by
/// `child`, and writes a line per round and a summary to `out`.
pub(crate) fn run(
    path: &Path,
    rounds: u32,
    child: impl Fn() -> Command,
    out: &mut impl Write,
) -> Result<(), String> {
    let before = Pool::open_or_create(path, Bank::opening)
        .map_err(|error| format!("cannot open or create the pool: {error}"))?
        .root()
        .transfers;
    let mut random = seed();
    let (mut rolled_back, mut recoveries) = (0, Vec::new());
    let mut last = before;
    for index in 1..=rounds {
        let run_for = Duration::from_millis(20 + next(&mut random) % 180);
        let seen =
            round(path, child(), run_for).map_err(|problem| format!("round {index}: {problem}"))?;
        let mut line = format!(
            "round {index:>3}: killed after {:>3} ms; check sound; {:>7} transfers committed ({:+}), all found",
            seen.killed_after.as_millis(),
            seen.found,
            seen.found - last,
        );
        if seen.found > seen.reported {
            line.push_str(", one of them not yet reported");
        }
        let _ = write!(
            line,
            "; {} rolled back; recovery {:.2} ms",
            seen.rolled_back,
            seen.recovery.as_secs_f64() * 1e3
        );
        writeln!(out, "{line}").map_err(|error| error.to_string())?;
        last = seen.found;
        rolled_back += seen.rolled_back;
        recoveries.push(seen.recovery);
    }
    recoveries.sort();
    let median = recoveries
        .get(recoveries.len() / 2)
        .copied()
        .unwrap_or_default();
    writeln!(
        out,
        "{rounds} kills, {} transfers committed and every one found after its crash; {rolled_back} interrupted transactions rolled back; the total stayed {TOTAL}; median recovery {:.2} ms",
        last - before,
        median.as_secs_f64() * 1e3
    )
    .map_err(|error| error.to_string())?;
    let live = check(path)?;
    writeln!(
        out,
        "pmem check {}: sound (header, state records, undo log and heap metadata valid; {live} live heap object(s) traced, no dangling pointer), as after each of the {rounds} kills",
        path.display()
    )
    .map_err(|error| error.to_string())
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let mut path = pmem::scratch_directory().join("pmem-crash-demo.pool");
    let mut rounds = 20;
    let mut child_of = None;
    let mut words = arguments.iter();
    while let Some(word) = words.next() {
        match (word.as_str(), words.next()) {
            ("--pool", Some(value)) => path = PathBuf::from(value),
            ("--rounds", Some(value)) => match value.parse() {
                Ok(count) => rounds = count,
                Err(_) => fail(&format!("--rounds takes a number, not {value:?}")),
            },
            ("--child", Some(value)) => child_of = Some(PathBuf::from(value)),
            _ => fail(&format!("unknown argument {word:?}")),
        }
    }
    if let Some(path) = child_of {
        if let Err(error) = child(&path) {
            eprintln!("crash-demo child: {}: {error}", path.display());
            std::process::exit(1);
        }
        return;
    }
    let executable = std::env::current_exe().unwrap_or_else(|error| fail(&error.to_string()));
    let child = || {
        let mut command = Command::new(&executable);
        command.arg("--child").arg(&path);
        command
    };
    println!(
        "pool {}: {rounds} rounds of transfers, each ended by SIGKILL",
        path.display()
    );
    if let Err(problem) = run(&path, rounds, child, &mut std::io::stdout()) {
        eprintln!("crash-demo: {}: {problem}", path.display());
        std::process::exit(1);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("crash-demo: {message}\nusage: crash-demo [--rounds N] [--pool PATH]");
    std::process::exit(2)
}
