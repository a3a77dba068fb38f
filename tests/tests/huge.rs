//! Huge objects: slices larger than an arena's 511 data pages, in whole arenas whose later
//! page-table pages hold the object's bytes (`pmem-alloc`'s `layout.rs`, "Huge spans").
//! Allocated in a growing pool, read back after a reopen, traced and freed by the
//! collector, their arenas reused; stores into them logged and recovered like any other,
//! on a covered table page too; and damaged huge entries, or log entries aimed at real
//! table pages, refused with the file left as it was.

use pmem::simulation::ScratchFile;
use pmem::{
    Error, HeapError, PMut, PMutex, PPtr, PSlice, Persistent, Pool, PoolOptions, Stats, txn,
};
use pmem_tests::forge::{
    PoolLayout, huge_page_table_word, log_entry_room, put_u64, u32_at, u64_at, write_log_entry,
};

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Node {
    value: u64,
}

#[derive(Persistent)]
#[repr(C)]
struct Root {
    big: PSlice<u64>,
    pointers: PSlice<PPtr<Node>>,
    small: PSlice<u64>,
}

fn empty_root() -> Root {
    Root {
        big: PSlice::null(),
        pointers: PSlice::null(),
        small: PSlice::null(),
    }
}

const PAGE: usize = 4096;
const ARENA: usize = 512;
/// The element of a huge `u64` slice that lies at the start of its second arena's
/// page-table page: 511 pages into the object, past the 8-byte length.
const ON_COVERED_TABLE: usize = (511 * PAGE - 8) / 8;

/// A pool that starts small and may grow to 256 MiB.
fn growing() -> PoolOptions {
    PoolOptions::new().size(1 << 20).max_size(256 << 20)
}

#[test]
fn slices_of_8_mb_and_64_mib_grow_the_pool_and_survive_a_reopen() {
    let file = ScratchFile::new("huge-reopen");
    let mut pool = growing().create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().big = tx.alloc_slice_with(1_000_000, |index| index as u64 * 7)?;
        tx.root_mut().small = tx.alloc_slice_with(8 << 20, |index| !(index as u64))?;
        Ok(())
    })
    .expect("allocate");
    assert!(pool.info().size > 72 << 20, "grown: {}", pool.info().size);
    let stats = pool.heap_stats();
    assert_eq!(stats.huge_objects, 2);
    assert!(stats.allocated_bytes >= (8 << 20) + 8_000_000, "{stats:?}");
    drop(pool);
    let pool = pmem_tests::open_collecting::<Root>(file.path()).expect("reopen");
    let big = pool.get_slice(pool.root().big).expect("the 8 MB slice");
    assert_eq!(big.len(), 1_000_000);
    assert!(
        big.iter()
            .enumerate()
            .all(|(index, &value)| value == index as u64 * 7)
    );
    let large = pool.get_slice(pool.root().small).expect("the 64 MiB slice");
    assert_eq!(large.len(), 8 << 20);
    assert!(
        large
            .iter()
            .enumerate()
            .all(|(index, &value)| value == !(index as u64))
    );
    assert_eq!(pmem_tests::collected_at_open(&pool).live_objects, 2);
}

#[test]
fn a_huge_slice_past_the_maximum_size_is_full_and_the_pool_stays_usable() {
    let file = ScratchFile::new("huge-full");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .max_size(8 << 20)
        .create(file.path(), empty_root())
        .expect("create");
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        tx.root_mut().small = tx.alloc_slice_copied(&[1u64])?;
        tx.root_mut().big = tx.alloc_slice_with(1_000_000, |index| index as u64)?;
        Ok(())
    });
    assert!(
        matches!(outcome, Err(Error::Heap(HeapError::Full { .. }))),
        "{outcome:?}"
    );
    assert!(pool.root().small.is_null(), "rolled back");
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().big = tx.alloc_slice_with(500_000, |index| index as u64)?;
        Ok(())
    })
    .expect("4 MB fit in 8 MiB");
    assert_eq!(
        pool.get_slice(pool.root().big).expect("big")[499_999],
        499_999
    );
}

#[derive(Persistent)]
#[repr(C)]
struct SharedRoot {
    slices: [PMutex<PSlice<u64>>; 2],
}

#[test]
fn threads_allocate_huge_slices_and_store_on_their_covered_tables() {
    let file = ScratchFile::new("huge-shared");
    let pool = growing()
        .lanes(2)
        .create(
            file.path(),
            SharedRoot {
                slices: [PMutex::new(PSlice::null()), PMutex::new(PSlice::null())],
            },
        )
        .expect("create");
    std::thread::scope(|scope| {
        for thread in 0..2u64 {
            let pool = &pool;
            scope.spawn(move || {
                pool.try_shared_txn(|tx| -> Result<(), Error> {
                    let slice = tx.alloc_slice_with(300_000, |index| thread + index as u64)?;
                    tx.get_slice_mut(slice)?
                        .at(ON_COVERED_TABLE)
                        .set(thread + 7);
                    *tx.lock(&tx.root().slices[thread as usize]) = slice;
                    Ok(())
                })
                .expect("shared transaction");
            });
        }
    });
    drop(pool);
    let pool = Pool::<SharedRoot>::open(file.path()).expect("reopen");
    for thread in 0..2u64 {
        let slice = pool.shared_txn(|tx| *tx.lock(&tx.root().slices[thread as usize]));
        let elements = pool.get_slice(slice).expect("committed");
        assert_eq!(elements[ON_COVERED_TABLE], thread + 7);
        assert_eq!(elements[299_999], thread + 299_999);
    }
    assert_eq!(pool.heap_stats().huge_objects, 2);
}

#[test]
fn a_huge_slice_of_pointers_is_traced_then_freed_and_its_arenas_reused() {
    let file = ScratchFile::new("huge-collect");
    let mut pool = growing().create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        let nodes: Vec<PPtr<Node>> = (0..10)
            .map(|value| tx.alloc(Node { value }))
            .collect::<Result<_, _>>()?;
        // Each node is reached only from elements far into the slice, some on its second
        // arena's table page.
        tx.root_mut().pointers = tx.alloc_slice_with(400_000, |index| {
            if index >= ON_COVERED_TABLE {
                nodes[index % 10]
            } else {
                PPtr::null()
            }
        })?;
        Ok(())
    })
    .expect("allocate");
    let collection = pool.collect().expect("collect");
    assert_eq!(collection.live_objects, 1 + 10, "the slice and every node");
    drop(pool);
    let mut pool = Pool::<Root>::open(file.path()).expect("reopen");
    let pointers = pool.get_slice(pool.root().pointers).expect("pointers");
    assert_eq!(
        pool.get(pointers[ON_COVERED_TABLE + 3])
            .expect("a node")
            .value,
        (ON_COVERED_TABLE + 3) as u64 % 10
    );
    let before = pool.heap_stats();
    assert_eq!(before.huge_objects, 1);
    pool.txn(|tx| tx.root_mut().pointers = PSlice::null());
    let collection = pool.collect().expect("collect");
    assert_eq!(collection.live_objects, 0);
    assert!(
        collection.released_pages >= 2 * ARENA as u64 - 1,
        "{collection:?}"
    );
    let after = pool.heap_stats();
    assert_eq!(after.huge_objects, 0);
    assert_eq!(
        after.metadata_bytes,
        before.metadata_bytes + PAGE as u64,
        "a table again"
    );
    let size = pool.info().size;
    // Two 1.2 MB slices fill the freed arenas, the second on the old covered table's arena.
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().big = tx.alloc_slice_with(150_000, |index| index as u64)?;
        tx.root_mut().small = tx.alloc_slice_with(150_000, |index| index as u64 + 1)?;
        Ok(())
    })
    .expect("reuse");
    assert_eq!(pool.info().size, size, "reused, not grown");
    drop(pool);
    let pool = Pool::<Root>::open(file.path()).expect("reopen");
    assert_eq!(
        pool.get_slice(pool.root().small).expect("small")[149_999],
        150_000
    );
}

#[txn]
fn set_element(mut elements: PMut<'_, [u64]>, index: usize, value: u64) {
    elements[index] = value;
}

/// A pool holding a huge `u64` slice, element `i` set to `i`, at its root's `big`.
fn with_huge_slice(file: &ScratchFile) -> Pool<Root> {
    let mut pool = growing().create(file.path(), empty_root()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().big = tx.alloc_slice_with(300_000, |index| index as u64)?;
        Ok(())
    })
    .expect("allocate");
    pool
}

/// The heap page of pool offset `offset`, and whether it is an arena's table page.
fn heap_page(layout: &PoolLayout, offset: usize) -> (usize, bool) {
    let page = (offset - layout.heap_start) / PAGE;
    (page, page >= 3 && (page - 3) % ARENA == 0)
}

#[test]
fn a_store_on_a_covered_table_page_logs_one_element_and_is_recovered_after_a_crash() {
    let file = ScratchFile::new("huge-store");
    let mut pool = with_huge_slice(&file);
    let big = pool.root().big;
    let layout = PoolLayout::of(&file.contents());
    let element_at = big.offset() as usize + 8 + ON_COVERED_TABLE * 8;
    assert!(heap_page(&layout, element_at).1, "on a table page");
    let before = Stats::current_thread();
    pool.txn(|tx| -> Result<(), Error> {
        set_element(tx.get_slice_mut(big)?, ON_COVERED_TABLE, 7);
        Ok(())
    })
    .expect("store");
    assert_eq!(
        (Stats::current_thread() - before).logged_bytes,
        40,
        "40 bytes of one line"
    );
    assert_eq!(pool.get_slice(big).expect("big")[ON_COVERED_TABLE], 7);

    // A copy taken mid-transaction holds a valid entry for the covered table page.
    let image = ScratchFile::new("huge-store-crashed");
    pool.txn(|tx| {
        set_element(tx.get_slice_mut(big).expect("big"), ON_COVERED_TABLE, 99);
        std::fs::copy(file.path(), image.path()).expect("copy mid-transaction");
        pmem::abort();
    });
    drop(pool);
    let recovered = Pool::<Root>::open(image.path()).expect("recover");
    assert_eq!(recovered.info().transactions_rolled_back, 1);
    assert_eq!(recovered.get_slice(big).expect("big")[ON_COVERED_TABLE], 7);
}

#[test]
fn a_huge_slice_whose_length_exceeds_its_arenas_is_refused_on_read() {
    let file = ScratchFile::new("huge-length");
    let pool = with_huge_slice(&file);
    let big = pool.root().big;
    drop(pool);
    let mut bytes = file.contents();
    // Two arenas hold 2 MiB less 8 bytes of elements after the length.
    put_u64(
        &mut bytes,
        big.offset() as usize,
        (2 * ARENA * PAGE / 8) as u64,
    );
    std::fs::write(file.path(), &bytes).expect("write");
    let pool = Pool::<Root>::open(file.path()).expect("the length holds no pointers");
    assert!(matches!(
        pool.get_slice(pool.root().big),
        Err(Error::InvalidPointer {
            reason: "the slice's stored length exceeds the space the heap gave it: the pool is damaged",
            ..
        })
    ));
}

/// Writes a valid entry of the first slot's current generation, after its valid ones,
/// whose target is `target`.
fn forge_entry(bytes: &mut [u8], target: usize) {
    let layout = PoolLayout::of(bytes);
    let slot = layout.log_offset;
    let mut entry = slot + 64;
    while u64_at(bytes, entry) == u64_at(bytes, slot) {
        entry += log_entry_room(u32_at(bytes, entry + 16) as usize);
    }
    write_log_entry(bytes, slot, entry, target as u64, &[0; 64]);
}

/// Writes `bytes` to `file`, opens it, and expects a refusal that leaves it unchanged.
fn refused(file: &ScratchFile, bytes: &[u8]) -> Error {
    std::fs::write(file.path(), bytes).expect("write");
    let result = Pool::<Root>::open(file.path());
    assert!(file.contents() == bytes, "a refused open changed the file");
    match result {
        Ok(pool) => panic!("expected a refusal, opened {:?}", pool.info()),
        Err(error) => error,
    }
}

#[test]
fn log_entries_aimed_at_real_table_pages_are_refused_and_the_file_is_left_as_it_was() {
    let file = ScratchFile::new("huge-log-tables");
    let mut pool = with_huge_slice(&file);
    let big = pool.root().big.offset() as usize;
    pool.txn(|tx| -> Result<(), Error> {
        tx.root_mut().small = tx.alloc_slice_with(10, |index| index as u64)?;
        Ok(())
    })
    .expect("a small object after it");
    drop(pool);
    let clean = file.contents();
    let layout = PoolLayout::of(&clean);
    let covered_table = big + 511 * PAGE;
    let own_table = big - PAGE;
    let next_table = covered_table + ARENA * PAGE;
    assert!(heap_page(&layout, own_table).1 && heap_page(&layout, next_table).1);
    let mut accepted = clean.clone();
    forge_entry(&mut accepted, covered_table);
    std::fs::write(file.path(), &accepted).expect("write");
    Pool::<Root>::open(file.path())
        .expect("an entry inside the huge object is data")
        .close();
    for target in [own_table, next_table, own_table + 8] {
        let mut bytes = clean.clone();
        forge_entry(&mut bytes, target);
        let error = refused(&file, &bytes);
        assert!(
            matches!(error, Error::LogCorrupted { .. })
                && error.to_string().contains("no transaction logs"),
            "{target:#x}: {error}"
        );
    }
    // Once the huge object is freed its covered table page is a table again.
    std::fs::write(file.path(), &clean).expect("write");
    let mut pool = Pool::<Root>::open(file.path()).expect("open");
    pool.txn(|tx| tx.root_mut().big = PSlice::null());
    pool.collect().expect("collect");
    drop(pool);
    let mut bytes = file.contents();
    forge_entry(&mut bytes, covered_table);
    assert!(matches!(refused(&file, &bytes), Error::LogCorrupted { .. }));
}

/// A change to a pool file's bytes.
type Damage<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;

#[test]
fn damaged_huge_entries_are_refused_and_the_file_is_left_as_it_was() {
    let file = ScratchFile::new("huge-entries");
    let pool = with_huge_slice(&file);
    let big = pool.root().big.offset() as usize;
    drop(pool);
    let clean = file.contents();
    let layout = PoolLayout::of(&clean);
    let (first_page, _) = heap_page(&layout, big);
    let entry_at = layout.page_table_entry(first_page);
    let entry = u64_at(&clean, entry_at);
    let type_index = (entry >> 8) & 0xff_ffff;
    assert_eq!(
        entry,
        huge_page_table_word(first_page, type_index, 2, true),
        "the spec's word"
    );
    let heap_pages = (clean.len() - layout.heap_start) / PAGE;
    let cases: [(&str, Damage<'_>); 5] = [
        (
            "runs past",
            Box::new(|bytes| {
                let arenas = (heap_pages / ARENA + 1) as u64;
                put_u64(
                    bytes,
                    entry_at,
                    huge_page_table_word(first_page, type_index, arenas, true),
                );
            }),
        ),
        (
            "does not start at its arena's first data page",
            Box::new(|bytes| {
                put_u64(bytes, entry_at, 0);
                let moved = layout.page_table_entry(first_page + 1);
                put_u64(
                    bytes,
                    moved,
                    huge_page_table_word(first_page + 1, type_index, 2, true),
                );
            }),
        ),
        (
            "two spans overlap",
            Box::new(|bytes| {
                put_u64(bytes, layout.page_table_entry(first_page + 5), 1);
            }),
        ),
        (
            "disagrees with its type's record",
            Box::new(|bytes| {
                put_u64(
                    bytes,
                    entry_at,
                    huge_page_table_word(first_page, type_index, 2, false),
                );
            }),
        ),
        (
            "not valid",
            Box::new(|bytes| {
                put_u64(bytes, entry_at, entry ^ 1 << 40);
            }),
        ),
    ];
    for (what, damage) in cases {
        let mut bytes = clean.clone();
        damage(&mut bytes);
        let error = refused(&file, &bytes);
        assert!(
            matches!(error, Error::HeapCorrupted { .. }) && error.to_string().contains(what),
            "{what}: {error}"
        );
    }
}

#[test]
fn a_huge_object_allocated_freed_and_reused_is_all_or_nothing_at_every_fence() {
    let report = pmem_tests::workloads::huge_objects();
    println!("huge objects: {report:?}");
    // The huge span's fence, the sweep's two, and at least three per transaction.
    assert!(report.crash_points >= 3 + 4 * 3, "{report:?}");
    assert!(report.images >= report.crash_points * 4, "{report:?}");
}
