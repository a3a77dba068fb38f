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

/// Heap sizes of the recovery comparison, in 64-byte list nodes.
const RECOVERY_NODES: [u64; 4] = [10_000, 100_000, 1_000_000, 4_000_000];

/// limit.c's variants, the first being the floor of an undo-logged `sps` transaction.
pub(crate) const FLOOR_VARIANTS: [&str; 3] = ["undo_4_fences", "two_fences", "no_flush"];

/// The scaled op counts of the run, shared by the runs and the report.
pub(crate) struct Plan {
    pub(crate) workloads: Vec<(&'static Workload, u64)>,
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
            recovery: recovery.into_iter().collect(),
            floor_ops: config.scaled(WORKLOADS[0].ops),
            // limit.c executes CLWB unconditionally: it would die of SIGILL.
            run_floor: has_clwb,
        }
    }

    /// The runs of one round, in order: (program, workload, ops).
    pub(crate) fn round(&self, round: u32) -> Vec<(Program, &'static str, u64)> {
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
            let mut pair = vec![(Program::Pmem, pmem, ops)];
            // alloc_link_free reuses alloc_free's PMDK runs of the same round.
            if let Some(pmdk) = pmdk.filter(|&pmdk| pmdk_done.insert((pmdk, ops))) {
                pair.push((Program::Pmdk, pmdk, ops));
            }
            if round % 2 == 0 {
                pair.reverse();
            }
            runs.extend(pair);
        }
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
        assert_eq!(first[0], (Program::Pmem, "sps", 2000));
        assert_eq!(first[1], (Program::Pmdk, "sps", 2000));
        assert_eq!(second[0], (Program::Pmdk, "sps", 2000));
        let pmdk_alloc_free = first
            .iter()
            .filter(|run| run.0 == Program::Pmdk && run.1 == "alloc_free")
            .count();
        assert_eq!(pmdk_alloc_free, 1);
        let recovery: Vec<u64> = first
            .iter()
            .filter(|run| run.0 == Program::Pmdk && run.1 == "recovery")
            .map(|run| run.2)
            .collect();
        assert_eq!(recovery, [10, 100, 1000, 4000]);
    }
}
