//! Persistent collections against their std counterparts: random operation sequences
//! (proptest), the cost of each operation, what is refused, and crashes at every fence.

use pmem::simulation::{ScratchFile, check_every_fence_observing};
use pmem::{Error, PHashMap, PMut, PString, PVec, Persistent, Pool, Stats, txn};
use proptest::prelude::*;

#[derive(Persistent, Default)]
#[repr(C)]
struct Root {
    numbers: PVec<u64>,
    words: PVec<PString>,
    name: PString,
}

#[derive(Clone, Debug)]
enum Op {
    Push(u64),
    Pop,
    Insert(usize, u64),
    Remove(usize),
    Truncate(usize),
    Extend(Vec<u64>),
    Set(usize, u64),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u64>().prop_map(Op::Push),
        2 => Just(Op::Pop),
        1 => (any::<usize>(), any::<u64>()).prop_map(|(at, value)| Op::Insert(at, value)),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::Truncate),
        1 => proptest::collection::vec(any::<u64>(), 0..40).prop_map(Op::Extend),
        1 => (any::<usize>(), any::<u64>()).prop_map(|(at, value)| Op::Set(at, value)),
        1 => Just(Op::Clear),
    ]
}

/// Applies `op` to the persistent vector and to `model`, and returns what each gave back.
fn apply(numbers: &mut PVec<u64>, model: &mut Vec<u64>, op: &Op) -> Result<Option<u64>, Error> {
    Ok(match *op {
        Op::Push(value) => {
            numbers.push(value)?;
            model.push(value);
            None
        }
        Op::Pop => {
            let popped = numbers.pop()?;
            assert_eq!(popped, model.pop());
            popped
        }
        Op::Insert(at, value) => {
            let at = at % (model.len() + 1);
            numbers.insert(at, value)?;
            model.insert(at, value);
            None
        }
        Op::Remove(at) if !model.is_empty() => {
            let at = at % model.len();
            let removed = numbers.remove(at)?;
            assert_eq!(removed, model.remove(at));
            Some(removed)
        }
        Op::Remove(_) => None,
        Op::Truncate(len) => {
            let len = len % (model.len() + 2);
            numbers.truncate(len)?;
            model.truncate(len);
            None
        }
        Op::Extend(ref values) => {
            numbers.extend_from_slice(values)?;
            model.extend_from_slice(values);
            None
        }
        Op::Set(at, value) if !model.is_empty() => {
            let at = at % model.len();
            let mut elements = numbers.as_mut_slice()?.expect("a buffer");
            elements.at(at).set(value);
            model[at] = value;
            None
        }
        Op::Set(..) => None,
        Op::Clear => {
            numbers.clear()?;
            model.clear();
            None
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Each op in its own transaction; every few, one rolled back, which must leave both as
    /// they were. The pool is reopened at the end.
    #[test]
    fn a_pvec_behaves_like_a_vec(ops in proptest::collection::vec(op(), 1..120)) {
        let file = ScratchFile::new("collections-vec-model");
        let mut pool = Pool::create(file.path(), Root::default()).expect("create");
        let mut model = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            if index % 7 == 3 {
                let mut scratch = model.clone();
                let outcome = pool.try_txn(|tx| -> Result<(), Error> {
                    apply(&mut tx.root_mut().numbers, &mut scratch, op)?;
                    Err(Error::NoTransaction)
                });
                prop_assert!(outcome.is_err());
            } else {
                pool.try_txn(|tx| apply(&mut tx.root_mut().numbers, &mut model, op))
                    .expect("op");
            }
            let numbers = &pool.root().numbers;
            prop_assert_eq!(numbers.as_slice(&pool).expect("read"), &model[..]);
        }
        drop(pool);
        let pool = pmem_tests::open_collecting::<Root>(file.path()).expect("reopen");
        prop_assert_eq!(pool.root().numbers.as_slice(&pool).expect("read"), &model[..]);
        prop_assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    }

    /// Several ops in each transaction (a pop and a push into the slot it vacated, a
    /// truncation and pushes after it), every third transaction rolled back, which must
    /// leave the vector as it was before the whole transaction.
    #[test]
    fn a_pvec_behaves_like_a_vec_across_transactions_of_several_ops(
        transactions in proptest::collection::vec(proptest::collection::vec(op(), 1..8), 1..40)
    ) {
        let file = ScratchFile::new("collections-vec-model-several");
        let mut pool = Pool::create(file.path(), Root::default()).expect("create");
        let mut model = Vec::new();
        for (index, ops) in transactions.iter().enumerate() {
            let roll_back = index % 3 == 2;
            let mut scratch = model.clone();
            let outcome = pool.try_txn(|tx| -> Result<(), Error> {
                let numbers = &mut tx.root_mut().numbers;
                for op in ops {
                    apply(numbers, &mut scratch, op)?;
                }
                if roll_back {
                    return Err(Error::NoTransaction);
                }
                Ok(())
            });
            prop_assert_eq!(outcome.is_err(), roll_back);
            if !roll_back {
                model = scratch;
            }
            let numbers = &pool.root().numbers;
            prop_assert_eq!(numbers.as_slice(&pool).expect("read"), &model[..]);
        }
        drop(pool);
        let pool = Pool::<Root>::open(file.path()).expect("reopen");
        prop_assert_eq!(pool.root().numbers.as_slice(&pool).expect("read"), &model[..]);
    }
}

#[test]
fn strings_in_a_vector_of_strings_survive_a_reopen() {
    let file = ScratchFile::new("collections-strings");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.name.push_str("hash")?;
        root.name.push('🗺')?;
        for word in ["alpha", "beta", "gamma"] {
            root.words.push(PString::from_str_in(word)?)?;
        }
        let mut words = root.words.as_mut_slice()?.expect("a buffer");
        words.at(0).push_str("-one")?;
        Ok(())
    })
    .expect("fill");
    drop(pool);
    let pool = pmem_tests::open_collecting::<Root>(file.path()).expect("reopen");
    let root = pool.root();
    assert_eq!(root.name.as_str(&pool).expect("name"), "hash🗺");
    let words: Vec<&str> = root
        .words
        .iter(&pool)
        .expect("words")
        .map(|word| word.as_str(&pool).expect("word"))
        .collect();
    assert_eq!(words, ["alpha-one", "beta", "gamma"]);
    assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    let live = pool.heap_stats().allocated_objects;
    assert_eq!(
        live,
        1 + 3 + 1,
        "the words' buffer, three words and the name"
    );
}

#[test]
fn a_push_logs_the_length_and_a_slot_only_if_its_element_holds_pointers() {
    let file = ScratchFile::new("collections-costs");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.try_txn(|tx| tx.root_mut().numbers.extend_from_slice(&[0; 100]))
        .expect("fill");
    let before = Stats::current_thread();
    pool.try_txn(|tx| tx.root_mut().numbers.push(7))
        .expect("push");
    let cost = Stats::current_thread() - before;
    // The buffer was full (100 of 100), so this push moved the elements to a new buffer of
    // 200, which this transaction allocated: only the root is logged, whole, since
    // `DerefMut` logs it (48 bytes, more than the 40 a first store into a line logs).
    assert_eq!(cost.logged_bytes, 48, "{cost:?}");
    assert_eq!(cost.fences, 1 + 2, "one entry and the commit");
    let before = Stats::current_thread();
    pool.try_txn(|tx| tx.root_mut().numbers.push(8))
        .expect("push");
    let cost = Stats::current_thread() - before;
    // The root, as above; the new slot, a `u64`'s, which holds no pointer, is only
    // written back (`store_spare`).
    assert_eq!(cost.logged_bytes, 48, "{cost:?}");
    assert_eq!(cost.fences, 1 + 2, "one entry and the commit");
    assert_eq!(
        cost.lines_flushed,
        2 + 3,
        "the entry's two lines, the vector's, the slot's and the generation's"
    );
    let before = Stats::current_thread();
    pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        for value in 0..150 {
            root.numbers.push(value)?;
        }
        Ok(())
    })
    .expect("pushes");
    let cost = Stats::current_thread() - before;
    // From 102 to 252 elements, growing to 400 on the way: only the root.
    assert_eq!(cost.logged_bytes, 48, "{cost:?}");
    assert_eq!(
        pool.root().numbers.capacity(&pool).expect("capacity"),
        400,
        "grown to twice the capacity"
    );
    pool.try_txn(|tx| tx.root_mut().words.push(PString::new()))
        .expect("first word");
    let before = Stats::current_thread();
    pool.try_txn(|tx| tx.root_mut().words.push(PString::new()))
        .expect("second word");
    let cost = Stats::current_thread() - before;
    // A `PString` holds a pointer: its slot is logged, so that a rollback puts back the
    // zeros the collector traces (the root, and 40 bytes of the slot's line).
    assert_eq!(cost.logged_bytes, 48 + 40, "{cost:?}");
    assert_eq!(cost.fences, 2 + 2, "two entries and the commit");
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Sample {
    at: [u64; 2],
    weight: f64,
}

#[derive(Persistent)]
#[repr(C)]
struct Linked {
    value: u64,
    next: pmem::PPtr<Linked>,
}

fn pointer_free_agrees_with_the_pointer_map<T: Persistent>() -> bool {
    let map = pmem::PointerMap::of::<T>();
    assert_eq!(
        T::POINTER_FREE,
        map.is_empty(),
        "{}: POINTER_FREE says {}, describe_pointers adds {:?}",
        core::any::type_name::<T>(),
        T::POINTER_FREE,
        map.runs()
    );
    T::POINTER_FREE
}

/// A spare slot of a `POINTER_FREE` element is stored to without an undo entry, so the
/// constant must be `true` only where the collector finds no pointer.
#[test]
fn pointer_free_types_are_those_without_described_pointers() {
    assert!(pointer_free_agrees_with_the_pointer_map::<u64>());
    assert!(pointer_free_agrees_with_the_pointer_map::<[u8; 16]>());
    assert!(pointer_free_agrees_with_the_pointer_map::<Sample>());
    assert!(pointer_free_agrees_with_the_pointer_map::<[Sample; 3]>());
    assert!(!pointer_free_agrees_with_the_pointer_map::<Linked>());
    assert!(!pointer_free_agrees_with_the_pointer_map::<[Linked; 2]>());
    assert!(!pointer_free_agrees_with_the_pointer_map::<pmem::PPtr<u64>>());
    assert!(!pointer_free_agrees_with_the_pointer_map::<PString>());
    assert!(!pointer_free_agrees_with_the_pointer_map::<PVec<u64>>());
    assert!(!pointer_free_agrees_with_the_pointer_map::<Root>());
}

#[test]
fn a_collection_changes_only_in_a_transaction_on_its_own_pool() {
    let mut volatile = PVec::<u64>::new();
    assert!(matches!(volatile.push(1), Err(Error::NoTransaction)));
    let file = ScratchFile::new("collections-refused");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    let outcome = pool.try_txn(|_| volatile.push(1));
    assert!(
        matches!(outcome, Err(Error::NoTransaction)),
        "a vector outside the pool: {outcome:?}"
    );
    pool.try_txn(|tx| tx.root_mut().numbers.push(5))
        .expect("push");
    assert_eq!(pool.root().numbers.as_slice(&pool).expect("read"), [5]);
}

#[test]
fn a_damaged_string_or_length_is_refused() {
    let file = ScratchFile::new("collections-damaged");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.try_txn(|tx| tx.root_mut().name.push_str("valid"))
        .expect("name");
    pool.try_txn(|tx| tx.root_mut().numbers.extend_from_slice(&[1, 2, 3]))
        .expect("numbers");
    drop(pool);
    // The root follows the header page; a `PVec` starts with its length.
    let numbers_len_at = pmem::format::HEADER_LEN + core::mem::offset_of!(Root, numbers);
    let mut bytes = file.contents();
    let name_at = bytes
        .windows(5)
        .position(|window| window == b"valid")
        .expect("the name's bytes");
    bytes[name_at] = 0xff;
    bytes[numbers_len_at..numbers_len_at + 8].copy_from_slice(&9u64.to_le_bytes());
    std::fs::write(file.path(), &bytes).expect("write");
    let pool = Pool::<Root>::open(file.path()).expect("open");
    assert!(matches!(
        pool.root().name.as_str(&pool),
        Err(Error::CollectionDamaged {
            what: "a PString's bytes are not UTF-8",
            ..
        })
    ));
    assert!(matches!(
        pool.root().numbers.as_slice(&pool),
        Err(Error::CollectionDamaged {
            what: "a PVec's length exceeds its buffer",
            ..
        })
    ));
}

#[txn]
fn push_twice(mut root: PMut<'_, Root>, value: u64) -> Result<(), Error> {
    let numbers = &mut root.numbers;
    numbers.push(value)?;
    numbers.push(value + 1)
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Lists {
    numbers: PVec<u64>,
    label: PString,
}

#[test]
fn pushes_pops_and_growth_are_all_or_nothing_at_every_fence() {
    let report = check_every_fence_observing(
        "collections-crash",
        Lists::default(),
        9,
        |pool, step| {
            let outcome = pool.try_txn(|tx| -> Result<(), Error> {
                let mut root = tx.root_mut();
                match step {
                    // Growth from nothing, to 4, to 8.
                    0..=2 => {
                        for value in 0..3 {
                            root.numbers.push((step * 10 + value) as u64)?;
                        }
                    }
                    3 => {
                        root.numbers.pop()?;
                        root.numbers.insert(1, 99)?;
                    }
                    4 => {
                        root.numbers.remove(0)?;
                        root.label.push_str("crash")?;
                    }
                    5 => root.numbers.truncate(2)?,
                    6 => {
                        root.numbers.extend_from_slice(&[7; 20])?;
                        root.label.push_str("-proof")?;
                    }
                    7 => root.numbers.clear()?,
                    _ => {
                        root.numbers.push(1)?;
                        return Err(Error::NoTransaction);
                    }
                }
                Ok(())
            });
            assert_eq!(outcome.is_err(), step == 8);
        },
        |pool| {
            let root = pool.root();
            (
                root.numbers.as_slice(pool).expect("numbers").to_vec(),
                root.label.as_str(pool).expect("label").to_owned(),
            )
        },
        6,
    );
    println!("collections: {report:?}");
    assert!(report.crash_points >= 8 * 3, "{report:?}");
}

/// The same changes to a vector of numbers (whose spare slots take no undo entry) and to a
/// vector of strings (whose slots hold pointers, and are logged).
#[derive(Persistent, Default)]
#[repr(C)]
struct Spares {
    numbers: PVec<u64>,
    words: PVec<PString>,
}

impl Spares {
    fn push(&mut self, value: u64) -> Result<(), Error> {
        self.numbers.push(value)?;
        self.words.push(PString::from_str_in(&value.to_string())?)
    }

    fn pop(&mut self) -> Result<(), Error> {
        self.numbers.pop()?;
        self.words.pop()?;
        Ok(())
    }

    fn truncate(&mut self, len: usize) -> Result<(), Error> {
        self.numbers.truncate(len)?;
        self.words.truncate(len)
    }

    fn extend(&mut self, values: &[u64]) -> Result<(), Error> {
        self.numbers.extend_from_slice(values)?;
        for &value in values {
            self.words.push(PString::from_str_in(&value.to_string())?)?;
        }
        Ok(())
    }

    /// The numbers, and the words read as numbers (which they must all be).
    fn contents(&self, pool: &Pool<Self>) -> (Vec<u64>, Vec<u64>) {
        let words = self
            .words
            .iter(pool)
            .expect("words")
            .map(|word| word.as_str(pool).expect("word").parse().expect("a number"))
            .collect();
        (
            self.numbers.as_slice(pool).expect("numbers").to_vec(),
            words,
        )
    }
}

/// The steps of the spare-slot tests: pushes into spare slots (fresh ones, ones a pop or a
/// truncation vacated in the same transaction), committed or rolled back (`Err`).
fn spare_step(root: &mut Spares, step: usize) -> Result<(), Error> {
    match step {
        // Growth from nothing to 4, then a push into a spare slot of that buffer.
        0 => (1..=3).try_for_each(|value| root.push(value)),
        1 => root.push(4),
        // Push, pop and push in one transaction: growing to 8, then not.
        2 => {
            root.push(5)?;
            root.pop()?;
            root.push(6)
        }
        3 => {
            root.push(7)?;
            root.pop()?;
            root.push(8)
        }
        // A pop vacates the slot that holds 8, a push fills it, the transaction is rolled
        // back: 8 must be back.
        4 => {
            root.pop()?;
            root.push(9)?;
            Err(Error::NoTransaction)
        }
        5 => {
            root.pop()?;
            root.pop()?;
            root.push(10)
        }
        // Pushes past the length, in lines nothing else logs, rolled back.
        6 => {
            root.push(14)?;
            root.push(15)?;
            Err(Error::NoTransaction)
        }
        // Truncate, then push into the vacated slots, committed and rolled back.
        7 => {
            root.truncate(2)?;
            root.push(11)?;
            root.push(12)
        }
        8 => {
            root.truncate(1)?;
            root.push(13)?;
            Err(Error::NoTransaction)
        }
        _ => {
            root.extend(&[20, 21, 22])?;
            root.pop()
        }
    }
}

/// What the vectors hold after each of `spare_step`'s steps.
const SPARE_STEPS: [&[u64]; 10] = [
    &[1, 2, 3],
    &[1, 2, 3, 4],
    &[1, 2, 3, 4, 6],
    &[1, 2, 3, 4, 6, 8],
    &[1, 2, 3, 4, 6, 8],
    &[1, 2, 3, 4, 10],
    &[1, 2, 3, 4, 10],
    &[1, 2, 11, 12],
    &[1, 2, 11, 12],
    &[1, 2, 11, 12, 20, 21],
];

fn run_spare_step(pool: &mut Pool<Spares>, step: usize) {
    let outcome = pool.try_txn(|tx| spare_step(&mut tx.root_mut(), step));
    assert_eq!(outcome.is_err(), matches!(step, 4 | 6 | 8), "step {step}");
}

/// Each step leaves what a `Vec` would (the rolled-back ones, what they found), and so does
/// the pool reopened after the last; and a collection after each finds alive only the two
/// buffers and the strings the words hold: a string a rolled-back push left in a spare
/// slot would stay alive (the collector traces whole buffers).
#[test]
fn pushes_into_spare_slots_commit_and_roll_back_like_a_vec() {
    let file = ScratchFile::new("collections-spare-model");
    let mut pool = Pool::create(file.path(), Spares::default()).expect("create");
    for (step, &expected) in SPARE_STEPS.iter().enumerate() {
        run_spare_step(&mut pool, step);
        let contents = pool.root().contents(&pool);
        assert_eq!(
            contents,
            (expected.to_vec(), expected.to_vec()),
            "step {step}"
        );
        let collection = pool.collect().expect("collect");
        assert_eq!(
            collection.live_objects,
            2 + expected.len() as u64,
            "step {step}: {collection:?}"
        );
    }
    drop(pool);
    let pool = pmem_tests::open_collecting::<Spares>(file.path()).expect("reopen");
    assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    let last = SPARE_STEPS[SPARE_STEPS.len() - 1].to_vec();
    assert_eq!(pool.root().contents(&pool), (last.clone(), last));
}

/// The same steps, crashed at every fence: each recovered image holds the vectors before or
/// after the step, and its collection at open finds no dangling pointer (a string left in a
/// spare slot by a rollback would be one, once the string it named was freed).
#[test]
fn pushes_into_spare_slots_are_all_or_nothing_at_every_fence() {
    let report = check_every_fence_observing(
        "collections-spare-crash",
        Spares::default(),
        SPARE_STEPS.len(),
        run_spare_step,
        |pool| pool.root().contents(pool),
        6,
    );
    println!("spare slots: {report:?}");
    assert!(report.crash_points >= SPARE_STEPS.len() * 3, "{report:?}");
}

#[test]
fn a_txn_function_changes_a_vector_through_a_narrowed_borrow() {
    let file = ScratchFile::new("collections-txn-fn");
    let mut pool = Pool::create(file.path(), Root::default()).expect("create");
    pool.txn(|tx| push_twice(tx.root_mut(), 10)).expect("push");
    assert_eq!(pool.root().numbers.as_slice(&pool).expect("read"), [10, 11]);
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Pair {
    first: PVec<u64>,
    second: PVec<u64>,
}

#[test]
fn two_vectors_sharing_a_buffer_in_a_damaged_file_are_caught() {
    let file = ScratchFile::new("collections-shared-buffer");
    let mut pool = Pool::create(file.path(), Pair::default()).expect("create");
    pool.try_txn(|tx| tx.root_mut().first.extend_from_slice(&[1, 2, 3]))
        .expect("fill");
    drop(pool);
    // The second vector becomes a copy of the first: length and buffer.
    let (first, second) = (
        pmem::format::HEADER_LEN + core::mem::offset_of!(Pair, first),
        pmem::format::HEADER_LEN + core::mem::offset_of!(Pair, second),
    );
    let mut bytes = file.contents();
    bytes.copy_within(first..first + size_of::<PVec<u64>>(), second);
    std::fs::write(file.path(), &bytes).expect("write");
    let mut pool = Pool::<Pair>::open(file.path()).expect("open");
    assert_eq!(pool.root().second.as_slice(&pool).expect("read"), [1, 2, 3]);
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.first.push(4)?;
        root.second.push(5)
    });
    assert!(
        matches!(outcome, Err(Error::InvalidPointer { reason, .. }) if reason.starts_with("another collection changed this buffer")),
        "{outcome:?}"
    );
    assert_eq!(
        pool.root().first.as_slice(&pool).expect("read"),
        [1, 2, 3],
        "rolled back"
    );
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Maps {
    counts: PHashMap<u64, u64>,
    names: PHashMap<[u8; 16], PString>,
}

#[derive(Clone, Debug)]
enum MapOp {
    Insert(u64, u64),
    Remove(u64),
    Add(u64, u64),
    Clear,
}

fn map_op() -> impl Strategy<Value = MapOp> {
    // Few distinct keys, so that inserts replace, removals hit, and probe runs collide.
    let key = 0..64u64;
    prop_oneof![
        8 => (key.clone(), any::<u64>()).prop_map(|(key, value)| MapOp::Insert(key, value)),
        4 => key.clone().prop_map(MapOp::Remove),
        2 => (key, 0..1000u64).prop_map(|(key, value)| MapOp::Add(key, value)),
        1 => Just(MapOp::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_phashmap_behaves_like_a_hashmap(ops in proptest::collection::vec(map_op(), 1..150)) {
        let file = ScratchFile::new("collections-map-model");
        let mut pool = Pool::create(file.path(), Maps::default()).expect("create");
        let mut model = std::collections::HashMap::new();
        for op in &ops {
            let answer = pool.try_txn(|tx| -> Result<Option<u64>, Error> {
                let counts = &mut tx.root_mut().counts;
                Ok(match *op {
                    MapOp::Insert(key, value) => counts.insert(key, value)?,
                    MapOp::Remove(key) => counts.remove(&key)?,
                    MapOp::Add(key, value) => {
                        let mut count = counts.get_or_insert_with(key, || 0)?;
                        *count += value;
                        Some(*count)
                    }
                    MapOp::Clear => {
                        counts.clear()?;
                        None
                    }
                })
            }).expect("op");
            let expected = match *op {
                MapOp::Insert(key, value) => model.insert(key, value),
                MapOp::Remove(key) => model.remove(&key),
                MapOp::Add(key, value) => {
                    let count = model.entry(key).or_insert(0);
                    *count += value;
                    Some(*count)
                }
                MapOp::Clear => {
                    model.clear();
                    None
                }
            };
            prop_assert_eq!(answer, expected, "{:?}", op);
            let counts = &pool.root().counts;
            prop_assert_eq!(counts.len(), model.len());
            for key in 0..64 {
                prop_assert_eq!(counts.get(&pool, &key).expect("get").copied(), model.get(&key).copied());
            }
        }
        drop(pool);
        let pool = Pool::<Maps>::open(file.path()).expect("reopen");
        let mut entries: Vec<(u64, u64)> = pool.root().counts.iter(&pool).expect("iter").map(|(&k, &v)| (k, v)).collect();
        entries.sort_unstable();
        let mut expected: Vec<(u64, u64)> = model.into_iter().collect();
        expected.sort_unstable();
        prop_assert_eq!(entries, expected, "the same after a reopen: the seed is stored");
    }
}

#[test]
fn map_values_may_be_strings_and_each_map_has_its_own_seed() {
    let file = ScratchFile::new("collections-map-strings");
    let mut pool = Pool::create(file.path(), Maps::default()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        for index in 0..100u8 {
            let mut key = [0; 16];
            key[0] = index;
            let name = PString::from_str_in(&format!("name {index}"))?;
            root.names.insert(key, name)?;
            root.counts.insert(u64::from(index), u64::from(index) * 2)?;
        }
        let mut key = [0; 16];
        key[0] = 7;
        root.names.get_mut(&key)?.expect("seven").push_str("!")?;
        Ok(())
    })
    .expect("fill");
    drop(pool);
    let pool = pmem_tests::open_collecting::<Maps>(file.path()).expect("reopen");
    let root = pool.root();
    let mut key = [0; 16];
    key[0] = 7;
    let seven = root.names.get(&pool, &key).expect("get").expect("seven");
    assert_eq!(seven.as_str(&pool).expect("str"), "name 7!");
    assert_eq!(root.counts.get(&pool, &99).expect("get"), Some(&198));
    assert_eq!(pmem_tests::collected_at_open(&pool).dangling_pointers, 0);
    // Iteration follows slot order, which the seed decides: two maps given the same keys
    // order them differently unless their seeds agree (a chance of 1 in 100!).
    let first_keys: Vec<u64> = root
        .counts
        .iter(&pool)
        .expect("iter")
        .map(|(&k, _)| k)
        .collect();
    let file2 = ScratchFile::new("collections-map-strings-2");
    let mut other = Pool::create(file2.path(), Maps::default()).expect("create");
    other
        .txn(|tx| -> Result<(), Error> {
            for index in 0..100u64 {
                tx.root_mut().counts.insert(index, 0)?;
            }
            Ok(())
        })
        .expect("fill");
    let other_keys: Vec<u64> = other
        .root()
        .counts
        .iter(&other)
        .expect("iter")
        .map(|(&k, _)| k)
        .collect();
    assert_ne!(first_keys, other_keys, "another seed, another order");
}

#[test]
fn a_map_insert_logs_the_length_and_one_slot() {
    let file = ScratchFile::new("collections-map-costs");
    let mut pool = Pool::create(file.path(), Maps::default()).expect("create");
    pool.txn(|tx| -> Result<(), Error> {
        for key in 0..100 {
            tx.root_mut().counts.insert(key, key)?;
        }
        Ok(())
    })
    .expect("fill");
    let before = Stats::current_thread();
    pool.txn(|tx| insert_count(tx.root_mut(), 1000, 1))
        .expect("insert");
    let cost = Stats::current_thread() - before;
    // The map's 48 bytes in the root (the `&mut` to it logs it whole), and 40 bytes of
    // the lines of the slot's hash, key and value.
    assert_eq!(cost.logged_bytes, 48 + 3 * 40, "{cost:?}");
    assert_eq!(cost.fences, 4 + 2, "four entries and the commit");
    let before = Stats::current_thread();
    pool.txn(|tx| tx.root_mut().counts.insert(1001, 1))
        .expect("insert");
    let cost = Stats::current_thread() - before;
    // Without `#[txn]`, `.counts` goes through `DerefMut`, which logs the whole root: 96
    // bytes over two lines, the second logged whole since it follows the first, in one
    // entry; the slot as before.
    assert_eq!(cost.logged_bytes, 2 * 64 + 3 * 40, "{cost:?}");
    assert_eq!(cost.fences, 4 + 2);
}

#[txn]
fn insert_count(mut root: PMut<'_, Maps>, key: u64, value: u64) -> Result<Option<u64>, Error> {
    let counts = &mut root.counts;
    counts.insert(key, value)
}

#[test]
fn map_inserts_growth_and_removals_are_all_or_nothing_at_every_fence() {
    let report = check_every_fence_observing(
        "collections-map-crash",
        Maps::default(),
        6,
        |pool, step| {
            pool.txn(|tx| -> Result<(), Error> {
                let counts = &mut tx.root_mut().counts;
                match step {
                    // 0..6 fit 8 slots; the seventh grows them to 16.
                    0 => (0..6).try_for_each(|key| counts.insert(key, key).map(drop))?,
                    1 => {
                        counts.insert(6, 6)?;
                    }
                    2 => {
                        counts.remove(&3)?;
                        counts.remove(&0)?;
                    }
                    3 => {
                        *counts.get_or_insert_with(50, || 5)? += 1;
                    }
                    4 => (100..120).try_for_each(|key| counts.insert(key, 1).map(drop))?,
                    _ => counts.clear()?,
                }
                Ok(())
            })
            .expect("step");
        },
        |pool| {
            let mut entries: Vec<(u64, u64)> = pool
                .root()
                .counts
                .iter(pool)
                .expect("iter")
                .map(|(&k, &v)| (k, v))
                .collect();
            entries.sort_unstable();
            entries
        },
        6,
    );
    println!("map: {report:?}");
    assert!(report.crash_points >= 6 * 2, "{report:?}");
}

#[derive(Persistent, Default)]
#[repr(C)]
struct Built {
    numbers: PVec<u64>,
    labels: PVec<PString>,
    squares: PHashMap<u64, u64>,
    sorted: pmem::PBTreeMap<u64, PString>,
}

#[test]
fn extend_builds_vectors_and_maps_from_iterators_and_a_failure_rolls_it_back() {
    let file = ScratchFile::new("collections-extend");
    let mut pool = Pool::create(file.path(), Built::default()).expect("create");
    pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.numbers.extend(0..50)?;
        // No size hint: grown push by push.
        root.numbers
            .extend((50..60).filter(|value| value % 2 == 0))?;
        let labels: Vec<PString> = (0..3)
            .map(|index| PString::from_str_in(&format!("label {index}")))
            .collect::<Result<_, _>>()?;
        root.labels.extend(labels)?;
        root.squares
            .extend((0..40).map(|value| (value, value * value)))?;
        root.squares.extend([(3, 0)])?;
        let words: Vec<(u64, PString)> = [(2, "two"), (1, "one"), (3, "three")]
            .into_iter()
            .map(|(key, word)| Ok((key, PString::from_str_in(word)?)))
            .collect::<Result<_, Error>>()?;
        root.sorted.extend(words)?;
        Ok(())
    })
    .expect("extend");
    let expected: Vec<u64> = (0..50).chain((50..60).step_by(2)).collect();
    let check = |pool: &Pool<Built>| {
        let root = pool.root();
        assert_eq!(root.numbers.as_slice(pool).expect("numbers"), expected);
        let labels: Vec<&str> = root
            .labels
            .iter(pool)
            .expect("labels")
            .map(|label| label.as_str(pool).expect("a label"))
            .collect();
        assert_eq!(labels, ["label 0", "label 1", "label 2"]);
        assert_eq!(root.squares.len(), 40);
        assert_eq!(root.squares.get(pool, &7).expect("get"), Some(&49));
        assert_eq!(
            root.squares.get(pool, &3).expect("get"),
            Some(&0),
            "replaced"
        );
        let words: Vec<(u64, String)> = root
            .sorted
            .iter(pool)
            .expect("iter")
            .map(|entry| {
                let (key, word) = entry.expect("an entry");
                (*key, word.as_str(pool).expect("a word").to_owned())
            })
            .collect();
        assert_eq!(
            words,
            [
                (1, "one".to_owned()),
                (2, "two".to_owned()),
                (3, "three".to_owned())
            ]
        );
    };
    check(&pool);
    let outcome = pool.try_txn(|tx| -> Result<(), Error> {
        let mut root = tx.root_mut();
        root.numbers.extend(100..200)?;
        root.squares
            .extend((100..200).map(|value| (value, value)))?;
        Err(Error::NoTransaction)
    });
    assert!(matches!(outcome, Err(Error::NoTransaction)), "{outcome:?}");
    check(&pool);
    drop(pool);
    check(&Pool::open(file.path()).expect("reopen"));
}
