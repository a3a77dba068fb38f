//! The domain's own checks: which flushes and fences it reports as faults.

use std::os::fd::FromRawFd;

use super::*;
use crate::hw::flush::Flusher;

mod schedule;
mod threads;

/// A one-page file in memory (no path, nothing to clean up) mapped with a simulated
/// domain attached, inside a "transaction" whose data is the whole page.
pub(super) fn domain() -> (Mapping, Simulation, Flusher) {
    // SAFETY: memfd_create with a valid C string has no memory-safety preconditions.
    let fd = unsafe { libc::memfd_create(c"pmem-sim-unit".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.set_len(4096).expect("size");
    let mapping = Mapping::map(&file, 4096, 4096, false).expect("map");
    let simulation = Simulation::new();
    let flusher = Flusher::simulated(simulation.clone(), &mapping);
    flusher.tell(Event::TransactionBegan { in_data: &|_| true });
    (mapping, simulation, flusher)
}

/// Stores `word` at `offset` (a multiple of 8) of a test's mapping.
pub(super) fn store(mapping: &Mapping, offset: usize, word: [u8; 8]) {
    // SAFETY: the mapping is the test's own file, and no reference points into it.
    unsafe { mapping.store_word(offset, word) };
}

#[test]
fn needed_flushes_and_fences_are_not_reported() {
    let (mapping, simulation, flusher) = domain();
    // SAFETY: the mapping is ours alone.
    unsafe { mapping.store_word(0, [1; 8]) };
    flusher.flush(&mapping, 0, 8);
    flusher.fence();
    // SAFETY: as above.
    unsafe { mapping.store_word(0, [2; 8]) };
    flusher.flush(&mapping, 0, 8);
    flusher.fence();
    assert_eq!(simulation.lints(), []);
}

#[test]
fn redundant_flushes_and_empty_fences_are_reported() {
    let (mapping, simulation, flusher) = domain();
    flusher.flush(&mapping, 64, 8);
    flusher.fence();
    assert_eq!(
        simulation.lints(),
        [Lint::RedundantFlush { offset: 64 }],
        "a clean line written back"
    );
    // SAFETY: the mapping is ours alone.
    unsafe { mapping.store_word(128, [3; 8]) };
    flusher.flush(&mapping, 128, 8);
    flusher.flush(&mapping, 128, 8);
    flusher.fence();
    flusher.fence();
    assert_eq!(
        simulation.lints(),
        [
            Lint::RedundantFlush { offset: 128 },
            Lint::EmptyFence { fence: 3 }
        ],
        "the same line twice in one epoch, then a fence with nothing left to wait for"
    );
    assert!(Lint::EmptyFence { fence: 3 }.is_performance());
}

#[test]
fn a_line_left_dirty_at_commit_is_reported_once() {
    let (mapping, simulation, _flusher) = domain();
    // SAFETY: the mapping is ours alone.
    unsafe { mapping.store_word(192, [4; 8]) };
    simulation.transaction_committed(&[]);
    simulation.transaction_committed(&[]);
    assert_eq!(simulation.lints(), [Lint::DirtyAtCommit { offset: 192 }]);
    // SAFETY: as above.
    unsafe { mapping.store_word(256, [5; 8]) };
    simulation.transaction_committed(&[4]);
    assert_eq!(simulation.lints(), [], "line 4 was deferred on purpose");
    assert!(!Lint::DirtyAtCommit { offset: 0 }.is_performance());
}
