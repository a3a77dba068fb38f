//! A log that grows into the heap, crashed at every fence (`pmem_tests::workloads::log_growth`):
//! during the growth steps, in the entries of the blocks, at the commit, and in a later
//! transaction that reuses the chain.

use pmem_tests::workloads;

#[test]
fn a_log_growing_across_blocks_is_all_or_nothing_at_every_fence() {
    let report = workloads::log_growth();
    println!("log growth: {report:?}");
    // At least 128 entry fences per full transaction, three of them, and the growth fences.
    assert!(report.crash_points >= 3 * 128 + 64 + 3, "{report:?}");
    assert!(report.images >= report.crash_points * 4, "{report:?}");
}
