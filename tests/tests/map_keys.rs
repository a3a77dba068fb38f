//! Maps whose keys hold buffers: `PHashMap` and `PBTreeMap` keyed by `PString` (and
//! `PVec<u8>`) against std's maps keyed by `String` (proptest, with a reopen), a map of
//! strings to vectors through growth and collection, crashes at every fence through a
//! rehash and a node split, a damaged key refused with a typed error, and the hash a map
//! stores for a key recomputed from its documented definition.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use pmem::simulation::{ScratchFile, check_every_fence_observing};
use pmem::{Error, PBTreeMap, PHashMap, PString, PVec, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Default)]
#[repr(C)]
struct Root {
    counts: PHashMap<PString, u64>,
    ordered: PBTreeMap<PString, u64>,
    lists: PHashMap<PString, PVec<u64>>,
    by_bytes: PHashMap<PVec<u8>, u64>,
}

/// Key `index` of a small set: short and long, ASCII and not, the empty string, and
/// strings that are prefixes of one another, so that neither the hash nor the order may
/// confuse them.
fn key(index: u16) -> String {
    match index % 4 {
        0 => format!("k{index}"),
        1 => format!("k{index}-{}", "x".repeat(usize::from(index % 40))),
        2 => format!("ключ {index}"),
        _ if index == 3 => String::new(),
        _ => format!("{}", index / 4),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u64),
    Remove(u16),
    Add(u16, u64),
    Clear,
}

fn op(keys: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..keys, any::<u64>()).prop_map(|(key, value)| Op::Insert(key, value)),
        5 => (0..keys).prop_map(Op::Remove),
        3 => (0..keys, 0..1000u64).prop_map(|(key, value)| Op::Add(key, value)),
        1 => Just(Op::Clear),
    ]
}

/// Applies `op` to the persistent hash map and to `model`, checking that both answer alike.
fn apply_hashed(
    map: &mut PHashMap<PString, u64>,
    model: &mut HashMap<String, u64>,
    op: &Op,
) -> Result<(), Error> {
    match *op {
        Op::Insert(index, value) => {
            let text = key(index);
            let replaced = map.insert(PString::from_str_in(&text)?, value)?;
            assert_eq!(replaced, model.insert(text, value));
        }
        Op::Remove(index) => assert_eq!(map.remove(&key(index))?, model.remove(&key(index))),
        Op::Add(index, value) => {
            let text = key(index);
            let mut count = map.get_or_insert_with(PString::from_str_in(&text)?, || 0)?;
            *count += value;
            let expected = model.entry(text).or_insert(0);
            *expected += value;
            assert_eq!(*count, *expected);
        }
        Op::Clear => {
            map.clear()?;
            model.clear();
        }
    }
    Ok(())
}

/// As [`apply_hashed`], for the ordered map.
fn apply_ordered(
    map: &mut PBTreeMap<PString, u64>,
    model: &mut BTreeMap<String, u64>,
    op: &Op,
) -> Result<(), Error> {
    match *op {
        Op::Insert(index, value) => {
            let text = key(index);
            let replaced = map.insert(PString::from_str_in(&text)?, value)?;
            assert_eq!(replaced, model.insert(text, value));
        }
        Op::Remove(index) => assert_eq!(map.remove(&key(index))?, model.remove(&key(index))),
        Op::Add(index, value) => {
            let expected = model.get_mut(&key(index)).map(|count| {
                *count += value;
                *count
            });
            let got = map.get_mut(&key(index))?.map(|mut count| {
                *count += value;
                *count
            });
            assert_eq!(got, expected);
        }
        Op::Clear => {
            map.clear();
            model.clear();
        }
    }
    Ok(())
}

/// The hash map's entries, sorted.
fn hashed_entries(map: &PHashMap<PString, u64>, pool: &Pool<Root>) -> Vec<(String, u64)> {
    let mut entries: Vec<(String, u64)> = map
        .iter(pool)
        .expect("iter")
        .map(|(key, &value)| (key.as_str(pool).expect("key").to_owned(), value))
        .collect();
    entries.sort_unstable();
    entries
}

/// The ordered map's entries, in its order.
fn ordered_entries(map: &PBTreeMap<PString, u64>, pool: &Pool<Root>) -> Vec<(String, u64)> {
    map.iter(pool)
        .expect("iter")
        .map(|entry| {
            let (key, &value) = entry.expect("entry");
            (key.as_str(pool).expect("key").to_owned(), value)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Ops in transactions of up to twenty, so that one transaction grows the map and reads
    /// its keys again where the rehash moved them.
    #[test]
    fn a_phashmap_of_strings_behaves_like_a_hashmap(
        batches in proptest::collection::vec(proptest::collection::vec(op(48), 1..20), 1..16),
    ) {
        let file = ScratchFile::new("map-keys-hashed");
        let mut pool = Pool::create(file.path(), Root::default()).expect("create");
        let mut model = HashMap::new();
        for ops in &batches {
            pool.try_txn(|tx| {
                let counts = &mut tx.root_mut().counts;
                ops.iter().try_for_each(|op| apply_hashed(counts, &mut model, op))
            })
            .expect("ops");
            let counts = &pool.root().counts;
            prop_assert_eq!(counts.len(), model.len());
            for index in 0..48 {
                let text = key(index);
                prop_assert_eq!(counts.get(&pool, &text).expect("get").copied(), model.get(&text).copied());
            }
        }
        let mut expected: Vec<(String, u64)> = model.into_iter().collect();
        expected.sort_unstable();
        prop_assert_eq!(&hashed_entries(&pool.root().counts, &pool), &expected);
        drop(pool);
        let pool = Pool::<Root>::open(file.path()).expect("reopen");
        prop_assert_eq!(&hashed_entries(&pool.root().counts, &pool), &expected, "the same after a reopen");
        for (text, value) in &expected {
            prop_assert_eq!(pool.root().counts.get(&pool, text).expect("get"), Some(value));
        }
    }

    /// Enough keys for two levels (a leaf holds 16), with ranges bounded by `&str`.
    #[test]
    fn a_pbtreemap_of_strings_behaves_like_a_btreemap(
        batches in proptest::collection::vec(proptest::collection::vec(op(160), 1..40), 1..12),
        start in 0..160u16,
        end in 0..160u16,
    ) {
        let file = ScratchFile::new("map-keys-ordered");
        let mut pool = Pool::create(file.path(), Root::default()).expect("create");
        let mut model = BTreeMap::new();
        for ops in &batches {
            pool.try_txn(|tx| {
                let ordered = &mut tx.root_mut().ordered;
                ops.iter().try_for_each(|op| apply_ordered(ordered, &mut model, op))
            })
            .expect("ops");
            let ordered = &pool.root().ordered;
            prop_assert_eq!(ordered.len(), model.len());
            prop_assert_eq!(ordered_entries(ordered, &pool), model.iter().map(|(k, &v)| (k.clone(), v)).collect::<Vec<_>>());
        }
        drop(pool);
        let pool = Pool::<Root>::open(file.path()).expect("reopen");
        let ordered = &pool.root().ordered;
        prop_assert_eq!(ordered_entries(ordered, &pool), model.iter().map(|(k, &v)| (k.clone(), v)).collect::<Vec<_>>());
        for index in 0..160 {
            let text = key(index);
            prop_assert_eq!(ordered.get(&pool, &text).expect("get").copied(), model.get(&text).copied());
        }
        let (start, end) = (key(start), key(end));
        let (start, end) = if start <= end { (start, end) } else { (end, start) };
        let bounds = (Bound::Included(start.as_str()), Bound::Excluded(end.as_str()));
        let got: Vec<(String, u64)> = ordered
            .range(&pool, bounds)
            .expect("range")
            .map(|entry| {
                let (key, &value) = entry.expect("entry");
                (key.as_str(&pool).expect("key").to_owned(), value)
            })
            .collect();
        let expected: Vec<(String, u64)> = model
            .range::<str, _>(bounds)
            .map(|(k, &v)| (k.clone(), v))
            .collect();
        prop_assert_eq!(got, expected);
    }
}

/// What `lists` should hold after [`a_map_of_strings_to_vectors_survives_growth_and_collection`]:
/// key `index`'s list, or `None` if it was removed.
fn expected_list(index: u16) -> Option<Vec<u64>> {
    if index % 5 == 0 {
        return None;
    }
    let index = u64::from(index);
    let pushes = if index % 3 == 0 { 0..20 } else { 0..2 };
    Some(std::iter::once(index).chain(pushes).collect())
}

#[test]
fn a_map_of_strings_to_vectors_survives_growth_and_collection() {
    let file = ScratchFile::new("map-keys-lists");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    // One transaction inserts (growing from 8 slots to 64), pushes into values that the
    // rehash moved, and removes; a second pushes into what is left and replaces nothing.
    pool.try_txn(|tx| -> Result<(), Error> {
        let lists = &mut tx.root_mut().lists;
        for index in 0..40u16 {
            let list = PVec::from_elements([u64::from(index)])?;
            assert!(
                lists
                    .insert(PString::from_str_in(&key(index))?, list)?
                    .is_none()
            );
            // Push into an earlier value after each insert, also after the ones that grew.
            let earlier = key(index / 2);
            lists.get_mut(&earlier)?.expect("earlier").push(0)?;
            lists.get_mut(&earlier)?.expect("earlier").pop()?;
        }
        for index in (0..40u16).step_by(5) {
            assert_eq!(lists.remove(&key(index))?.map(|list| list.len()), Some(1));
        }
        Ok(())
    })
    .expect("fill");
    pool.try_txn(|tx| -> Result<(), Error> {
        let lists = &mut tx.root_mut().lists;
        for index in (0..40u16).filter(|index| index % 5 != 0) {
            let pushes = if index % 3 == 0 { 0..20 } else { 0..2 };
            for value in pushes {
                let mut list = lists
                    .get_or_insert_with(PString::from_str_in(&key(index))?, || {
                        unreachable!("key {index} is in the map")
                    })?;
                list.push(value)?;
            }
        }
        Ok(())
    })
    .expect("push");
    let collection = pool.collect().expect("collect");
    // Three slices of slots, and for each of the 32 entries its key's and its list's buffer.
    assert_eq!(collection.live_objects, 3 + 32 * 2, "{collection:?}");
    assert!(
        collection.freed_objects > 0,
        "old slots, removed entries' and duplicate keys"
    );
    let check = |pool: &Pool<Root>| {
        let lists = &pool.root().lists;
        assert_eq!(lists.len(), 32);
        for index in 0..40u16 {
            let got = lists
                .get(pool, &key(index))
                .expect("get")
                .map(|list| list.as_slice(pool).expect("list").to_vec());
            assert_eq!(got, expected_list(index), "{}", key(index));
        }
    };
    check(&pool);
    drop(pool);
    let pool = pmem_tests::open_collecting::<Root>(file.path()).expect("reopen");
    assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    assert_eq!(pmem_tests::collected_at_open(&pool).freed_objects, 0);
    check(&pool);
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Tree {
    lists: PBTreeMap<PString, PVec<u64>>,
}

#[test]
fn an_ordered_map_of_strings_to_vectors_survives_splits_merges_and_collection() {
    let file = ScratchFile::new("map-keys-tree-lists");
    let mut pool = Pool::create(file.path(), Tree::default()).expect("create");
    // One transaction: inserts that split leaves and the root, pushes into values that the
    // splits moved, then removals that merge leaves, and pushes again.
    pool.try_txn(|tx| -> Result<(), Error> {
        let lists = &mut tx.root_mut().lists;
        for index in 0..80u16 {
            let list = PVec::from_elements([u64::from(index)])?;
            lists.insert(PString::from_str_in(&key(index))?, list)?;
            lists.get_mut(&key(index / 2))?.expect("earlier").push(1)?;
        }
        for index in (0..80u16).filter(|index| index % 4 == 1) {
            assert!(lists.remove(&key(index))?.is_some());
        }
        for index in (0..80u16).filter(|index| index % 4 != 1) {
            lists.get_mut(&key(index))?.expect("kept").push(2)?;
        }
        Ok(())
    })
    .expect("fill");
    let expected = |index: u16| -> Vec<u64> {
        // `index` got a 1 for each of the keys `2 * index` and `2 * index + 1` below 80.
        let ones = (0..80u16).filter(|other| other / 2 == index).count();
        std::iter::once(u64::from(index))
            .chain(std::iter::repeat_n(1, ones))
            .chain([2])
            .collect()
    };
    let mut model: Vec<(String, Vec<u64>)> = (0..80u16)
        .filter(|index| index % 4 != 1)
        .map(|index| (key(index), expected(index)))
        .collect();
    model.sort();
    let check = |pool: &Pool<Tree>| {
        let entries: Vec<(String, Vec<u64>)> = pool
            .root()
            .lists
            .iter(pool)
            .expect("iter")
            .map(|entry| {
                let (key, list) = entry.expect("entry");
                let list = list.as_slice(pool).expect("list").to_vec();
                (key.as_str(pool).expect("key").to_owned(), list)
            })
            .collect();
        assert_eq!(entries, model);
    };
    check(&pool);
    let collection = pool.collect().expect("collect");
    assert!(
        collection.freed_objects > 0,
        "replaced nodes and removed entries"
    );
    check(&pool);
    drop(pool);
    let pool = pmem_tests::open_collecting::<Tree>(file.path()).expect("reopen");
    assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    assert_eq!(pmem_tests::collected_at_open(&pool).freed_objects, 0);
    check(&pool);
}

#[test]
fn byte_string_keys_are_looked_up_by_slice() {
    let file = ScratchFile::new("map-keys-bytes");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let by_bytes = &mut tx.root_mut().by_bytes;
        for length in 0..30u8 {
            let bytes: Vec<u8> = (0..length).map(|byte| byte.wrapping_mul(37)).collect();
            by_bytes.insert(PVec::from_elements(bytes)?, u64::from(length))?;
        }
        assert_eq!(by_bytes.remove(&[0, 37][..])?, Some(2));
        Ok(())
    })
    .expect("fill");
    drop(pool);
    let pool = Pool::<Root>::open(file.path()).expect("reopen");
    let by_bytes = &pool.root().by_bytes;
    assert_eq!(by_bytes.len(), 29);
    for length in 0..30u8 {
        let bytes: Vec<u8> = (0..length).map(|byte| byte.wrapping_mul(37)).collect();
        let expected = (length != 2).then_some(u64::from(length));
        assert_eq!(by_bytes.get(&pool, &bytes).expect("get").copied(), expected);
    }
}

#[test]
fn string_key_inserts_rehashes_and_splits_are_all_or_nothing_at_every_fence() {
    let report = check_every_fence_observing(
        "map-keys-crash",
        Root::default(),
        4,
        |pool, step| {
            pool.try_txn(|tx| -> Result<(), Error> {
                let mut root = tx.root_mut();
                match step {
                    // Six keys fit 8 slots, sixteen fill a leaf.
                    0 => {
                        for index in 0..16 {
                            let text = key(index);
                            if index < 6 {
                                root.counts.insert(PString::from_str_in(&text)?, 1)?;
                            }
                            root.ordered.insert(PString::from_str_in(&text)?, 1)?;
                        }
                    }
                    // The seventh grows the slots to 16 (a rehash), the seventeenth splits
                    // the leaf; one key is replaced in each.
                    1 => {
                        root.counts.insert(PString::from_str_in(&key(6))?, 7)?;
                        root.ordered.insert(PString::from_str_in(&key(16))?, 7)?;
                        root.counts.insert(PString::from_str_in(&key(0))?, 8)?;
                        root.ordered.insert(PString::from_str_in(&key(0))?, 8)?;
                    }
                    2 => {
                        root.counts.remove(&key(3))?;
                        root.ordered.remove(&key(3))?;
                        *root
                            .counts
                            .get_or_insert_with(PString::from_str_in("new")?, || 5)? += 1;
                    }
                    _ => {
                        root.counts.insert(PString::from_str_in(&key(9))?, 1)?;
                        return Err(Error::NoTransaction);
                    }
                }
                Ok(())
            })
            .map_or_else(|error| assert_eq!(step, 3, "{error}"), drop);
        },
        |pool| {
            let root = pool.root();
            (
                hashed_entries(&root.counts, pool),
                ordered_entries(&root.ordered, pool),
            )
        },
        6,
    );
    println!("map keys: {report:?}");
    assert!(report.crash_points >= 3 * 4, "{report:?}");
}

#[test]
fn a_stored_key_that_is_not_utf8_is_refused() {
    let file = ScratchFile::new("map-keys-damaged");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        for index in 0..40 {
            root.ordered.insert(PString::from_str_in(&key(index))?, 0)?;
        }
        root.counts
            .insert(PString::from_str_in("damaged-key")?, 1)?;
        root.ordered
            .insert(PString::from_str_in("damaged-key")?, 1)?;
        Ok(())
    })
    .expect("fill");
    drop(pool);
    let mut bytes = file.contents();
    let mut damaged = 0;
    while let Some(at) = bytes
        .windows(11)
        .position(|window| window == b"damaged-key")
    {
        bytes[at] = 0xff;
        damaged += 1;
    }
    assert_eq!(damaged, 2, "one key in each map");
    std::fs::write(file.path(), &bytes).expect("write");
    let mut pool = Pool::<Root>::open(file.path()).expect("open");
    let not_utf8 = |result: Result<Option<&u64>, Error>| {
        matches!(
            result,
            Err(Error::CollectionDamaged {
                what: "a PString's bytes are not UTF-8",
                ..
            })
        )
    };
    let root = pool.root();
    assert!(not_utf8(root.counts.get(&pool, "damaged-key")));
    assert!(not_utf8(root.ordered.get(&pool, "damaged-key")));
    assert!(
        root.ordered
            .iter(&pool)
            .expect("iter")
            .any(|entry| entry.is_err()),
        "iteration compares the keys it yields"
    );
    for (name, outcome) in [
        (
            "hashed",
            pool.try_txn(|tx| {
                tx.root_mut()
                    .counts
                    .insert(PString::from_str_in("damaged-key")?, 2)
            }),
        ),
        (
            "ordered",
            pool.try_txn(|tx| {
                tx.root_mut()
                    .ordered
                    .insert(PString::from_str_in("damaged-key")?, 2)
            }),
        ),
    ] {
        assert!(
            matches!(
                outcome,
                Err(Error::CollectionDamaged {
                    what: "a PString's bytes are not UTF-8",
                    ..
                })
            ),
            "{name}: {outcome:?}"
        );
    }
}

/// The hash word a map with `seed` stores for a key that `write` writes into the hasher.
fn stored_hash(seed: [u64; 2], write: impl FnOnce(&mut siphasher::sip::SipHasher13)) -> u64 {
    use std::hash::Hasher;
    let mut hasher = siphasher::sip::SipHasher13::new_with_keys(seed[0], seed[1]);
    write(&mut hasher);
    hasher.finish() | 1 << 63
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Hashed {
    strings: PHashMap<PString, u64>,
    numbers: PHashMap<u64, u64>,
}

/// A map's seed, where `src/collections/map.rs` lays it out: after the length, the
/// two words of the seed.
fn seed_of(bytes: &[u8], map_at: usize) -> [u64; 2] {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    [word(map_at + 8), word(map_at + 16)]
}

#[test]
fn a_stored_hash_is_siphash_of_the_length_and_bytes_under_the_seed() {
    use std::hash::{Hash, Hasher};
    let file = ScratchFile::new("map-keys-hash");
    let mut pool = Pool::create(file.path(), Hashed::default()).expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.strings
            .insert(PString::from_str_in("stable across processes")?, 1)?;
        root.numbers.insert(7, 1)?;
        Ok(())
    })
    .expect("fill");
    drop(pool);
    let bytes = file.contents();
    let holds = |word: u64| bytes.windows(8).any(|window| window == word.to_le_bytes());
    let root_at = pmem::format::HEADER_LEN;
    let seed = seed_of(&bytes, root_at + core::mem::offset_of!(Hashed, strings));
    assert_ne!(seed, [0; 2], "drawn at the first insert");
    let text = b"stable across processes";
    let expected = stored_hash(seed, |hasher| {
        hasher.write(&(text.len() as u64).to_le_bytes());
        hasher.write(text);
    });
    assert!(holds(expected), "a string key: its length, then its bytes");
    let unprefixed = stored_hash(seed, |hasher| hasher.write(text));
    assert!(!holds(unprefixed), "the length is part of what is hashed");
    // A `Copy` key is hashed by its `Hash`, as before string keys: maps already written
    // keep finding their keys.
    let seed = seed_of(&bytes, root_at + core::mem::offset_of!(Hashed, numbers));
    assert!(holds(stored_hash(seed, |hasher| 7u64.hash(hasher))));
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Sharing {
    names: PHashMap<PString, u64>,
    spare: PVec<u8>,
}

#[test]
fn a_stored_key_sharing_a_buffer_being_changed_is_refused_not_read() {
    let file = ScratchFile::new("map-keys-shared-buffer");
    let mut pool = Pool::create(file.path(), Sharing::default()).expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.names.insert(PString::from_str_in("aaaaaaaa")?, 1)?;
        root.spare = PVec::from_elements(*b"bbbbbbbb")?;
        Ok(())
    })
    .expect("fill");
    drop(pool);
    // Point the key at the spare vector's buffer. A `PString` is a `PVec<u8>`: a length and
    // a buffer offset; the key is the slot whose buffer holds its text, found as the spare
    // buffer's offset relates to where its bytes lie in the file.
    let mut bytes = file.contents();
    let word = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    let spare_at = pmem::format::HEADER_LEN + core::mem::offset_of!(Sharing, spare);
    let spare_buffer = word(&bytes, spare_at + 8);
    let text_at = |text: &[u8]| {
        bytes
            .windows(text.len())
            .position(|window| window == text)
            .expect("the text")
    };
    let delta = text_at(b"bbbbbbbb") as u64 - spare_buffer;
    let key_buffer = text_at(b"aaaaaaaa") as u64 - delta;
    let key_at = (0..bytes.len() - 16)
        .step_by(8)
        .find(|&at| word(&bytes, at) == 8 && word(&bytes, at + 8) == key_buffer)
        .expect("the key's slot");
    bytes[key_at + 8..key_at + 16].copy_from_slice(&spare_buffer.to_le_bytes());
    std::fs::write(file.path(), &bytes).expect("write");
    let mut pool = Pool::<Sharing>::open(file.path()).expect("open");
    let root = pool.root();
    let (key, _) = root.names.iter(&pool).expect("iter").next().expect("one");
    assert_eq!(
        key.as_str(&pool).expect("key"),
        "bbbbbbbb",
        "the buffers are shared"
    );
    // The stored hash is still that of "aaaaaaaa", so looking it up compares the key.
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.spare
            .as_mut_slice()?
            .expect("a buffer")
            .at(0)
            .set(b'c');
        root.names.get_mut("aaaaaaaa")?;
        Ok(())
    });
    assert!(
        matches!(outcome, Err(Error::InvalidPointer { reason, .. }) if reason.starts_with("another collection changed this buffer")),
        "{outcome:?}"
    );
    let unchanged = pool.try_txn(|tx| {
        let found = tx.root_mut().names.get_mut("aaaaaaaa")?.is_some();
        Ok::<_, Error>(found)
    });
    assert_eq!(
        unchanged.ok(),
        Some(false),
        "compared, unequal, without the claim"
    );
}
