//! The crash tests, tested: each named persistence call of the protocol is skipped in turn
//! (`pmem::simulation::with_call_skipped`), and the crash workloads must fail for every one.
//! The test prints the kill rate.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pmem::simulation::{PersistenceCall, with_call_skipped};
use pmem_tests::workloads;

/// Whether every workload passes its oracles.
fn workloads_pass() -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let _ = workloads::swaps();
        let _ = workloads::bank_transfers();
        let _ = workloads::crashed_recovery();
        let _ = workloads::crashed_heap_recovery();
        let _ = workloads::first_collection_after_open();
        let _ = workloads::chunk_list();
        let _ = workloads::hash_map();
        let _ = workloads::heap_reuse();
        let _ = workloads::log_growth();
        // The slowest, last: a mutant that an earlier workload kills never gets here.
        let _ = workloads::huge_objects();
    }))
    .is_ok()
}

#[test]
fn skipping_any_persistence_call_fails_the_crash_tests() {
    assert!(
        workloads_pass(),
        "the workloads pass with the protocol intact"
    );
    let survivors: Vec<PersistenceCall> = PersistenceCall::ALL
        .into_iter()
        .filter(|&call| with_call_skipped(call, workloads_pass))
        .collect();
    let total = PersistenceCall::ALL.len();
    println!("mutation kill rate: {}/{total}", total - survivors.len());
    assert!(
        survivors.is_empty(),
        "mutants that no crash test noticed: {survivors:?}"
    );
}
