//! What is measured: the workloads and their op counts, the heap sizes of the recovery
//! comparison, the floor's variants, and the order of the runs in each round.

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

/// A row of the threads table: a workload run by pmem-bench and the PMDK harness with
/// `--threads N`, N threads sharing one pool, with the scaling it is meant to reach.
pub(crate) struct Threaded {
    pub(crate) workload: &'static str,
    ops: u64,
    /// The goal for the throughput on 2 threads over that on 1.
    pub(crate) scaling_goal: f64,
    /// How each program shares the pool, for the notes under the table.
    pub(crate) sharing: &'static str,
}

const THREADED: &[Threaded] = &[
    Threaded {
        workload: "sps",
        ops: 2_000_000,
        scaling_goal: 1.8,
        sharing: "thread `t` swaps inside its own `1/N` of the array. PMDK's threads write \
                  their disjoint ranges without locks; pmem's root is the array as N ranges, \
                  each a `PMutex<[u64; 1_000_000 / N]>`, and a thread's transactions lock its \
                  own range (never contended, but taken and released every time)",
    },
    Threaded {
        workload: "hashmap_insert",
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
];

/// The thread counts of the threads table, the first the one the others are compared with.
pub(crate) const THREAD_COUNTS: [usize; 2] = [1, 2];

/// One run: a program, the workload, its op count, and `--threads N` if given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) program: Program,
    pub(crate) workload: &'static str,
    pub(crate) ops: u64,
    pub(crate) threads: Option<usize>,
}

impl Run {
    fn new(program: Program, workload: &'static str, ops: u64) -> Self {
        Self {
            program,
            workload,
            ops,
            threads: None,
        }
    }
}

/// Heap sizes of the recovery comparison, in 64-byte list nodes.
const RECOVERY_NODES: [u64; 4] = [10_000, 100_000, 1_000_000, 4_000_000];

/// limit.c's variants, the first being the floor of an undo-logged `sps` transaction.
pub(crate) const FLOOR_VARIANTS: [&str; 3] = ["undo_4_fences", "two_fences", "no_flush"];

/// The scaled op counts of the run, shared by the runs and the report.
pub(crate) struct Plan {
    pub(crate) workloads: Vec<(&'static Workload, u64)>,
    pub(crate) threaded: Vec<(&'static Threaded, u64)>,
    pub(crate) recovery: Vec<u64>,
    pub(crate) floor_ops: u64,
    pub(crate) run_floor: bool,
}

impl Plan {
    pub(crate) fn new(config: &Config, has_clwb: bool) -> Self {
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
            recovery: recovery.into_iter().collect(),
            floor_ops: config.scaled(WORKLOADS[0].ops),
            // limit.c executes CLWB unconditionally: it would die of SIGILL.
            run_floor: has_clwb,
        }
    }

    /// The runs of one round, in order. Each workload runs in pmem and in PMDK back to
    /// back, pmem first in odd rounds; then the recovery runs; then the threads table's,
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
        let mut threaded = Vec::new();
        for &(workload, ops) in &self.threaded {
            for threads in THREAD_COUNTS {
                for program in [Program::Pmem, Program::Pmdk] {
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
        let plan = Plan::new(&config, true);
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
        assert_eq!(recovery, [10, 100, 1000, 4000]);
    }

    #[test]
    fn rounds_run_both_programs_at_every_thread_count_in_alternating_order() {
        let config = Config::parse_from(["compare", "--ops-scale", "0.001"]);
        let plan = Plan::new(&config, true);
        let threaded = |round| -> Vec<Run> {
            plan.round(round)
                .into_iter()
                .filter(|run| run.threads.is_some())
                .collect()
        };
        let (first, second) = (threaded(1), threaded(2));
        assert_eq!(first.len(), 2 * THREAD_COUNTS.len() * 2);
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
