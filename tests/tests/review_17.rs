//! Holes found by the 17:00 review, one test each: every test fails on the code it was
//! written against and shows what the fix keeps from happening.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pmem::simulation::ScratchFile;
use pmem::{Error, PMutex, PVec, Persistent, Pool, PoolOptions};
use pmem_tests::pslice_field;

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

#[derive(Persistent)]
#[repr(C)]
struct Huge {
    /// A huge slice, unlinked before the transaction that stores into it.
    garbage: pmem::PSlice<u64>,
    /// A huge slice kept alive, in the arenas right after `garbage`'s.
    kept: pmem::PSlice<u64>,
    later: pmem::PSlice<u64>,
}

/// Elements in a huge slice of two arenas.
const HUGE_LEN: usize = 300_000;
/// The element at the start of its second arena's page-table page.
const ON_COVERED_TABLE: usize = (511 * 4096 - 8) / 8;

/// An exclusive transaction stores (logged) into a huge object that nothing reaches any
/// more but that no collection has freed yet (a pointer kept across transactions, which
/// `Txn::get_slice_mut` accepts until a collection), then allocates, which collects: the
/// collection frees the huge object and zeroes its covered table page, which is a page
/// table again. When the transaction then rolls back, its undo entry put the object's old
/// bytes back on that page table: the heap's metadata is garbage, and the pool no longer
/// opens. The in-transaction collection now keeps the objects the transaction handed out
/// references to.
#[test]
fn a_rolled_back_store_into_a_huge_object_freed_mid_transaction_leaves_the_pool_openable() {
    let file = ScratchFile::new("review-17-huge-freed-mid-transaction");
    let options = PoolOptions::new().size(1 << 20).max_size(256 << 20);
    let mut pool = options
        .create(
            file.path(),
            Huge {
                garbage: pmem::PSlice::null(),
                kept: pmem::PSlice::null(),
                later: pmem::PSlice::null(),
            },
        )
        .expect("create");
    let garbage = pool
        .try_txn(|tx| -> Result<_, Error> {
            let garbage = tx.alloc_slice_with(HUGE_LEN, |_| 0x5555_5555_5555_5555_u64)?;
            tx.root_mut().kept = tx.alloc_slice_with(HUGE_LEN, |index| index as u64)?;
            Ok(garbage)
        })
        .expect("allocate");
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        let mut elements = tx.get_slice_mut(garbage)?;
        elements.at(ON_COVERED_TABLE + 1).set(7);
        // Larger than the freed arenas: the collection this allocation runs frees
        // `garbage`, and the new object goes past `kept`, leaving `garbage`'s tables free.
        tx.root_mut().later = tx.alloc_slice_with(3 * HUGE_LEN, |_| 1)?;
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    drop(pool);
    let mut pool = Pool::<Huge>::open(file.path()).expect("the pool opens after the rollback");
    pool.collect().expect("collect");
    assert!(
        pool.get_slice(garbage).is_err(),
        "freed once nothing logs into it"
    );
    drop(pool);
    let pool = Pool::<Huge>::open(file.path()).expect("the pool opens after the rollback");
    assert_eq!(
        pool.get_slice(pool.root().kept).expect("kept")[HUGE_LEN - 1],
        HUGE_LEN as u64 - 1
    );
}

#[derive(Persistent)]
#[repr(C)]
struct Slices {
    kept: pmem::PSlice<u64>,
}

/// Elements of a large (not huge) slice: 1.6 MB, most of an arena.
const LARGE_LEN: usize = 200_000;

/// An exclusive transaction holds a `PMut` into an object nothing reaches (followed
/// through a pointer kept across transactions, which `Txn::get_slice_mut` accepts until a
/// collection) and, while it lives, allocates through `pmem::alloc_slice_with`, which
/// needs no borrow of the `Txn` and collects when the heap is full: the collection kept
/// only what the pool reached and what the transaction allocated, so it freed the object
/// under the live `PMut` and handed its slot to the new slice. A store through the old
/// `PMut` then changed the new object: two live mutable paths to the same bytes. The
/// in-transaction collection now keeps every object the transaction handed out a `PMut`
/// to.
#[test]
fn a_collection_inside_a_transaction_does_not_free_an_object_it_lent() {
    let file = ScratchFile::new("review-17-collection-under-a-pmut");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .max_size(256 << 20)
        .create(
            file.path(),
            Slices {
                kept: pmem::PSlice::null(),
            },
        )
        .expect("create");
    // Garbage from the start: nothing links it.
    let garbage = pool
        .try_txn(|tx| tx.alloc_slice_with(LARGE_LEN, |_| 0x55_u64))
        .expect("allocate");
    let new = pool
        .try_txn(|tx| -> Result<_, Error> {
            let mut old = tx.get_slice_mut(garbage)?;
            let new = pmem::alloc_slice_with(LARGE_LEN, |_| 1_u64)?;
            old.at(5).set(999);
            tx.root_mut().kept = new;
            Ok(new)
        })
        .expect("store and allocate");
    let elements = pool.get_slice(pool.root().kept).expect("the new slice");
    assert_eq!(
        (elements[5], new.offset() == garbage.offset()),
        (1, false),
        "a store through a PMut taken before the allocation changed the new object"
    );
}

#[derive(Persistent)]
#[repr(C)]
struct Pair {
    a: PVec<u64>,
    b: PVec<u64>,
}

/// `PVec::push` stores a pointer-free element into a spare slot without an undo entry, on
/// the argument that a slot past the length is read by no one. A `PVec` taken out of the
/// pool in a transaction that is then rolled back survives it (a value the body stored
/// outside), so safe code can make two collections name one buffer with different lengths:
/// then a rolled-back push into `a`'s spare slot changes an element inside `b`'s length,
/// which was committed (as zero) and is now the rolled-back value. Logged stores would
/// have been restored. A rollback now records the offsets its changed words named
/// (`txn/rolled_back.rs`), and a push into such a buffer logs its slot.
#[test]
fn a_rolled_back_push_changes_no_committed_element_of_another_vector() {
    let file = ScratchFile::new("review-17-duplicate-vector-spare-slot");
    let mut pool = Pool::create(
        file.path(),
        Pair {
            a: PVec::new(),
            b: PVec::new(),
        },
    )
    .expect("create");
    pool.try_txn(|tx| tx.root_mut().a.extend_from_slice(&[1, 2, 3]))
        .expect("fill");
    let mut stash = None;
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        stash = Some(core::mem::take(&mut tx.root_mut().a));
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    // `a` empties its buffer (zeroing its slots, logged), and the stashed copy, still three
    // long, is linked as `b`.
    pool.try_txn(|tx| tx.root_mut().a.truncate(0))
        .expect("truncate");
    pool.txn(|tx| tx.root_mut().b = stash.take().expect("stashed"));
    assert_eq!(pool.root().b.as_slice(&pool).expect("b"), [0, 0, 0]);
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        tx.root_mut().a.push(42)?;
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    assert_eq!(
        pool.root().b.as_slice(&pool).expect("b"),
        [0, 0, 0],
        "a rolled-back push into `a` changed `b`'s committed elements"
    );
}

/// As `a_collection_inside_a_transaction_does_not_free_an_object_it_lent`, for the view
/// `PVec::with_elements` lends: a vector outside the pool (taken out of it by a committed
/// transaction, its buffer garbage until the next collection) lends `&[u64]` of its buffer
/// through the running transaction, and an allocation inside `body` collects. The
/// collection freed the buffer under the live `&[u64]` and gave its slot to the new
/// slice, whose elements it wrote under the reference. Buffers a collection lends count
/// as handed out too now.
#[test]
fn a_collection_inside_with_elements_does_not_free_the_buffer_it_lends() {
    let file = ScratchFile::new("review-17-collection-under-with-elements");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .max_size(256 << 20)
        .create(
            file.path(),
            Pair {
                a: PVec::new(),
                b: PVec::new(),
            },
        )
        .expect("create");
    pool.try_txn(|tx| tx.root_mut().a.extend_from_slice(&vec![0x55; LARGE_LEN]))
        .expect("fill");
    let taken = pool.txn(|tx| core::mem::take(&mut tx.root_mut().a));
    let (before, after) = pool
        .try_txn(|tx| -> Result<_, Error> {
            let (before, after, new) = taken.with_elements(|elements| {
                let before = std::hint::black_box(elements)[5];
                let new = pmem::alloc_slice_with(LARGE_LEN, |_| 1_u64);
                (before, std::hint::black_box(elements)[5], new)
            })?;
            tx.root_mut().b = PVec::from_elements([new?.offset()])?;
            Ok((before, after))
        })
        .expect("read and allocate");
    assert_eq!(
        (before, after),
        (0x55, 0x55),
        "the elements under a live `&[u64]` changed"
    );
}

/// The pool offset of `vector`'s buffer, as its `Debug` output shows it.
fn buffer_offset(vector: &PVec<u64>) -> u64 {
    pslice_field(&format!("{vector:?}"), "buffer")
}

/// `PVec::with_elements` (public since today) lends `&[u64]` of the buffer through the
/// running transaction without borrowing its `Txn`, and a `PSlice` naming the same buffer
/// (`PSlice::from_offset`, public) gets a `PMut` from `Txn::get_slice_mut`: both were
/// handed out at once, and a store through the `PMut` changed the elements under the
/// `&[u64]`. `get_slice_mut` now claims the buffer for the transaction's handle, so a
/// collection's view of it is refused while the `PMut` may live.
#[test]
fn with_elements_and_get_slice_mut_do_not_lend_one_buffer_at_once() {
    let file = ScratchFile::new("review-17-with-elements-and-get-slice-mut");
    let mut pool = Pool::create(
        file.path(),
        Pair {
            a: PVec::new(),
            b: PVec::new(),
        },
    )
    .expect("create");
    let seen = pool
        .try_txn(|tx| -> Result<_, Error> {
            let vector = PVec::from_elements([1_u64, 2, 3])?;
            let same = pmem::PSlice::<u64>::from_offset(buffer_offset(&vector));
            let mut elements = tx.get_slice_mut(same)?;
            let seen = vector.with_elements(|view| {
                let before = std::hint::black_box(view)[0];
                elements.at(0).set(9);
                (before, std::hint::black_box(view)[0])
            });
            tx.root_mut().a = vector;
            Ok(seen)
        })
        .expect("the transaction");
    assert!(
        matches!(seen, Err(Error::InvalidPointer { .. })),
        "a `&[u64]` saw a store through a `PMut` lent at the same time: {seen:?}"
    );
}

#[derive(Persistent)]
#[repr(C)]
struct Named {
    name: PMutex<pmem::PString>,
}

/// Not a soundness hole, a refusal of what the docs show: `PString::with_str` on a string
/// behind a lock (`tx.lock(&root.name).with_str(str::len)`, `with_str`'s own example)
/// marked the buffer read as a reader's lookup does, so every later shared transaction
/// holding the lock was refused a change to it ("a reader read this buffer"), until the next
/// collection. A view lent through a value the transaction locked now claims the buffer as a
/// change would.
#[test]
fn a_string_read_behind_its_lock_can_be_appended_to_after() {
    let file = ScratchFile::new("review-17-with-str-then-push");
    let pool = PoolOptions::new()
        .lanes(2)
        .create(
            file.path(),
            Named {
                name: PMutex::new(pmem::PString::new()),
            },
        )
        .expect("create");
    pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        tx.lock(&root.name).push_str("abc")
    })
    .expect("push");
    let len = pool
        .try_shared_txn(|tx| -> Result<usize, Error> {
            let root = tx.root();
            let mut name = tx.lock(&root.name);
            let len = name.with_str(str::len)?;
            name.push_str("d")?;
            Ok(len)
        })
        .expect("read, then push in the same transaction");
    assert_eq!(len, 3);
    pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        tx.lock(&root.name).push_str("efgh")
    })
    .expect("push after a read");
    let text = pool.shared_txn(|tx| {
        let root = tx.root();
        tx.lock(&root.name).with_str(str::to_owned)
    });
    assert_eq!(text.expect("the name"), "abcdefgh");
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Trio {
    a: PVec<u64>,
    b: PVec<u64>,
    c: PVec<u64>,
}

/// As `a_rolled_back_push_changes_no_committed_element_of_another_vector`, for a vector
/// whose buffer the rolled-back transaction allocated: the rollback leaves the buffer to
/// the collector, which frees it, and the heap gives the slot to another vector's buffer;
/// the copy carried out of the transaction, linked into the pool, then names that buffer.
/// A rollback records the buffers its transaction allocated too.
#[test]
fn a_rolled_back_push_changes_nothing_a_copy_of_a_freed_buffer_names() {
    let file = ScratchFile::new("review-17-copy-of-a-freed-buffer");
    let mut pool = Pool::create(file.path(), Trio::default()).expect("create");
    let mut stash = None;
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.a.push(1)?;
        stash = Some(core::mem::take(&mut root.a));
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    pool.collect().expect("collect");
    let stash = stash.expect("stashed");
    pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.b.push(5)?;
        root.b.pop()?;
        Ok(())
    })
    .expect("b takes a buffer");
    assert_eq!(
        buffer_offset(&pool.root().b),
        buffer_offset(&stash),
        "the heap gave b the slot of the freed buffer (the case this test is about)"
    );
    pool.txn(|tx| tx.root_mut().c = stash);
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        tx.root_mut().b.push(42)?;
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    assert_eq!(
        pool.root().c.as_slice(&pool).expect("c"),
        [0],
        "a rolled-back push into `b` changed what `c` holds"
    );
}
