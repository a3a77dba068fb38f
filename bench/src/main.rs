//! `pmem-bench <workload> <ops>`: one line per run, in the format of
//! `shared/baselines/pmdk/pmdk_bench.c`, plus pmem's own counts per operation:
//!
//! ```text
//! workload=sps ops=3000000 secs=1.234 ops_per_sec=2431118 fences_per_op=4.00 flushes_per_op=5.00 log_bytes_per_op=128.0
//! ```
//!
//! Workloads (one op = one transaction, fixed-seed xorshift64 as in the PMDK harness):
//! - `sps`: swap two random `u64` of a 1,000,000-element persistent array;
//! - `empty_txn`: a transaction that writes nothing;
//! - `barrier`: a volatile store rewritten by `#[txn]` inside a transaction, store included
//!   (what `#[txn]` costs code that does not touch a pool).
//!
//! The heap workloads of the PMDK harness (`list_push`, `alloc_free`, `hashmap_insert`,
//! `recovery`) need the persistent heap, which is not built yet; they exit with status 2.
//!
//! The pool is a fresh file in `PMEM_BENCH_DIR` (default `/dev/shm`), removed at exit. The
//! flush mode is detected or forced with `PMEM_FLUSH` (`PMEM_FLUSH=clwb` on `/dev/shm`
//! measures the instruction cost, like `PMEM_IS_PMEM_FORCE=1` for PMDK).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use pmem::{PMut, Pool, PoolOptions, Stats, txn};

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

struct PoolFile(PathBuf);

impl PoolFile {
    fn new(workload: &str) -> Self {
        let directory = std::env::var_os("PMEM_BENCH_DIR")
            .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from);
        let path = directory.join(format!("pmem-bench-{workload}-{}.pool", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for PoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

type Array = [u64; SPS_ELEMENTS];

fn sps(file: &PoolFile, ops: u64) -> Result<(f64, Stats), pmem::Error> {
    let mut pool: Pool<Array> = PoolOptions::new()
        .size(16 << 20)
        .log_size(1 << 16)
        .create_with(&file.0, |array: &mut Array| {
            for (index, value) in array.iter_mut().enumerate() {
                *value = index as u64;
            }
        })?;
    let mut random = Xorshift64::new();
    let before = Stats::current_thread();
    let start = Instant::now();
    for _ in 0..ops {
        let (i, j) = (random.below(SPS_ELEMENTS), random.below(SPS_ELEMENTS));
        pool.txn(|tx| swap(tx.root_mut(), i, j));
    }
    let secs = start.elapsed().as_secs_f64();
    let cost = Stats::current_thread() - before;
    let sum: u64 = pool.root().iter().sum();
    let expected = (SPS_ELEMENTS as u64) * (SPS_ELEMENTS as u64 - 1) / 2;
    assert_eq!(
        sum, expected,
        "sps verify failed: the array is no longer a permutation"
    );
    eprintln!("# verify ok (array sum)");
    Ok((secs, cost))
}

/// One `sps` operation, written as a user would.
#[txn]
fn swap(mut array: PMut<'_, Array>, i: usize, j: usize) {
    let (a, b) = (array[i], array[j]);
    array[i] = b;
    array[j] = a;
}

fn empty_txn(file: &PoolFile, ops: u64) -> Result<(f64, Stats), pmem::Error> {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 16)
        .create(&file.0, 0u64)?;
    let before = Stats::current_thread();
    let start = Instant::now();
    for _ in 0..ops {
        pool.txn(|tx| *std::hint::black_box(tx.root()));
    }
    Ok((
        start.elapsed().as_secs_f64(),
        Stats::current_thread() - before,
    ))
}

fn barrier(file: &PoolFile, ops: u64) -> Result<(f64, Stats), pmem::Error> {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 16)
        .create(&file.0, 0u64)?;
    let mut volatile = [0u64; 1024];
    let before = Stats::current_thread();
    let start = Instant::now();
    pool.txn(|_| fill_volatile(&mut volatile, ops));
    std::hint::black_box(&volatile);
    Ok((
        start.elapsed().as_secs_f64(),
        Stats::current_thread() - before,
    ))
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

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (workload, ops) = match arguments.as_slice() {
        [workload, ops] => match ops.parse::<u64>() {
            Ok(ops) if ops > 0 => (workload.as_str(), ops),
            _ => {
                eprintln!("pmem-bench: <ops> must be a positive integer, not {ops:?}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: pmem-bench sps|empty_txn|barrier <ops>");
            return ExitCode::from(2);
        }
    };
    let file = PoolFile::new(workload);
    let run = match workload {
        "sps" => sps(&file, ops),
        "empty_txn" => empty_txn(&file, ops),
        "barrier" => barrier(&file, ops),
        "list_push" | "alloc_free" | "hashmap_insert" | "recovery" => {
            eprintln!("pmem-bench: {workload} needs the persistent heap, which is not built yet");
            return ExitCode::from(2);
        }
        other => {
            eprintln!(
                "pmem-bench: unknown workload {other:?}; usage: pmem-bench sps|empty_txn|barrier <ops>"
            );
            return ExitCode::from(2);
        }
    };
    match run {
        Ok((secs, cost)) => {
            let per_op = |count: u64| count as f64 / ops as f64;
            println!(
                "workload={workload} ops={ops} secs={secs:.3} ops_per_sec={:.0} fences_per_op={:.2} flushes_per_op={:.2} log_bytes_per_op={:.1}",
                ops as f64 / secs,
                per_op(cost.fences),
                per_op(cost.lines_flushed),
                per_op(cost.logged_bytes),
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pmem-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
