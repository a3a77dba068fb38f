//! Hostile files and hostile programs: what a damaged or crafted pool, or safe code using
//! the public API adversarially, can and cannot do to a pool.
//!
//! The promise under test (`docs/src/checks.md`): a crafted but checksum-valid file gives a
//! typed error or a consistent pool, never a panic, undefined behaviour, or a write before a
//! refusal; and no safe program can make a pool unopenable. Each test is one class of
//! attack that once broke the promise.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pmem::simulation::ScratchFile;
use pmem::{Error, HeapError, PPtr, Persistent, Pool, PoolOptions, Stats, Txn};
use pmem_tests::forge::{
    PoolLayout, current_state_record, fix_state_record, log_entry_room, page_table_word, put_u64,
    u32_at, u64_at, write_log_entry,
};

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Shelf {
    first: PPtr<Item>,
    blob: PPtr<Blob>,
    count: u64,
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Item {
    value: u64,
    next: PPtr<Item>,
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Blob {
    words: [u64; 2],
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Pair {
    left: PPtr<Item>,
    right: PPtr<Item>,
}

/// Type indices in the heap's table, in the order `stocked` first allocates them.
const SHELF_TYPE: u32 = 0;
const ITEM_TYPE: u32 = 1;
const BLOB_TYPE: u32 = 2;
const PAIR_TYPE: u32 = 3;
/// The heap page of the first span: the first data page.
const FIRST_SPAN_PAGE: usize = 4;

fn push(tx: &mut Txn<'_, Shelf>, value: u64) -> Result<PPtr<Item>, Error> {
    let next = tx.root().first;
    let item = tx.alloc(Item { value, next })?;
    let mut shelf = tx.root_mut();
    shelf.first = item;
    shelf.count += 1;
    Ok(item)
}

/// A new pool holding three items, a blob under the root and the named root "blob".
fn stocked(path: &ScratchFile) -> Pool<Shelf> {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 14)
        .create(path.path(), Shelf::default())
        .expect("create");
    pool.try_txn(|tx| {
        for value in 1..=3 {
            push(tx, value)?;
        }
        let blob = tx.alloc(Blob { words: [7, 8] })?;
        tx.root_mut().blob = blob;
        let first = tx.root().first;
        tx.alloc(Pair {
            left: first,
            right: first,
        })?;
        tx.set_named_root("blob", blob)
    })
    .expect("stock");
    pool
}

/// A clean pool as `stocked` leaves it, closed.
fn clean(label: &str) -> ScratchFile {
    let path = ScratchFile::new(label);
    stocked(&path).close();
    path
}

/// A copy of a stocked pool taken in the middle of a transaction that changed the root,
/// an item and the named root: a pool a crash left dirty, with valid log entries.
fn dirty(label: &str) -> ScratchFile {
    let original = ScratchFile::new(&format!("{label}-original"));
    let mut pool = stocked(&original);
    let image = ScratchFile::new(label);
    pool.txn(|tx| {
        let first = tx.root().first;
        tx.get_mut(first).expect("an item").value = 99;
        tx.root_mut().count = 1000;
        tx.remove_named_root("blob");
        std::fs::copy(original.path(), image.path()).expect("copy mid-transaction");
        pmem::abort();
    });
    image
}

fn rewrite(path: &ScratchFile, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = path.contents();
    change(&mut bytes);
    std::fs::write(path.path(), bytes).expect("write");
}

/// Opens `path`, expecting a refusal that leaves the file byte for byte as it was.
fn refused(path: &ScratchFile) -> Error {
    let before = path.contents();
    let result = Pool::<Shelf>::open(path.path());
    assert!(path.contents() == before, "a refused open changed the file");
    match result {
        Ok(pool) => panic!("expected a refusal, opened {:?}", pool.info()),
        Err(error) => error,
    }
}

/// Opens `path` and checks the pool works: read, collect, commit, reopen.
fn opens_and_works(path: &ScratchFile) -> Pool<Shelf> {
    let mut pool = Pool::<Shelf>::open(path.path()).expect("open");
    pool.collect().expect("collect");
    pool.try_txn(|tx| push(tx, 4).map(drop)).expect("commit");
    pool.close();
    let mut pool = Pool::<Shelf>::open(path.path()).expect("reopen");
    pool.collect().expect("collect after reopen");
    pool
}

fn forge_type_record(path: &ScratchFile, index: u32, field: usize, value: u64) {
    rewrite(path, |bytes| {
        let layout = PoolLayout::of(bytes);
        let at = layout.type_record(bytes, index as usize);
        put_u64(bytes, at + field, value);
        layout.fix_type_record(bytes, at, index);
    });
}

fn assert_heap_corrupted(error: &Error, what: &str) {
    assert!(
        matches!(error, Error::HeapCorrupted { .. }) && error.to_string().contains(what),
        "expected HeapCorrupted ({what}), got {error}"
    );
}

// Class 1: any value read from a file can be anything; arithmetic on it is checked.

#[test]
fn a_type_record_of_size_u64_max_is_a_typed_error() {
    for pool in [clean("size-max-clean"), dirty("size-max-dirty")] {
        forge_type_record(&pool, ITEM_TYPE, 8, u64::MAX);
        assert_heap_corrupted(&refused(&pool), "size or alignment");
    }
}

#[test]
fn a_pointer_run_near_u64_max_is_a_typed_error() {
    for (field, value) in [(32, u64::MAX - 3), (40, u64::MAX), (40, 2)] {
        let pool = clean("pointer-run");
        forge_type_record(&pool, ITEM_TYPE, field, value);
        assert_heap_corrupted(&refused(&pool), "pointer map");
    }
}

#[test]
fn a_state_record_at_the_last_sequence_number_is_not_current() {
    let pool = clean("sequence-max");
    rewrite(&pool, |bytes| {
        let current = current_state_record(bytes);
        let last_of_its_parity = if current == 256 {
            u64::MAX - 1
        } else {
            u64::MAX
        };
        put_u64(bytes, current, last_of_its_parity);
        fix_state_record(bytes, current);
    });
    let pool_handle = opens_and_works(&pool);
    assert_eq!(pool_handle.root().count, 4);
}

#[test]
fn a_log_generation_at_u64_max_is_refused() {
    for pool in [clean("generation-clean"), dirty("generation-dirty")] {
        rewrite(&pool, |bytes| {
            let slot = PoolLayout::of(bytes).log_offset;
            put_u64(bytes, slot, u64::MAX);
        });
        let error = refused(&pool);
        assert!(
            matches!(error, Error::LogCorrupted { .. }) && error.to_string().contains("generation"),
            "{error}"
        );
    }
}

// Class 2: a refused open writes nothing, dirty pools included.

#[test]
fn a_dirty_pool_with_a_forged_span_is_refused_unchanged() {
    let pool = dirty("forged-span");
    rewrite(&pool, |bytes| {
        let entry = PoolLayout::of(bytes).page_table_entry(FIRST_SPAN_PAGE);
        let word = page_table_word(FIRST_SPAN_PAGE, u64::from(ITEM_TYPE), 2);
        put_u64(bytes, entry, word);
    });
    assert_heap_corrupted(&refused(&pool), "page count");
}

#[test]
fn a_dirty_pool_whose_type_table_lost_a_record_is_refused_unchanged() {
    let pool = dirty("lost-record");
    rewrite(&pool, |bytes| {
        let layout = PoolLayout::of(bytes);
        let item_record = layout.type_record(bytes, ITEM_TYPE as usize);
        bytes[item_record + 3] ^= 0x10;
    });
    assert_heap_corrupted(&refused(&pool), "a type the type table does not hold");
}

#[test]
fn a_dirty_pool_opens_with_its_transaction_rolled_back() {
    let pool = dirty("dirty-opens");
    let opened = Pool::<Shelf>::open(pool.path()).expect("open");
    assert_eq!(opened.info().transactions_rolled_back, 1);
    assert_eq!(opened.root().count, 3);
    let first = opened.get(opened.root().first).expect("an item");
    assert_eq!(first.value, 3);
    assert_eq!(opened.named_roots(), ["blob"]);
    drop(opened);
    opens_and_works(&pool);
}

// Class 3: log entries may target only what transactions log.

#[test]
fn a_valid_log_entry_aimed_at_heap_metadata_is_refused() {
    type Target = fn(&PoolLayout) -> usize;
    let targets: [(&str, Target); 3] = [
        ("heap header", |layout| layout.heap_start),
        ("type table", |layout| layout.heap_start + 4096),
        ("page table", |layout| {
            layout.page_table_entry(FIRST_SPAN_PAGE)
        }),
    ];
    for (what, target) in targets {
        for pool in [clean("entry-clean"), dirty("entry-dirty")] {
            rewrite(&pool, |bytes| {
                let layout = PoolLayout::of(bytes);
                let slot = layout.log_offset;
                let mut entry = slot + 64;
                while u64_at(bytes, entry) == u64_at(bytes, slot) {
                    entry += log_entry_room(u32_at(bytes, entry + 16) as usize);
                }
                write_log_entry(bytes, slot, entry, target(&layout) as u64, &[0; 64]);
            });
            let error = refused(&pool);
            assert!(
                matches!(error, Error::LogCorrupted { .. })
                    && error.to_string().contains("no transaction logs"),
                "{what}: {error}"
            );
        }
    }
}

#[test]
fn the_store_barrier_refuses_heap_metadata() {
    let path = ScratchFile::new("barrier-metadata");
    let mut pool = stocked(&path);
    let heap_start = PoolLayout::of(&path.contents()).heap_start;
    let page_table = (pool.root() as *const Shelf as usize) - 4096 + heap_start + 3 * 4096;
    let count_before = pool.root().count;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.txn(|tx| {
            tx.root_mut().count = 0;
            pmem::__private::log_range(page_table as *const u8, 8);
        });
    }));
    let message = outcome.expect_err("refused");
    let message = message.downcast_ref::<String>().expect("a message");
    assert!(message.contains("outside the pool's data"), "{message}");
    assert_eq!(pool.root().count, count_before, "rolled back");
}

// Class 4: metadata is cross-checked before it is trusted.

#[test]
fn a_root_record_of_another_size_is_refused() {
    let pool = clean("root-record");
    forge_type_record(&pool, SHELF_TYPE, 8, 64);
    assert_heap_corrupted(&refused(&pool), "root's type record");
}

#[test]
fn a_type_record_of_another_size_is_never_used_for_the_program_s_type() {
    let pool = clean("blob-record");
    forge_type_record(&pool, BLOB_TYPE, 8, 0);
    let mut opened = Pool::<Shelf>::open(pool.path()).expect("a consistent record opens");
    let blob = opened.root().blob;
    let error = opened.get(blob).expect_err("not read as a 16-byte Blob");
    assert!(error.to_string().contains("disagrees"), "{error}");
    let refused = opened.try_txn(|tx| tx.alloc(Blob { words: [1, 2] }).map(drop));
    assert!(
        matches!(
            refused,
            Err(Error::HeapCorrupted {
                source: HeapError::TypeRecordMismatch { .. },
                ..
            })
        ),
        "{refused:?}"
    );
    opened.collect().expect("collect");
    drop(opened);
    Pool::<Shelf>::open(pool.path()).expect("reopens");
}

#[test]
fn a_pointer_map_that_disagrees_with_the_program_is_never_used_to_read() {
    let pool = clean("item-map");
    forge_type_record(&pool, ITEM_TYPE, 32, 0);
    let opened = Pool::<Shelf>::open(pool.path()).expect("a consistent record opens");
    let first = opened.root().first;
    let error = opened
        .get(first)
        .expect_err("an Item read by another pointer map");
    assert!(error.to_string().contains("disagrees"), "{error}");
}

#[test]
fn overlapping_pointer_runs_are_refused() {
    let pool = clean("overlapping-runs");
    rewrite(&pool, |bytes| {
        let layout = PoolLayout::of(bytes);
        let at = layout.type_record(bytes, PAIR_TYPE as usize);
        assert_eq!(u32_at(bytes, at + 20), 2, "Pair's record has two runs");
        put_u64(bytes, at + 32 + 8, 2);
        put_u64(bytes, at + 32 + 16, 8);
        layout.fix_type_record(bytes, at, PAIR_TYPE);
    });
    assert_heap_corrupted(&refused(&pool), "more pointers than its objects");
}

// Class 5: no pointer a safe program stores can make the pool unopenable.

#[test]
fn a_pointer_to_nowhere_dangles_and_the_pool_stays_usable() {
    let other = ScratchFile::new("other-pool");
    let foreign = {
        let mut pool = PoolOptions::new()
            .size(1 << 20)
            .create(other.path(), Shelf::default())
            .expect("create");
        pool.try_txn(|tx| {
            for value in 0..40 {
                push(tx, value)?;
            }
            Ok::<_, Error>(())
        })
        .expect("fill");
        pool.root().first
    };
    let path = ScratchFile::new("pointer-to-nowhere");
    let mut pool = stocked(&path);
    let stale = pool.root().first;
    pool.txn(|tx| tx.root_mut().first = PPtr::null());
    pool.collect().expect("collect");
    for bad in [PPtr::from_offset(0x28018), foreign, stale] {
        pool.txn(|tx| tx.root_mut().first = bad);
        let collection = pool.collect().expect("a dangling pointer is not damage");
        assert_eq!(collection.dangling_pointers, 1, "{bad:?}");
        assert_eq!(
            collection.first_dangling.map(|dangling| dangling.value),
            Some(bad.offset())
        );
        assert!(pool.get(bad).is_err());
        drop(pool);
        pool = pmem_tests::open_collecting::<Shelf>(path.path()).expect("still opens");
        assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 1);
        assert_eq!(pool.heap_stats().dangling_pointers, 1);
    }
}

// Class 7: a refused nested transaction touches nothing.

/// Lines the commit that links an object, allocated and pinned by an earlier fence-free
/// transaction, writes back; `meddle` runs between the two.
fn lines_written_back_by_the_linking_commit(meddle: impl FnOnce(&mut Pool<Shelf>)) -> u64 {
    let path = ScratchFile::new("deferred");
    let mut pool = stocked(&path);
    let pinned = pool
        .try_txn(|tx| {
            let item = tx.alloc(Item {
                value: 5,
                next: PPtr::null(),
            })?;
            tx.pin(item)
        })
        .expect("a fence-free allocation");
    meddle(&mut pool);
    let before = Stats::current_thread();
    pool.txn(|tx| tx.root_mut().first = pinned.ptr());
    (Stats::current_thread() - before).lines_flushed
}

#[test]
fn a_refused_nested_transaction_keeps_the_outer_pools_deferred_lines() {
    let undisturbed = lines_written_back_by_the_linking_commit(|_| {});
    let other_path = ScratchFile::new("nested-outer");
    let mut other = stocked(&other_path);
    let after_refusal = lines_written_back_by_the_linking_commit(|pool| {
        let nested = catch_unwind(AssertUnwindSafe(|| {
            other.txn(|_| pool.txn(|_| ()));
        }));
        assert!(
            nested.is_err(),
            "a nested transaction on another pool is refused"
        );
    });
    assert_eq!(
        after_refusal, undisturbed,
        "the fresh object's lines were dropped by the refusal"
    );
}

// Class 8: a rollback restores only what the log meant.

#[test]
fn a_pinned_object_allocated_into_a_logged_line_keeps_its_bytes_after_rollback() {
    let path = ScratchFile::new("pinned-rollback");
    let mut pool = stocked(&path);
    let first = pool.root().first;
    /// The transaction returns its pin as its error, to keep it past the rollback.
    #[derive(Debug)]
    enum Refusal {
        Pinned(pmem::Pinned<Item>),
        Pool(#[expect(dead_code, reason = "shown by the failure's Debug")] Error),
    }
    impl From<Error> for Refusal {
        fn from(error: Error) -> Self {
            Self::Pool(error)
        }
    }
    let outcome: Result<(), Refusal> = pool.try_txn(|tx| {
        tx.get_mut(first).expect("an item").value = 50;
        let fresh = tx
            .alloc(Item {
                value: 42,
                next: first,
            })
            .expect("allocate");
        assert_eq!(
            fresh.offset() / 64,
            first.offset() / 64,
            "the test needs the fresh object in the logged line"
        );
        Err(Refusal::Pinned(tx.pin(fresh).expect("pin")))
    });
    let Err(Refusal::Pinned(pinned)) = outcome else {
        panic!("rolled back with the pin: {outcome:?}");
    };
    assert_eq!(
        pool.get(first).expect("item").value,
        3,
        "the logged store undone"
    );
    let kept = *pool.get(pinned.ptr()).expect("the pinned object lives");
    assert_eq!(
        kept,
        Item {
            value: 42,
            next: first
        }
    );
    pool.txn(|tx| tx.root_mut().first = pinned.ptr());
    drop(pinned);
    drop(pool);
    let reopened = pmem_tests::open_collecting::<Shelf>(path.path()).expect("reopen");
    assert_eq!(
        pmem_tests::collected_at_open(&reopened).dangling_pointers,
        0
    );
}

/// A header that claims more log slots (lanes) than a pool may have (1024) is refused as a
/// damaged identity block, even with its checksum fixed and the slots inside the file, and
/// the file is left as it was.
#[test]
fn a_header_claiming_1025_log_slots_is_refused() {
    use pmem::HeaderPart;
    use pmem_tests::forge::{SLOT_COUNT_AT, fix_identity, put_u32};
    let path = ScratchFile::new("hostile-1025-slots");
    let pool = PoolOptions::new()
        .lanes(1024)
        .log_size(4096)
        .size(8 << 20)
        .create(path.path(), Shelf::default())
        .expect("create");
    drop(pool);
    let mut bytes = path.contents();
    assert_eq!(PoolLayout::of(&bytes).slot_count, 1024);
    put_u32(&mut bytes, SLOT_COUNT_AT, 1025);
    fix_identity(&mut bytes);
    assert!(
        PoolLayout::of(&bytes).heap_start <= bytes.len(),
        "the claimed slots lie inside the file"
    );
    std::fs::write(path.path(), &bytes).expect("write");
    let refused = Pool::<Shelf>::open(path.path());
    assert!(
        matches!(
            refused,
            Err(Error::Corrupted {
                part: HeaderPart::Identity,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(path.contents(), bytes, "the file is left as it was");
}

// Class 9: log chains (`pmem-runtime/src/log.rs`, "Extension blocks").

/// A pool of `lanes` lanes whose first slot has a chain of extension blocks (a
/// transaction outgrew its 4 KiB log), closed cleanly, and where the slot's link word and
/// first block lie.
fn chained(path: &ScratchFile, lanes: u32) -> (Vec<u8>, usize, usize) {
    let mut pool = PoolOptions::new()
        .log_size(4096)
        .lanes(lanes)
        .create_with(path.path(), |values: &mut [u64; 1024]| values.fill(1))
        .expect("create");
    pool.txn(|tx| {
        let mut array = tx.root_mut();
        for index in 0..1024 {
            *array.at(index) = 2;
        }
    });
    drop(pool);
    let bytes = path.contents();
    let link_at = PoolLayout::of(&bytes).log_offset + 8;
    let first = u64::from_le_bytes(bytes[link_at..link_at + 8].try_into().expect("8 bytes"));
    assert_ne!(first, 0, "the transaction chained a block");
    (bytes, link_at, first as usize)
}

fn refused_with(path: &ScratchFile, bytes: &[u8], expected: &str) {
    std::fs::write(path.path(), bytes).expect("write");
    let refused = Pool::<[u64; 1024]>::open(path.path());
    match &refused {
        Err(Error::LogCorrupted { what, .. }) if what.contains(expected) => {}
        other => panic!("expected LogCorrupted ({expected}), got {other:?}"),
    }
    assert_eq!(path.contents(), bytes, "the file is left as it was");
}

#[test]
fn hostile_log_chains_are_refused_and_the_file_is_left_as_it_was() {
    let path = ScratchFile::new("hostile-chain");
    let (bytes, link_at, first) = chained(&path, 1);
    let layout = PoolLayout::of(&bytes);
    let with_link = |at: usize, value: u64| {
        let mut forged = bytes.clone();
        forged[at..at + 8].copy_from_slice(&value.to_le_bytes());
        forged
    };
    // Outside the heap's data: the root, the log area, past the end.
    for outside in [4096, layout.log_offset as u64, bytes.len() as u64 + 4096] {
        refused_with(
            &path,
            &with_link(link_at, outside),
            "outside the heap's data",
        );
    }
    refused_with(
        &path,
        &with_link(link_at, first as u64 + 8),
        "not page-aligned",
    );
    // The first block names itself: a loop.
    refused_with(&path, &with_link(first, first as u64), "loops");
    // A free page of the heap's data, made to look like a block: not a heap object.
    let free = bytes.len() - 4096;
    let mut not_a_block = with_link(link_at, free as u64);
    not_a_block[free + 8..free + 16].copy_from_slice(&pmem::format::BLOCK_MAGIC.to_le_bytes());
    refused_with(&path, &not_a_block, "not a log block object");
    let mut no_magic = bytes.clone();
    no_magic[first + 8] ^= 1;
    refused_with(&path, &no_magic, "magic");
}

/// Two lanes' chains may not share a block: a block belongs to one slot for good, and two
/// transactions' entries in one block would overwrite each other.
#[test]
fn two_slots_chaining_one_block_are_refused_and_the_file_is_left_as_it_was() {
    let path = ScratchFile::new("hostile-chain-shared");
    let (bytes, first_link, first) = chained(&path, 2);
    // The second slot follows the first, whose link word is 8 bytes in.
    let second_link = first_link + 4096;
    assert_eq!(u64_at(&bytes, second_link), 0, "the second lane has none");
    let mut forged = bytes.clone();
    forged[second_link..second_link + 8].copy_from_slice(&(first as u64).to_le_bytes());
    refused_with(&path, &forged, "overlaps another chained block");
}
