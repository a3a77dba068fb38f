//! What each `pmem-bench` workload costs in persistence work per operation: fences, cache
//! lines written back, bytes logged. The counts are deterministic (fixed-seed generators)
//! and the same in every flush mode, so the tests pin them exactly, or, where heap
//! metadata makes them depend on the op count, within a tight bound. A protocol change that
//! moves a count must update the numbers here and in `docs/benchmarks.md` together.

use std::num::NonZeroUsize;
use std::ops::RangeInclusive;

use pmem::Stats;
use pmem_bench::{BenchError, Measured};

mod common;

use common::Scratch;

fn threads(count: usize) -> NonZeroUsize {
    NonZeroUsize::new(count).expect("a positive thread count")
}

/// Runs `workload` for test `test`, in its own scratch directory.
fn run(test: &str, workload: &'static str, ops: u64, threads: NonZeroUsize) -> Costs {
    let scratch = Scratch::new("costs", test);
    let measured = pmem_bench::run(workload, ops, threads, &scratch.0)
        .unwrap_or_else(|error| panic!("{workload} {ops} failed: {error}"));
    Costs {
        workload,
        threads,
        ops,
        measured,
    }
}

/// The counters of `Stats` that the tests pin.
#[derive(Clone, Copy)]
enum Counter {
    Fences,
    LinesFlushed,
    LoggedBytes,
    Commits,
}

impl Counter {
    fn of(self, stats: &Stats) -> u64 {
        match self {
            Self::Fences => stats.fences,
            Self::LinesFlushed => stats.lines_flushed,
            Self::LoggedBytes => stats.logged_bytes,
            Self::Commits => stats.commits,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Fences => "fences",
            Self::LinesFlushed => "lines flushed",
            Self::LoggedBytes => "logged bytes",
            Self::Commits => "commits",
        }
    }
}

/// What one run of a workload cost.
struct Costs {
    workload: &'static str,
    threads: NonZeroUsize,
    ops: u64,
    measured: Measured,
}

impl Costs {
    /// Asserts that `counter` is exactly `per_op` for each operation.
    fn per_op(&self, counter: Counter, per_op: u64) -> &Self {
        let total = per_op * self.ops;
        self.within(counter, total..=total, &format!("{per_op} per op"))
    }

    /// Asserts that the run issued exactly `per_op` fences for each operation, and one more
    /// for each of the `new_types` types its pool records: a type's record is fenced when
    /// the type is first allocated, before any span names it.
    fn fences(&self, per_op: u64, new_types: u64) -> &Self {
        let total = per_op * self.ops + new_types;
        self.within(
            Counter::Fences,
            total..=total,
            &format!("{per_op} per op, and one per new type"),
        )
    }

    /// Asserts that `counter`'s total lies in `bounds`, for the reason `why`.
    fn within(&self, counter: Counter, bounds: RangeInclusive<u64>, why: &str) -> &Self {
        let count = counter.of(&self.measured.cost);
        assert!(
            bounds.contains(&count),
            "{} on {} thread(s): {count} {} over {} ops, expected {bounds:?} ({why}). A change \
             to the persistence protocol must update this test and docs/benchmarks.md together",
            self.workload,
            self.threads,
            counter.name(),
            self.ops,
        );
        self
    }
}

/// The lines of heap metadata that `ops` allocations of 64-byte objects write back, on top
/// of the objects' own lines: a new span (a 4 KiB page, 64 objects) writes its page-table
/// entry, and the first allocation of a type writes the type's record (1 or 2 lines, with
/// the record's length and where it falls in the table). All the bound allows for.
fn heap_metadata_lines(ops: u64) -> u64 {
    ops.div_ceil(64) + 2
}

/// Lines that `per_op` lines for each of `costs.ops` allocations, plus the heap's metadata.
fn with_heap_metadata(costs: &Costs, per_op: u64) -> RangeInclusive<u64> {
    let lines = per_op * costs.ops;
    lines..=lines + heap_metadata_lines(costs.ops)
}

/// One swap of two elements in distinct lines (the fixed seed's first pairs never share
/// one): two 64-byte log entries (its header and 40 bytes of the line around the element)
/// of one line each, a write-back and a fence each; at commit the two data lines and a
/// fence, then the generation's line and a fence. The floor's count (`limit.c`): five
/// write-backs, four fences.
fn check_sps(costs: &Costs) {
    costs
        .per_op(Counter::Fences, 4)
        .per_op(Counter::LinesFlushed, 5)
        .per_op(Counter::LoggedBytes, 80)
        .per_op(Counter::Commits, 1);
}

#[test]
fn sps() {
    check_sps(&run("sps", "sps", 1000, threads(1)));
}

/// 1,024 swaps in groups of 64: each swap's two entries and their fences (the fixed seed's
/// pairs never repeat a line within the first thousand swaps, so no entry is saved), and
/// per group of 64 the two commit fences. A group's 128 entries of 64 bytes lie back to
/// back from the slot's second line, one line each. Each group writes back each line it
/// changed once (the two data lines of each swap) and the generation's line.
#[test]
fn sps_deferred() {
    let costs = run("sps_deferred", "sps_deferred", 1024, threads(1));
    let groups = 1024 / 64;
    costs
        .within(
            Counter::Fences,
            1024 * 2 + groups * 2..=1024 * 2 + groups * 2,
            "two entries per swap, two fences per group of 64",
        )
        .within(
            Counter::LinesFlushed,
            groups * (128 + 128 + 1)..=groups * (128 + 128 + 1),
            "128 entry lines, 128 data lines and the generation's line per group",
        )
        .per_op(Counter::LoggedBytes, 80)
        .per_op(Counter::Commits, 1);
}

/// Two threads, each on its own pool, cost what one thread does per op, and share the ops
/// between them (the odd one to the first thread): the commits count every op once.
#[test]
fn sps_on_two_threads() {
    let costs = run("sps_on_two_threads", "sps", 2001, threads(2));
    check_sps(&costs);
    let line = costs.measured.report("sps", 2001, threads(2));
    assert!(
        line.starts_with("workload=sps ops=2001 secs=") && line.ends_with(" threads=2"),
        "{line}"
    );
    let line = costs.measured.report("sps", 2001, threads(1));
    assert!(!line.contains("threads="), "{line}");
}

#[test]
fn one_thread_workloads_refuse_threads() {
    let scratch = Scratch::new("costs", "one_thread_workloads_refuse_threads");
    for workload in ["barrier", "recovery", "gc"] {
        let result = pmem_bench::run(workload, 10, threads(2), &scratch.0);
        assert!(
            matches!(result, Err(BenchError::SingleThreaded { .. })),
            "{workload} accepted two threads"
        );
    }
}

/// A transaction that writes nothing has no commit point, and so no fence.
#[test]
fn empty_txn() {
    run("empty_txn", "empty_txn", 1000, threads(1))
        .per_op(Counter::Fences, 0)
        .per_op(Counter::LinesFlushed, 0)
        .per_op(Counter::LoggedBytes, 0)
        .per_op(Counter::Commits, 1);
}

/// The run is one transaction whose stores are all volatile: nothing is logged or flushed.
#[test]
fn barrier() {
    let nothing = 0..=0;
    run("barrier", "barrier", 1000, threads(1))
        .within(Counter::Fences, nothing.clone(), "no persistent store")
        .within(
            Counter::LinesFlushed,
            nothing.clone(),
            "no persistent store",
        )
        .within(Counter::LoggedBytes, nothing, "no persistent store")
        .within(Counter::Commits, 1..=1, "one transaction for the run");
}

/// A push logs 40 bytes of the root's line, its two fields among them (one 64-byte entry,
/// one line, a fence) and commits it with the new node's line (a fence), then the
/// generation (a line and a fence).
#[test]
fn list_push() {
    let costs = run("list_push", "list_push", 1000, threads(1));
    costs
        .fences(3, 1)
        .per_op(Counter::LoggedBytes, 40)
        .per_op(Counter::Commits, 1)
        .within(
            Counter::LinesFlushed,
            with_heap_metadata(&costs, 4),
            "4 per op, and the heap's metadata",
        );
}

/// Neither transaction logs a store: the objects' lines and their heap metadata are
/// deferred, and written back with one fence whenever more than 1024 lines are deferred
/// (in a run without logged stores, never by a commit). So the fences are at most the
/// deferred lines (the objects' and their metadata) over 1025, plus the one that makes the
/// object type's record durable when the first allocation records it, and each write-back
/// flushes
/// at most 1026 lines: 1024 and the two (an object's and a new span's entry) that the
/// transaction that passed the limit deferred. At 2000 ops: 1 write-back of 1012 lines.
#[test]
fn alloc_free() {
    let ops = 2000;
    let costs = run("alloc_free", "alloc_free", ops, threads(1));
    let write_backs = (ops + heap_metadata_lines(ops)) / 1025;
    let fences = costs.measured.cost.fences;
    costs
        .per_op(Counter::LoggedBytes, 0)
        .per_op(Counter::Commits, 2)
        .within(
            Counter::Fences,
            1..=write_backs + 1,
            "a write-back per 1025 deferred lines, and the object type's record",
        )
        .within(
            Counter::LinesFlushed,
            0..=1026 * fences,
            "at most 1026 lines per write-back",
        );
}

/// Each of the two transactions logs 40 bytes of the root's line and commits (3 fences
/// each). Lines: the first writes back its entry (1), the root, the new object and the
/// generation; the second its entry (1), the root and the generation.
#[test]
fn alloc_link_free() {
    let costs = run("alloc_link_free", "alloc_link_free", 1000, threads(1));
    costs
        .fences(6, 1)
        .per_op(Counter::LoggedBytes, 80)
        .per_op(Counter::Commits, 2)
        .within(
            Counter::LinesFlushed,
            with_heap_metadata(&costs, 7),
            "7 per op, and the heap's metadata",
        );
}

/// An insert logs 40 bytes of the bucket's line and of the count's line (distinct for the
/// fixed seed's keys): two 64-byte entries of one line and a fence each; at commit those
/// two lines and the new node's, a fence, then the generation's line and a fence.
#[test]
fn hashmap_insert() {
    let costs = run("hashmap_insert", "hashmap_insert", 1000, threads(1));
    costs
        .fences(4, 1)
        .per_op(Counter::LoggedBytes, 80)
        .per_op(Counter::Commits, 1)
        .within(
            Counter::LinesFlushed,
            with_heap_metadata(&costs, 6),
            "6 per op, and the heap's metadata",
        );
}

/// Opening a cleanly closed pool rolls nothing back and the collection at open frees
/// nothing, so it writes only the header's state record (one line, one fence), whatever the
/// number of nodes.
#[test]
fn recovery() {
    run("recovery", "recovery", 1000, threads(1))
        .within(
            Counter::Fences,
            1..=1,
            "the state record, for the whole open",
        )
        .within(
            Counter::LinesFlushed,
            1..=1,
            "the state record, for the whole open",
        )
        .within(Counter::LoggedBytes, 0..=0, "nothing to log at open");
}

/// A collection that finds every object live sweeps nothing, and so writes nothing.
#[test]
fn gc() {
    let nothing = 0..=0;
    run("gc", "gc", 1000, threads(1))
        .within(Counter::Fences, nothing.clone(), "nothing to sweep")
        .within(Counter::LinesFlushed, nothing, "nothing to sweep");
}
