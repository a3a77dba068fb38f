//! `PBTreeMap` against std's `BTreeMap` (proptest), its node splits and merges, what an
//! insert logs, values that are collections, damaged nodes, and crashes at every fence.

use std::collections::BTreeMap;
use std::ops::Bound;

use pmem::simulation::{ScratchFile, check_every_fence_observing};
use pmem::{Error, PBTreeMap, PMut, PVec, Persistent, Pool, Stats, txn};
use proptest::prelude::*;

#[derive(Persistent, Default)]
#[repr(C)]
struct Root {
    map: PBTreeMap<u64, u64>,
    lists: PBTreeMap<u64, PVec<u64>>,
}

/// Every entry, in the map's order.
fn entries(map: &PBTreeMap<u64, u64>, pool: &Pool<Root>) -> Vec<(u64, u64)> {
    map.iter(pool)
        .expect("iter")
        .map(|entry| entry.map(|(&k, &v)| (k, v)))
        .collect::<Result<_, _>>()
        .expect("entries")
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u64),
    Remove(u64),
    Add(u64, u64),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    // Enough distinct keys for three levels (a level holds 9 to 17 children), few enough
    // that inserts replace and removals hit.
    let key = 0..600u64;
    prop_oneof![
        12 => (key.clone(), any::<u64>()).prop_map(|(key, value)| Op::Insert(key, value)),
        8 => key.clone().prop_map(Op::Remove),
        2 => (key, 0..1000u64).prop_map(|(key, value)| Op::Add(key, value)),
        1 => Just(Op::Clear),
    ]
}

fn bound() -> impl Strategy<Value = (u8, u64)> {
    (0..3u8, 0..620u64)
}

fn to_bound((kind, key): (u8, u64)) -> Bound<u64> {
    match kind {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

/// Applies `op` to the persistent map and to `model`, checking that both answer alike.
fn apply(
    map: &mut PBTreeMap<u64, u64>,
    model: &mut BTreeMap<u64, u64>,
    op: &Op,
) -> Result<(), Error> {
    match *op {
        Op::Insert(key, value) => assert_eq!(map.insert(key, value)?, model.insert(key, value)),
        Op::Remove(key) => assert_eq!(map.remove(&key)?, model.remove(&key)),
        Op::Add(key, value) => {
            let expected = model.get_mut(&key).map(|count| {
                *count = count.wrapping_add(value);
                *count
            });
            let got = map.get_mut(&key)?.map(|mut count| {
                *count = count.wrapping_add(value);
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Ops in transactions of one to forty (so that one transaction splits, merges and
    /// changes nodes again after moving them); every fourth transaction is rolled back, which
    /// must leave the map as it was. Reads, ranges and the ends are compared after each; the
    /// pool is reopened at the end.
    #[test]
    fn a_pbtreemap_behaves_like_a_btreemap(
        batches in proptest::collection::vec(
            (proptest::collection::vec(op(), 1..40), bound(), bound()),
            1..40,
        ),
    ) {
        let file = ScratchFile::new("btree-model");
        let mut pool = Pool::create(file.path(), Root::default()).expect("create");
        let mut model = BTreeMap::new();
        for (index, (ops, start, end)) in batches.iter().enumerate() {
            if index % 4 == 3 {
                let mut scratch = model.clone();
                let outcome = pool.try_txn(|tx| -> Result<(), Error> {
                    let map = &mut tx.root_mut().map;
                    ops.iter().try_for_each(|op| apply(map, &mut scratch, op))?;
                    Err(Error::NoTransaction)
                });
                prop_assert!(outcome.is_err());
            } else {
                pool.try_txn(|tx| {
                    let map = &mut tx.root_mut().map;
                    ops.iter().try_for_each(|op| apply(map, &mut model, op))
                })
                .expect("ops");
            }
            let map = &pool.root().map;
            prop_assert_eq!(map.len(), model.len());
            prop_assert_eq!(entries(map, &pool), model.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>());
            for key in [0, 1, 299, 300, 599, 600] {
                prop_assert_eq!(map.get(&pool, &key).expect("get").copied(), model.get(&key).copied());
                prop_assert_eq!(map.contains_key(&pool, &key).expect("contains"), model.contains_key(&key));
            }
            prop_assert_eq!(
                map.first_key_value(&pool).expect("first").map(|(&k, &v)| (k, v)),
                model.first_key_value().map(|(&k, &v)| (k, v))
            );
            prop_assert_eq!(
                map.last_key_value(&pool).expect("last").map(|(&k, &v)| (k, v)),
                model.last_key_value().map(|(&k, &v)| (k, v))
            );
            let (mut start, mut end) = (*start, *end);
            if start.0 < 2 && end.0 < 2 && start.1 > end.1 {
                core::mem::swap(&mut start.1, &mut end.1);
            }
            let both_excluded_at_one_key = start.0 == 1 && end.0 == 1 && start.1 == end.1;
            if !both_excluded_at_one_key {
                let bounds = (to_bound(start), to_bound(end));
                let got: Vec<(u64, u64)> = map
                    .range(&pool, bounds)
                    .expect("range")
                    .map(|entry| entry.map(|(&k, &v)| (k, v)))
                    .collect::<Result<_, _>>()
                    .expect("range entries");
                let expected: Vec<(u64, u64)> = model.range(bounds).map(|(&k, &v)| (k, v)).collect();
                prop_assert_eq!(got, expected, "{:?}", bounds);
            }
        }
        drop(pool);
        let pool = pmem_tests::open_collecting::<Root>(file.path()).expect("reopen");
        prop_assert_eq!(entries(&pool.root().map, &pool), model.into_iter().collect::<Vec<_>>());
        prop_assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    }
}

/// Live heap objects after a reopen, whose collection frees what nothing reaches.
fn live_objects(file: &ScratchFile) -> u64 {
    pmem_tests::open_collecting::<Root>(file.path())
        .expect("reopen")
        .heap_stats()
        .allocated_objects
}

#[test]
fn a_full_root_splits_and_an_emptied_one_collapses() {
    let file = ScratchFile::new("btree-shape");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    let fill = |pool: &mut Pool<Root>, keys: std::ops::Range<u64>| {
        pool.try_txn(|tx| -> Result<(), Error> {
            let map = &mut tx.root_mut().map;
            keys.clone()
                .try_for_each(|key| map.insert(key, key * 10).map(drop))
        })
        .expect("insert");
    };
    fill(&mut pool, 0..16);
    drop(pool);
    assert_eq!(live_objects(&file), 2, "one leaf: a node and its values");
    let mut pool = Pool::<Root>::open(file.path()).expect("reopen");
    fill(&mut pool, 16..17);
    drop(pool);
    assert_eq!(live_objects(&file), 6, "a root over two leaves");
    let mut pool = Pool::<Root>::open(file.path()).expect("reopen");
    fill(&mut pool, 17..400);
    let all: Vec<(u64, u64)> = (0..400).map(|key| (key, key * 10)).collect();
    assert_eq!(entries(&pool.root().map, &pool), all);
    drop(pool);
    let three_levels = live_objects(&file);
    let mut pool = Pool::<Root>::open(file.path()).expect("reopen");
    pool.try_txn(|tx| -> Result<(), Error> {
        let map = &mut tx.root_mut().map;
        for key in (0..400).rev().filter(|key| key % 3 != 0) {
            assert_eq!(map.remove(&key)?, Some(key * 10));
        }
        Ok(())
    })
    .expect("remove");
    let thirds: Vec<(u64, u64)> = (0..400).step_by(3).map(|key| (key, key * 10)).collect();
    assert_eq!(entries(&pool.root().map, &pool), thirds);
    drop(pool);
    assert!(
        live_objects(&file) < three_levels / 2,
        "merged nodes were freed"
    );
    let mut pool = Pool::<Root>::open(file.path()).expect("reopen");
    pool.try_txn(|tx| -> Result<(), Error> {
        let map = &mut tx.root_mut().map;
        (0..400).try_for_each(|key| map.remove(&key).map(drop))
    })
    .expect("remove all");
    assert!(pool.root().map.is_empty());
    assert_eq!(pool.root().map.first_key_value(&pool).expect("first"), None);
    drop(pool);
    assert_eq!(live_objects(&file), 0, "an emptied map holds no node");
}

#[txn]
fn insert_one(mut root: PMut<'_, Root>, key: u64, value: u64) -> Result<Option<u64>, Error> {
    let map = &mut root.map;
    map.insert(key, value)
}

#[test]
fn an_insert_logs_the_lengths_and_the_slots_it_shifts() {
    let file = ScratchFile::new("btree-costs");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let map = &mut tx.root_mut().map;
        (1..=10).try_for_each(|key| map.insert(key * 10, key).map(drop))
    })
    .expect("fill");
    let before = Stats::current_thread();
    pool.txn(|tx| insert_one(tx.root_mut(), 1000, 1))
        .expect("insert");
    let cost = Stats::current_thread() - before;
    // At the end of the leaf: 40 bytes of the map's line in the root, of the new key's and
    // the leaf's length's lines in the node, and of the new value's line in the values
    // slice.
    assert_eq!(cost.logged_bytes, 4 * 40, "{cost:?}");
    assert_eq!(cost.fences, 4 + 2, "four entries and the commit");
    let before = Stats::current_thread();
    pool.txn(|tx| insert_one(tx.root_mut(), 5, 1))
        .expect("insert");
    let cost = Stats::current_thread() - before;
    // At the front: all twelve keys and values shift, 96 bytes each from the eighth byte of
    // a line, in one entry apiece that logs the first line from there (56 bytes) and the
    // line after it whole (64); the leaf's length and the map's line as before.
    assert_eq!(cost.logged_bytes, 2 * (56 + 64) + 2 * 40, "{cost:?}");
    assert_eq!(cost.fences, 4 + 2, "four entries and the commit");
    pool.txn(|tx| -> Result<(), Error> {
        let map = &mut tx.root_mut().map;
        (1..=4).try_for_each(|key| map.insert(2000 + key, key).map(drop))
    })
    .expect("fill to 16");
    let before = Stats::current_thread();
    pool.txn(|tx| insert_one(tx.root_mut(), 3000, 1))
        .expect("insert");
    let cost = Stats::current_thread() - before;
    // The seventeenth key splits the root leaf: two fresh leaves and a fresh root, so only
    // 40 bytes of the map's line are logged.
    assert_eq!(cost.logged_bytes, 40, "{cost:?}");
    assert_eq!(cost.fences, 1 + 2);
    assert_eq!(pool.root().map.len(), 17);
    let replaced = pool.txn(|tx| insert_one(tx.root_mut(), 5, 9));
    assert_eq!(replaced.expect("replace"), Some(1));
}

#[test]
fn a_map_changes_only_in_a_transaction_on_its_own_pool() {
    let mut volatile = PBTreeMap::<u64, u64>::new();
    assert!(matches!(volatile.insert(1, 1), Err(Error::NoTransaction)));
    let file = ScratchFile::new("btree-refused");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    let outcome = pool.try_txn(|_| volatile.insert(1, 1));
    assert!(
        matches!(outcome, Err(Error::NoTransaction)),
        "a map outside the pool: {outcome:?}"
    );
}

#[test]
fn values_may_be_vectors_and_survive_splits_and_a_reopen() {
    let file = ScratchFile::new("btree-lists");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    for round in 0..3u64 {
        pool.try_txn(|tx| -> Result<(), Error> {
            let lists = &mut tx.root_mut().lists;
            for key in (round..60).step_by(3) {
                lists.insert(key, PVec::from_elements([key])?)?;
            }
            Ok(())
        })
        .expect("insert");
        pool.try_txn(|tx| -> Result<(), Error> {
            let lists = &mut tx.root_mut().lists;
            for key in (0..60).step_by(7) {
                if let Some(mut list) = lists.get_mut(&key)? {
                    list.push(round + 100)?;
                }
            }
            Ok(())
        })
        .expect("push");
    }
    pool.try_txn(|tx| -> Result<(), Error> {
        let lists = &mut tx.root_mut().lists;
        (30..60).try_for_each(|key| lists.remove(&key).map(drop))
    })
    .expect("remove");
    let expected = |key: u64| -> Vec<u64> {
        let pushes = (0..3).filter(|&round| key % 7 == 0 && key % 3 <= round);
        std::iter::once(key)
            .chain(pushes.map(|round| round + 100))
            .collect()
    };
    drop(pool);
    let pool = pmem_tests::open_collecting::<Root>(file.path()).expect("reopen");
    assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    let lists = &pool.root().lists;
    assert_eq!(lists.len(), 30);
    for entry in lists.iter(&pool).expect("iter") {
        let (&key, list) = entry.expect("entry");
        assert_eq!(
            list.as_slice(&pool).expect("list"),
            &expected(key)[..],
            "{key}"
        );
    }
    // Thirty vectors' buffers, and the nodes: the removed vectors were freed.
    let live = pool.heap_stats().allocated_objects;
    assert!((30..30 + 16).contains(&live), "{live}");
}

#[test]
fn a_value_changed_then_moved_then_changed_in_one_transaction_keeps_working() {
    let file = ScratchFile::new("btree-moved-value");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.try_txn(|tx| {
        tx.root_mut()
            .lists
            .insert(10, PVec::from_elements([1])?)
            .map(drop)
    })
    .expect("insert");
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        let lists = &mut tx.root_mut().lists;
        lists.get_mut(&10)?.expect("ten").push(2)?;
        // Key 5 goes first in the leaf, so the vector under 10 moves one slot up.
        lists.insert(5, PVec::new())?;
        lists.get_mut(&10)?.expect("ten").push(3)
    });
    outcome.expect("the moved vector lends its buffer from its new slot");
    let list = pool
        .root()
        .lists
        .get(&pool, &10)
        .expect("get")
        .expect("ten");
    assert_eq!(list.as_slice(&pool).expect("list"), [1, 2, 3]);
}

/// Where the node that `pointer` (a node pointer's file offset) points at starts in the
/// file: after the slice's length word (pool offsets are file offsets).
fn node_at(bytes: &[u8], pointer: usize) -> usize {
    let offset = u64::from_le_bytes(bytes[pointer..pointer + 8].try_into().expect("8 bytes"));
    offset as usize + 8
}

/// A node of `u64` keys: sixteen keys, seventeen children, then its length and level.
const CHILDREN_AT: usize = 16 * 8;
const LEN_AT: usize = CHILDREN_AT + 17 * 8;
const LEVEL_AT: usize = LEN_AT + 8;

#[test]
fn damaged_nodes_are_refused_with_a_typed_error() {
    const BASE: u64 = 0x5eed_0000_0000_0000;
    let file = ScratchFile::new("btree-damaged");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let map = &mut tx.root_mut().map;
        (0..40).try_for_each(|key| map.insert(BASE + key, key).map(drop))
    })
    .expect("fill");
    drop(pool);
    let clean = file.contents();
    let damage = |at: usize, value: u64| {
        let mut bytes = clean.clone();
        bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        std::fs::write(file.path(), &bytes).expect("write");
        Pool::<Root>::open(file.path()).expect("open")
    };
    // The map is its length, then its root pointer; 40 keys make a root over leaves.
    let map_at = pmem::format::HEADER_LEN + core::mem::offset_of!(Root, map);
    let root = node_at(&clean, map_at + 8);
    assert_eq!(clean[root + LEVEL_AT], 1, "the root is a level up");
    let leaf = node_at(&clean, root + CHILDREN_AT);
    assert_eq!(clean[leaf..leaf + 8], BASE.to_le_bytes(), "the first leaf");
    // The second leaf's length becomes 99.
    let second = node_at(&clean, root + CHILDREN_AT + 8);
    let mut pool = damage(second + LEN_AT, 99);
    let map = &pool.root().map;
    assert!(matches!(
        map.get(&pool, &(BASE + 9)),
        Err(Error::CollectionDamaged {
            what: "a PBTreeMap node's length exceeds its capacity",
            ..
        })
    ));
    assert_eq!(
        map.get(&pool, &BASE).expect("the first leaf is sound"),
        Some(&0)
    );
    let items: Vec<_> = map.iter(&pool).expect("the first leaf is sound").collect();
    assert_eq!(
        items.len(),
        8 + 1 + 1,
        "the first leaf, the separator, then the error"
    );
    assert!(matches!(items[9], Err(Error::CollectionDamaged { .. })));
    let outcome = pool.try_txn(|tx| tx.root_mut().map.insert(BASE + 10, 0));
    assert!(
        matches!(outcome, Err(Error::CollectionDamaged { .. })),
        "{outcome:?}"
    );
    drop(pool);
    // The leaf claims to be a level up, where its parent says level 0.
    let pool = damage(leaf + LEVEL_AT, 1);
    assert!(matches!(
        pool.root().map.get(&pool, &BASE),
        Err(Error::CollectionDamaged {
            what: "a PBTreeMap node's level disagrees with its parent's",
            ..
        })
    ));
    drop(pool);
    // The root loses its first child.
    let mut pool = damage(root + CHILDREN_AT, 0);
    assert!(matches!(
        pool.root().map.get(&pool, &BASE),
        Err(Error::CollectionDamaged {
            what: "a PBTreeMap node lacks a child its length implies",
            ..
        })
    ));
    let outcome = pool.try_txn(|tx| tx.root_mut().map.remove(&BASE));
    assert!(
        matches!(outcome, Err(Error::CollectionDamaged { .. })),
        "{outcome:?}"
    );
    drop(pool);
    // A length of zero with entries in the tree: a removal would underflow it.
    let mut pool = damage(map_at, 0);
    let outcome = pool.try_txn(|tx| tx.root_mut().map.remove(&BASE));
    assert!(
        matches!(
            outcome,
            Err(Error::CollectionDamaged {
                what: "a PBTreeMap's length is too small",
                ..
            })
        ),
        "{outcome:?}"
    );
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Crash {
    map: PBTreeMap<u64, u64>,
}

#[test]
fn splits_merges_and_redistributions_are_all_or_nothing_at_every_fence() {
    let report = check_every_fence_observing(
        "btree-crash",
        Crash::default(),
        7,
        |pool, step| {
            let outcome = pool.try_txn(|tx| -> Result<(), Error> {
                let map = &mut tx.root_mut().map;
                match step {
                    // Fresh nodes only: three levels, logging the map alone.
                    0 => (0..200).try_for_each(|key| map.insert(key * 2, key).map(drop))?,
                    // Into existing leaves, in place and with leaf splits (a parent changed
                    // in place), a replaced value, and a changed one.
                    1 => {
                        (0..30).try_for_each(|key| map.insert(key * 2 + 1, key).map(drop))?;
                        map.insert(100, 7)?;
                        *map.get_mut(&102)?.expect("102") += 1;
                    }
                    // Enough leaf splits to split an internal node too.
                    2 => (0..100).try_for_each(|key| map.insert(key * 2 + 201, key).map(drop))?,
                    // From leaves and internal nodes: merges and redistributions.
                    3 => (0..60).try_for_each(|key| map.remove(&(key * 5)).map(drop))?,
                    // Rolled back.
                    4 => {
                        map.remove(&1)?;
                        map.insert(10_000, 0)?;
                        return Err(Error::NoTransaction);
                    }
                    // Down to two levels.
                    5 => (0..300).try_for_each(|key| map.remove(&key).map(drop))?,
                    _ => map.clear(),
                }
                Ok(())
            });
            assert_eq!(outcome.is_err(), step == 4);
        },
        |pool| {
            pool.root()
                .map
                .iter(pool)
                .expect("iter")
                .map(|entry| entry.map(|(&k, &v)| (k, v)))
                .collect::<Result<Vec<_>, _>>()
                .expect("entries")
        },
        4,
    );
    println!("btree: {report:?}");
    assert!(report.crash_points >= 150, "{report:?}");
}
