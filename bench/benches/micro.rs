//! Criterion micro-benchmarks of the steps a pmem transaction is made of. `pmem-bench`
//! (`bench/src/main.rs`) times whole workloads against PMDK; these time one step each, with
//! criterion's statistics, so a change to one step shows up as a change to one figure.
//!
//! - `barrier`: what the `#[txn]` store rewrite costs on a *volatile* store (an index into a
//!   `&mut [u64; 1024]`), per store, inside one open transaction: `txn_fn` is a `#[txn]`
//!   function, `plain_fn` the same loop without `#[txn]`. Equal figures mean the rewrite
//!   costs nothing on code that does not touch a pool.
//! - `log_append`: one transaction storing `k` `u64`s (`k` = 1, 4, 16) into a persistent
//!   array root: `distinct_lines/k` into `k` cache lines, none adjacent, so each store appends
//!   one undo-log entry (one fence each); `one_line/k` all into one line, one entry. The
//!   difference is what `k - 1` entries cost.
//! - `commit`: `empty`, a transaction that only reads (no fence), and `one_store`, one logged
//!   8-byte store (one entry, then the commit's two fences).
//! - `alloc`: `tx.alloc` of a 64-byte node per transaction on a fixed 8 MiB pool:
//!   `garbage` leaves the node unreachable (no log entry, no fence; the collector that
//!   `alloc` runs when the heap is full reclaims it, so its cost is in the figure), and
//!   `linked` stores it into the root (one logged store; the previous node becomes garbage).
//!
//! When it starts, each benchmark but `barrier` prints (on stderr, prefixed `# `) what one of
//! its transactions costs in fences, flushed lines and logged bytes: deterministic counts to
//! read the noisy times against. The `alloc` benchmarks also print how many collections ran
//! during them (warm-up included).
//!
//! Run them all, or those whose name contains a filter:
//!
//! ```text
//! cargo bench -p pmem-bench --bench micro
//! cargo bench -p pmem-bench --bench micro -- log_append
//! cargo bench -p pmem-bench --bench micro -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! The pools are fresh files in `/dev/shm` (else the temporary directory), removed at exit.
//! They are flushed with CLWB (else the best cache-line flush this CPU has), as
//! `PMEM_FLUSH=clwb` does for `pmem-bench`: on `/dev/shm` detection would pick `msync`, a
//! system call per transaction that would swamp every other cost. Setting `PMEM_FLUSH`
//! overrides that choice (`PMEM_FLUSH=none` leaves the software cost alone).

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use pmem::{CACHE_LINE, FlushMode, PMut, PPtr, Persistent, Pool, PoolOptions, Stats, Txn, txn};
use pmem_bench::PoolFile;

/// An open pool and its file. Fields drop in order: the pool is closed before its file is
/// removed.
struct BenchPool<R: Persistent> {
    pool: Pool<R>,
    _file: PoolFile,
}

impl<R: Persistent> BenchPool<R> {
    /// A new `size`-byte pool that cannot grow, so that a full heap means a collection.
    fn create(name: &str, size: u64, root: R) -> Self {
        let file = PoolFile::new(&pmem::scratch_directory(), name, None);
        let mut options = PoolOptions::new()
            .size(size)
            .max_size(size)
            .log_size(1 << 16);
        if let Some(mode) = forced_flush_mode() {
            options = options.flush_mode(mode);
        }
        let pool = options
            .create(file.path(), root)
            .unwrap_or_else(|error| panic!("creating {}: {error}", file.path().display()));
        Self { pool, _file: file }
    }
}

/// CLWB, or the best cache-line flush this CPU has; `None` when `PMEM_FLUSH` is set (the
/// runtime then follows it) or the CPU has no cache-line flush (the runtime then detects).
fn forced_flush_mode() -> Option<FlushMode> {
    if std::env::var_os("PMEM_FLUSH").is_some() {
        return None;
    }
    [FlushMode::Clwb, FlushMode::Clflushopt, FlushMode::Clflush]
        .into_iter()
        .find(|mode| mode.is_supported())
}

/// Runs `op` once and prints its persistence cost; returns it for the caller to check.
fn report_cost(label: &str, pool_flush_mode: FlushMode, op: impl FnOnce()) -> Stats {
    let before = Stats::current_thread();
    op();
    let cost = Stats::current_thread() - before;
    eprintln!(
        "# {label}: fences={} lines_flushed={} logged_bytes={} (flush_mode={pool_flush_mode})",
        cost.fences, cost.lines_flushed, cost.logged_bytes
    );
    cost
}

const VOLATILE_WORDS: usize = 1024;

/// As `pmem-bench barrier`: binding the array through a call hides its declared type from
/// the macro, which then rewrites each store into place steps; `black_box` also keeps the
/// optimiser from proving the stores dead.
#[txn]
fn fill_txn(volatile: &mut [u64; VOLATILE_WORDS], stores: u64) {
    let table = black_box(volatile);
    for store in 0..stores {
        table[(store as usize) & (VOLATILE_WORDS - 1)] = store;
    }
}

/// `fill_txn` without `#[txn]`: the baseline.
fn fill_plain(volatile: &mut [u64; VOLATILE_WORDS], stores: u64) {
    let table = black_box(volatile);
    for store in 0..stores {
        table[(store as usize) & (VOLATILE_WORDS - 1)] = store;
    }
}

fn barrier(c: &mut Criterion) {
    let mut bench = BenchPool::create("barrier", 1 << 20, 0u64);
    let mut volatile = [0u64; VOLATILE_WORDS];
    let mut group = c.benchmark_group("barrier");
    // One iteration is one store; both loops run inside an open transaction, and only the
    // loop is timed, so begin and commit are not in the figure.
    group.throughput(Throughput::Elements(1));
    group.bench_function("txn_fn", |b| {
        b.iter_custom(|stores| {
            bench.pool.txn(|_| {
                let start = Instant::now();
                fill_txn(&mut volatile, stores);
                start.elapsed()
            })
        });
    });
    group.bench_function("plain_fn", |b| {
        b.iter_custom(|stores| {
            bench.pool.txn(|_| {
                let start = Instant::now();
                fill_plain(&mut volatile, stores);
                start.elapsed()
            })
        });
    });
    group.finish();
}

const WORDS_PER_LINE: usize = CACHE_LINE / size_of::<u64>();

/// Room for 16 logged lines with an unlogged line between each two: adjacent new lines
/// would share one log entry.
const ARRAY_LINES: usize = 32;

type Lines = [u64; ARRAY_LINES * WORDS_PER_LINE];

#[txn]
fn store_at(mut lines: PMut<'_, Lines>, indices: &[usize], value: u64) {
    for &index in indices {
        lines[index] = value;
    }
}

fn log_append(c: &mut Criterion) {
    let mut bench =
        BenchPool::<Lines>::create("log_append", 1 << 20, [0; ARRAY_LINES * WORDS_PER_LINE]);
    let flush_mode = bench.pool.info().flush_mode;
    let mut group = c.benchmark_group("log_append");
    for stores in [1, 4, 16] {
        let every_other_line: Vec<usize> = (0..stores).map(|i| 2 * i * WORDS_PER_LINE).collect();
        let one_line: Vec<usize> = (0..stores).map(|i| i % WORDS_PER_LINE).collect();
        // A line's first entry logs its first five words; a store past them, the rest.
        let one_line_entries = if stores <= 5 { 1 } else { 2 };
        for (name, indices, entries) in [
            ("distinct_lines", every_other_line, stores),
            ("one_line", one_line, one_line_entries),
        ] {
            let label = format!("log_append/{name}/{stores}");
            let mut value = 0u64;
            let mut reported = false;
            group.bench_with_input(BenchmarkId::new(name, stores), &indices, |b, indices| {
                if !reported {
                    reported = true;
                    let cost = report_cost(&label, flush_mode, || {
                        bench.pool.txn(|tx| store_at(tx.root_mut(), indices, 1));
                    });
                    // The benchmark's premise: one fence per entry, and two to commit.
                    assert_eq!(cost.fences, entries as u64 + 2, "log entries of {label}");
                }
                b.iter(|| {
                    value += 1;
                    bench.pool.txn(|tx| store_at(tx.root_mut(), indices, value));
                });
            });
        }
    }
    group.finish();
}

fn commit(c: &mut Criterion) {
    let mut bench = BenchPool::create("commit", 1 << 20, 0u64);
    let flush_mode = bench.pool.info().flush_mode;
    let mut group = c.benchmark_group("commit");
    let mut reported = false;
    group.bench_function("empty", |b| {
        if !reported {
            reported = true;
            report_cost("commit/empty", flush_mode, || {
                bench.pool.txn(|tx| *black_box(tx.root()));
            });
        }
        b.iter(|| bench.pool.txn(|tx| *black_box(tx.root())));
    });
    let mut reported = false;
    let mut value = 0u64;
    group.bench_function("one_store", |b| {
        if !reported {
            reported = true;
            report_cost("commit/one_store", flush_mode, || {
                bench.pool.txn(|tx| tx.root_mut().set(1));
            });
        }
        b.iter(|| {
            value += 1;
            bench.pool.txn(|tx| tx.root_mut().set(value));
        });
    });
    group.finish();
}

/// A 64-byte heap object, as `pmem-bench`'s and PMDK's list node.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Node {
    key: u64,
    next: PPtr<Node>,
    pad: [u64; 6],
}

const _: () = assert!(size_of::<Node>() == 64);

const NODE: Node = Node {
    key: 0,
    next: PPtr::null(),
    pad: [0; 6],
};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Slot {
    node: PPtr<Node>,
}

#[txn]
fn alloc_linked(tx: &mut Txn<'_, Slot>, key: u64) -> Result<(), pmem::Error> {
    let node = tx.alloc(Node { key, ..NODE })?;
    let mut slot = tx.root_mut();
    slot.node = node;
    Ok(())
}

/// Small enough that a long run fills the heap many times over: the collections that
/// reclaim the garbage are part of what `alloc` costs.
const ALLOC_POOL: u64 = 8 << 20;

fn alloc(c: &mut Criterion) {
    let empty = Slot { node: PPtr::null() };
    let mut garbage = BenchPool::create("alloc-garbage", ALLOC_POOL, empty);
    let mut linked = BenchPool::create("alloc-linked", ALLOC_POOL, empty);
    let mut group = c.benchmark_group("alloc");

    let flush_mode = garbage.pool.info().flush_mode;
    // Also tells whether the benchmark ran (a filter may skip it).
    let mut reported = false;
    group.bench_function("garbage", |b| {
        if !reported {
            reported = true;
            report_cost("alloc/garbage", flush_mode, || {
                garbage.pool.try_txn(|tx| tx.alloc(NODE)).expect("alloc");
            });
        }
        b.iter(|| garbage.pool.try_txn(|tx| tx.alloc(NODE)).expect("alloc"));
    });
    if reported {
        eprintln!(
            "# alloc/garbage: {} collections",
            garbage.pool.heap_stats().collections
        );
    }

    let flush_mode = linked.pool.info().flush_mode;
    let mut reported = false;
    let mut key = 0u64;
    group.bench_function("linked", |b| {
        if !reported {
            reported = true;
            report_cost("alloc/linked", flush_mode, || {
                linked
                    .pool
                    .try_txn(|tx| alloc_linked(tx, 0))
                    .expect("alloc");
            });
        }
        b.iter(|| {
            key += 1;
            linked
                .pool
                .try_txn(|tx| alloc_linked(tx, key))
                .expect("alloc");
        });
    });
    if reported {
        eprintln!(
            "# alloc/linked: {} collections",
            linked.pool.heap_stats().collections
        );
    }
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, written out: the group macro
// makes an undocumented `pub fn`, which the workspace's `missing_docs` lint refuses.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    barrier(&mut criterion);
    log_append(&mut criterion);
    commit(&mut criterion);
    alloc(&mut criterion);
    criterion.final_summary();
}
