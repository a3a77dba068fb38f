//! The multi-threaded crash-test workload, shared by `tests/shared_crash.rs`: bank transfers
//! by several scheduled threads on one shared pool, crashed at every fence of any thread.
//!
//! Each worker makes a few transfers between [`PMutex`] accounts, locking them in index
//! order, then its own counter of committed transfers, then the head of a list onto which
//! it pushes a record of the transfer that it allocated in the same transaction. A transfer
//! the source cannot cover is refused after the credit was stored (so its rollback restores
//! bytes) and its record allocated (so recovery's collection reclaims it). The threads run
//! one at a time as the scheduler's seed decides ([`Simulation::schedule`]), so their
//! transactions overlap at every flush and fence, reproducibly.
//!
//! Every worker records, for each of its transfers, the domain's moment just before it
//! called [`Pool::try_shared_txn`] and just after it returned. Only the thread holding the
//! baton runs, so no other thread's event falls between a return and its reading. A crash
//! point of a moment after the return must then show the transfer if it committed; one of
//! a moment no later than its start must not show it. A thread's transactions follow one
//! another, so the transfers an image shows are, per thread, the first *n* it committed,
//! where *n* is its counter; the oracles derive from those the exact balances and records
//! the image must hold.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pmem::simulation::{CrashPoint, Lint, ScratchFile, Simulation};
use pmem::{FlushMode, PMutex, PPtr, Persistent, Pool, PoolOptions};

use crate::xorshift;

/// Accounts in the bank.
pub const ACCOUNTS: usize = 8;

/// The most worker threads the bank keeps counters for.
pub const MAX_THREADS: usize = 3;

/// Every account's balance when the pool is created.
pub const OPENING_BALANCE: u64 = 100;

/// The root of the shared bank.
#[derive(Persistent)]
#[repr(C)]
pub struct SharedBank {
    /// Account balances.
    pub accounts: [PMutex<u64>; ACCOUNTS],
    /// Per worker thread, how many of its transfers committed.
    pub committed: [PMutex<u64>; MAX_THREADS],
    /// The records of committed transfers, latest first.
    pub records: PMutex<PPtr<Record>>,
}

impl SharedBank {
    /// Every account at [`OPENING_BALANCE`], no transfer, no record.
    #[must_use]
    pub fn opening() -> Self {
        Self {
            accounts: core::array::from_fn(|_| PMutex::new(OPENING_BALANCE)),
            committed: core::array::from_fn(|_| PMutex::new(0)),
            records: PMutex::new(PPtr::null()),
        }
    }
}

/// A committed transfer, as the list in the heap records it.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct Record {
    /// The transfer.
    pub transfer: Move,
    /// The record pushed before it.
    pub next: PPtr<Record>,
}

/// What a committed transfer moved: which worker made it, its number among that worker's
/// committed transfers (from 1: the worker's counter just after it), and the accounts and
/// amount.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C)]
pub struct Move {
    /// The worker's index.
    pub thread: u64,
    /// The worker's counter of committed transfers just after this one.
    pub seq: u64,
    /// The account debited.
    pub from: u64,
    /// The account credited.
    pub to: u64,
    /// How much.
    pub amount: u64,
}

/// What a worker saw of one of its transfers.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// The transfer, if it committed (rather than being refused and rolled back).
    pub committed: Option<Move>,
    /// The domain's moment just before the transaction began.
    pub began: u64,
    /// The domain's moment just after it returned.
    pub returned: u64,
}

/// How to run the shared bank.
#[derive(Clone, Copy, Debug)]
pub struct SharedBankRun {
    /// The scheduler's seed: the interleaving, and the eviction choices of the images.
    pub seed: u64,
    /// Worker threads, at most [`MAX_THREADS`].
    pub threads: usize,
    /// Transfers per worker.
    pub transfers: usize,
    /// Whether instrumented stores are crash points too, not only fences.
    pub at_stores: bool,
    /// Crash images per crash point, at most.
    pub images_per_point: usize,
}

/// What a run of the shared bank checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedBankReport {
    /// Crash points checked.
    pub crash_points: usize,
    /// Crash images opened and checked.
    pub images: usize,
    /// Transfers that committed.
    pub committed: usize,
    /// Transfers refused and rolled back.
    pub refused: usize,
    /// Transactions that ran while another thread's was running.
    pub overlapping: usize,
    /// Performance lints the domain reported (redundant flushes and fences).
    pub performance_lints: usize,
    /// A hash of which thread each crash point was on, in order: runs with the same value
    /// interleaved the same way.
    pub interleaving: u64,
}

/// What an image of the bank holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Observed {
    balances: [u64; ACCOUNTS],
    committed: [u64; MAX_THREADS],
    /// The list's records, sorted.
    records: Vec<Move>,
}

/// The accounts and amount of the transfer worker `thread` tries as its number `attempt`:
/// they depend on the two alone, as the scheduler requires, and some are more than an
/// account holds by then.
fn planned(thread: usize, attempt: usize) -> (usize, usize, u64) {
    let mut random =
        (thread as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((attempt as u64) << 32) | 1;
    let from = xorshift(&mut random) % ACCOUNTS as u64;
    let to = (from + 1 + xorshift(&mut random) % (ACCOUNTS as u64 - 1)) % ACCOUNTS as u64;
    let amount = xorshift(&mut random) % (OPENING_BALANCE * 4 / 5);
    (from as usize, to as usize, amount)
}

/// Why a transfer was refused: the source could not cover it, or (never, in these small
/// transactions) the log could not grow.
#[derive(Debug)]
enum Refused {
    Insufficient,
    Log,
}

impl From<pmem::Error> for Refused {
    fn from(_: pmem::Error) -> Self {
        Self::Log
    }
}

/// Worker `thread` moves `amount` from account `from` to account `to` in one shared
/// transaction, which also counts it in the worker's counter and pushes a [`Record`] of it
/// onto the bank's list; returns what it recorded, or `None` if the source could not cover
/// the amount (the transaction is then rolled back, after it stored the credit and
/// allocated the record).
///
/// # Panics
///
/// If the heap cannot hold the record.
pub fn transfer(
    pool: &Pool<SharedBank>,
    thread: usize,
    from: usize,
    to: usize,
    amount: u64,
) -> Option<Move> {
    let outcome = pool.try_shared_txn(|tx| {
        let bank = tx.root();
        // Locks in one global order: accounts by index, then counters, then the list.
        tx.lock(&bank.accounts[from.min(to)]);
        tx.lock(&bank.accounts[from.max(to)]);
        *tx.lock(&bank.accounts[to]) += amount;
        let record = tx
            .alloc(Record {
                transfer: Move {
                    thread: thread as u64,
                    seq: 0,
                    from: from as u64,
                    to: to as u64,
                    amount,
                },
                next: PPtr::null(),
            })
            .expect("the heap has room for the record");
        let mut source = tx.lock(&bank.accounts[from]);
        if *source < amount {
            return Err(Refused::Insufficient);
        }
        *source -= amount;
        let mut counter = tx.lock(&bank.committed[thread]);
        *counter += 1;
        let seq = *counter;
        let previous = core::mem::replace(&mut *tx.lock(&bank.records), record);
        let mut fresh = tx.get_mut(record).expect("allocated here");
        fresh.transfer.seq = seq;
        fresh.next = previous;
        Ok(fresh.transfer)
    });
    match outcome {
        Ok(recorded) => Some(recorded),
        Err(Refused::Insufficient) => None,
        Err(Refused::Log) => panic!("a transfer's log could not grow"),
    }
}

/// Reads the bank of an open pool.
fn observe(pool: &Pool<SharedBank>) -> Observed {
    pool.shared_txn(|tx| {
        let bank = tx.root();
        let balances = core::array::from_fn(|i| *tx.lock(&bank.accounts[i]));
        let committed = core::array::from_fn(|i| *tx.lock(&bank.committed[i]));
        let mut records = Vec::new();
        let mut at = *tx.lock(&bank.records);
        while !at.is_null() {
            let record = tx.get(at).expect("a listed record");
            records.push(record.transfer);
            at = record.next;
        }
        records.sort_unstable();
        Observed {
            balances,
            committed,
            records,
        }
    })
}

/// The bank after the transfers of `present`, from the opening balances.
fn expected(present: &[Move]) -> Observed {
    // Credits and debits apart: `present` is not in commit order, so a running balance
    // could dip below zero on the way. A final one below zero (transfers that could not
    // all have committed) wraps, and so differs from what any image holds.
    let mut credits = [OPENING_BALANCE; ACCOUNTS];
    let mut debits = [0; ACCOUNTS];
    let mut committed = [0; MAX_THREADS];
    for transfer in present {
        debits[transfer.from as usize] += transfer.amount;
        credits[transfer.to as usize] += transfer.amount;
        committed[transfer.thread as usize] += 1;
    }
    let balances = core::array::from_fn(|i| credits[i].wrapping_sub(debits[i]));
    let mut records = present.to_vec();
    records.sort_unstable();
    Observed {
        balances,
        committed,
        records,
    }
}

/// Checks the bank an image of crash point `moment` holds against what the workers saw;
/// returns what is wrong.
fn check(found: &Observed, attempts: &[Vec<Attempt>], moment: u64) -> Result<(), String> {
    let total: u64 = found.balances.iter().sum();
    if total != OPENING_BALANCE * ACCOUNTS as u64 {
        return Err(format!("the total is {total}: {found:?}"));
    }
    let mut present = Vec::new();
    for (thread, attempts) in attempts.iter().enumerate() {
        let committed: Vec<(Move, &Attempt)> = attempts
            .iter()
            .filter_map(|attempt| attempt.committed.map(|transfer| (transfer, attempt)))
            .collect();
        let returned = committed
            .iter()
            .filter(|(_, a)| a.returned < moment)
            .count();
        let started = committed.iter().filter(|(_, a)| a.began < moment).count();
        let count = found.committed[thread];
        if !(returned as u64..=started as u64).contains(&count) {
            return Err(format!(
                "thread {thread}'s counter is {count}, but {returned} of its transfers had returned committed and {started} had begun: {found:?}"
            ));
        }
        present.extend(
            committed[..count as usize]
                .iter()
                .map(|&(transfer, _)| transfer),
        );
    }
    let wanted = expected(&present);
    if *found != wanted {
        return Err(format!(
            "recovered {found:?}, expected (from the counters) {wanted:?}"
        ));
    }
    Ok(())
}

/// Runs the shared bank with `run`'s seed and checks every crash image of every crash
/// point (see the module documentation).
///
/// # Panics
///
/// When an oracle fails, with the seed and the crash image that reproduce it.
#[must_use]
pub fn shared_bank(run: SharedBankRun) -> SharedBankReport {
    assert!(
        (1..=MAX_THREADS).contains(&run.threads),
        "1 to {MAX_THREADS} threads"
    );
    let SharedBankRun { seed, .. } = run;
    let context = format!(
        "shared bank, seed {seed} ({} threads, {} transfers each, at stores: {})",
        run.threads, run.transfers, run.at_stores
    );
    let simulation = Simulation::new();
    let path = ScratchFile::new("shared-bank");
    let pool = PoolOptions::new()
        .size(1 << 16)
        .log_size(1 << 12)
        .lanes(run.threads as u32)
        .simulation(&simulation)
        .create(path.path(), SharedBank::opening())
        .expect("create");
    simulation.capture(true);
    simulation.capture_stores(run.at_stores);
    simulation.schedule(seed, run.threads);
    let attempts: Vec<Vec<Attempt>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..run.threads)
            .map(|thread| {
                let (pool, simulation) = (&pool, &simulation);
                scope.spawn(move || {
                    let _turn = simulation.join(thread);
                    (0..run.transfers)
                        .map(|attempt| {
                            let (from, to, amount) = planned(thread, attempt);
                            let began = simulation.moments();
                            let committed = transfer(pool, thread, from, to, amount);
                            Attempt {
                                committed,
                                began,
                                returned: simulation.moments(),
                            }
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a worker panicked"))
            .collect()
    });
    simulation.capture(false);
    let last_moment = simulation.moments() + 1;
    if let Err(wrong) = check(&observe(&pool), &attempts, last_moment) {
        panic!("{context}: after the run, {wrong}");
    }
    drop(pool);
    let lints = simulation.lints();
    let faults: Vec<String> = lints
        .iter()
        .filter(|lint| !lint.is_performance())
        .map(Lint::to_string)
        .collect();
    assert!(
        faults.is_empty(),
        "{context}: the domain found faults:\n{}",
        faults.join("\n")
    );

    let points = simulation.take_crash_points();
    let image_file = ScratchFile::new("shared-bank-image");
    let threads: Vec<Option<usize>> = points.iter().map(|point| point.thread).collect();
    let mut report = SharedBankReport {
        crash_points: points.len(),
        performance_lints: lints.len(),
        interleaving: BuildHasherDefault::<DefaultHasher>::default().hash_one(&threads),
        ..SharedBankReport::default()
    };
    for point in &points {
        report.images += check_point(point, &attempts, &image_file, &context, run);
    }
    let all: Vec<(usize, &Attempt)> = attempts
        .iter()
        .enumerate()
        .flat_map(|(thread, attempts)| attempts.iter().map(move |attempt| (thread, attempt)))
        .collect();
    report.committed = all.iter().filter(|(_, a)| a.committed.is_some()).count();
    report.refused = all.len() - report.committed;
    report.overlapping = all
        .iter()
        .filter(|&&(thread, a)| {
            all.iter()
                .any(|&(other, b)| other != thread && b.began < a.returned && a.began < b.returned)
        })
        .count();
    report
}

/// Opens every image of `point` from `file` and checks it; returns how many it checked.
fn check_point(
    point: &CrashPoint,
    attempts: &[Vec<Attempt>],
    file: &ScratchFile,
    context: &str,
    run: SharedBankRun,
) -> usize {
    let images = point.images(run.images_per_point, run.seed);
    for image in &images {
        let fail = |wrong: &str| -> ! {
            panic!("{context}: {}: {wrong}", image.description);
        };
        std::fs::write(file.path(), &image.bytes).expect("write the image");
        let opened = catch_unwind(AssertUnwindSafe(|| {
            PoolOptions::new()
                .flush_mode(FlushMode::None)
                .copy_on_write()
                .collect_at_open(true)
                .open::<SharedBank>(file.path())
                .map(|pool| {
                    let collection = crate::collected_at_open(&pool);
                    if collection.dangling_pointers != 0 {
                        return Err(format!(
                            "the recovered heap holds {} dangling pointers, the first {:?}",
                            collection.dangling_pointers, collection.first_dangling
                        ));
                    }
                    Ok(observe(&pool))
                })
        }));
        let found = match opened {
            Ok(Ok(Ok(found))) => found,
            Ok(Ok(Err(dangling))) => fail(&dangling),
            Ok(Err(error)) => fail(&format!("open failed: {error}")),
            Err(_) => fail("opening or reading the image panicked"),
        };
        if let Err(wrong) = check(&found, attempts, point.moment) {
            fail(&wrong);
        }
    }
    images.len()
}

/// The seeds a test runs by default and with `PMEM_SHARED_CRASH_SEEDS=<n>` (the first `n`
/// from 1), or the one seed `PMEM_SHARED_CRASH_SEED=<seed>` names.
#[must_use]
pub fn seeds(default_count: u64) -> Vec<u64> {
    let knob = |name: &str| {
        std::env::var(name).ok().map(|text| {
            text.parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}={text}: not a number"))
        })
    };
    if let Some(seed) = knob("PMEM_SHARED_CRASH_SEED") {
        return vec![seed];
    }
    (1..=knob("PMEM_SHARED_CRASH_SEEDS").unwrap_or(default_count)).collect()
}
