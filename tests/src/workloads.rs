//! The crash-test workloads, shared by `tests/crash.rs` (which checks them) and
//! `tests/mutations.rs` (which checks that they fail when the protocol is broken).

use pmem::simulation::{
    CrashReport, ScratchFile, Simulation, check_every_fence, recover, seed, small_pool,
};
use pmem::{PMut, Persistent, Pool, PoolOptions, txn};

use crate::xorshift;

/// Crash images per fence, at most.
pub const IMAGES_PER_FENCE: usize = 64;

/// The root of the swap workloads.
pub type Array = [u64; 256];

/// `0, 1, 2, ...`
#[must_use]
pub fn counting() -> Array {
    core::array::from_fn(|index| index as u64)
}

/// Swaps two elements in one transaction.
pub fn swap(pool: &mut Pool<Array>, i: usize, j: usize) {
    pool.txn(|tx| swap_elements(tx.root_mut(), i, j));
}

/// Swaps two elements, written as a user would.
#[txn]
pub fn swap_elements(mut array: PMut<'_, Array>, i: usize, j: usize) {
    let (a, b) = (array[i], array[j]);
    array[i] = b;
    array[j] = a;
}

/// 24 swaps of pseudo-random pairs (every fourth within one cache line), crashed at every
/// fence.
#[must_use]
pub fn swaps() -> CrashReport {
    let mut random = 0x2545_f491_4f6c_dd1d;
    check_every_fence(
        "crash-swaps",
        counting(),
        24,
        |pool, step| {
            let i = (xorshift(&mut random) % 256) as usize;
            let j = if step % 4 == 0 {
                i ^ 1
            } else {
                (xorshift(&mut random) % 256) as usize
            };
            swap(pool, i, j);
        },
        IMAGES_PER_FENCE,
    )
}

/// The root of the bank workload.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Bank {
    /// Account balances.
    pub balances: [u64; 16],
    /// Committed transfers.
    pub transfers: u64,
}

/// 18 transfers, crashed at every fence. A transfer the balance cannot cover zeroes the
/// account and returns `Err` (rolled back); every fifth panics after its stores (rolled
/// back).
#[must_use]
pub fn bank_transfers() -> CrashReport {
    let mut random = 0x9e37_79b9_7f4a_7c15;
    check_every_fence(
        "crash-bank",
        Bank {
            balances: [100; 16],
            transfers: 0,
        },
        18,
        |pool, step| {
            let from = (xorshift(&mut random) % 16) as usize;
            let to = (from + 1 + (xorshift(&mut random) % 15) as usize) % 16;
            let amount = xorshift(&mut random) % 150;
            let _refused = pool.txn(|tx| transfer(tx.root_mut(), from, to, amount, step % 5 == 4));
        },
        IMAGES_PER_FENCE,
    )
}

/// Moves `amount` between two accounts. One the balance cannot cover is zeroed and the
/// transfer refused (rolled back); `panic_after` panics after the stores (rolled back).
#[txn]
fn transfer(
    mut bank: PMut<'_, Bank>,
    from: usize,
    to: usize,
    amount: u64,
    panic_after: bool,
) -> Result<(), ()> {
    if bank.balances[from] < amount {
        bank.balances[from] = 0;
        return Err(());
    }
    bank.balances[from] -= amount;
    bank.balances[to] += amount;
    bank.transfers += 1;
    assert!(!panic_after, "crash test: a panic after the stores");
    Ok(())
}

/// Crashes inside a 32-line transaction, then crashes the recovery of that image at every
/// one of its fences: every image of the second crash must recover the state before the
/// transaction. Returns the report of the second crash.
///
/// # Panics
///
/// When an oracle fails.
#[must_use]
pub fn crashed_recovery() -> CrashReport {
    let simulation = Simulation::new();
    let path = ScratchFile::new("crash-recovery");
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), counting())
        .expect("create");
    simulation.capture(true);
    pool.txn(|tx| {
        let mut array = tx.root_mut();
        for index in (0..256).step_by(8) {
            *array.at(index) = 1_000_000 + index as u64;
        }
    });
    simulation.capture(false);
    drop(pool);
    // The last crash point before the commit fences: all 32 entries are durable, and with
    // every dirty word evicted, the data is too. Recovery has 32 lines to restore.
    let points = simulation.take_crash_points();
    let crashed = points[points.len() - 2].image(|_| usize::MAX);

    let image_path = ScratchFile::new("crash-recovery-image");
    std::fs::write(image_path.path(), &crashed.bytes).expect("write image");
    let second = Simulation::new();
    second.capture(true);
    let pool = PoolOptions::new()
        .simulation(&second)
        .open::<Array>(image_path.path())
        .expect("recover the first crash");
    assert_eq!(*pool.root(), counting());
    assert_eq!(pool.info().transactions_rolled_back, 1);
    drop(pool);
    second.capture(false);

    let seed = seed();
    let scratch = ScratchFile::new("crash-recovery-second");
    let mut report = CrashReport::default();
    for point in second.take_crash_points() {
        for image in point.images(IMAGES_PER_FENCE, seed) {
            let found = recover::<Array>(&scratch, &image)
                .unwrap_or_else(|error| panic!("{}, seed {seed}: {error}", image.description));
            assert_eq!(found, counting(), "{}, seed {seed}", image.description);
            report.images += 1;
        }
        report.crash_points += 1;
    }
    report
}
