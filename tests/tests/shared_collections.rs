//! Collections behind a `PMutex`, changed by shared transactions on several threads: each
//! transaction claims the buffers it changes for the whole pool (see
//! `pmem-runtime/src/pool/active.rs`), so threads that lock different collections run side
//! by side, and a damaged file whose collections share a buffer is refused, not raced on.

use std::sync::{Barrier, mpsc};

use pmem::simulation::{ScratchFile, check_every_fence_observing};
use pmem::{
    Error, PBTreeMap, PHashMap, PMutex, PString, PVec, Persistent, Pool, PoolOptions, SharedTxn,
};
use pmem_tests::pslice_field;

#[derive(Persistent)]
#[repr(C)]
struct Shelves {
    lists: [PMutex<PVec<u64>>; 2],
    common: PMutex<PVec<u64>>,
    names: PMutex<PHashMap<u64, PString>>,
    sorted: PMutex<PBTreeMap<u64, u64>>,
}

impl Shelves {
    const fn new() -> Self {
        Self {
            lists: [PMutex::new(PVec::new()), PMutex::new(PVec::new())],
            common: PMutex::new(PVec::new()),
            names: PMutex::new(PHashMap::new()),
            sorted: PMutex::new(PBTreeMap::new()),
        }
    }
}

fn list(tx: &mut SharedTxn<'_, Shelves>, index: usize) -> Vec<u64> {
    let lists = &tx.root().lists;
    let mut list = tx.lock(&lists[index]);
    list.as_mut_slice()
        .expect("a list")
        .map_or_else(Vec::new, |elements| elements.to_vec())
}

const PUSHES: u64 = 300;

#[test]
fn threads_change_collections_behind_their_locks_side_by_side() {
    let file = ScratchFile::new("shared-collections-threads");
    {
        let pool = PoolOptions::new()
            .lanes(2)
            .create(file.path(), Shelves::new())
            .expect("create");
        let both_in_a_transaction = Barrier::new(2);
        std::thread::scope(|scope| {
            for thread in 0..2_u64 {
                let pool = &pool;
                let both_in_a_transaction = &both_in_a_transaction;
                scope.spawn(move || {
                    for value in 0..PUSHES {
                        pool.try_shared_txn(|tx| -> Result<(), Error> {
                            let root = tx.root();
                            tx.lock(&root.lists[thread as usize])
                                .push(thread * 1000 + value)?;
                            if value == 0 {
                                // Both threads hold a claim on their own buffer at once.
                                both_in_a_transaction.wait();
                            }
                            if value % 3 == 0 {
                                tx.lock(&root.common).push(thread * 1000 + value)?;
                            }
                            if value % 10 == 0 {
                                let mut names = tx.lock(&root.names);
                                let name = PString::from_str_in(&format!("{thread}-{value}"))?;
                                names.insert(thread * 1000 + value, name)?;
                                tx.lock(&root.sorted).insert(thread * 1000 + value, value)?;
                            }
                            Ok(())
                        })
                        .expect("a shared push");
                    }
                });
            }
        });
    }
    let pool = Pool::<Shelves>::open(file.path()).expect("reopen");
    pool.shared_txn(|tx| {
        for thread in 0..2_u64 {
            let expected: Vec<u64> = (0..PUSHES).map(|value| thread * 1000 + value).collect();
            assert_eq!(
                list(tx, thread as usize),
                expected,
                "thread {thread}'s list"
            );
        }
        let root = tx.root();
        let mut common = tx
            .lock(&root.common)
            .as_mut_slice()
            .expect("common")
            .expect("a buffer")
            .to_vec();
        common.sort_unstable();
        let mut expected: Vec<u64> = (0..2)
            .flat_map(|thread| {
                (0..PUSHES)
                    .step_by(3)
                    .map(move |value| thread * 1000 + value)
            })
            .collect();
        expected.sort_unstable();
        assert_eq!(common, expected);
        let mut names = tx.lock(&root.names);
        assert_eq!(names.len(), 60);
        let name = names.get_mut(&1010).expect("get_mut").expect("present");
        assert_eq!(name.with_str(str::to_owned).expect("read"), "1-10");
        let sorted = tx.lock(&root.sorted);
        assert_eq!(sorted.len(), 60);
    });
}

#[test]
fn a_shared_transaction_that_fails_rolls_its_collections_back() {
    let file = ScratchFile::new("shared-collections-rollback");
    let pool = PoolOptions::new()
        .lanes(2)
        .create(file.path(), Shelves::new())
        .expect("create");
    pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        let mut list = tx.lock(&root.lists[0]);
        for value in 0..3 {
            list.push(value)?;
        }
        Ok(())
    })
    .expect("fill");
    let outcome = pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        let mut list = tx.lock(&root.lists[0]);
        list.pop()?;
        // Growth past the capacity of 4 moves the elements to a new buffer.
        for value in 10..20 {
            list.push(value)?;
        }
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    assert_eq!(pool.shared_txn(|tx| list(tx, 0)), [0, 1, 2]);
}

/// The 16 bytes of a `PVec<u64>` (its length, then its buffer's offset) as they lie in the
/// pool: found in the file by their values.
fn vector_bytes(len: u64, buffer: u64) -> [u8; 16] {
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&len.to_le_bytes());
    bytes[8..].copy_from_slice(&buffer.to_le_bytes());
    bytes
}

/// The buffer offset a vector keeps private, from its `Debug` output.
fn buffer_of(vector: &PVec<u64>) -> u64 {
    pslice_field(&format!("{vector:?}"), "buffer")
}

/// Rewrites the pool file so that the vector `victim` (its length and buffer) holds the
/// length and buffer of `source`: two collections sharing one buffer, as only a damaged
/// file has them.
fn share_buffer(file: &ScratchFile, source: [u8; 16], victim: [u8; 16]) {
    let mut bytes = std::fs::read(file.path()).expect("read");
    // The root lies right after the pool's header page, before the undo log, whose last
    // entries may hold copies of the root's lines.
    let at = bytes
        .windows(16)
        .position(|window| window == victim)
        .expect("the victim's bytes");
    let root = 4096..4096 + size_of::<Twins>();
    assert!(root.contains(&at), "the victim lies in the root, at {at}");
    bytes[at..at + 16].copy_from_slice(&source);
    std::fs::write(file.path(), &bytes).expect("write");
}

#[derive(Persistent)]
#[repr(C)]
struct Twins {
    plain: PVec<u64>,
    locked: [PMutex<PVec<u64>>; 2],
}

/// A pool whose three vectors hold `[1, 2, 3]`, `[7]` and `[8, 9]`, rewritten so that the
/// vectors behind the two locks share the plain one's buffer (`share_locked`) or the plain
/// one shares the first locked one's.
fn twins(file: &ScratchFile, share_locked: bool) -> Pool<Twins> {
    let mut pool = PoolOptions::new()
        .lanes(2)
        .create(
            file.path(),
            Twins {
                plain: PVec::new(),
                locked: [PMutex::new(PVec::new()), PMutex::new(PVec::new())],
            },
        )
        .expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.plain.extend_from_slice(&[1, 2, 3])?;
        root.locked[0].get_mut().push(7)?;
        root.locked[1].get_mut().extend_from_slice(&[8, 9])?;
        Ok(())
    })
    .expect("fill");
    let plain = vector_bytes(3, buffer_of(&pool.root().plain));
    let locked: Vec<[u8; 16]> = pool
        .try_txn(|tx| -> Result<Vec<[u8; 16]>, Error> {
            let mut root = tx.root_mut();
            Ok(vec![
                vector_bytes(1, buffer_of(root.locked[0].get_mut())),
                vector_bytes(2, buffer_of(root.locked[1].get_mut())),
            ])
        })
        .expect("read the locked vectors");
    drop(pool);
    if share_locked {
        share_buffer(file, locked[0], locked[1]);
    } else {
        share_buffer(file, locked[0], plain);
    }
    PoolOptions::new()
        .lanes(2)
        .open(file.path())
        .expect("a damaged but openable pool")
}

/// Runs `during` on this thread while another holds a shared transaction that pushed onto
/// `locked[0]`, and so claimed its buffer; then lets that transaction commit.
fn while_the_first_locked_vector_is_claimed<T>(
    pool: &Pool<Twins>,
    during: impl FnOnce() -> T,
) -> T {
    let (claimed, claimed_now) = mpsc::channel();
    let (done, may_finish) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let first = scope.spawn(move || {
            pool.try_shared_txn(|tx| -> Result<(), Error> {
                let root = tx.root();
                tx.lock(&root.locked[0]).push(70)?;
                claimed.send(()).expect("send");
                may_finish.recv().expect("recv");
                Ok(())
            })
        });
        claimed_now
            .recv()
            .expect("the first transaction claimed the buffer");
        let result = during();
        done.send(()).expect("send");
        first.join().expect("join").expect("the first push");
        result
    })
}

#[test]
fn two_locked_vectors_sharing_a_buffer_are_not_changed_at_once() {
    let file = ScratchFile::new("shared-collections-twins-locked");
    let pool = &twins(&file, true);
    let second = while_the_first_locked_vector_is_claimed(pool, || {
        pool.try_shared_txn(|tx| -> Result<(), Error> {
            let root = tx.root();
            tx.lock(&root.locked[1]).push(80)
        })
    });
    match second {
        Err(Error::InvalidPointer { reason, .. }) => {
            assert!(reason.contains("another running transaction"), "{reason}");
        }
        other => panic!("the second vector changed its shared buffer at once: {other:?}"),
    }
}

#[test]
fn a_buffer_a_reader_holds_is_not_lent_to_a_shared_transaction() {
    let file = ScratchFile::new("shared-collections-twins-read");
    let mut pool = twins(&file, false);
    let seen = pool.root().plain.as_slice(&pool).expect("the plain vector");
    let outcome = pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        tx.lock(&root.locked[0]).push(70)
    });
    match outcome {
        Err(Error::InvalidPointer { reason, .. }) => {
            assert!(reason.contains("a reader"), "{reason}");
        }
        other => panic!("a buffer a reader held was lent: {other:?}"),
    }
    assert_eq!(seen, [7], "the reader's elements did not change under it");
    // An exclusive transaction has the pool to itself: no reader's reference is alive, so
    // it may change the buffer, and shared transactions may again after it.
    pool.try_txn(|tx| tx.root_mut().locked[0].get_mut().push(71))
        .expect("an exclusive push");
    pool.try_shared_txn(|tx| -> Result<(), Error> {
        let root = tx.root();
        tx.lock(&root.locked[0]).push(72)
    })
    .expect("a shared push after the exclusive one");
}

#[test]
fn a_reader_does_not_find_a_buffer_a_shared_transaction_claimed() {
    let file = ScratchFile::new("shared-collections-twins-hidden");
    let pool = &twins(&file, false);
    let read = while_the_first_locked_vector_is_claimed(pool, || {
        pool.root().plain.as_slice(pool).map(<[u64]>::to_vec)
    });
    assert!(
        matches!(read, Err(Error::InvalidPointer { .. })),
        "a reader found a buffer while a shared transaction changed it: {read:?}"
    );
}

#[derive(Persistent)]
#[repr(C)]
struct Locked {
    numbers: PMutex<PVec<u64>>,
    label: PMutex<PString>,
}

fn locked_state(pool: &Pool<Locked>) -> (Vec<u64>, usize) {
    pool.shared_txn(|tx| {
        let root = tx.root();
        let numbers = tx
            .lock(&root.numbers)
            .as_mut_slice()
            .expect("numbers")
            .map_or_else(Vec::new, |elements| elements.to_vec());
        let label = tx.lock(&root.label).len();
        (numbers, label)
    })
}

#[test]
fn shared_pushes_and_growth_are_all_or_nothing_at_every_fence() {
    // The harness lets a step panic (workloads may test panics), so each counts itself.
    let steps_as_expected = std::cell::Cell::new(0);
    let report = check_every_fence_observing(
        "shared-collections-crash",
        Locked {
            numbers: PMutex::new(PVec::new()),
            label: PMutex::new(PString::new()),
        },
        5,
        |pool, step| {
            let outcome = pool.try_shared_txn(|tx| -> Result<(), Error> {
                let root = tx.root();
                let mut numbers = tx.lock(&root.numbers);
                match step {
                    // Growth from nothing, to 4, to 8.
                    0..=2 => {
                        for value in 0..3 {
                            numbers.push((step * 10 + value) as u64)?;
                        }
                    }
                    3 => {
                        numbers.pop()?;
                        numbers.insert(1, 99)?;
                        tx.lock(&root.label).push_str("shared")?;
                    }
                    _ => {
                        numbers.push(1)?;
                        return Err(Error::NoTransaction);
                    }
                }
                Ok(())
            });
            if outcome.is_err() == (step == 4) {
                steps_as_expected.set(steps_as_expected.get() + 1);
            }
        },
        locked_state,
        6,
    );
    println!("shared collections: {report:?}");
    assert_eq!(steps_as_expected.get(), 5, "every step ran to its end");
    assert!(report.crash_points >= 4 * 3, "{report:?}");
}
