//! The transaction protocol crashed at every fence, on the simulated persistence domain
//! (see `pmem::simulation` and `pmem_tests::workloads`). Each test reports how many crash
//! points and images it checked; `PMEM_CRASH_SEED=<n>` replays the eviction subsets of one
//! seed.

use pmem::FlushMode;
use pmem::simulation::{CrashTest, ScratchFile, Simulation, small_pool};
use pmem_tests::workloads::{self, counting, swap};

#[test]
fn swaps_are_all_or_nothing_at_every_fence() {
    let report = workloads::swaps();
    println!("swaps: {report:?}");
    // 18 swaps in two lines (4 fences) and 6 in one line (3 fences), less any pair that
    // happened to share a line.
    assert!(report.crash_points >= 6 * 3 + 18 * 3, "{report:?}");
    assert!(report.images >= report.crash_points * 8, "{report:?}");
}

#[test]
fn transfers_commits_errors_and_panics_are_all_or_nothing_at_every_fence() {
    let report = workloads::bank_transfers();
    println!("bank: {report:?}");
    assert!(report.crash_points >= 18 * 3, "{report:?}");
}

#[test]
fn recovery_crashed_at_every_fence_still_recovers() {
    let report = workloads::crashed_recovery();
    println!("recovery: {report:?}");
    assert!(
        report.crash_points >= 3,
        "recovery fences: restore, generation, state record"
    );
}

#[test]
fn heap_recovery_crashed_at_every_fence_still_recovers() {
    let report = workloads::crashed_heap_recovery();
    println!("heap recovery: {report:?}");
    assert!(
        report.crash_points >= 4,
        "open fences: restore, generation, sweep, state record: {report:?}"
    );
}

#[test]
fn the_first_collection_after_an_open_that_left_it_for_later_crashed_at_every_fence() {
    let report = workloads::first_collection_after_open();
    println!("first collection after open: {report:?}");
    assert!(
        report.crash_points >= 4,
        "fences: the root's log entry, the sweep, the two of the commit: {report:?}"
    );
}

#[test]
fn a_dangling_pointer_into_a_new_type_s_first_span_survives_a_crash() {
    let report = workloads::dangling_pointer_into_a_new_type();
    println!("dangling pointer into a new type: {report:?}");
    assert!(report.crash_points >= 3, "{report:?}");
}

#[test]
fn two_types_first_recorded_by_a_crashed_transaction_leave_a_sound_type_table() {
    let report = workloads::two_new_types_in_one_transaction();
    println!("two new types: {report:?}");
    assert!(report.crash_points >= 4, "{report:?}");
}

#[test]
fn the_simulation_sees_the_protocol_fences() {
    let simulation = Simulation::new();
    let path = ScratchFile::new("crash-fences");
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), counting())
        .expect("create");
    assert_eq!(pool.info().flush_mode, FlushMode::None);
    let before = simulation.fences();
    swap(&mut pool, 0, 128);
    assert_eq!(simulation.fences() - before, 4);
}

#[test]
fn the_simulation_reports_unlogged_stores_and_stores_outside_transactions() {
    use pmem::simulation::Lint;
    let simulation = Simulation::new();
    let path = ScratchFile::new("crash-lints");
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), counting())
        .expect("create");
    swap(&mut pool, 0, 128);
    assert_eq!(simulation.lints(), [], "the protocol logs what it stores");
    // Bypassing the log takes `unsafe`: a raw pointer written through behind the pool's back.
    let raw = std::ptr::from_ref(pool.root()).cast_mut().cast::<u64>();
    pool.txn(|_| {
        // SAFETY: the root is mapped and nothing else references it during this closure.
        unsafe { raw.wrapping_add(16).write(7) };
    });
    assert_eq!(
        simulation.lints(),
        [
            Lint::UnloggedStore { offset: 4096 + 128 },
            Lint::DirtyAtCommit { offset: 4096 + 128 }
        ]
    );
    // SAFETY: as above, between transactions.
    unsafe { raw.wrapping_add(32).write(7) };
    swap(&mut pool, 1, 2);
    assert_eq!(
        simulation.lints(),
        [
            Lint::StoreOutsideTransaction { offset: 4096 + 256 },
            Lint::DirtyAtCommit { offset: 4096 + 256 }
        ]
    );
}

#[test]
fn list_pushes_pops_growth_and_collections_are_all_or_nothing_at_every_fence() {
    let report = workloads::chunk_list();
    println!("chunk list: {report:?}");
    assert!(report.crash_points >= 10 * 3, "{report:?}");
}

#[test]
fn hash_map_inserts_updates_removes_and_collections_are_all_or_nothing_at_every_fence() {
    let report = workloads::hash_map();
    println!("hash map: {report:?}");
    assert!(report.crash_points >= 20 * 3, "{report:?}");
}

#[test]
fn freed_pages_and_deferred_lines_are_reused_safely_at_every_fence() {
    let report = workloads::heap_reuse();
    println!("heap reuse: {report:?}");
    assert!(report.crash_points >= 3 * 3, "{report:?}");
}

#[test]
fn swaps_are_all_or_nothing_before_every_store_too() {
    let run = |at_stores| {
        let mut random = 0x9e37_79b9_7f4a_7c15;
        CrashTest::new("crash-swaps-stores")
            .at_stores(at_stores)
            .run(
                counting(),
                12,
                |pool, _| {
                    let i = (pmem_tests::xorshift(&mut random) % 256) as usize;
                    let j = (pmem_tests::xorshift(&mut random) % 256) as usize;
                    swap(pool, i, j);
                },
                |pool| *pool.root(),
            )
    };
    let (fences, stores) = (run(false), run(true));
    println!("swaps at fences: {fences:?}, and at stores: {stores:?}");
    // Each swap stores twice through `#[txn]`: two more crash points per swap.
    assert_eq!(
        stores.crash_points,
        fences.crash_points + 12 * 2,
        "{stores:?}"
    );
}
