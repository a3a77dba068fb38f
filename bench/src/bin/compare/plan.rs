//! What is measured: the workloads and their op counts, the heap sizes of the recovery
//! comparison, the floor's variants, the collection workloads, and the order of the runs
//! in each round.

use std::collections::BTreeSet;

use crate::cli::Config;
use crate::program::Program;

/// A row of the throughput table: pmem's workload and the PMDK workload it is measured
/// against (none for pmem-only rows).
pub(crate) struct Workload {
    pub(crate) pmem: &'static str,
    pub(crate) pmdk: Option<&'static str>,
    ops: u64,
    /// What one op is, for the notes under the table.
    pub(crate) op: &'static str,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        pmem: "sps",
        pmdk: Some("sps"),
        ops: 2_000_000,
        op: "a transaction swapping two random `u64` of a 1,000,000-element array",
    },
    Workload {
        pmem: "sps_deferred",
        pmdk: None,
        ops: 2_000_000,
        op: "`sps` under `Durability::Deferred`: swaps commit in groups of up to 64, made \
             durable together (the last group synced inside the timed region); PMDK has no \
             such mode",
    },
    Workload {
        pmem: "list_push",
        pmdk: Some("list_push"),
        ops: 1_000_000,
        op: "a transaction allocating a 64-byte node and linking it at the head of a list",
    },
    Workload {
        pmem: "hashmap_insert",
        pmdk: Some("hashmap_insert"),
        ops: 1_000_000,
        op: "a transaction inserting a 64-byte node into a 2^20-bucket chained hash table",
    },
    Workload {
        pmem: "alloc_free",
        pmdk: Some("alloc_free"),
        ops: 1_000_000,
        op: "an allocating transaction and a freeing one (pmem: the object is held by a pin \
             and left to the collector)",
    },
    Workload {
        pmem: "alloc_link_free",
        pmdk: Some("alloc_free"),
        ops: 1_000_000,
        op: "as `alloc_free`, but the object is stored in the root and then unlinked, so \
             both transactions log a store; PMDK's column is its `alloc_free` (same runs)",
    },
    Workload {
        pmem: "empty_txn",
        pmdk: None,
        ops: 10_000_000,
        op: "a transaction that writes nothing",
    },
    Workload {
        pmem: "barrier",
        pmdk: None,
        ops: 100_000_000,
        op: "a volatile store inside a transaction, rewritten by `#[txn]`",
    },
    Workload {
        pmem: "gc",
        pmdk: None,
        ops: 1_000_000,
        op: "one node of a list of `ops` nodes, marked and swept by one `Pool::collect`",
    },
];

/// A row of the threads table: a workload run by pmem-bench and a baseline harness with
/// `--threads N`, N threads sharing one pool, with the scaling it is meant to reach.
pub(crate) struct Threaded {
    pub(crate) workload: &'static str,
    /// The harness it runs against: PMDK's, or libpmemobj++'s for the collections.
    pub(crate) baseline: Program,
    ops: u64,
    /// The goal for the throughput on 2 threads over that on 1.
    pub(crate) scaling_goal: f64,
    /// How each program shares the pool, for the notes under the table.
    pub(crate) sharing: &'static str,
}

const THREADED: &[Threaded] = &[
    Threaded {
        workload: "sps",
        baseline: Program::Pmdk,
        ops: 2_000_000,
        scaling_goal: 1.8,
        sharing: "thread `t` swaps inside its own `1/N` of the array. PMDK's threads write \
                  their disjoint ranges without locks; pmem's root is the array as N ranges, \
                  each a `PMutex<[u64; 1_000_000 / N]>`, and a thread's transactions lock its \
                  own range (never contended, but taken and released every time)",
    },
    Threaded {
        workload: "hashmap_insert",
        baseline: Program::Pmdk,
        ops: 1_000_000,
        scaling_goal: 1.6,
        sharing: "each thread inserts its own keys (seed xor thread) and counts them in a \
                  counter of its own, on a line of its own. PMDK locks one of 1,024 \
                  `PMEMmutex` stripes (bucket mod 1024, `TX_PARAM_MUTEX`) and writes its \
                  counter without a lock; pmem locks the bucket (each of the 2^20 buckets is \
                  a `PMutex<PPtr<Node>>`: a root of 1,024 stripes of 1,024 heads does not \
                  fit the heap's type table, see docs/benchmarks.md) and its counter, a \
                  `PMutex` no other thread takes",
    },
    Threaded {
        workload: "map_insert",
        baseline: Program::Pmdkxx,
        ops: 90_000,
        scaling_goal: 1.6,
        sharing: "each thread inserts its own keys (seed xor thread) into one map. \
                  libpmemobj++'s is one `concurrent_hash_map`, which locks inside itself; \
                  pmem's root is 64 stripes, each a `PMutex<PHashMap<u64, u64>>`, and a \
                  transaction locks the stripe the key's top 6 bits name, then inserts \
                  (the map's buffers claimed for the transaction, see docs/src/collections.md)",
    },
    Threaded {
        workload: "kv_put",
        baseline: Program::Pmdkxx,
        ops: 45_000,
        scaling_goal: 1.6,
        sharing: "as `map_insert`, with 16-byte keys and 100-byte values: \
                  `concurrent_hash_map<string, string>` against 64 stripes of \
                  `PMutex<PHashMap<[u8; 16], PString>>`",
    },
];

/// A row of the collections table: a workload of pmem-bench and the libpmemobj++ harness
/// (`shared/baselines/pmdkxx/pmdkxx_bench.cpp`) of the same name, with the throughput goal
/// over libpmemobj++ where there is one.
pub(crate) struct Collection {
    pub(crate) workload: &'static str,
    /// Whether the libpmemobj++ harness runs it (`kv_memory` is pmem's alone).
    pub(crate) in_pmdkxx: bool,
    ops: u64,
    /// pmem's throughput over libpmemobj++'s that the workload is meant to reach.
    pub(crate) goal: Option<f64>,
    /// What one op is, for the notes under the table.
    pub(crate) op: &'static str,
}

const COLLECTIONS: &[Collection] = &[
    Collection {
        workload: "vec_push",
        in_pmdkxx: true,
        ops: 100_000,
        goal: Some(2.0),
        op: "a transaction pushing one `u64` onto a vector (`PVec<u64>`, `pmem::obj::vector`)",
    },
    Collection {
        workload: "str_append",
        in_pmdkxx: true,
        ops: 60_000,
        goal: None,
        op: "a transaction appending 16 bytes to a string (`PString`, `pmem::obj::string`)",
    },
    Collection {
        workload: "map_insert",
        in_pmdkxx: true,
        ops: 90_000,
        goal: Some(2.0),
        op: "a transaction inserting a random `u64` key and a `u64` value into a hash map \
             (`PHashMap<u64, u64>`, `concurrent_hash_map`)",
    },
    Collection {
        workload: "map_get",
        in_pmdkxx: true,
        ops: 90_000,
        goal: Some(1.0),
        op: "a lookup of a present key, in a map filled untimed with `ops` keys (outside any \
             transaction in both programs)",
    },
    Collection {
        workload: "kv_put",
        in_pmdkxx: true,
        ops: 45_000,
        goal: None,
        op: "a transaction inserting a 16-byte key with a 100-byte value \
             (`PHashMap<[u8; 16], PString>`; libpmemobj++: both `pmem::obj::string` in a \
             `concurrent_hash_map`, pmemkv's cmap shape)",
    },
    Collection {
        workload: "kv_memory",
        in_pmdkxx: false,
        ops: 60_000,
        goal: None,
        op: "a transaction pushing a 16-byte `PString` onto a `PVec<PString>`; then, untimed, \
             the heap bytes the values take (see the memory goal)",
    },
];

/// The memory goal: at most this many times the payload plus one pointer per 16-byte value.
pub(crate) const MEMORY_GOAL: f64 = 2.0;

/// The thread counts of the threads table, the first the one the others are compared with.
pub(crate) const THREAD_COUNTS: [usize; 2] = [1, 2];

/// The workloads of the msync table (pool files on a file system without DAX, made
/// durable by `msync`) and their op counts.
const MSYNC_WORKLOADS: [(&str, u64); 2] = [("sps", 200_000), ("list_push", 200_000)];

/// pmem's throughput over PMDK's that the msync rows are meant to reach.
pub(crate) const MSYNC_GOAL: f64 = 1.4;

/// One run: a program, the workload, its op count, `--threads N` if given, and whether it
/// runs in msync mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) program: Program,
    pub(crate) workload: &'static str,
    pub(crate) ops: u64,
    pub(crate) threads: Option<usize>,
    /// Whether the run makes its stores durable as on a file system without DAX: pmem with
    /// `PMEM_FLUSH=msync`, PMDK without `PMEM_IS_PMEM_FORCE` (on `/dev/shm`, libpmem then
    /// finds the file is not persistent memory and flushes with `msync`).
    pub(crate) msync: bool,
}

impl Run {
    fn new(program: Program, workload: &'static str, ops: u64) -> Self {
        Self {
            program,
            workload,
            ops,
            threads: None,
            msync: false,
        }
    }
}

/// The goal for pmem's open and first allocation, in milliseconds, at every heap size up
/// to [`RECOVERY_GOAL_NODES`].
pub(crate) const RECOVERY_GOAL_MS: f64 = 5.0;

/// The largest heap, in nodes (before scaling), that the recovery goal covers.
const RECOVERY_GOAL_NODES: u64 = 4_000_000;

/// Heap sizes of the recovery comparison, in 64-byte list nodes.
const RECOVERY_NODES: [u64; 5] = [10_000, 100_000, 1_000_000, 4_000_000, 16_000_000];

/// limit.c's variants, the first two being the floors of an undo-logged `sps` transaction
/// (its entries written by ordinary stores and CLWB, or by non-temporal stores as PMDK
/// writes its log).
pub(crate) const FLOOR_VARIANTS: [&str; 4] = [
    "undo_4_fences",
    "undo_4_fences_nt",
    "two_fences",
    "no_flush",
];

/// The scaled op counts of the run, shared by the runs and the report.
pub(crate) struct Plan {
    pub(crate) workloads: Vec<(&'static Workload, u64)>,
    pub(crate) threaded: Vec<(&'static Threaded, u64)>,
    pub(crate) collections: Vec<(&'static Collection, u64)>,
    /// The msync table's workloads and their scaled op counts.
    pub(crate) msync: Vec<(&'static str, u64)>,
    pub(crate) recovery: Vec<u64>,
    /// The largest heap size the recovery goal covers, scaled.
    pub(crate) recovery_goal_nodes: u64,
    pub(crate) floor_ops: u64,
    pub(crate) run_floor: bool,
    /// Whether the libpmemobj++ harness is there to run.
    pub(crate) run_pmdkxx: bool,
}

impl Plan {
    pub(crate) fn new(config: &Config, has_clwb: bool, has_pmdkxx: bool) -> Self {
        let recovery: BTreeSet<u64> = RECOVERY_NODES
            .iter()
            .map(|&nodes| config.scaled(nodes))
            .collect();
        Self {
            workloads: WORKLOADS
                .iter()
                .map(|workload| (workload, config.scaled(workload.ops)))
                .collect(),
            threaded: THREADED
                .iter()
                .map(|workload| (workload, config.scaled(workload.ops)))
                .collect(),
            collections: COLLECTIONS
                .iter()
                .map(|workload| (workload, config.scaled(workload.ops)))
                .collect(),
            msync: MSYNC_WORKLOADS
                .iter()
                .map(|&(workload, ops)| (workload, config.scaled(ops)))
                .collect(),
            recovery: recovery.into_iter().collect(),
            recovery_goal_nodes: config.scaled(RECOVERY_GOAL_NODES),
            floor_ops: config.scaled(WORKLOADS[0].ops),
            // limit.c executes CLWB unconditionally: it would die of SIGILL.
            run_floor: has_clwb,
            run_pmdkxx: has_pmdkxx,
        }
    }

    /// The runs of one round, in order. Each workload runs in pmem and in PMDK back to
    /// back, pmem first in odd rounds; then the recovery runs; then the msync rows, the
    /// same way; then each collection
    /// workload in pmem and in libpmemobj++ (if its harness is there), in the same order;
    /// then the threads table's,
    /// at each thread count in pmem and PMDK, the whole sequence reversed in even rounds
    /// (so neither a program nor a thread count always goes first).
    pub(crate) fn round(&self, round: u32) -> Vec<Run> {
        let mut runs = Vec::new();
        let mut pmdk_done = BTreeSet::new();
        let pairs = self
            .workloads
            .iter()
            .map(|&(workload, ops)| (workload.pmem, workload.pmdk, ops))
            .chain(
                self.recovery
                    .iter()
                    .map(|&nodes| ("recovery", Some("recovery"), nodes)),
            );
        for (pmem, pmdk, ops) in pairs {
            let mut pair = vec![Run::new(Program::Pmem, pmem, ops)];
            // alloc_link_free reuses alloc_free's PMDK runs of the same round.
            if let Some(pmdk) = pmdk.filter(|&pmdk| pmdk_done.insert((pmdk, ops))) {
                pair.push(Run::new(Program::Pmdk, pmdk, ops));
            }
            if round % 2 == 0 {
                pair.reverse();
            }
            runs.extend(pair);
        }
        for &(workload, ops) in &self.msync {
            let mut pair = [Program::Pmem, Program::Pmdk].map(|program| Run {
                msync: true,
                ..Run::new(program, workload, ops)
            });
            if round % 2 == 0 {
                pair.reverse();
            }
            runs.extend(pair);
        }
        for &(workload, ops) in &self.collections {
            let mut pair = vec![Run::new(Program::Pmem, workload.workload, ops)];
            if workload.in_pmdkxx && self.run_pmdkxx {
                pair.push(Run::new(Program::Pmdkxx, workload.workload, ops));
            }
            if round % 2 == 0 {
                pair.reverse();
            }
            runs.extend(pair);
        }
        let mut threaded = Vec::new();
        for &(workload, ops) in &self.threaded {
            let baseline_runs = workload.baseline != Program::Pmdkxx || self.run_pmdkxx;
            for threads in THREAD_COUNTS {
                for program in [Program::Pmem, workload.baseline] {
                    if program != Program::Pmem && !baseline_runs {
                        continue;
                    }
                    threaded.push(Run {
                        threads: Some(threads),
                        ..Run::new(program, workload.workload, ops)
                    });
                }
            }
        }
        if round % 2 == 0 {
            threaded.reverse();
        }
        runs.extend(threaded);
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn rounds_alternate_the_order_and_share_pmdk_runs() {
        let config = Config::parse_from(["compare", "--ops-scale", "0.001"]);
        let plan = Plan::new(&config, true, true);
        let first = plan.round(1);
        let second = plan.round(2);
        assert_eq!(first.len(), second.len());
        assert_eq!(first[0], Run::new(Program::Pmem, "sps", 2000));
        assert_eq!(first[1], Run::new(Program::Pmdk, "sps", 2000));
        assert_eq!(second[0], Run::new(Program::Pmdk, "sps", 2000));
        let pmdk_alloc_free = first
            .iter()
            .filter(|run| run.program == Program::Pmdk && run.workload == "alloc_free")
            .count();
        assert_eq!(pmdk_alloc_free, 1);
        let recovery: Vec<u64> = first
            .iter()
            .filter(|run| run.program == Program::Pmdk && run.workload == "recovery")
            .map(|run| run.ops)
            .collect();
        assert_eq!(recovery, [10, 100, 1000, 4000, 16000]);
        let msync: Vec<Run> = first.iter().filter(|run| run.msync).copied().collect();
        assert_eq!(msync.len(), 2 * MSYNC_WORKLOADS.len());
        assert_eq!(
            (msync[0].program, msync[1].program, msync[0].workload),
            (Program::Pmem, Program::Pmdk, "sps")
        );
        assert!(
            msync
                .iter()
                .all(|run| run.ops == 200 && run.threads.is_none())
        );
        let second_msync: Vec<Run> = second.iter().filter(|run| run.msync).copied().collect();
        assert_eq!(second_msync[0], msync[1], "PMDK first in even rounds");
    }

    #[test]
    fn collections_alternate_with_libpmemobjxx() {
        let config = Config::parse_from(["compare", "--ops-scale", "0.001"]);
        let plan = Plan::new(&config, true, true);
        let collections = |plan: &Plan, round| -> Vec<Run> {
            plan.round(round)
                .into_iter()
                .filter(|run| {
                    run.threads.is_none() && COLLECTIONS.iter().any(|c| c.workload == run.workload)
                })
                .collect()
        };
        let first = collections(&plan, 1);
        assert_eq!(
            first.len(),
            2 * COLLECTIONS.len() - 1,
            "kv_memory: pmem only"
        );
        assert_eq!(first[0], Run::new(Program::Pmem, "vec_push", 100));
        assert_eq!(first[1], Run::new(Program::Pmdkxx, "vec_push", 100));
        assert_eq!(collections(&plan, 2)[0], first[1]);
        assert!(!first.contains(&Run::new(Program::Pmdkxx, "kv_memory", 60)));
        let without = Plan::new(&config, true, false);
        let pmem_only = collections(&without, 1);
        assert_eq!(pmem_only.len(), COLLECTIONS.len());
        assert!(pmem_only.iter().all(|run| run.program == Program::Pmem));
    }

    #[test]
    fn rounds_run_both_programs_at_every_thread_count_in_alternating_order() {
        let config = Config::parse_from(["compare", "--ops-scale", "0.001"]);
        let plan = Plan::new(&config, true, true);
        let threaded = |round| -> Vec<Run> {
            plan.round(round)
                .into_iter()
                .filter(|run| run.threads.is_some())
                .collect()
        };
        let (first, second) = (threaded(1), threaded(2));
        assert_eq!(first.len(), THREADED.len() * THREAD_COUNTS.len() * 2);
        assert!(first.iter().any(|run| run.program == Program::Pmdkxx
            && run.workload == "map_insert"
            && run.threads == Some(2)));
        let sps_2 = Run {
            threads: Some(2),
            ..Run::new(Program::Pmem, "sps", 2000)
        };
        assert!(first.contains(&sps_2));
        assert!(first.iter().any(|run| run.program == Program::Pmdk
            && run.workload == "hashmap_insert"
            && run.threads == Some(1)
            && run.ops == 1000));
        let reversed: Vec<Run> = second.iter().rev().copied().collect();
        assert_eq!(first, reversed);
        assert_eq!(
            first[0],
            Run {
                threads: Some(1),
                ..Run::new(Program::Pmem, "sps", 2000)
            }
        );
    }
}
