//! `pmem-bench <workload> <ops> [--threads N | --pools N]`: runs one workload of the
//! `pmem_bench` library (its docs describe the workloads and how threads share them) and
//! prints one line, in the format of `shared/baselines/pmdk/pmdk_bench.c`, plus pmem's own
//! counts per operation:
//!
//! ```text
//! workload=sps ops=3000000 secs=1.234567 ops_per_sec=2430002 fences_per_op=4.00 flushes_per_op=7.00 log_bytes_per_op=128.0
//! ```
//!
//! `gc` ends the line with `gib_per_sec=`, the live bytes marked and swept per second.
//! `kv_memory` ends it with `value_bytes_per_value=` (a 16-byte value's heap slot and the
//! `PString` that reaches it: the memory goal's figure), `heap_bytes_per_value=` (every
//! heap byte the run added, the vector's spare capacity included) and
//! `payload_plus_pointer=24`, the goal's baseline (see `pmem_bench::Memory`).
//!
//! The collection workloads (`vec_push`, `str_append`, `map_insert`, `map_get`, `kv_put`,
//! `kv_memory`) run on one thread only: the collections change only in exclusive
//! transactions, so neither `--threads` nor `--pools` applies.
//!
//! - `--threads N` runs `sps` or `hashmap_insert` on N threads that share one pool, as the
//!   PMDK harness's `--threads N` does (`pmem_bench::run_shared`); N = 1 runs the same
//!   shared transactions on one thread.
//! - `--pools N` runs N threads, each on a pool of its own (`pmem_bench::run`), for `sps`,
//!   `empty_txn`, `list_push`, `alloc_free`, `alloc_link_free` and `hashmap_insert`.
//!
//! With either, `ops` is the total over the threads, and for N > 1 the line ends with
//! ` threads=N`. A workload that does not run the way asked is a usage error.
//!
//! The pools are fresh files in `PMEM_BENCH_DIR` (default `/dev/shm`), removed at exit. The
//! flush mode is detected or forced with `PMEM_FLUSH` (`PMEM_FLUSH=clwb` on `/dev/shm`
//! measures the instruction cost, like `PMEM_IS_PMEM_FORCE=1` for PMDK). Diagnostics go to
//! stderr, prefixed `# `. The exit status is 2 for a usage error.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use pmem_bench::BenchError;

const USAGE: &str = "usage: pmem-bench sps|sps_deferred|empty_txn|barrier|list_push|alloc_free|alloc_link_free|hashmap_insert|recovery|gc|vec_push|str_append|map_insert|map_get|kv_put|kv_memory <ops> [--threads N | --pools N]";

/// How the threads of a run use pools.
enum Sharing {
    /// One pool, shared by the threads (`--threads N`).
    OnePool,
    /// A pool for each thread (`--pools N`, and runs without either flag).
    PoolEach,
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (workload, ops, threads) = match arguments.as_slice() {
        [workload, ops] => (workload, ops, None),
        [workload, ops, flag, threads] if flag == "--threads" => {
            (workload, ops, Some((Sharing::OnePool, flag, threads)))
        }
        [workload, ops, flag, threads] if flag == "--pools" => {
            (workload, ops, Some((Sharing::PoolEach, flag, threads)))
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let ops = match ops.parse::<u64>() {
        Ok(ops) if ops > 0 => ops,
        _ => {
            eprintln!("pmem-bench: <ops> must be a positive integer, not {ops:?}");
            return ExitCode::from(2);
        }
    };
    let (sharing, threads) = match threads {
        None => (Sharing::PoolEach, NonZeroUsize::MIN),
        Some((sharing, flag, text)) => match text.parse() {
            Ok(threads) => (sharing, threads),
            Err(_) => {
                eprintln!("pmem-bench: {flag} must be a positive integer, not {text:?}");
                return ExitCode::from(2);
            }
        },
    };
    let directory =
        std::env::var_os("PMEM_BENCH_DIR").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from);
    let measured = match sharing {
        Sharing::OnePool => pmem_bench::run_shared(workload, ops, threads, &directory),
        Sharing::PoolEach => pmem_bench::run(workload, ops, threads, &directory),
    };
    match measured {
        Ok(measured) => {
            println!("{}", measured.report(workload, ops, threads));
            ExitCode::SUCCESS
        }
        Err(
            error @ (BenchError::UnknownWorkload(_)
            | BenchError::SingleThreaded { .. }
            | BenchError::Unsupported { .. }),
        ) => {
            eprintln!("pmem-bench: {error}; {USAGE}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("pmem-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
