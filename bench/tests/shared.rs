//! What the shared-pool workloads (`pmem_bench::run_shared`, `pmem-bench --threads N`) cost
//! per operation, and which workloads and thread counts they accept. The counts are per
//! thread and deterministic (fixed seeds); the heap's metadata lines, which depend on which
//! thread opens a span, are bounded.

use std::num::NonZeroUsize;

use pmem::Stats;
use pmem_bench::BenchError;

mod common;

use common::Scratch;

fn threads(count: usize) -> NonZeroUsize {
    NonZeroUsize::new(count).expect("a positive thread count")
}

fn run_shared(test: &str, workload: &str, ops: u64, threads: NonZeroUsize) -> Stats {
    let scratch = Scratch::new("shared", test);
    let measured = pmem_bench::run_shared(workload, ops, threads, &scratch.0)
        .unwrap_or_else(|error| panic!("{workload} {ops} on {threads} threads failed: {error}"));
    let line = measured.report(workload, ops, threads);
    assert_eq!(
        line.ends_with(&format!(" threads={threads}")),
        threads.get() > 1,
        "{line}"
    );
    measured.cost
}

/// A swap inside a thread's locked range costs what a swap in an exclusive transaction
/// does: two 64-byte entries, 40 bytes of a line each (a line and a fence apiece), the two
/// data lines and a fence, the generation and a fence. The lock word is volatile: never logged or flushed.
#[test]
fn sps_costs_the_same_per_op_on_one_and_two_threads() {
    for count in [1, 2] {
        let ops = 2001;
        let cost = run_shared(&format!("sps-{count}"), "sps", ops, threads(count));
        assert_eq!(cost.fences, 4 * ops, "fences on {count} thread(s)");
        assert_eq!(cost.lines_flushed, 5 * ops, "lines on {count} thread(s)");
        assert_eq!(cost.logged_bytes, 80 * ops, "logged on {count} thread(s)");
        assert_eq!(cost.commits, ops, "commits on {count} thread(s)");
    }
}

/// An insert logs the bucket's head (8 bytes: the lock's whole value; a 32-byte entry, one
/// line) and the thread's count (40 bytes of the counter's line: a 64-byte entry right
/// after the first, so over two lines), a fence each; at commit the two lines and the
/// node's, a fence, then the generation and a fence. The node type's record is
/// fenced once, and each new span's page-table entry is written back and fenced before
/// the heap's lock is released (another lane may allocate from the span and commit first).
#[test]
fn hashmap_insert_costs_the_same_per_op_on_one_and_two_threads() {
    for count in [1, 2] {
        let ops = 1000;
        let cost = run_shared(
            &format!("hashmap-{count}"),
            "hashmap_insert",
            ops,
            threads(count),
        );
        let metadata = ops.div_ceil(64) + 2 + count as u64;
        assert!(
            (4 * ops + 1..=4 * ops + 1 + metadata).contains(&cost.fences),
            "{} fences on {count} thread(s), expected 4 per op, the type record's, and one per new span",
            cost.fences
        );
        assert_eq!(cost.logged_bytes, 48 * ops, "logged on {count} thread(s)");
        assert_eq!(cost.commits, ops, "commits on {count} thread(s)");
        assert!(
            (7 * ops..=7 * ops + metadata).contains(&cost.lines_flushed),
            "{} lines on {count} thread(s), expected 7 per op and the heap's metadata",
            cost.lines_flushed
        );
    }
}

#[test]
fn only_sps_and_hashmap_insert_share_a_pool() {
    let scratch = Scratch::new("shared", "refusals");
    for (workload, count) in [
        ("list_push", 2),
        ("empty_txn", 1),
        ("recovery", 1),
        ("sps", 3),
        ("hashmap_insert", 65),
    ] {
        let result = pmem_bench::run_shared(workload, 10, threads(count), &scratch.0);
        assert!(
            matches!(result, Err(BenchError::Unsupported { .. })),
            "{workload} on {count} threads: {result:?}"
        );
    }
    assert!(matches!(
        pmem_bench::run_shared("bogus", 10, threads(1), &scratch.0),
        Err(BenchError::UnknownWorkload(_))
    ));
}
