//! Holes found by the 17:00 review, one test each: every test fails on the code it was
//! written against and shows what the fix keeps from happening.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pmem::simulation::ScratchFile;
use pmem::{Error, PMutex, PVec, Persistent, Pool, PoolOptions};

#[derive(Persistent)]
#[repr(C)]
struct Guarded {
    list: PMutex<PVec<u64>>,
    /// Changed after `list`, so that a rollback restores many entries before `list`'s.
    padding: PMutex<PVec<u64>>,
}

const PADDING: usize = 8 * 2048;

/// A `PVec` value that owns the buffer the pool's `list` owns: taken out of the pool in a
/// shared transaction that is then rolled back, which puts the pool's copy back. Safe code
/// only: a `Persistent` value a transaction's body stores outside it survives the rollback.
fn stashed_copy_of_list(pool: &Pool<Guarded>) -> PVec<u64> {
    let mut stash = None;
    let outcome = pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        stash = Some(core::mem::take(&mut *tx.lock(&root.list)));
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    stash.expect("the body ran")
}

/// A shared transaction that lends a buffer it did not allocate hides it (a claim) until
/// its body has returned, and revealed it then, *before* rolling back: a reader that reached
/// the buffer through another `PVec` naming it (here one stashed out of a rolled-back
/// transaction; a damaged file has them too) was handed a `&[u64]` holding the rolled-back
/// transaction's value, which the rollback then overwrote under the live reference: a data
/// race, and a shared reference whose target changed. Claimed buffers are now revealed after
/// the rollback has restored them, before the locks are released.
#[test]
fn a_claimed_buffer_is_not_revealed_before_the_rollback_restores_it() {
    let file = ScratchFile::new("review-17-reveal-before-rollback");
    let mut pool = PoolOptions::new()
        .lanes(2)
        .create(
            file.path(),
            Guarded {
                list: PMutex::new(PVec::new()),
                padding: PMutex::new(PVec::new()),
            },
        )
        .expect("create");
    pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        tx.lock(&root.list).extend_from_slice(&[1, 2, 3])?;
        tx.lock(&root.padding)
            .extend_from_slice(&vec![0; PADDING])?;
        Ok(())
    })
    .expect("fill");
    let stash = stashed_copy_of_list(&pool);
    let mut seen = Vec::new();
    for _round in 0..40 {
        // Forget the reads of the last round, so that the next claim is not refused.
        pool.collect().expect("collect");
        let claimed = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let pool = &pool;
        let observed = std::thread::scope(|scope| {
            scope.spawn(|| {
                let outcome = pool.try_shared_txn(|tx| -> Result<(), Error> {
                    let root = tx.root();
                    tx.lock(&root.list)
                        .as_mut_slice()?
                        .expect("a buffer")
                        .at(0)
                        .set(999);
                    let mut padding = tx.lock(&root.padding);
                    let mut elements = padding.as_mut_slice()?.expect("a buffer");
                    for index in (0..PADDING).step_by(8) {
                        elements.at(index).set(7);
                    }
                    claimed.store(true, Ordering::SeqCst);
                    Err(Error::NoTransaction)
                });
                assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
                done.store(true, Ordering::SeqCst);
            });
            let reader = scope.spawn(|| {
                while !claimed.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                let elements = loop {
                    if let Ok(elements) = stash.as_slice(pool) {
                        break elements;
                    }
                    assert!(Instant::now() < deadline, "the buffer stayed hidden");
                };
                // `black_box`, so that each read looks at memory.
                let first = std::hint::black_box(elements)[0];
                let mut values = vec![first];
                while !done.load(Ordering::SeqCst) {
                    let now = std::hint::black_box(elements)[0];
                    if values.last() != Some(&now) {
                        values.push(now);
                    }
                }
                let now = std::hint::black_box(elements)[0];
                if values.last() != Some(&now) {
                    values.push(now);
                }
                values
            });
            reader.join().expect("the reader")
        });
        seen.push(observed);
    }
    assert!(
        seen.iter().all(|values| values == &[1]),
        "a reader saw the buffer's first element change under its `&[u64]`, or hold a \
         rolled-back value: {seen:?}"
    );
}
