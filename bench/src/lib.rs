//! The workloads of `pmem-bench`, as a library so that tests can run them and check what
//! they cost. One op = one transaction, with the PMDK harness's fixed-seed xorshift64
//! (`shared/baselines/pmdk/pmdk_bench.c`):
//!
//! - `sps`: swap two random `u64` of a 1,000,000-element persistent array;
//! - `sps_deferred`: `sps` under [`Durability::Deferred`](pmem::Durability): swaps commit in
//!   groups of up to 64, made durable together, the last group synced inside the timed
//!   region;
//! - `empty_txn`: a transaction that writes nothing;
//! - `barrier`: a volatile store rewritten by `#[txn]` inside a transaction, store included
//!   (what `#[txn]` costs code that does not touch a pool);
//! - `list_push`: allocate a 64-byte node (key, value, next, padding) and link it at the head
//!   of a list in the root; the list's length is verified at the end;
//! - `alloc_free`: two transactions, as PMDK's alloc transaction and free transaction: one
//!   allocates a 64-byte object and returns it without storing it in the pool, held by a
//!   pin (PMDK's harness holds the returned `PMEMoid`); the next drops the pin. There is no
//!   free: the object is garbage, and the collector, run by `alloc` when the fixed-size
//!   (8 MiB) pool is full, reclaims it. At the end a collection must find no live object;
//! - `alloc_link_free`: the same, but the first transaction stores the object's pointer in
//!   the root and the second clears it, so both log a store and commit with fences;
//! - `hashmap_insert`: insert a random key as a 64-byte node at the head of its chain in a
//!   2^20-bucket table held in the root (Fibonacci hashing, as PMDK), and count it; the count
//!   and the chains are verified at the end;
//! - `recovery`: build an `ops`-node list (untimed, 1000 pushes per transaction), close the
//!   pool, and time `open` alone: recovery and loading the heap's metadata (the collection
//!   is left for later). Then the first allocating transaction and the first collection,
//!   each timed on its own and printed (`first_alloc_tx_after_open_secs`,
//!   `first_collection_secs`). Counts per op are per node;
//! - `gc`: build an `ops`-node list the same way and time one `Pool::collect` alone; the
//!   result carries the live bytes marked and swept per second;
//! - `vec_push`, `str_append`, `map_insert`, `map_get`, `kv_put` and `kv_memory`: the
//!   collections (`PVec`, `PString`, `PHashMap`) against the libpmemobj++ harness
//!   (`shared/baselines/pmdkxx/pmdkxx_bench.cpp`); the `collections` module describes them
//!   (`bench/src/collections.rs`). `map_insert` and `kv_put` also run on a shared pool
//!   ([`run_shared`]); on pools of their own, every collection workload runs on one thread.
//!
//! **Threads, on pools of their own.** [`run`] with `threads` > 1 gives each thread a pool
//! of its own (an exclusive transaction borrows its pool mutably), whose file name ends with
//! the thread's index. Thread `i` does `ops / threads` operations, one more if `i < ops %
//! threads`, so the total stays `ops`, and its pool is sized for its share. Every thread
//! seeds its generator with the harness's seed, not seed + index: a thread then does exactly
//! what a one-thread run of its share does, so the counts per op of both match. Pool
//! creation and verification are untimed; the time is the wall time from the barrier that
//! releases the threads into their timed regions until the last of them finishes, and the
//! counts are summed over the threads (they are per thread, see [`Stats`]). `sps`,
//! `empty_txn`, `list_push`, `alloc_free`, `alloc_link_free` and `hashmap_insert` take
//! threads; `barrier`, `recovery`, `gc` and the collection workloads do not (see
//! [`BenchError::SingleThreaded`]).
//!
//! **Threads, on one shared pool.** [`run_shared`] runs `sps` and `hashmap_insert` as the
//! PMDK harness's `--threads N` does: N threads on one pool, in shared transactions
//! ([`Pool::shared_txn`]), with locks ([`pmem::PMutex`]) where PMDK's threads write
//! disjoint data without them; the `shared` module says how (`bench/src/shared.rs`).
//!
//! Heap pools are sized to hold their nodes without growing (they may still grow if the
//! estimate is short; stderr reports the size). Each pool is a fresh file in the directory
//! given to [`run`], removed when the run ends. The flush mode is detected or forced with
//! `PMEM_FLUSH`. Diagnostics go to stderr, prefixed `# `.

mod collections;
mod shared;

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Instant;

use pmem::{PMut, PPtr, Persistent, Pinned, Pool, PoolOptions, Stats, Txn, txn};

pub use collections::{Memory, PAYLOAD_PLUS_POINTER};

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// The wall time of the timed region, in seconds; with several threads, from their
    /// common start to the end of the last one.
    pub secs: f64,
    /// The persistence work done in the timed region, summed over the threads.
    pub cost: Stats,
    /// For `gc`: the live bytes marked and swept per second, in GiB.
    pub gib_per_sec: Option<f64>,
    /// For `kv_memory`: the heap bytes per value.
    pub memory: Option<Memory>,
}

impl Measured {
    /// The run's timed regions (one per thread) taken together: from the first start to
    /// the last end.
    fn spanning(regions: &[Region]) -> Self {
        let start = regions.iter().map(|region| region.start).min();
        let end = regions.iter().map(|region| region.end).max();
        let (start, end) = start.zip(end).expect("a run has a thread");
        let secs = (end - start).as_secs_f64();
        let cost = regions
            .iter()
            .fold(Stats::default(), |total, region| sum(total, region.cost));
        Self {
            secs,
            cost,
            gib_per_sec: None,
            memory: None,
        }
    }

    /// The line `pmem-bench` prints for a run of `workload` with `ops` operations on
    /// `threads` threads: the fields of the PMDK harness's line, then pmem's counts per
    /// operation. ` threads=N` ends it only when N > 1, so that one-thread lines keep the
    /// format that scripts parse.
    #[must_use]
    pub fn report(&self, workload: &str, ops: u64, threads: NonZeroUsize) -> String {
        let per_op = |count: u64| count as f64 / ops as f64;
        let rate = self
            .gib_per_sec
            .map_or_else(String::new, |rate| format!(" gib_per_sec={rate:.2}"));
        let memory = self.memory.map_or_else(String::new, |memory| {
            format!(
                " value_bytes_per_value={:.1} heap_bytes_per_value={:.1} payload_plus_pointer={PAYLOAD_PLUS_POINTER}",
                memory.value_bytes, memory.heap_bytes
            )
        });
        let threads = if threads.get() > 1 {
            format!(" threads={threads}")
        } else {
            String::new()
        };
        format!(
            "workload={workload} ops={ops} secs={:.6} ops_per_sec={:.0} fences_per_op={:.2} flushes_per_op={:.2} log_bytes_per_op={:.1}{rate}{memory}{threads}",
            self.secs,
            ops as f64 / self.secs,
            per_op(self.cost.fences),
            per_op(self.cost.lines_flushed),
            per_op(self.cost.logged_bytes),
        )
    }
}

/// The work of two threads together (`Stats` has no `Add`: it counts one thread's work).
fn sum(mut total: Stats, part: Stats) -> Stats {
    total.lines_flushed += part.lines_flushed;
    total.fences += part.fences;
    total.msyncs += part.msyncs;
    total.logged_bytes += part.logged_bytes;
    total.commits += part.commits;
    total.rollbacks += part.rollbacks;
    total
}

/// Why a run did not take place or failed.
#[derive(Debug)]
pub enum BenchError {
    /// No workload has this name.
    UnknownWorkload(String),
    /// The workload runs on one thread only.
    SingleThreaded {
        /// The workload.
        workload: String,
        /// Why it has no multi-threaded variant.
        reason: &'static str,
    },
    /// The workload does not run this way (on a shared pool, or on this many threads).
    Unsupported {
        /// The workload.
        workload: String,
        /// What it supports.
        reason: &'static str,
    },
    /// A pool operation failed.
    Pool(pmem::Error),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownWorkload(name) => write!(f, "unknown workload {name:?}"),
            Self::SingleThreaded { workload, reason } => {
                write!(f, "{workload} runs on one thread only: {reason}")
            }
            Self::Unsupported { workload, reason } => write!(f, "{workload}: {reason}"),
            Self::Pool(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Pool(error) => Some(error),
            Self::UnknownWorkload(_) | Self::SingleThreaded { .. } | Self::Unsupported { .. } => {
                None
            }
        }
    }
}

impl From<pmem::Error> for BenchError {
    fn from(error: pmem::Error) -> Self {
        Self::Pool(error)
    }
}

/// Runs `workload` with `ops` operations on `threads` threads, its pools in `directory`.
///
/// # Errors
///
/// An unknown workload, threads asked of a workload that runs on one thread, or a failed
/// pool operation.
///
/// # Panics
///
/// If the pool fails its verification after the timed region.
pub fn run(
    workload: &str,
    ops: u64,
    threads: NonZeroUsize,
    directory: &Path,
) -> Result<Measured, BenchError> {
    let threaded: OnThreads = match workload {
        "sps" => on_threads::<Sps<EachSwap>>,
        "sps_deferred" => on_threads::<Sps<GroupedSwaps>>,
        "empty_txn" => on_threads::<EmptyTxn>,
        "list_push" => on_threads::<ListPush>,
        "alloc_free" => on_threads::<AllocFree<Pinning>>,
        "alloc_link_free" => on_threads::<AllocFree<Linking>>,
        "hashmap_insert" => on_threads::<HashmapInsert>,
        _ => return on_one_thread(workload, ops, threads, directory),
    };
    Ok(threaded(workload, ops, threads, directory)?)
}

/// Runs `workload` with `ops` operations on `threads` threads that share one pool in
/// `directory`, as the PMDK harness's `--threads N` does (see the `shared` module's
/// documentation for how each workload maps onto locks). One thread runs the same shared
/// transactions, alone.
///
/// # Errors
///
/// An unknown workload, one without a shared-pool variant (`sps`, `hashmap_insert`,
/// `map_insert` and `kv_put` have one) or a thread count it does not support, or a failed pool
/// operation.
///
/// # Panics
///
/// If the pool fails its verification after the timed region.
pub fn run_shared(
    workload: &str,
    ops: u64,
    threads: NonZeroUsize,
    directory: &Path,
) -> Result<Measured, BenchError> {
    shared::run(workload, ops, threads, directory)
}

/// Runs a workload that has no multi-threaded variant.
fn on_one_thread(
    workload: &str,
    ops: u64,
    threads: NonZeroUsize,
    directory: &Path,
) -> Result<Measured, BenchError> {
    let (single, reason): (OnOneThread, _) = match workload {
        "barrier" => (
            barrier,
            "it times volatile stores, and has no pool to give each thread",
        ),
        "recovery" => (recovery, "it times the open of one pool"),
        "gc" => (gc, "it times one collection of one pool"),
        "vec_push" => (collections::vec_push, COLLECTIONS_ALONE),
        "str_append" => (collections::str_append, COLLECTIONS_ALONE),
        "map_insert" => (collections::map_insert, COLLECTIONS_ALONE),
        "map_get" => (collections::map_get, COLLECTIONS_ALONE),
        "kv_put" => (collections::kv_put, COLLECTIONS_ALONE),
        "kv_memory" => (collections::kv_memory, COLLECTIONS_ALONE),
        other => return Err(BenchError::UnknownWorkload(other.to_owned())),
    };
    if threads.get() > 1 {
        return Err(BenchError::SingleThreaded {
            workload: workload.to_owned(),
            reason,
        });
    }
    Ok(single(&PoolFile::new(directory, workload, None), ops)?)
}

/// Why the collection workloads run on one thread.
pub(crate) const COLLECTIONS_ALONE: &str = "the collection workloads run on one pool each (map_insert and kv_put also run on a shared pool, with --threads N)";

type OnThreads = fn(&str, u64, NonZeroUsize, &Path) -> Result<Measured, pmem::Error>;
type OnOneThread = fn(&PoolFile, u64) -> Result<Measured, pmem::Error>;

/// A workload that runs on any number of threads, each on a pool of its own.
trait Workload: Sized {
    /// Creates the pool in `file`, sized for `ops` operations (untimed).
    fn setup(file: &PoolFile, ops: u64) -> Result<Self, pmem::Error>;

    /// The timed region: `ops` operations.
    fn run(&mut self, ops: u64) -> Result<(), pmem::Error>;

    /// Checks the pool after `ops` operations (untimed); panics if it is wrong.
    fn verify(self, ops: u64) -> Result<(), pmem::Error>;
}

fn on_threads<W: Workload>(
    workload: &str,
    ops: u64,
    threads: NonZeroUsize,
    directory: &Path,
) -> Result<Measured, pmem::Error> {
    let threads = threads.get();
    let start = Barrier::new(threads);
    let thread = |index: usize| {
        let file = PoolFile::new(directory, workload, (threads > 1).then_some(index));
        let ops = share(ops, threads, index);
        let arrival = Arrival(&start);
        let state = W::setup(&file, ops);
        drop(arrival);
        let mut state = state?;
        let ((), region) = timed(|| state.run(ops))?;
        state.verify(ops)?;
        Ok(region)
    };
    let regions = each_thread(threads, &thread)?;
    Ok(Measured::spanning(&regions))
}

/// Runs `thread(0)` on the caller's thread and `thread(1..threads)` on threads of their
/// own, and returns their timed regions, or the first error. Thread 0 is the caller's own,
/// so that a one-thread run is what it was before threads existed.
pub(crate) fn each_thread(
    threads: usize,
    thread: &(impl Fn(usize) -> Result<Region, pmem::Error> + Sync),
) -> Result<Vec<Region>, pmem::Error> {
    let regions: Vec<Result<Region, pmem::Error>> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads)
            .map(|index| scope.spawn(move || thread(index)))
            .collect();
        let mut regions = vec![thread(0)];
        regions.extend(others.into_iter().map(|other| {
            other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }));
        regions
    });
    regions.into_iter().collect()
}

/// Waits at the start barrier when dropped: a thread whose setup failed, by an error or a
/// panic, still arrives, or the other threads would wait for it forever.
struct Arrival<'a>(&'a Barrier);

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// Thread `index`'s share of `ops` operations over `threads` threads: the remainder goes
/// to the first threads.
fn share(ops: u64, threads: usize, index: usize) -> u64 {
    let (threads, index) = (threads as u64, index as u64);
    ops / threads + u64::from(index < ops % threads)
}

const SPS_ELEMENTS: usize = 1_000_000;

/// The PMDK harness's generator: Marsaglia's xorshift64 with its fixed seed.
struct Xorshift64(u64);

impl Xorshift64 {
    fn new() -> Self {
        Self(0x2545_f491_4f6c_dd1d)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A uniform index below `bound`, without division, as the harness does.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next()) * bound as u128) >> 64) as usize
    }
}

/// One thread's timed region: its bounds, and the persistence work the thread did in it.
struct Region {
    start: Instant,
    end: Instant,
    cost: Stats,
}

/// The timed region of a thread, while it runs: its wall time, and (from `/proc`, on
/// stderr) the thread's CPU time and involuntary context switches over it, so that a run
/// disturbed by other processes can be spotted, as the PMDK harness's `region_end` does.
struct TimedRegion {
    cpu_ns: Option<u64>,
    preempted: Option<u64>,
    start: Instant,
}

impl TimedRegion {
    fn begin() -> Self {
        let (cpu_ns, preempted) = (thread_cpu_ns(), thread_preemptions());
        Self {
            cpu_ns,
            preempted,
            start: Instant::now(),
        }
    }

    /// Ends the region and returns when it started and ended.
    fn end(self) -> (Instant, Instant) {
        let end = Instant::now();
        let wall = (end - self.start).as_secs_f64();
        let cpu = thread_cpu_ns()
            .zip(self.cpu_ns)
            .map(|(now, then)| now.saturating_sub(then) as f64 * 1e-9);
        let preempted = thread_preemptions()
            .zip(self.preempted)
            .map(|(now, then)| now.saturating_sub(then));
        if let (Some(cpu), Some(preempted)) = (cpu, preempted) {
            eprintln!(
                "# timed_region wall={wall:.3} cpu={cpu:.3} cpu_util={:.3} invol_ctxsw={preempted}",
                if wall > 0.0 { cpu / wall } else { 0.0 }
            );
        }
        (self.start, end)
    }
}

/// Runs `work` as the calling thread's timed region: returns its value and the region.
fn timed<T, E>(work: impl FnOnce() -> Result<T, E>) -> Result<(T, Region), E> {
    let before = Stats::current_thread();
    let region = TimedRegion::begin();
    let value = work()?;
    let (start, end) = region.end();
    let cost = Stats::current_thread() - before;
    Ok((value, Region { start, end, cost }))
}

/// The calling thread's time on a CPU, in nanoseconds (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How often the calling thread was preempted (`/proc/thread-self/status`).
fn thread_preemptions() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("nonvoluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()
}

/// A pool's file, removed when the run ends. The process id keeps concurrent runs apart;
/// `thread` tells the pools of one run's threads apart. (The tests' guard,
/// `pmem::simulation::ScratchFile`, is not used here: the benchmarks build `pmem` without
/// the `simulation` feature, so that they measure the library users get.)
pub struct PoolFile(PathBuf);

impl PoolFile {
    /// `directory/pmem-bench-<workload>-<pid>[-<thread>].pool`, removed first if a killed
    /// run left it behind.
    #[must_use]
    pub fn new(directory: &Path, workload: &str, thread: Option<usize>) -> Self {
        let thread = thread.map_or_else(String::new, |index| format!("-{index}"));
        let path = directory.join(format!(
            "pmem-bench-{workload}-{}{thread}.pool",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl PoolFile {
    /// Where the pool is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

type Array = [u64; SPS_ELEMENTS];

/// `sps`: the array, and the generator of the indices to swap.
struct Sps<D> {
    pool: Pool<Array>,
    random: Xorshift64,
    durability: PhantomData<D>,
}

/// When `sps`'s transactions are durable: `sps` as PMDK's, each when it returns, or
/// `sps_deferred`, in groups ([`pmem::Durability::Deferred`]), the last one synced inside
/// the timed region.
trait SpsDurability {
    const DURABILITY: pmem::Durability;
}

/// `sps`: each swap durable when its transaction returns.
struct EachSwap;

impl SpsDurability for EachSwap {
    const DURABILITY: pmem::Durability = pmem::Durability::Immediate;
}

/// `sps_deferred`: swaps durable in groups.
struct GroupedSwaps;

impl SpsDurability for GroupedSwaps {
    const DURABILITY: pmem::Durability = pmem::Durability::Deferred;
}

impl<D: SpsDurability> Workload for Sps<D> {
    fn setup(file: &PoolFile, _: u64) -> Result<Self, pmem::Error> {
        let pool = PoolOptions::new()
            .size(16 << 20)
            .log_size(1 << 16)
            .durability(D::DURABILITY)
            .create_with(&file.0, |array: &mut Array| {
                for (index, value) in array.iter_mut().enumerate() {
                    *value = index as u64;
                }
            })?;
        Ok(Self {
            pool,
            random: Xorshift64::new(),
            durability: PhantomData,
        })
    }

    fn run(&mut self, ops: u64) -> Result<(), pmem::Error> {
        let Self { pool, random, .. } = self;
        for _ in 0..ops {
            let (i, j) = (random.below(SPS_ELEMENTS), random.below(SPS_ELEMENTS));
            pool.txn(|tx| swap(tx.root_mut(), i, j));
        }
        pool.sync();
        Ok(())
    }

    fn verify(self, _: u64) -> Result<(), pmem::Error> {
        let sum: u64 = self.pool.root().iter().sum();
        let expected = (SPS_ELEMENTS as u64) * (SPS_ELEMENTS as u64 - 1) / 2;
        assert_eq!(
            sum, expected,
            "sps verify failed: the array is no longer a permutation"
        );
        eprintln!("# verify ok (array sum)");
        Ok(())
    }
}

/// One `sps` operation, written as a user would.
#[txn]
fn swap(mut array: PMut<'_, Array>, i: usize, j: usize) {
    let (a, b) = (array[i], array[j]);
    array[i] = b;
    array[j] = a;
}

/// `empty_txn`: a pool whose root no transaction writes.
struct EmptyTxn {
    pool: Pool<u64>,
}

impl Workload for EmptyTxn {
    fn setup(file: &PoolFile, _: u64) -> Result<Self, pmem::Error> {
        let pool = PoolOptions::new()
            .size(1 << 20)
            .log_size(1 << 16)
            .create(&file.0, 0u64)?;
        Ok(Self { pool })
    }

    fn run(&mut self, ops: u64) -> Result<(), pmem::Error> {
        for _ in 0..ops {
            self.pool.txn(|tx| *std::hint::black_box(tx.root()));
        }
        Ok(())
    }

    /// Transactions that write nothing leave nothing to check.
    fn verify(self, _: u64) -> Result<(), pmem::Error> {
        Ok(())
    }
}

fn barrier(file: &PoolFile, ops: u64) -> Result<Measured, pmem::Error> {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 16)
        .create(&file.0, 0u64)?;
    let mut volatile = [0u64; 1024];
    let ((), region) = timed(|| {
        pool.txn(|_| fill_volatile(&mut volatile, ops));
        std::hint::black_box(&volatile);
        Ok::<_, pmem::Error>(())
    })?;
    Ok(Measured::spanning(&[region]))
}

/// Volatile stores that `#[txn]` rewrites: the base's type is hidden from the macro, so each
/// store goes through the place steps, which resolve to plain indexing.
#[txn]
fn fill_volatile(volatile: &mut [u64; 1024], ops: u64) {
    let table = std::hint::black_box(volatile);
    for op in 0..ops {
        table[(op as usize) & 1023] = op;
    }
}

/// The shared 64-byte node of the heap workloads: PMDK's `struct node` (key, value, next,
/// padding), with an 8-byte `PPtr` where PMDK has a 16-byte `PMEMoid`.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Node {
    key: u64,
    val: u64,
    next: PPtr<Node>,
    pad: [u64; 5],
}

const _: () = assert!(size_of::<Node>() == 64, "a node is 64 bytes, as in PMDK");

/// Untimed list builds commit this many pushes per transaction.
const BUILD_BATCH: u64 = 1000;

/// A pool size that holds `nodes` nodes without growing: their pages, one page-table page
/// per 511 data pages, and 16 MiB for the header, the undo log and the heap's metadata, on
/// top of a root of `root_bytes`.
fn pool_size_for(root_bytes: u64, nodes: u64) -> u64 {
    root_bytes + nodes * 64 + nodes * 64 / 511 + (16 << 20)
}

/// The root of `list_push`, `recovery` and `gc`.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct List {
    head: PPtr<Node>,
    len: u64,
}

/// One `list_push` operation: the node is new (no log entry); the root's line is logged.
#[txn]
fn push(tx: &mut Txn<'_, List>, key: u64, val: u64) -> Result<PPtr<Node>, pmem::Error> {
    let next = tx.root().head;
    let node = tx.alloc(Node {
        key,
        val,
        next,
        pad: [0; 5],
    })?;
    let mut list = tx.root_mut();
    list.head = node;
    list.len += 1;
    Ok(node)
}

fn create_list_pool(file: &PoolFile, nodes: u64) -> Result<Pool<List>, pmem::Error> {
    let pool = PoolOptions::new()
        .size(pool_size_for(0, nodes))
        .log_size(1 << 16)
        .create(
            &file.0,
            List {
                head: PPtr::null(),
                len: 0,
            },
        )?;
    eprintln!(
        "# pool={} size_mib={}",
        file.0.display(),
        pool.info().size >> 20
    );
    Ok(pool)
}

/// Pushes `nodes` nodes, `BUILD_BATCH` per transaction, with keys from `random`.
fn build_list(
    pool: &mut Pool<List>,
    nodes: u64,
    random: &mut Xorshift64,
) -> Result<(), pmem::Error> {
    let start = Instant::now();
    let mut built = 0;
    while built < nodes {
        let batch = BUILD_BATCH.min(nodes - built);
        pool.try_txn(|tx| {
            for val in built..built + batch {
                push(tx, random.next(), val)?;
            }
            Ok::<_, pmem::Error>(())
        })?;
        built += batch;
    }
    eprintln!("# build_secs={:.3}", start.elapsed().as_secs_f64());
    Ok(())
}

/// The list's length by walking it (every pointer checked by `Pool::get`).
fn list_length(pool: &Pool<List>) -> Result<u64, pmem::Error> {
    let mut length = 0;
    let mut at = pool.root().head;
    while !at.is_null() {
        at = pool.get(at)?.next;
        length += 1;
    }
    Ok(length)
}

/// Checks that the list has `nodes` nodes, by its length field and by walking it.
fn verify_list(pool: &Pool<List>, nodes: u64) -> Result<(), pmem::Error> {
    let start = Instant::now();
    let walked = list_length(pool)?;
    let walk_secs = start.elapsed().as_secs_f64();
    let recorded = pool.root().len;
    assert!(
        walked == nodes && recorded == nodes,
        "list verify failed: walked {walked} nodes, len field {recorded}, expected {nodes}"
    );
    eprintln!("# verify ok (list length {walked}, walk_secs={walk_secs:.3})");
    Ok(())
}

/// Reports the pool's size and the heap's occupancy on stderr.
fn report_heap<R: Persistent>(pool: &Pool<R>) {
    let heap = pool.heap_stats();
    eprintln!(
        "# heap pool_size_mib={} heap_mib={} allocated_objects={} allocated_mib={:.1} free_page_mib={:.1} free_slot_kib={:.1}",
        pool.info().size >> 20,
        heap.heap_bytes >> 20,
        heap.allocated_objects,
        heap.allocated_bytes as f64 / f64::from(1 << 20),
        heap.free_page_bytes as f64 / f64::from(1 << 20),
        heap.free_slot_bytes as f64 / 1024.0,
    );
}

fn describe(collection: &pmem::Collection) -> String {
    format!(
        "live_objects={} live_bytes={} freed_objects={} freed_bytes={} released_pages={} pinned={} duration_secs={:.6}",
        collection.live_objects,
        collection.live_bytes,
        collection.freed_objects,
        collection.freed_bytes,
        collection.released_pages,
        collection.pinned,
        collection.duration.as_secs_f64(),
    )
}

/// `list_push`: the list, and the generator of its keys.
struct ListPush {
    pool: Pool<List>,
    random: Xorshift64,
}

impl Workload for ListPush {
    fn setup(file: &PoolFile, ops: u64) -> Result<Self, pmem::Error> {
        Ok(Self {
            pool: create_list_pool(file, ops)?,
            random: Xorshift64::new(),
        })
    }

    fn run(&mut self, ops: u64) -> Result<(), pmem::Error> {
        let Self { pool, random } = self;
        for op in 0..ops {
            let key = random.next();
            pool.try_txn(|tx| push(tx, key, op))?;
        }
        Ok(())
    }

    fn verify(self, ops: u64) -> Result<(), pmem::Error> {
        verify_list(&self.pool, ops)?;
        report_heap(&self.pool);
        Ok(())
    }
}

/// The object of `alloc_free`: 64 bytes, as PMDK's `pmemobj_tx_alloc(64, ...)`.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Blob {
    words: [u64; 8],
}

/// The root of `alloc_free`: where the object lives between its two transactions.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Slot {
    blob: PPtr<Blob>,
}

/// The first half of an `alloc_free` operation, as PMDK's harness defines it: a transaction
/// allocates the object and hands it out without storing it in the pool. A pin keeps it
/// alive, as PMDK's returned `PMEMoid` does (until freed).
#[txn]
fn alloc_pinned_blob(tx: &mut Txn<'_, Slot>) -> Result<Pinned<Blob>, pmem::Error> {
    let blob = tx.alloc(Blob { words: [0; 8] })?;
    tx.pin(blob)
}

/// The first half of an `alloc_link_free` operation: the new object is stored in the root.
#[txn]
fn alloc_blob(tx: &mut Txn<'_, Slot>) -> Result<PPtr<Blob>, pmem::Error> {
    let blob = tx.alloc(Blob { words: [0; 8] })?;
    let mut slot = tx.root_mut();
    slot.blob = blob;
    Ok(blob)
}

/// The second half of `alloc_link_free`: the object becomes garbage.
#[txn]
fn drop_blob(mut slot: PMut<'_, Slot>) {
    slot.blob = PPtr::null();
}

/// The fixed size of the `alloc_free` pool: small, so that the run shows memory reclaimed.
const ALLOC_FREE_POOL: u64 = 8 << 20;

/// How an `alloc_free`-style workload holds its object between its two transactions.
trait Holding {
    /// The workload's name.
    const NAME: &'static str;

    /// One operation: the two transactions.
    fn alloc_free(pool: &mut Pool<Slot>) -> Result<(), pmem::Error>;
}

/// `alloc_free`, as PMDK's harness does it. The object never becomes reachable from the
/// pool: in between, the program holds it by a pin (PMDK's harness holds its `PMEMoid`),
/// and the second transaction drops the pin, which makes the object garbage for the next
/// collection.
struct Pinning;

impl Holding for Pinning {
    const NAME: &'static str = "alloc_free";

    fn alloc_free(pool: &mut Pool<Slot>) -> Result<(), pmem::Error> {
        let pinned = pool.try_txn(alloc_pinned_blob)?;
        pool.txn(|_| drop(pinned));
        Ok(())
    }
}

/// `alloc_link_free`: the object is stored in the root by the first transaction and
/// unlinked by the second, so both transactions log and commit a store.
struct Linking;

impl Holding for Linking {
    const NAME: &'static str = "alloc_link_free";

    fn alloc_free(pool: &mut Pool<Slot>) -> Result<(), pmem::Error> {
        pool.try_txn(alloc_blob)?;
        pool.txn(|tx| drop_blob(tx.root_mut()));
        Ok(())
    }
}

/// `alloc_free` and `alloc_link_free`: a fixed-size pool, where every operation leaves a
/// 64-byte object of garbage, and no 64-byte object must be left at the end.
struct AllocFree<H> {
    pool: Pool<Slot>,
    collections_before: u64,
    holding: PhantomData<H>,
}

impl<H: Holding> Workload for AllocFree<H> {
    fn setup(file: &PoolFile, _: u64) -> Result<Self, pmem::Error> {
        let pool = PoolOptions::new()
            .size(ALLOC_FREE_POOL)
            .max_size(ALLOC_FREE_POOL)
            .log_size(1 << 16)
            .create(&file.0, Slot { blob: PPtr::null() })?;
        eprintln!(
            "# pool={} size_mib={} max_size_mib={}",
            file.0.display(),
            pool.info().size >> 20,
            ALLOC_FREE_POOL >> 20
        );
        Ok(Self {
            collections_before: pool.heap_stats().collections,
            pool,
            holding: PhantomData,
        })
    }

    fn run(&mut self, ops: u64) -> Result<(), pmem::Error> {
        for _ in 0..ops {
            H::alloc_free(&mut self.pool)?;
        }
        Ok(())
    }

    fn verify(mut self, _: u64) -> Result<(), pmem::Error> {
        let name = H::NAME;
        let pool = &mut self.pool;
        let collections = pool.heap_stats().collections - self.collections_before;
        eprintln!("# collections_during_run={collections}");
        report_heap(pool);
        let collection = pool.collect()?;
        eprintln!("# final collect {}", describe(&collection));
        let heap = pool.heap_stats();
        let live_blobs: u64 = heap
            .types
            .iter()
            .filter(|entry| entry.object_size == 64)
            .map(|entry| entry.objects)
            .sum();
        assert!(
            pool.root().blob.is_null() && collection.live_objects == 0 && live_blobs == 0,
            "{name} verify failed: {} live objects, {live_blobs} allocated 64-byte objects",
            collection.live_objects
        );
        assert_eq!(
            pool.info().size,
            ALLOC_FREE_POOL,
            "{name} verify failed: the pool grew"
        );
        eprintln!("# verify ok (no live blobs)");
        report_heap(pool);
        Ok(())
    }
}

const HASHMAP_BITS: u32 = 20;
const HASHMAP_BUCKETS: usize = 1 << HASHMAP_BITS;

/// The root of `hashmap_insert`: 2^20 chain heads (8 MiB, more than the largest heap object,
/// so the table is the root) and the count.
#[derive(Persistent)]
#[repr(C)]
struct Map {
    buckets: [PPtr<Node>; HASHMAP_BUCKETS],
    count: u64,
}

/// PMDK's bucket: Fibonacci hashing onto 2^20 buckets.
fn bucket_of(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - HASHMAP_BITS)) as usize
}

/// One `hashmap_insert` operation: the bucket's line and the count's line are logged.
#[txn]
fn insert(tx: &mut Txn<'_, Map>, key: u64, val: u64) -> Result<(), pmem::Error> {
    let bucket = bucket_of(key);
    let next = tx.root().buckets[bucket];
    let node = tx.alloc(Node {
        key,
        val,
        next,
        pad: [0; 5],
    })?;
    let mut map = tx.root_mut();
    map.buckets[bucket] = node;
    map.count += 1;
    Ok(())
}

/// `hashmap_insert`: the table, and the generator of its keys.
struct HashmapInsert {
    pool: Pool<Map>,
    random: Xorshift64,
}

impl Workload for HashmapInsert {
    fn setup(file: &PoolFile, ops: u64) -> Result<Self, pmem::Error> {
        let setup = Instant::now();
        // The root starts all zeros: every bucket null, the count 0.
        let pool: Pool<Map> = PoolOptions::new()
            .size(pool_size_for(size_of::<Map>() as u64, ops))
            .log_size(1 << 16)
            .create_with(&file.0, |_: &mut Map| {})?;
        eprintln!(
            "# pool={} size_mib={} setup_secs={:.3}",
            file.0.display(),
            pool.info().size >> 20,
            setup.elapsed().as_secs_f64()
        );
        Ok(Self {
            pool,
            random: Xorshift64::new(),
        })
    }

    fn run(&mut self, ops: u64) -> Result<(), pmem::Error> {
        let Self { pool, random } = self;
        for op in 0..ops {
            let key = random.next();
            pool.try_txn(|tx| insert(tx, key, op))?;
        }
        Ok(())
    }

    fn verify(self, ops: u64) -> Result<(), pmem::Error> {
        let pool = &self.pool;
        let mut seen = 0u64;
        for &head in &pool.root().buckets {
            let mut at = head;
            while !at.is_null() {
                let node = pool.get(at)?;
                assert_eq!(
                    bucket_of(node.key),
                    bucket_of(pool.get(head)?.key),
                    "hashmap verify failed: a node in the wrong bucket"
                );
                at = node.next;
                seen += 1;
            }
        }
        let count = pool.root().count;
        assert!(
            count == ops && seen == ops,
            "hashmap verify failed: count {count}, {seen} nodes in the chains, expected {ops}"
        );
        eprintln!("# verify ok (count {seen})");
        report_heap(pool);
        Ok(())
    }
}

fn recovery(file: &PoolFile, nodes: u64) -> Result<Measured, pmem::Error> {
    let mut pool = create_list_pool(file, nodes)?;
    build_list(&mut pool, nodes, &mut Xorshift64::new())?;
    pool.close();

    let (mut pool, region) = timed(|| PoolOptions::new().open::<List>(&file.0))?;
    let cost = region.cost;
    eprintln!(
        "# open cost fences={} flushes={} log_bytes={}",
        cost.fences, cost.lines_flushed, cost.logged_bytes
    );

    let info = pool.info();
    eprintln!(
        "# opened previous_shutdown_clean={} transactions_rolled_back={} flush_mode={}",
        info.previous_shutdown_clean, info.transactions_rolled_back, info.flush_mode
    );
    // As PMDK: the first allocating transaction after open (its object is left as garbage).
    let first = Instant::now();
    pool.try_txn(|tx| {
        tx.alloc(Node {
            key: 0,
            val: 0,
            next: PPtr::null(),
            pad: [0; 5],
        })
    })?;
    eprintln!(
        "# first_alloc_tx_after_open_secs={:.6}",
        first.elapsed().as_secs_f64()
    );
    // The collection that `open` leaves for later, whenever it runs.
    let collection = pool.collect()?;
    eprintln!(
        "# first_collection {} gib_per_sec={:.2}",
        describe(&collection),
        gib_per_sec(collection.live_bytes, collection.duration.as_secs_f64())
    );
    eprintln!(
        "# first_collection_secs={:.6}",
        collection.duration.as_secs_f64()
    );
    assert_eq!(
        collection.live_objects, nodes,
        "recovery verify failed: the first collection found the wrong number of nodes"
    );
    verify_list(&pool, nodes)?;
    report_heap(&pool);
    Ok(Measured::spanning(&[region]))
}

fn gc(file: &PoolFile, nodes: u64) -> Result<Measured, pmem::Error> {
    let mut pool = create_list_pool(file, nodes)?;
    build_list(&mut pool, nodes, &mut Xorshift64::new())?;
    report_heap(&pool);

    let (collection, region) = timed(|| pool.collect())?;

    eprintln!(
        "# collect {} fences={} flushes={}",
        describe(&collection),
        region.cost.fences,
        region.cost.lines_flushed
    );
    assert!(
        collection.live_objects == nodes && collection.freed_objects == 0,
        "gc verify failed: {} live and {} freed objects, expected {nodes} live",
        collection.live_objects,
        collection.freed_objects
    );
    verify_list(&pool, nodes)?;
    let measured = Measured::spanning(&[region]);
    Ok(Measured {
        gib_per_sec: Some(gib_per_sec(collection.live_bytes, measured.secs)),
        ..measured
    })
}

fn gib_per_sec(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / f64::from(1 << 30) / secs
}
