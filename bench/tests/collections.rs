//! What the collection workloads of `pmem-bench` (`vec_push`, `str_append`, `map_insert`,
//! `map_get`, `kv_put`, `kv_memory`) cost per operation at their steady state, with growth
//! amortised: fences and logged bytes exactly (or, where the map's seed decides which slots
//! straddle a cache line, within a few standard deviations of the expectation), and
//! write-backs within the lines that growth writes. Every run has 4,096 ops. A change that
//! makes an op dearer fails here; a protocol change that moves a count must update this
//! test and docs/benchmarks.md together.
//!
//! Growth: a `PVec` doubles from 4 elements (a `PString` from 16 bytes, when an append
//! outgrows it), a `PHashMap` from 8 slots when an insert would make it more than three
//! quarters full. The op that grows writes its collection into a fresh buffer, which it
//! allocated, so it logs only the collection's line in the root: one entry fewer for each
//! slot it would otherwise have logged. A push or an append into a vector of pointer-free
//! elements logs no slot anyway (its spare slots are only written back), so growth saves
//! it nothing.

use std::num::NonZeroUsize;
use std::ops::RangeInclusive;

use pmem::Stats;
use pmem_bench::BenchError;

mod common;

use common::Scratch;

/// Every run's op count: a power of two, so a vector is exactly full at the end.
const OPS: u64 = 4096;

fn run(workload: &str) -> Stats {
    let scratch = Scratch::new("collections", workload);
    let measured = pmem_bench::run(workload, OPS, NonZeroUsize::MIN, &scratch.0)
        .unwrap_or_else(|error| panic!("{workload} {OPS} failed: {error}"));
    assert_eq!(
        measured.cost.commits, OPS,
        "{workload}: one transaction per op"
    );
    measured.cost
}

fn check(workload: &str, what: &str, count: u64, expected: RangeInclusive<u64>, why: &str) {
    assert!(
        expected.contains(&count),
        "{workload}: {count} {what} over {OPS} ops, expected {expected:?} ({why}). A change to \
         the persistence protocol or the collections must update this test and \
         docs/benchmarks.md together"
    );
}

/// `map_insert`'s write-backs per op: the entries' lines (the map's 48 bytes take one line
/// with their header, when the map lies at the start of its line; each 40-byte window one),
/// the four data lines (map, hash, key, value), the new node is none, and the generation's.
const MAP_INSERT_WRITE_BACKS: u64 = 13;

/// `kv_memory`'s write-backs per op: two entries' lines (three for a straddling slot's
/// entry, every fourth op, as the data lines), the vector's line, the slot's, the string's
/// buffer and the generation's.
const KV_MEMORY_WRITE_BACKS: u64 = 7;

fn exactly(count: u64) -> RangeInclusive<u64> {
    count..=count
}

/// How many of the first `OPS` ops grow a collection that starts at `first` and doubles
/// when an op finds `full(capacity)` elements: the first op, and one at each capacity
/// reached before the last op.
fn growths(first: u64, full: impl Fn(u64) -> u64, elements_after: impl Fn(u64) -> u64) -> u64 {
    let mut capacity = first;
    let mut count = 1;
    while full(capacity) < elements_after(OPS - 1) {
        count += 1;
        capacity *= 2;
    }
    count
}

/// The cache lines of fresh buffers that growth writes back: each capacity's buffer, its
/// 8-byte length first, from `first` up to `last`.
fn buffer_lines(element_size: u64, first: u64, last: u64) -> u64 {
    let mut lines = 0;
    let mut capacity = first;
    while capacity <= last {
        lines += (8 + capacity * element_size).div_ceil(64);
        capacity *= 2;
    }
    lines
}

/// Write-backs: at least `steady` per op less those growth saves (its op logs fewer lines),
/// at most `steady` per op plus the buffers growth writes and a few lines of heap metadata
/// (page-table entries of new spans, type records).
fn write_backs(steady_per_4_ops: u64, growth: u64, buffers: u64) -> RangeInclusive<u64> {
    let steady = steady_per_4_ops * OPS / 4;
    steady - 4 * growth..=steady + buffers + 64
}

/// A push logs 40 bytes of the vector's line in the root, its 16 bytes among them: one
/// 64-byte entry and the commit's two fences. The slot, a `u64`'s (no pointers), is only
/// written back. Write-backs: the entry's line, the vector's line, the slot's and the
/// generation's. 3 fences, 4 write-backs, 40 bytes.
#[test]
fn vec_push() {
    let cost = run("vec_push");
    let growth = growths(4, |capacity| capacity, |op| op);
    assert_eq!(growth, 11, "0, 4, 8, ..., 2048");
    let new_types = 1;
    check(
        "vec_push",
        "fences",
        cost.fences,
        exactly(3 * OPS + new_types),
        "3 per op, 1 per new type",
    );
    check(
        "vec_push",
        "logged bytes",
        cost.logged_bytes,
        exactly(40 * OPS),
        "40 bytes of the vector's line per op",
    );
    check(
        "vec_push",
        "write-backs",
        cost.lines_flushed,
        write_backs(4 * 4, growth, buffer_lines(8, 4, OPS)),
        "4 per op, and the buffers",
    );
}

/// An append logs 40 bytes of the string's line; its 16 bytes are only written back: one
/// line, or two for every fourth append, whose bytes straddle two lines (a buffer's
/// elements follow its 8-byte length). 3 fences, 4.25 write-backs, 40 bytes.
#[test]
fn str_append() {
    let cost = run("str_append");
    let growth = growths(16, |capacity| capacity, |op| 16 * op);
    assert_eq!(growth, 13, "0, 16, 32, ..., 32768 bytes");
    let new_types = 1;
    check(
        "str_append",
        "fences",
        cost.fences,
        exactly(3 * OPS + new_types),
        "3 per op, 1 per new type",
    );
    check(
        "str_append",
        "logged bytes",
        cost.logged_bytes,
        exactly(40 * OPS),
        "40 bytes of the string's line per op",
    );
    check(
        "str_append",
        "write-backs",
        cost.lines_flushed,
        write_backs(4 * 4 + 1, growth, buffer_lines(1, 16, 16 * OPS)),
        "4.25 per op, and the buffers",
    );
}

/// The map's slots of a map of `OPS` entries: the first op and each growth past three
/// quarters full.
fn map_growths() -> u64 {
    let growth = growths(8, |slots| slots * 3 / 4 - 1, |op| op);
    assert_eq!(
        growth, 11,
        "at 0, 6, 12, ..., 3072 entries, from 8 to 8192 slots"
    );
    growth
}

/// What `map_insert`'s inserts log at their fewest: 168 bytes per op, 48 (the map alone) for
/// each op that grows the map.
fn map_insert_logged_bytes(growth: u64) -> u64 {
    168 * OPS - 120 * growth
}

/// An insert logs the map's 48 bytes in the root (the `&mut` to the map logs it whole) and
/// 40 bytes of the line of each of the slot's hash, key and value (8 bytes each, never
/// straddling): four entries and the commit. 6 fences, 168 bytes; an op that grows the map
/// logs only the map (its slots are in fresh buffers). While the map has 8 slots, its
/// three 72-byte slices lie so close that a slot's line can follow the line of the slot
/// logged before it, and is then logged whole (64 bytes rather than 40).
#[test]
fn map_insert() {
    let cost = run("map_insert");
    let growth = map_growths();
    let base = map_insert_logged_bytes(growth);
    let new_types = 1;
    check(
        "map_insert",
        "fences",
        cost.fences,
        exactly(6 * OPS - 3 * growth + new_types),
        "6 per op, 3 fewer per growth, 1 per new type",
    );
    check(
        "map_insert",
        "logged bytes",
        cost.logged_bytes,
        base..=base + 2 * 24 * 5,
        "48 + 3 * 40 bytes per op, 48 per growth, and 24 more for a slot's line logged whole \
         (at most two per op, in the five ops on 8 slots)",
    );
    check(
        "map_insert",
        "write-backs",
        cost.lines_flushed,
        write_backs(
            4 * MAP_INSERT_WRITE_BACKS,
            growth,
            3 * buffer_lines(8, 8, 8192),
        ),
        "the entries' lines, the four data lines, the generation's, and the three slices",
    );
}

/// Lookups are reads: nothing is logged, written back or fenced, and no transaction runs.
#[test]
fn map_get() {
    let scratch = Scratch::new("collections", "map_get");
    let cost = pmem_bench::run("map_get", OPS, NonZeroUsize::MIN, &scratch.0)
        .expect("map_get")
        .cost;
    assert_eq!(
        (
            cost.fences,
            cost.lines_flushed,
            cost.logged_bytes,
            cost.commits
        ),
        (0, 0, 0, 0),
        "{cost:?}"
    );
}

/// A put allocates the 100-byte value (fresh, unlogged) and logs as `map_insert` does,
/// but its key and value slots are 16 bytes: a slot straddles two lines in one slot of four
/// (the same for both slices), which the map's random seed picks, so one op in four,
/// give or take, logs 64 bytes more for each of the two (the second line whole, since it
/// follows the line the store logged first, in the same entry). 6 fences, about 200 bytes.
#[test]
fn kv_put() {
    let cost = run("kv_put");
    let growth = map_growths();
    let new_types = 4;
    check(
        "kv_put",
        "fences",
        cost.fences,
        exactly(6 * OPS - 3 * growth + new_types),
        "6 per op, 3 fewer per growth, 1 per new type ([u64], [[u8; 16]], [PString], [u8])",
    );
    // The straddling ops are binomial (n = 4096, p = 1/4: 1024, deviation 28); the bounds
    // allow 5 deviations.
    let base = map_insert_logged_bytes(growth);
    check(
        "kv_put",
        "logged bytes",
        cost.logged_bytes,
        base + 128 * (1024 - 140)..=base + 128 * (1024 + 140) + 2 * 24 * 5,
        "as map_insert, and 128 more per straddling op",
    );
    let slices = buffer_lines(8, 8, 8192) + 2 * buffer_lines(16, 8, 8192);
    check(
        "kv_put",
        "write-backs",
        cost.lines_flushed,
        write_backs(4 * 16, growth, slices + 3 * (1024 + 140)),
        "about 16 per op (the entries' 8 lines, 4 data lines, the value's fresh buffer, the \
         generation's), 3 more per straddling op (binomial as above), and the three slices",
    );
}

/// A push of a fresh 16-byte `PString` logs 40 bytes of the vector's line and of the
/// slot's; one slot in four straddles two lines (one entry, with the second line whole: 64
/// bytes more). 4 fences, 96 bytes.
#[test]
fn kv_memory() {
    let cost = run("kv_memory");
    let growth = growths(4, |capacity| capacity, |op| op);
    let new_types = 2;
    check(
        "kv_memory",
        "fences",
        cost.fences,
        exactly(4 * OPS - growth + new_types),
        "4 per op, 1 fewer per growth, 1 per new type ([PString], [u8])",
    );
    check(
        "kv_memory",
        "logged bytes",
        cost.logged_bytes,
        exactly(96 * OPS - 40 * growth),
        "80 bytes per op, 64 more per straddling op, 40 fewer per growth",
    );
    check(
        "kv_memory",
        "write-backs",
        cost.lines_flushed,
        write_backs(4 * KV_MEMORY_WRITE_BACKS, growth, buffer_lines(16, 4, OPS)),
        "the entries' lines, the data lines and the generation's, and the buffers",
    );
}

/// The memory figure: a 16-byte value takes a 32-byte slot (its 8-byte length, the bytes,
/// rounded to 16) and its 16-byte `PString`: 48 bytes, twice the payload plus a pointer.
/// The whole heap adds the vector's buffer (exactly full at 4,096) and page tables.
#[test]
fn kv_memory_per_value() {
    let scratch = Scratch::new("collections", "kv_memory_per_value");
    let measured =
        pmem_bench::run("kv_memory", OPS, NonZeroUsize::MIN, &scratch.0).expect("kv_memory");
    let memory = measured.memory.expect("kv_memory measures memory");
    assert_eq!(memory.value_bytes, 48.0, "{memory:?}");
    assert_eq!(
        memory.value_bytes,
        2.0 * pmem_bench::PAYLOAD_PLUS_POINTER as f64
    );
    assert!(
        (48.0..=50.0).contains(&memory.heap_bytes),
        "the whole heap, per value: {memory:?}"
    );
    let line = measured.report("kv_memory", OPS, NonZeroUsize::MIN);
    assert!(
        line.contains(" value_bytes_per_value=48.0 ") && line.contains(" payload_plus_pointer=24"),
        "{line}"
    );
}

/// On pools of their own, the collection workloads run on one thread; on a shared pool,
/// `map_insert` and `kv_put` run (their maps behind locks) and the others are refused.
#[test]
fn collections_run_on_one_thread_or_behind_locks() {
    let scratch = Scratch::new(
        "collections",
        "collections_run_on_one_thread_or_behind_locks",
    );
    let two = NonZeroUsize::new(2).expect("two");
    for workload in [
        "vec_push",
        "str_append",
        "map_insert",
        "map_get",
        "kv_put",
        "kv_memory",
    ] {
        assert!(
            matches!(
                pmem_bench::run(workload, 10, two, &scratch.0),
                Err(BenchError::SingleThreaded { .. })
            ),
            "{workload} accepted two threads"
        );
        let shared = pmem_bench::run_shared(workload, 200, two, &scratch.0);
        if matches!(workload, "map_insert" | "kv_put") {
            let measured = shared.unwrap_or_else(|error| panic!("{workload}: {error}"));
            let line = measured.report(workload, 200, two);
            assert!(line.contains(" threads=2"), "{line}");
        } else {
            assert!(
                matches!(shared, Err(BenchError::Unsupported { .. })),
                "{workload} accepted a shared pool"
            );
        }
    }
}
