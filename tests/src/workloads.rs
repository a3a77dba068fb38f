//! The crash-test workloads, shared by `tests/crash.rs` (which checks them) and
//! `tests/mutations.rs` (which checks that they fail when the protocol is broken).

use std::panic::{AssertUnwindSafe, catch_unwind};

use pmem::simulation::{
    CrashReport, CrashTest, ScratchFile, Simulation, check_every_fence,
    check_every_fence_observing, seed, small_pool,
};
use pmem::{Error, FlushMode, PMut, PPtr, PSlice, Persistent, Pool, PoolOptions, Txn, txn};

use crate::{collected_at_open, first_collection, xorshift};

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

/// The elements step `step` of a run of pseudo-random swaps exchanges: every fourth pair
/// within one cache line.
#[must_use]
pub fn swap_pair(random: &mut u64, step: usize) -> (usize, usize) {
    let i = (xorshift(random) % 256) as usize;
    let j = if step % 4 == 0 {
        i ^ 1
    } else {
        (xorshift(random) % 256) as usize
    };
    (i, j)
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
            let (i, j) = swap_pair(&mut random, step);
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
    bank_transfers_on(CrashTest::new("crash-bank").images_per_point(IMAGES_PER_FENCE))
}

/// The transfers of [`bank_transfers`], run by `test` (under deferred durability, for
/// one).
#[must_use]
pub fn bank_transfers_on(test: CrashTest) -> CrashReport {
    let mut random = 0x9e37_79b9_7f4a_7c15;
    test.run(
        Bank {
            balances: [100; 16],
            transfers: 0,
        },
        18,
        |pool, step| {
            let from = (xorshift(&mut random) % 16) as usize;
            let to = (from + 1 + (xorshift(&mut random) % 15) as usize) % 16;
            let amount = xorshift(&mut random) % 150;
            let panics = step % 5 == 4;
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                pool.txn(|tx| transfer(tx.root_mut(), from, to, amount, panics))
            }));
            // A refused transfer returns before the panic.
            assert!(outcome.is_ok() || panics, "step {step} panicked");
        },
        |pool| *pool.root(),
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
    crashed_while_recovering("crash-recovery", &simulation, |pool: &Pool<Array>| {
        assert_eq!(*pool.root(), counting());
    })
}

/// Takes the image of `simulation`'s last crash point before the commit fences of its last
/// transaction, with every dirty word evicted (every entry durable, and the data too), opens
/// it on a second simulation, and then checks every crash image of every fence of that
/// open, the recovery and the collection at open: each must open again, with no dangling
/// pointer, and satisfy `check`, as the first recovery must. Returns what it checked.
fn crashed_while_recovering<R: Persistent>(
    label: &str,
    simulation: &Simulation,
    check: impl Fn(&Pool<R>),
) -> CrashReport {
    let points = simulation.take_crash_points();
    let crashed = points[points.len() - 2].image(|_| usize::MAX);
    let image_path = ScratchFile::new(&format!("{label}-image"));
    std::fs::write(image_path.path(), &crashed.bytes).expect("write image");
    let second = Simulation::new();
    second.capture(true);
    let pool = PoolOptions::new()
        .simulation(&second)
        .collect_at_open(true)
        .open::<R>(image_path.path())
        .expect("recover the first crash");
    check(&pool);
    assert_eq!(pool.info().transactions_rolled_back, 1);
    drop(pool);
    second.capture(false);

    let seed = seed();
    let scratch = ScratchFile::new(&format!("{label}-second"));
    let mut report = CrashReport::default();
    for point in second.take_crash_points() {
        for image in point.images(IMAGES_PER_FENCE, seed) {
            std::fs::write(scratch.path(), &image.bytes).expect("write image");
            let pool = PoolOptions::new()
                .flush_mode(FlushMode::None)
                .collect_at_open(true)
                .open::<R>(scratch.path())
                .unwrap_or_else(|error| panic!("{}, seed {seed}: {error}", image.description));
            let dangling = collected_at_open(&pool).first_dangling;
            assert_eq!(dangling, None, "{}, seed {seed}", image.description);
            check(&pool);
            report.images += 1;
        }
        report.crash_points += 1;
    }
    report
}

/// A list node big enough (512 bytes, eight to a page) that a few dozen of them outgrow a
/// small pool.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub struct Chunk {
    /// The value the list promises.
    pub value: u64,
    /// Filler, so that the list needs pages.
    pub filler: [u64; 62],
    /// The next chunk, or null.
    pub next: PPtr<Chunk>,
}

/// The root of the list workloads.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ChunkList {
    /// The first chunk, or null.
    pub head: PPtr<Chunk>,
    /// How many chunks the list has.
    pub len: u64,
}

/// Pushes `count` chunks holding `first..first + count` in one transaction; `fail` makes
/// the transaction return `Err` after its stores (rolled back).
#[txn]
pub fn push_chunks(
    tx: &mut Txn<'_, ChunkList>,
    first: u64,
    count: u64,
    fail: bool,
) -> Result<(), Error> {
    for value in first..first + count {
        let next = tx.root().head;
        let chunk = tx.alloc(Chunk {
            value,
            filler: [value; 62],
            next,
        })?;
        let mut list = tx.root_mut();
        list.head = chunk;
        list.len += 1;
    }
    if fail {
        return Err(Error::InvalidOption {
            option: "crash test",
            reason: "a failing transaction",
        });
    }
    Ok(())
}

/// Unlinks the first `count` chunks in one transaction (the collector frees them later).
#[txn]
pub fn pop_chunks(tx: &mut Txn<'_, ChunkList>, count: u64) -> Result<(), Error> {
    for _ in 0..count {
        let head = tx.root().head;
        if head.is_null() {
            break;
        }
        let next = tx.get(head)?.next;
        let mut list = tx.root_mut();
        list.head = next;
        list.len -= 1;
    }
    Ok(())
}

/// The values of a chunk list, head first; checks each chunk's filler.
///
/// # Panics
///
/// If a chunk cannot be read or its filler does not match its value.
#[must_use]
pub fn chunk_values(pool: &Pool<ChunkList>) -> Vec<u64> {
    let mut values = Vec::new();
    let mut at = pool.root().head;
    while !at.is_null() {
        let chunk = pool.get(at).expect("a reachable chunk");
        assert!(
            chunk.filler.iter().all(|&word| word == chunk.value),
            "chunk {} torn",
            chunk.value
        );
        values.push(chunk.value);
        at = chunk.next;
    }
    assert_eq!(values.len() as u64, pool.root().len, "the length field");
    values
}

/// Recovery of a heap, crashed at every fence of the open: a transaction that unlinked half
/// of a list and pushed chunks onto new pages is interrupted with everything it wrote
/// durable; the open that recovers it rolls the log back and then sweeps the new pages'
/// spans, and every image of a crash during that open must recover again to the list as it
/// was, with no dangling pointer.
///
/// # Panics
///
/// When an image does not recover.
#[must_use]
pub fn crashed_heap_recovery() -> CrashReport {
    let simulation = Simulation::new();
    let path = ScratchFile::new("crash-heap-recovery");
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), ChunkList::default())
        .expect("create");
    pool.try_txn(|tx| push_chunks(tx, 0, 12, false))
        .expect("push");
    let before = chunk_values(&pool);
    simulation.capture(true);
    pool.try_txn(|tx| {
        pop_chunks(tx, 6)?;
        push_chunks(tx, 100, 16, false)
    })
    .expect("pop and push");
    simulation.capture(false);
    drop(pool);
    let sweeps = std::cell::Cell::new(0);
    let report = crashed_while_recovering(
        "crash-heap-recovery",
        &simulation,
        |pool: &Pool<ChunkList>| {
            assert_eq!(chunk_values(pool), before);
            sweeps.set(sweeps.get() + u64::from(collected_at_open(pool).released_pages > 0));
        },
    );
    assert!(sweeps.get() > 0, "the sweeps at open have spans to release");
    report
}

/// The first collection after an open that left it for later, crashed at every fence: a
/// pool holding a list with garbage (chunks popped by the last run) is reopened without a
/// collection, and one transaction pushes more chunks than its free pages hold, so its
/// allocation collects (and sweeps) inside it before the pool would grow. Every image
/// holds the list before or after that transaction; opened both ways (collecting at open,
/// or collecting right after), it has no dangling pointer, and once collected every
/// allocated object is a chunk of the list: the garbage, the crash's included, is freed.
///
/// # Panics
///
/// When an image does not recover, or the transaction grew the pool instead of collecting.
#[must_use]
pub fn first_collection_after_open() -> CrashReport {
    let path = ScratchFile::new("crash-first-collection");
    let mut pool = small_pool()
        .create(path.path(), ChunkList::default())
        .expect("create");
    pool.try_txn(|tx| push_chunks(tx, 0, 12, false))
        .expect("push");
    pool.try_txn(|tx| pop_chunks(tx, 6)).expect("pop");
    pool.close();

    let simulation = Simulation::new();
    let mut pool = small_pool()
        .simulation(&simulation)
        .open::<ChunkList>(path.path())
        .expect("reopen");
    assert_eq!(pool.info().collection_at_open, None);
    let stats = pool.heap_stats();
    assert_eq!(stats.collections, 0);
    let size = pool.info().size;
    let before = chunk_values(&pool);
    // Four more chunks than the free pages hold: only the garbage's slots can take them.
    const PAGE: u64 = 4096;
    let pushed = stats.free_page_bytes / PAGE * (PAGE / size_of::<Chunk>() as u64) + 4;
    simulation.capture(true);
    pool.try_txn(|tx| push_chunks(tx, 100, pushed, false))
        .expect("push into the garbage's room");
    simulation.capture(false);
    assert_eq!(pool.heap_stats().collections, 1, "the allocation collected");
    assert_eq!(pool.info().size, size, "collected instead of growing");
    let after = chunk_values(&pool);
    drop(pool);

    let seed = seed();
    let scratch = ScratchFile::new("crash-first-collection-image");
    let mut report = CrashReport::default();
    for point in simulation.take_crash_points() {
        for image in point.images(IMAGES_PER_FENCE, seed) {
            std::fs::write(scratch.path(), &image.bytes).expect("write image");
            let collect_at_open = report.images % 2 == 0;
            let mut pool = PoolOptions::new()
                .flush_mode(FlushMode::None)
                .collect_at_open(collect_at_open)
                .open::<ChunkList>(scratch.path())
                .unwrap_or_else(|error| panic!("{}, seed {seed}: {error}", image.description));
            let found = chunk_values(&pool);
            assert!(
                found == before || found == after,
                "{}, seed {seed}: a list of {} chunks",
                image.description,
                found.len()
            );
            let collection = first_collection(&mut pool);
            assert_eq!(
                collection.first_dangling, None,
                "{}, seed {seed}",
                image.description
            );
            assert_eq!(chunk_values(&pool), found, "{}", image.description);
            assert_eq!(
                pool.heap_stats().allocated_objects,
                found.len() as u64,
                "{}, seed {seed}: garbage left after the collection",
                image.description
            );
            report.images += 1;
        }
        report.crash_points += 1;
    }
    report
}

/// Pushes, pops, failed pushes, collections and named-root changes on a list of chunks,
/// growing the pool past its first size, crashed at every fence: each recovered image holds the list before or
/// after the interrupted step, opens with a sound heap, and every committed chunk is there.
#[must_use]
pub fn chunk_list() -> CrashReport {
    check_every_fence_observing(
        "crash-chunk-list",
        ChunkList::default(),
        14,
        |pool, step| {
            let step = step as u64;
            match step % 7 {
                3 => {
                    pool.txn(|tx| {
                        pop_chunks(tx, 5)?;
                        let head = tx.root().head;
                        tx.set_named_root("top", head)
                    })
                    .expect("pop and name the new head");
                }
                4 => {
                    pool.txn(|tx| {
                        push_chunks(tx, step * 100, 12, false)?;
                        tx.remove_named_root("top");
                        Ok::<_, Error>(())
                    })
                    .expect("push and unname");
                }
                5 => {
                    pool.collect().expect("collect");
                }
                6 => {
                    let _refused = pool.txn(|tx| push_chunks(tx, step * 100, 3, true));
                }
                _ => {
                    pool.txn(|tx| push_chunks(tx, step * 100, 12, false))
                        .expect("push");
                }
            }
        },
        |pool| {
            let top = pool
                .named_root::<Chunk>("top")
                .expect("a chunk")
                .map(|chunk| pool.get(chunk).expect("a named chunk").value);
            (chunk_values(pool), top)
        },
        IMAGES_PER_FENCE,
    )
}

/// One entry of the hash map workload.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub struct MapEntry {
    /// The key.
    pub key: u64,
    /// The value.
    pub value: u64,
    /// The next entry of the bucket.
    pub next: PPtr<MapEntry>,
}

/// The root of the hash map workload: separate chaining over 8 buckets.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Map {
    /// The buckets' first entries.
    pub buckets: [PPtr<MapEntry>; 8],
    /// How many entries the map holds.
    pub len: u64,
}

/// Sets `key` to `value`: updates the entry in place, or allocates a new one at the head
/// of its bucket.
#[txn]
pub fn map_insert(tx: &mut Txn<'_, Map>, key: u64, value: u64) -> Result<(), Error> {
    let bucket = (key % 8) as usize;
    let mut at = tx.root().buckets[bucket];
    while !at.is_null() {
        if tx.get(at)?.key == key {
            let mut entry = tx.get_mut(at)?;
            entry.value = value;
            return Ok(());
        }
        at = tx.get(at)?.next;
    }
    let next = tx.root().buckets[bucket];
    let entry = tx.alloc(MapEntry { key, value, next })?;
    let mut map = tx.root_mut();
    map.buckets[bucket] = entry;
    map.len += 1;
    Ok(())
}

/// Removes `key`; returns whether it was there.
#[txn]
pub fn map_remove(tx: &mut Txn<'_, Map>, key: u64) -> Result<bool, Error> {
    let bucket = (key % 8) as usize;
    let mut previous: PPtr<MapEntry> = PPtr::null();
    let mut at = tx.root().buckets[bucket];
    while !at.is_null() {
        let entry = *tx.get(at)?;
        if entry.key == key {
            if previous.is_null() {
                let mut map = tx.root_mut();
                map.buckets[bucket] = entry.next;
                map.len -= 1;
            } else {
                let mut before = tx.get_mut(previous)?;
                before.next = entry.next;
                let mut map = tx.root_mut();
                map.len -= 1;
            }
            return Ok(true);
        }
        previous = at;
        at = entry.next;
    }
    Ok(false)
}

/// The map's contents, sorted by key.
///
/// # Panics
///
/// If an entry cannot be read, sits in the wrong bucket, or the length field disagrees.
#[must_use]
pub fn map_contents(pool: &Pool<Map>) -> Vec<(u64, u64)> {
    let mut contents = Vec::new();
    for (bucket, &head) in pool.root().buckets.iter().enumerate() {
        let mut at = head;
        while !at.is_null() {
            let entry = pool.get(at).expect("a reachable entry");
            assert_eq!(entry.key % 8, bucket as u64, "entry in the wrong bucket");
            contents.push((entry.key, entry.value));
            at = entry.next;
        }
    }
    contents.sort_unstable();
    assert_eq!(contents.len() as u64, pool.root().len, "the length field");
    contents
}

/// Step `step` of the hash-map workload: a collection every sixth step, a removal of `key`
/// every sixth (one before), and otherwise an insertion of `key` (an update if it is there).
///
/// # Panics
///
/// If a transaction or the collection fails.
pub fn hash_map_step(pool: &mut Pool<Map>, step: usize, key: u64) {
    match step % 6 {
        5 => {
            pool.collect().expect("collect");
        }
        4 => {
            pool.txn(|tx| map_remove(tx, key)).expect("remove");
        }
        _ => {
            pool.txn(|tx| map_insert(tx, key, step as u64))
                .expect("insert");
        }
    }
}

/// Inserts, updates and removes on a hash map, with a collection every sixth step, crashed
/// at every fence.
#[must_use]
pub fn hash_map() -> CrashReport {
    let mut random = 0x0123_4567_89ab_cdef;
    check_every_fence_observing(
        "crash-hash-map",
        Map::default(),
        30,
        |pool, step| hash_map_step(pool, step, xorshift(&mut random) % 24),
        map_contents,
        IMAGES_PER_FENCE,
    )
}

/// A two-page object: its spans cover two pages, so that freeing one makes room for two
/// one-page spans.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub struct Big {
    /// What the workload observes.
    pub value: u64,
    /// Makes the object 8 KiB.
    pub filler: [u64; 1023],
}

/// A one-cache-line list node.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub struct Small {
    /// What the workload observes.
    pub value: u64,
    /// The next node.
    pub next: PPtr<Small>,
    /// Makes the node 64 bytes.
    pub filler: [u64; 6],
}

/// A 16-byte object, four to a cache line.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub struct Tiny {
    /// What the workload observes.
    pub value: u64,
    /// Unused: makes the object a pointer-holding type.
    pub next: PPtr<Tiny>,
}

/// The root of the heap-reuse workload.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Shelf {
    /// A two-page object, or null.
    pub big: PPtr<Big>,
    /// A list of one-line nodes.
    pub small: PPtr<Small>,
    /// An object first kept only by a pin.
    pub tiny: PPtr<Tiny>,
}

/// Fresh-only transactions that keep their allocations only through pins: enough of them
/// that the pool writes its deferred lines back on its own (`txn.rs`).
pub const PINNED_ALLOCATIONS: u64 = 1100;

/// What the heap-reuse workload promises: the big object's value, the list's values, the
/// linked tiny object's value.
fn shelf_contents(pool: &Pool<Shelf>) -> (Option<u64>, Vec<u64>, Option<u64>) {
    let root = *pool.root();
    let big = (!root.big.is_null()).then(|| pool.get(root.big).expect("the big object").value);
    let mut small = Vec::new();
    let mut at = root.small;
    while !at.is_null() {
        let node = pool.get(at).expect("a list node");
        small.push(node.value);
        at = node.next;
    }
    let tiny = (!root.tiny.is_null()).then(|| pool.get(root.tiny).expect("the tiny object").value);
    (big, small, tiny)
}

/// Heap reuse crashed at every fence: a two-page object is freed by a collection and its
/// pages taken by two one-page spans in the next transaction (so the sweep's fence must
/// order the old span's removal before the new spans; the spans' type is recorded in the
/// first step, so that no type record's fence stands in for the sweep's); then over a
/// thousand fence-free
/// transactions allocate objects kept only by pins (so the pool must write their deferred
/// lines back itself), and a last transaction links the first of them into the pool.
#[must_use]
pub fn heap_reuse() -> CrashReport {
    let mut pins = Vec::new();
    check_every_fence_observing(
        "crash-heap-reuse",
        Shelf::default(),
        6,
        |pool, step| match step {
            0 => pool
                .txn(|tx| {
                    let small = tx.alloc(Small {
                        value: 1000,
                        next: PPtr::null(),
                        filler: [1000; 6],
                    })?;
                    let big = tx.alloc(Big {
                        value: 7,
                        filler: [7; 1023],
                    })?;
                    let mut shelf = tx.root_mut();
                    shelf.small = small;
                    shelf.big = big;
                    Ok::<_, Error>(())
                })
                .expect("allocate the big object"),
            1 => pool.txn(|tx| tx.root_mut().big = PPtr::null()),
            2 => {
                pool.collect().expect("collect");
            }
            3 => pool
                .txn(|tx| {
                    let mut head = tx.root().small;
                    for value in 0..140 {
                        let node = Small {
                            value,
                            next: head,
                            filler: [value; 6],
                        };
                        head = tx.alloc(node)?;
                    }
                    tx.root_mut().small = head;
                    Ok::<_, Error>(())
                })
                .expect("allocate the list"),
            4 => {
                for value in 0..PINNED_ALLOCATIONS {
                    let pinned = pool
                        .txn(|tx| {
                            let tiny = tx.alloc(Tiny {
                                value,
                                next: PPtr::null(),
                            })?;
                            tx.pin(tiny)
                        })
                        .expect("allocate and pin");
                    pins.push(pinned);
                }
            }
            _ => {
                let first = pins[0].ptr();
                pool.txn(|tx| tx.root_mut().tiny = first);
                pins.clear();
                pool.collect().expect("collect");
            }
        },
        shelf_contents,
        IMAGES_PER_FENCE,
    )
}

/// The root of the type-record workloads.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Lodge {
    /// A pointer to a type the pool never records: it only ever dangles.
    pub stray: PPtr<Stray>,
    /// The first room.
    pub room: PPtr<Room>,
    /// The first hall.
    pub hall: PPtr<Hall>,
}

/// A type no workload allocates.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Stray {
    /// Never read.
    pub value: u64,
}

/// A type first recorded by a crashed transaction.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Room {
    /// The room's number.
    pub value: u64,
}

/// A second type of a record as long as [`Room`]'s, recorded by the same transaction.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Hall {
    /// The hall's number.
    pub value: u64,
}

/// Opens every crash image of every crash point `simulation` recorded, runs `after` on the
/// pool, closes it and opens it again: each step must succeed. Returns what it checked.
fn every_image_opens_and_reopens<R: Persistent>(
    label: &str,
    simulation: &Simulation,
    after: impl Fn(&mut Pool<R>),
) -> CrashReport {
    let seed = seed();
    let scratch = ScratchFile::new(&format!("{label}-image"));
    let open = || {
        PoolOptions::new()
            .flush_mode(FlushMode::None)
            .collect_at_open(true)
            .open::<R>(scratch.path())
    };
    let mut report = CrashReport::default();
    for point in simulation.take_crash_points() {
        for image in point.images(IMAGES_PER_FENCE, seed) {
            std::fs::write(scratch.path(), &image.bytes).expect("write image");
            let mut pool = open().unwrap_or_else(|error| {
                panic!("{label}: {}, seed {seed}: {error}", image.description)
            });
            after(&mut pool);
            pool.close();
            open().unwrap_or_else(|error| {
                panic!(
                    "{label}: {}, seed {seed}: reopen: {error}",
                    image.description
                )
            });
            report.images += 1;
        }
        report.crash_points += 1;
    }
    report
}

/// A safe program commits a dangling pointer aimed at the page where the first span of a
/// type the pool has not recorded yet will land; then a transaction first allocates that
/// type, crashed at every fence. Every image opens and reopens: the span's type is recorded
/// (and fenced) before the span, so the collector only ever sees a dangling pointer, never a
/// span of an unrecorded type.
#[must_use]
pub fn dangling_pointer_into_a_new_type() -> CrashReport {
    let simulation = Simulation::new();
    let path = ScratchFile::new("crash-dangling-new-type");
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), Lodge::default())
        .expect("create");
    let layout = crate::forge::PoolLayout::of(&std::fs::read(path.path()).expect("read"));
    let first_span = (layout.heap_start + 4 * crate::forge::PAGE) as u64;
    pool.txn(|tx| tx.root_mut().stray = PPtr::from_offset(first_span));
    simulation.capture(true);
    pool.try_txn(|tx| {
        let room = tx.alloc(Room { value: 1 })?;
        assert_eq!(
            room.offset(),
            first_span,
            "the stray pointer aims at the new span"
        );
        tx.root_mut().room = room;
        Ok::<_, Error>(())
    })
    .expect("allocate a new type");
    simulation.capture(false);
    drop(pool);
    every_image_opens_and_reopens(
        "crash-dangling-new-type",
        &simulation,
        |pool: &mut Pool<Lodge>| {
            pool.collect().expect("collect");
        },
    )
}

/// A transaction first records two types whose records are equally long, crashed at every
/// fence; after each image opens, the program allocates the second type again, commits and
/// closes, and the pool must open once more. (Were the second record durable and the first
/// torn, the re-recorded second type would land on the first's place and leave its old
/// record after it: two records of one type.)
#[must_use]
pub fn two_new_types_in_one_transaction() -> CrashReport {
    let simulation = Simulation::new();
    let path = ScratchFile::new("crash-two-new-types");
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), Lodge::default())
        .expect("create");
    simulation.capture(true);
    pool.try_txn(|tx| {
        let room = tx.alloc(Room { value: 1 })?;
        let hall = tx.alloc(Hall { value: 2 })?;
        let mut lodge = tx.root_mut();
        lodge.room = room;
        lodge.hall = hall;
        Ok::<_, Error>(())
    })
    .expect("allocate two new types");
    simulation.capture(false);
    drop(pool);
    every_image_opens_and_reopens(
        "crash-two-new-types",
        &simulation,
        |pool: &mut Pool<Lodge>| {
            pool.try_txn(|tx| {
                let hall = tx.alloc(Hall { value: 3 })?;
                tx.root_mut().hall = hall;
                Ok::<_, Error>(())
            })
            .expect("a safe program's commit");
        },
    )
}

/// The root of the log-growth workload: 8 KiB, 128 lines, whose entries (11 KiB) outgrow a
/// 4 KiB log slot by more than two 4 KiB extension blocks.
pub type Wide = [u64; 1024];

/// Crash images per fence for [`log_growth`], which has many fences.
const GROWTH_IMAGES_PER_FENCE: usize = 8;

/// The root starts non-zero: an entry line whose bytes happen to equal what the block held
/// reads to the simulated domain as a redundant flush (see the report on this branch).
///
/// Four transactions that each store to every line of a [`Wide`] root on a pool with a
/// 4 KiB log, crashed at every fence: the first grows the log across at least two blocks
/// (crashed during each growth step too), the second reuses the chain, the third does and
/// is rolled back, the fourth stores every other element, last line first.
#[must_use]
pub fn log_growth() -> CrashReport {
    CrashTest::new("crash-log-growth")
        .pool(small_pool().log_size(4096))
        .images_per_point(GROWTH_IMAGES_PER_FENCE)
        .run(
            core::array::from_fn(|index| 1 + index as u64),
            4,
            |pool: &mut Pool<Wide>, step| {
                pool.txn(|tx| {
                    let mut array = tx.root_mut();
                    if step == 3 {
                        for index in (0..1024).step_by(2).rev() {
                            *array.at(index) = 40 + index as u64;
                        }
                        return;
                    }
                    for index in 0..1024 {
                        *array.at(index) = step as u64 * 10 + index as u64;
                    }
                    if step == 2 {
                        pmem::abort();
                    }
                });
            },
            |pool| *pool.root(),
        )
}

/// The root of the huge-object workload.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct HugeShelf {
    /// A huge slice: two arenas, the second's table page among its elements.
    pub huge: PSlice<u64>,
    /// Two 1.2 MB slices that reuse the huge slice's arenas once it is freed.
    pub reused: [PSlice<u64>; 2],
}

/// Elements of the huge slice: 2.4 MB, a span of two arenas.
const HUGE_ELEMENTS: usize = 300_000;
/// The huge slice's element at the start of its second arena's table page.
pub const ON_COVERED_TABLE: usize = (511 * 4096 - 8) / 8;

/// What [`huge_objects`] promises: per slice, its length, a few elements and the sum.
fn huge_contents(pool: &Pool<HugeShelf>) -> Vec<Option<(usize, [u64; 3], u64)>> {
    let root = *pool.root();
    [root.huge, root.reused[0], root.reused[1]]
        .into_iter()
        .map(|slice| {
            (!slice.is_null()).then(|| {
                let elements = pool.get_slice(slice).expect("a linked slice");
                let covered = elements.get(ON_COVERED_TABLE).copied().unwrap_or(0);
                let last = elements.last().copied().unwrap_or(0);
                let sum = elements
                    .iter()
                    .fold(0u64, |sum, &value| sum.wrapping_add(value));
                (elements.len(), [elements[5], covered, last], sum)
            })
        })
        .collect()
}

/// A huge slice allocated and linked, stored to (on its second arena's table page too),
/// unlinked and collected, and its arenas reused by two slices within arenas, crashed at
/// every fence: the huge span's fenced entry, the sweep's zeroing of its table page, and
/// the reuse of that page as a table (`pmem-alloc`'s `layout.rs`, rules 4 and 5).
#[must_use]
pub fn huge_objects() -> CrashReport {
    CrashTest::new("crash-huge")
        .pool(small_pool().max_size(16 << 20))
        .images_per_point(GROWTH_IMAGES_PER_FENCE)
        .run(
            HugeShelf {
                huge: PSlice::null(),
                reused: [PSlice::null(); 2],
            },
            4,
            |pool: &mut Pool<HugeShelf>, step| match step {
                0 => pool
                    .txn(|tx| -> Result<(), Error> {
                        tx.root_mut().huge =
                            tx.alloc_slice_with(HUGE_ELEMENTS, |index| index as u64 + 1)?;
                        Ok(())
                    })
                    .expect("allocate the huge slice"),
                1 => pool
                    .txn(|tx| -> Result<(), Error> {
                        let huge = tx.root().huge;
                        let mut elements = tx.get_slice_mut(huge)?;
                        *elements.at(5) = 50;
                        *elements.at(ON_COVERED_TABLE) = 70;
                        Ok(())
                    })
                    .expect("store into the huge slice"),
                2 => {
                    pool.txn(|tx| tx.root_mut().huge = PSlice::null());
                    pool.collect().expect("collect");
                }
                _ => pool
                    .txn(|tx| -> Result<(), Error> {
                        for (index, value) in [(0, 3u64), (1, 4)] {
                            tx.root_mut().reused[index] =
                                tx.alloc_slice_with(150_000, |element| element as u64 * value)?;
                        }
                        Ok(())
                    })
                    .expect("reuse the arenas"),
            },
            huge_contents,
        )
}
