//! Holes an adversarial review found in slices and collections, each pinned by the test
//! that showed it: a second owner of a lent buffer, a slice whose element constructor
//! collects, a damaged map's endless probe, collections that their container moves, and a
//! damaged span entry giving misaligned elements. Each now fails closed with a typed error
//! or works as documented.

use std::sync::mpsc;
use std::time::Duration;

use pmem::simulation::{ScratchFile, small_pool};
use pmem::{
    Error, PHashMap, PSlice, PString, PVec, Persistent, Pool, PoolOptions, owned_slice_mut,
};
use pmem_tests::pslice_field;

// ---------------------------------------------------------------------------------------
// 1. owned_slice_mut: a second owner of a collection's buffer, while the collection lends
//    it. The owner is a `PSlice` field (8 bytes), so two live owners never share an
//    address (a zero-sized one could, before); here a forged `PSlice` field names the
//    vector's buffer, and the claim refuses it.
// ---------------------------------------------------------------------------------------

#[derive(Persistent, Default)]
#[repr(C)]
struct ForgedRoot {
    forged: PSlice<u64>,
    numbers: PVec<u64>,
}

#[test]
fn a_second_owner_of_a_lent_buffer_is_refused() {
    let file = ScratchFile::new("review-second-owner");
    let mut pool = Pool::create(file.path(), ForgedRoot::default()).expect("create");
    pool.try_txn(|tx| {
        let mut root = tx.root_mut();
        root.numbers.push(1)?;
        root.numbers.push(2)?;
        Ok::<(), Error>(())
    })
    .expect("push");
    let buffer = PSlice::<u64>::from_offset(pslice_field(
        &format!("{:?}", pool.root().numbers),
        "buffer",
    ));
    let outcome = pool.try_txn(|tx| {
        let mut root = tx.root_mut();
        root.forged = buffer;
        let ForgedRoot { forged, numbers } = &mut *root;
        // The vector lends its buffer (and claims it for its field).
        let lent = numbers.as_mut_slice()?.expect("a buffer");
        let first: &u64 = &lent[0];
        match owned_slice_mut(forged) {
            Err(_) => Ok::<_, Error>(None),
            Ok(mut second) => {
                let before = *first;
                second.at(0).set(99);
                let after = *std::hint::black_box(first);
                Ok(Some(format!(
                    "owned_slice_mut lent the vector's buffer a second time while the vector \
                     lent it: a &u64 from the vector read {before}, then {after} after a store \
                     through the second PMut"
                )))
            }
        }
    });
    if let Some(problem) = outcome.expect("the transaction") {
        panic!("{problem}");
    }
}

// ---------------------------------------------------------------------------------------
// 2. A slice's element constructor that allocates (a collection in a slice): a collection
//    inside the transaction frees the half-built slice, which is neither reachable nor
//    noted as the transaction's own yet, and its pages are reused while it is written.
// ---------------------------------------------------------------------------------------

#[derive(Persistent, Default)]
#[repr(C)]
struct StringsRoot {
    strings: PSlice<PString>,
}

fn text(index: usize) -> String {
    format!("string number {index:05} ").repeat(4)
}

/// Builds a slice of `count` strings whose constructor allocates each string, `via_txn`
/// through `Txn::alloc_slice_with` or else through `pmem::alloc_slice_with`, commits it,
/// and reads it back before and after reopening.
fn build_strings(label: &str, options: &PoolOptions, count: usize, via_txn: bool) {
    let file = ScratchFile::new(label);
    let mut pool = options
        .create(file.path(), StringsRoot::default())
        .expect("create");
    pool.try_txn(|tx| {
        let element = |index| PString::from_str_in(&text(index)).expect("a string");
        let strings = if via_txn {
            tx.alloc_slice_with(count, element)?
        } else {
            pmem::alloc_slice_with(count, element)?
        };
        tx.root_mut().strings = strings;
        Ok::<(), Error>(())
    })
    .expect("build");
    let check = |pool: &Pool<StringsRoot>, when: &str| {
        let strings = pool
            .get_slice(pool.root().strings)
            .unwrap_or_else(|error| panic!("{when}: the committed slice is gone: {error}"));
        assert_eq!(strings.len(), count, "{when}");
        let wrong: Vec<usize> = (0..count)
            .filter(|&index| {
                strings[index]
                    .as_str(pool)
                    .map_or(true, |found| found != text(index))
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{when}: {} of {count} committed strings read back wrong (first {:?})",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        );
    };
    check(&pool, "after commit");
    pool.close();
    let pool = Pool::<StringsRoot>::open(file.path()).expect("reopen");
    check(&pool, "after reopen");
}

/// Controls: few enough strings, or a pool large enough, that no collection runs inside
/// the transaction: the slice survives.
#[test]
fn slice_of_strings_without_a_collection_survives() {
    build_strings("review-gc-control", &small_pool(), 40, false);
    build_strings("review-gc-control-large", &PoolOptions::new(), 3000, false);
}

#[test]
fn allocating_element_constructor_keeps_the_slice_it_builds() {
    build_strings("review-gc-in-constructor", &small_pool(), 3000, false);
}

#[test]
fn allocating_element_constructor_keeps_the_slice_it_builds_via_txn() {
    build_strings("review-gc-in-constructor-txn", &small_pool(), 3000, true);
}

// ---------------------------------------------------------------------------------------
// 3. A damaged map (every hash word non-zero, length 0: possible in a damaged file, or by
//    a forged PSlice) must give a typed error, not loop forever.
// ---------------------------------------------------------------------------------------

#[derive(Persistent, Default)]
#[repr(C)]
struct MapRoot {
    map: PHashMap<u64, u64>,
}

/// A pool whose map's hash words are all non-zero while its length says 0.
fn damaged_map(file: &ScratchFile) -> Pool<MapRoot> {
    let mut pool = Pool::create(file.path(), MapRoot::default()).expect("create");
    pool.try_txn(|tx| {
        tx.root_mut().map.insert(1, 1)?;
        tx.root_mut().map.remove(&1)?;
        Ok::<(), Error>(())
    })
    .expect("fill");
    let hashes =
        PSlice::<u64>::from_offset(pslice_field(&format!("{:?}", pool.root().map), "hashes"));
    pool.try_txn(|tx| {
        let mut words = tx.get_slice_mut(hashes)?;
        for at in 0..words.len() {
            // Full, with a hash that no key of ours has, and a home slot each.
            words.at(at).set((1 << 63) | at as u64);
        }
        Ok::<(), Error>(())
    })
    .expect("damage");
    pool
}

fn returns_within(what: &str, run: impl FnOnce() -> String + Send + 'static) {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = run();
        let _ = sender.send(outcome);
    });
    match receiver.recv_timeout(Duration::from_secs(20)) {
        Ok(outcome) => println!("{what}: {outcome}"),
        Err(_) => {
            panic!("{what} did not return within 20 s on a damaged map (a loop that never ends)")
        }
    }
}

#[test]
fn damaged_map_insert_returns() {
    let file = ScratchFile::new("review-map-insert-loop");
    let mut pool = damaged_map(&file);
    returns_within("PHashMap::insert", move || {
        format!("{:?}", pool.try_txn(|tx| tx.root_mut().map.insert(7, 7)))
    });
}

#[test]
fn damaged_map_remove_returns() {
    let file = ScratchFile::new("review-map-remove-loop");
    let mut pool = damaged_map(&file);
    returns_within("PHashMap::remove", move || {
        format!("{:?}", pool.try_txn(|tx| tx.root_mut().map.remove(&7)))
    });
}

// ---------------------------------------------------------------------------------------
// 4. Collections that the library's own operations move within the pool: a map's growth
//    (or a vector's removal) moves the collections it holds, and the claim map then
//    refuses the moved collection as "two collections share a buffer".
// ---------------------------------------------------------------------------------------

#[derive(Persistent, Default)]
#[repr(C)]
struct ListsRoot {
    lists: PHashMap<u64, PVec<u64>>,
    nested: PVec<PVec<u64>>,
}

#[test]
fn value_collection_moved_by_map_growth_still_changes() {
    let file = ScratchFile::new("review-map-moves-values");
    let mut pool = Pool::create(file.path(), ListsRoot::default()).expect("create");
    pool.try_txn(|tx| {
        tx.root_mut().lists.insert(0, PVec::new())?;
        Ok::<(), Error>(())
    })
    .expect("first list");
    let outcome = pool.try_txn(|tx| {
        let mut root = tx.root_mut();
        root.lists.get_mut(&0)?.expect("list 0").push(1)?;
        for key in 1..20 {
            // Growth rehashes every value, list 0 included, into a fresh slice.
            root.lists.insert(key, PVec::new())?;
        }
        root.lists.get_mut(&0)?.expect("list 0").push(2)?;
        Ok::<(), Error>(())
    });
    outcome.expect("pushing to a list after the map grew, in one transaction");
}

#[test]
fn inner_vector_moved_by_remove_still_changes() {
    let file = ScratchFile::new("review-vec-moves-elements");
    let mut pool = Pool::create(file.path(), ListsRoot::default()).expect("create");
    pool.try_txn(|tx| {
        let mut root = tx.root_mut();
        root.nested.push(PVec::new())?;
        root.nested.push(PVec::new())?;
        Ok::<(), Error>(())
    })
    .expect("two lists");
    let outcome = pool.try_txn(|tx| {
        let mut root = tx.root_mut();
        {
            let lists = root.nested.as_mut_slice()?.expect("lists");
            lists.into_at(1).push(5)?;
        }
        let _first = root.nested.remove(0)?;
        let lists = root.nested.as_mut_slice()?.expect("lists");
        lists.into_at(0).push(6)?;
        Ok::<(), Error>(())
    });
    outcome.expect("pushing to a list that remove moved, in one transaction");
}

// ---------------------------------------------------------------------------------------
// What held (kept as regression tests).
// ---------------------------------------------------------------------------------------

/// A key whose `Hash` panics when asked to: a panic in the middle of an insert rolls the
/// transaction back and leaves the map as it was.
#[derive(Persistent, Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
struct Touchy {
    value: u64,
}

impl core::hash::Hash for Touchy {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        assert!(self.value != 13, "unlucky key");
        self.value.hash(state);
    }
}

#[derive(Persistent, Default)]
#[repr(C)]
struct TouchyRoot {
    map: PHashMap<Touchy, u64>,
}

#[test]
fn panicking_hash_mid_insert_rolls_back() {
    let file = ScratchFile::new("review-touchy-hash");
    let mut pool = Pool::create(file.path(), TouchyRoot::default()).expect("create");
    pool.try_txn(|tx| {
        for value in 0..6 {
            tx.root_mut().map.insert(Touchy { value }, value)?;
        }
        Ok::<(), Error>(())
    })
    .expect("fill");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.txn(|tx| {
            let mut root = tx.root_mut();
            // Growth (the seventh entry) happens, then the panic in the hash.
            root.map.insert(Touchy { value: 6 }, 6).expect("insert 6");
            root.map
                .insert(Touchy { value: 13 }, 13)
                .expect("insert 13");
        });
    }));
    assert!(panicked.is_err());
    assert_eq!(pool.root().map.len(), 6);
    for value in 0..6 {
        assert_eq!(
            pool.root().map.get(&pool, &Touchy { value }).expect("get"),
            Some(&value)
        );
    }
    assert_eq!(
        pool.root()
            .map
            .get(&pool, &Touchy { value: 6 })
            .expect("get"),
        None
    );
    pool.close();
    let pool = Pool::<TouchyRoot>::open(file.path()).expect("reopen");
    assert_eq!(pool.root().map.len(), 6);
}

/// A forged pointer to a collection's buffer changes it only through the transaction (and
/// so is logged): rolled back with the rest.
#[test]
fn forged_buffer_pointer_changes_are_rolled_back() {
    let file = ScratchFile::new("review-forged-rollback");
    let mut pool = Pool::create(file.path(), ForgedRoot::default()).expect("create");
    pool.try_txn(|tx| tx.root_mut().numbers.push(1))
        .expect("push");
    let buffer = PSlice::<u64>::from_offset(pslice_field(
        &format!("{:?}", pool.root().numbers),
        "buffer",
    ));
    let outcome: Result<(), Error> = pool.try_txn(|tx| {
        tx.get_slice_mut(buffer)?.at(0).set(42);
        Err(Error::NoTransaction)
    });
    assert!(outcome.is_err());
    assert_eq!(pool.root().numbers.as_slice(&pool).expect("read"), &[1]);
}

// ---------------------------------------------------------------------------------------
// 5. A damaged file: a span of an over-aligned slice type whose entry names a sharing
//    slot class (16 to 16 KiB slots), which the allocator never writes for elements
//    aligned to more than 16. `Class::of_slice_span` accepts it without looking at the
//    record's alignment, so slots are not aligned for the elements, and a slot can be
//    smaller than the slice header.
// ---------------------------------------------------------------------------------------

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(32))]
struct Wide {
    words: [u64; 4],
}

#[derive(Persistent, Default)]
#[repr(C)]
struct WideRoot {
    wide: PSlice<Wide>,
}

/// `pmem_alloc::format`'s span-entry check, as documented with the format.
fn entry_check(low: u64, page: usize) -> u64 {
    let mixed = (low ^ (page as u64).rotate_left(48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 48) & 0xffff
}

/// Creates a pool whose root points `pointer_delta` bytes into a slice of `Wide` that has
/// a span of its own, closes it, and rewrites that span's entry to name `slot_class`.
fn over_aligned_in_small_slots(file: &ScratchFile, slot_class: u64, pointer_delta: u64) {
    let mut pool = Pool::create(file.path(), WideRoot::default()).expect("create");
    pool.try_txn(|tx| {
        // Element 1's third word lies 80 bytes into the object: the length word of slot 1
        // of 80-byte slots.
        let elements = [
            Wide { words: [7; 4] },
            Wide {
                words: [7, 7, 1, 7],
            },
            Wide { words: [7; 4] },
        ];
        let slice = tx.alloc_slice_copied(&elements)?;
        tx.root_mut().wide = PSlice::from_offset(slice.offset() + pointer_delta);
        Ok::<(), Error>(())
    })
    .expect("allocate");
    let object = pool.root().wide.offset() - pointer_delta;
    pool.close();
    let mut bytes = std::fs::read(file.path()).expect("read");
    let word_at = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    // Find the heap's start: the page-aligned start whose page table holds a valid own-span
    // entry (slot class 127, one page) for the object's page.
    let (entry_at, page, low) = (0..object as usize)
        .step_by(4096)
        .find_map(|start| {
            let page = (object as usize - start) / 4096;
            if !(3..3 + 512).contains(&page) {
                return None;
            }
            let at = start + 3 * 4096 + (page - 3) * 8;
            let word = word_at(&bytes, at);
            let low = word & 0xffff_ffff_ffff;
            let valid = word & 0xff == 1
                && word >> 48 == entry_check(low, page)
                && (word >> 41) & 0x7f == 127
                && (word >> 32) & 0x1ff == 1;
            valid.then_some((at, page, low))
        })
        .expect("the slice's own span entry");
    let low = (low & !(0x7f << 41)) | slot_class << 41;
    let word = low | entry_check(low, page) << 48;
    bytes[entry_at..entry_at + 8].copy_from_slice(&word.to_le_bytes());
    std::fs::write(file.path(), &bytes).expect("write");
}

#[test]
fn over_aligned_slice_in_a_sharing_span_is_refused_or_aligned() {
    let file = ScratchFile::new("review-over-aligned-slots");
    // Slot class 4: 80-byte slots, 51 per page; the root points at slot 1 (offset 80).
    over_aligned_in_small_slots(&file, 4, 80);
    let before = file.contents();
    match Pool::<WideRoot>::open(file.path()) {
        Err(error) => {
            println!("refused: {error}");
            assert_eq!(
                file.contents(),
                before,
                "a refused open left the file as it was"
            );
        }
        Ok(pool) => {
            let found = pool.get_slice(pool.root().wide);
            if let Ok(elements) = found {
                let address = elements.as_ptr() as usize;
                assert_eq!(
                    address % align_of::<Wide>(),
                    0,
                    "get_slice handed out a &[Wide] of {} elements at an address aligned to \
                     {} only (undefined behaviour from a damaged file)",
                    elements.len(),
                    1 << address.trailing_zeros()
                );
            }
        }
    }
}

#[test]
fn slot_smaller_than_the_slice_header_is_a_typed_error() {
    let file = ScratchFile::new("review-slot-below-header");
    // Slot class 0: 16-byte slots, smaller than `Wide`'s 32-byte slice header.
    over_aligned_in_small_slots(&file, 0, 0);
    let before = file.contents();
    let opened = std::panic::catch_unwind(|| {
        Pool::<WideRoot>::open(file.path()).map(|pool| {
            let found = pool.get_slice(pool.root().wide).map(<[Wide]>::len);
            println!("opened; get_slice gives {found:?}");
        })
    });
    match opened {
        Err(_) => panic!("open panicked on a damaged file instead of returning a typed error"),
        Ok(Err(error)) => {
            println!("refused: {error}");
            assert_eq!(
                file.contents(),
                before,
                "a refused open left the file as it was"
            );
        }
        Ok(Ok(())) => {}
    }
}
