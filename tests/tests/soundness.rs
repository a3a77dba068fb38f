//! The stores a syntax-level rewrite cannot see — autoref'd `&mut self` calls, `mem::swap`,
//! `mem::take`, callees without `#[txn]` — are logged all the same (coarsely, through
//! `PMut`'s `DerefMut`, or precisely through a rewritten `&mut place`), and so are all or
//! nothing when crashed at every fence.

use pmem::simulation::ScratchFile;
use pmem::simulation::check_every_fence;
use pmem::{PMut, Persistent, Stats, txn};

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Slots {
    slots: [u64; 32],
    spare: u64,
    steps: u64,
    pad: [u64; 6],
}

fn initial() -> Slots {
    Slots {
        slots: core::array::from_fn(|index| index as u64 * 10),
        spare: 1000,
        steps: 0,
        pad: [0; 6],
    }
}

/// Not `#[txn]`: its stores go through the `&mut` it is given.
fn rotate(values: &mut [u64]) {
    values.rotate_left(1);
    for value in values.iter_mut() {
        *value += 1;
    }
}

#[derive(Debug)]
struct Refused;

#[txn]
fn step(mut slots: PMut<'_, Slots>, index: usize) -> Result<(), Refused> {
    slots.steps += 1;
    match index % 6 {
        // An autoref'd `&mut self` method on a field: `DerefMut` logs the whole root.
        0 => slots.slots.swap(1, 30),
        // `mem::swap` of two fields, borrowed from one logged `&mut`.
        1 => {
            let whole = &mut *slots;
            core::mem::swap(&mut whole.slots[3], &mut whole.spare);
        }
        // `mem::take` of a rewritten `&mut place`: logs one element.
        2 => slots.spare += core::mem::take(&mut slots.slots[20]),
        // A callee without `#[txn]`, given a rewritten `&mut` to a range.
        3 => rotate(&mut slots.slots[8..16]),
        // An `Err` from the outermost call rolls the transaction back.
        4 => {
            slots.slots[0] = 99;
            return Err(Refused);
        }
        // A panic rolls it back.
        _ => {
            slots.slots.fill(7);
            panic!("deliberate, after a store");
        }
    }
    Ok(())
}

#[test]
fn unseen_stores_are_all_or_nothing_at_every_fence() {
    let report = check_every_fence(
        "soundness",
        initial(),
        12,
        |pool, index| {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.txn(|tx| step(tx.root_mut(), index))
            }));
            assert_eq!(
                outcome.is_err(),
                index % 6 == 5,
                "step {index}: {outcome:?}"
            );
        },
        16,
    );
    println!("soundness: {report:?}");
    assert!(report.crash_points >= 12, "{report:?}");
}

#[test]
fn unseen_stores_take_effect_or_roll_back() {
    let path = ScratchFile::new("soundness-effects");
    let mut pool = pmem::Pool::create(path.path(), initial()).expect("create");
    let mut expected = initial();
    for index in 0..6 {
        let before = Stats::current_thread();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.txn(|tx| step(tx.root_mut(), index))
        }));
        let cost = Stats::current_thread() - before;
        match index {
            0 => expected.slots.swap(1, 30),
            1 => core::mem::swap(&mut expected.slots[3], &mut expected.spare),
            2 => expected.spare += core::mem::take(&mut expected.slots[20]),
            3 => rotate(&mut expected.slots[8..16]),
            _ => {}
        }
        if index < 4 {
            expected.steps += 1;
            assert!(matches!(outcome, Ok(Ok(()))), "step {index}");
        } else {
            assert!(!matches!(outcome, Ok(Ok(()))), "step {index} fails");
        }
        assert_eq!(*pool.root(), expected, "step {index}");
        assert!(cost.logged_bytes > 0, "step {index} logged nothing");
    }
}
