//! The transaction protocol crashed at every fence, on the simulated persistence domain
//! (see `pmem::simulation`). Each test reports how many crash points and images it
//! checked; `PMEM_CRASH_SEED=<n>` replays the eviction subsets of one seed.

use pmem::simulation::{ScratchFile, Simulation, check_every_fence, recover, seed, small_pool};
use pmem::{FlushMode, Pool, PoolOptions};
use pmem_tests::TempPath;

const IMAGES_PER_FENCE: usize = 64;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

type Array = [u64; 256];

fn counting() -> Array {
    core::array::from_fn(|index| index as u64)
}

fn swap(pool: &mut Pool<Array>, i: usize, j: usize) {
    pool.txn(|tx| {
        let mut array = tx.root_mut();
        let (a, b) = (*array.at(i), *array.at(j));
        *array.at(i) = b;
        *array.at(j) = a;
    });
}

#[test]
fn swaps_are_all_or_nothing_at_every_fence() {
    let mut random = 0x2545_f491_4f6c_dd1d;
    let report = check_every_fence(
        "crash-swaps",
        counting(),
        24,
        |pool, step| {
            let i = (xorshift(&mut random) % 256) as usize;
            // Every fourth swap stays in one cache line.
            let j = if step % 4 == 0 {
                i ^ 1
            } else {
                (xorshift(&mut random) % 256) as usize
            };
            swap(pool, i, j);
        },
        IMAGES_PER_FENCE,
    );
    println!("swaps: {report:?}");
    // 18 swaps in two lines (4 fences) and 6 in one line (3 fences).
    assert!(report.crash_points >= 6 * 3 + 18 * 3, "{report:?}");
    assert!(report.images >= report.crash_points * 8, "{report:?}");
}

#[derive(pmem::Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Bank {
    balances: [u64; 16],
    transfers: u64,
}

#[test]
fn transfers_commits_errors_and_panics_are_all_or_nothing_at_every_fence() {
    let mut random = 0x9e37_79b9_7f4a_7c15;
    let report = check_every_fence(
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
            let outcome: Result<(), ()> = pool.try_txn(|tx| {
                let mut bank = tx.root_mut();
                if bank.balances[from] < amount {
                    bank.balances[from] = 0;
                    return Err(());
                }
                bank.balances[from] -= amount;
                bank.balances[to] += amount;
                bank.transfers += 1;
                if step % 5 == 4 {
                    panic!("crash test: a panic after the stores");
                }
                Ok(())
            });
            let _ = outcome;
        },
        IMAGES_PER_FENCE,
    );
    println!("bank: {report:?}");
    assert!(report.crash_points >= 18 * 3, "{report:?}");
}

/// Crashes inside a transaction, then crashes again at every fence of the recovery of
/// that image: every image of the second crash must still recover the state before the
/// transaction.
#[test]
fn recovery_crashed_at_every_fence_still_recovers() {
    let simulation = Simulation::new();
    let path = TempPath::new("crash-recovery");
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
    let before_commit = &points[points.len() - 2];
    let crashed = before_commit.image(|_| true);

    let image_path = TempPath::new("crash-recovery-image");
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
    let recovery_points = second.take_crash_points();
    assert!(
        recovery_points.len() >= 3,
        "recovery fences: restore, generation, state record"
    );
    let mut images = 0;
    for point in &recovery_points {
        for image in point.images(IMAGES_PER_FENCE, seed) {
            let found = recover::<Array>(&scratch, &image)
                .unwrap_or_else(|error| panic!("{}, seed {seed}: {error}", image.description));
            assert_eq!(found, counting(), "{}, seed {seed}", image.description);
            images += 1;
        }
    }
    println!(
        "recovery: {} crash points, {images} images",
        recovery_points.len()
    );
}

#[test]
fn the_simulation_sees_the_protocol_fences() {
    let simulation = Simulation::new();
    let path = TempPath::new("crash-fences");
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), counting())
        .expect("create");
    assert_eq!(pool.info().flush_mode, FlushMode::None);
    let before = simulation.fences();
    swap(&mut pool, 0, 128);
    assert_eq!(simulation.fences() - before, 4);
}
