//! Helpers shared by pmem's integration tests (in `tests/`), and the types their pools hold.

use pmem::{PPtr, Persistent};

/// The pool offset in the `PSlice` field `field` of a collection's `Debug` output
/// (`debug`): the buffer pointer a collection keeps private, which tests of damaged or
/// duplicated collections need (safe code: `PSlice::from_offset` is public).
///
/// # Panics
///
/// If `debug` shows no such field.
#[must_use]
pub fn pslice_field(debug: &str, field: &str) -> u64 {
    let start = debug
        .find(&format!("{field}: PSlice(0x"))
        .unwrap_or_else(|| panic!("no {field} in {debug}"))
        + field.len()
        + ": PSlice(0x".len();
    let end = start + debug[start..].find(')').expect("a closing parenthesis");
    u64::from_str_radix(&debug[start..end], 16).expect("a hex offset")
}

/// Marsaglia's xorshift64 step: the tests' deterministic pseudo-random numbers.
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The root type most pool tests use: a few balances, an owner name, and a pointer that
/// the tests aim at the root itself.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Ledger {
    /// Account balances.
    pub balances: [u64; 4],
    /// The owner's name, zero-padded.
    pub owner: [u8; 16],
    /// A persistent pointer, aimed at the root by the tests.
    pub home: PPtr<Ledger>,
}

impl Ledger {
    /// A ledger with recognisable contents.
    #[must_use]
    pub fn sample(home: PPtr<Ledger>) -> Self {
        let mut owner = [0u8; 16];
        owner[..5].copy_from_slice(b"alice");
        Self {
            balances: [100, 200, 300, 400],
            owner,
            home,
        }
    }
}

/// A root type with exactly the layout of [`Ledger`] under another name: a pool made for
/// one must refuse to open as the other.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct Journal {
    /// As in [`Ledger`].
    pub balances: [u64; 4],
    /// As in [`Ledger`].
    pub owner: [u8; 16],
    /// As in [`Ledger`].
    pub home: PPtr<Journal>,
}

/// A root of 64 counters: eight cache lines, so a transaction over all of them writes
/// eight log entries.
pub type Counters = [u64; 64];

/// The counters `0, 1, 2, ...`.
#[must_use]
pub fn counting() -> Counters {
    core::array::from_fn(|index| index as u64)
}

/// A node of the [`Stack`] the heap kill test's child pushes and pops.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct StackNode {
    /// The node's value.
    pub value: u64,
    /// `!value`: a node whose two words disagree was torn.
    pub check: u64,
    /// The node below.
    pub next: PPtr<StackNode>,
}

/// The root of the heap kill test: a stack of nodes in the heap, and its depth.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Stack {
    /// The top node, or null.
    pub top: PPtr<StackNode>,
    /// How many nodes the stack holds.
    pub depth: u64,
}

/// What the collection at open found, for a pool opened with
/// [`collect_at_open`](pmem::PoolOptions::collect_at_open).
///
/// # Panics
///
/// If the open did not collect.
#[must_use]
pub fn collected_at_open<R: Persistent>(pool: &pmem::Pool<R>) -> pmem::Collection {
    pool.info()
        .collection_at_open
        .expect("the pool was opened with collect_at_open(true)")
}

/// Opens the pool at `path` as a program does, but collecting at open, so that
/// [`collected_at_open`] says what the collection found.
///
/// # Errors
///
/// As [`PoolOptions::open`](pmem::PoolOptions::open).
pub fn open_collecting<R: Persistent>(
    path: impl AsRef<std::path::Path>,
) -> Result<pmem::Pool<R>, pmem::Error> {
    open_either_way(path, true)
}

/// Opens the pool at `path` with a collection at open or without, as the caller chooses
/// (a kill loop alternates, so that both opens recover every kind of crash).
///
/// # Errors
///
/// As [`PoolOptions::open`](pmem::PoolOptions::open).
pub fn open_either_way<R: Persistent>(
    path: impl AsRef<std::path::Path>,
    collect_at_open: bool,
) -> Result<pmem::Pool<R>, pmem::Error> {
    pmem::PoolOptions::new()
        .collect_at_open(collect_at_open)
        .open(path)
}

/// The pool's first collection since it was opened: the one at open, or, if the open left
/// it for later, one run now.
///
/// # Panics
///
/// If the collection fails.
pub fn first_collection<R: Persistent>(pool: &mut pmem::Pool<R>) -> pmem::Collection {
    match pool.info().collection_at_open {
        Some(collection) => collection,
        None => pool.collect().expect("the first collection"),
    }
}

pub mod forge;
pub mod fuzz;
pub mod shared_workloads;
pub mod workloads;

/// A pool's object graph as a tool sees it, independent of where its objects lie: per
/// object reachable from the roots, in the breadth-first order of
/// [`UntypedPool::walk`](pmem::inspect::UntypedPool::walk), its type's name, its element
/// count, and its value's words (a slice's up to its length), with each pointer word
/// replaced by the walk index of the object it points at (`u64::MAX - 1` for the root's
/// inside, `u64::MAX` for null); then the named roots as (name, walk index). Two pools
/// hold the same graph, moved or not, exactly when their signatures are equal.
///
/// # Panics
///
/// If the pool cannot be opened read-only or walked.
#[must_use]
pub fn graph_signature(path: &std::path::Path) -> GraphSignature {
    use pmem::inspect::{PointerTarget, TypeKind, UntypedPool};
    let pool = UntypedPool::open_read_only(path).expect("open read-only");
    let types = pool.types();
    let mut visits = Vec::new();
    pool.walk(|object| visits.push(object.clone()))
        .expect("walk");
    let index: std::collections::HashMap<u64, u64> = visits
        .iter()
        .enumerate()
        .map(|(at, object)| (object.offset, at as u64))
        .collect();
    let objects = visits
        .iter()
        .map(|object| {
            let info = &types[object.type_index as usize];
            let len = match (info.kind, object.elements) {
                (TypeKind::Slice, Some(elements)) => {
                    pmem::inspect::slice_header_len(info.align) as u64 + elements * info.size
                }
                _ => info.size,
            };
            let mut words = pool.words(object.offset, len);
            for pointer in &object.pointers {
                let word = ((pointer.at - object.offset) / 8) as usize;
                words[word] = match pointer.target {
                    PointerTarget::Null => u64::MAX,
                    PointerTarget::Root if pointer.value != visits[0].offset => u64::MAX - 1,
                    _ => index[&pointer.value],
                };
            }
            (info.name.clone(), object.elements, words)
        })
        .collect();
    let named = pool
        .named_roots()
        .into_iter()
        .map(|root| (root.name, index.get(&root.pointer).copied()))
        .collect();
    GraphSignature { objects, named }
}

/// What [`graph_signature`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphSignature {
    /// Per object: type name, element count, words.
    pub objects: Vec<(String, Option<u64>, Vec<u64>)>,
    /// Per named root: its name and the walk index of its object.
    pub named: Vec<(String, Option<u64>)>,
}

/// The files a compaction of the pool at `path` left beside it
/// ([`temporary_path`](pmem::inspect::temporary_path): `POOL.UUID.compacting`), for any
/// UUID: a pool too damaged to open has none to name.
///
/// # Panics
///
/// If the directory cannot be read.
#[must_use]
pub fn compaction_leftovers(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let name = path
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::read_dir(directory)
        .expect("read the directory")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|candidate| {
            candidate.file_name().is_some_and(|candidate| {
                let candidate = candidate.to_string_lossy();
                candidate.starts_with(&format!("{name}.")) && candidate.ends_with(".compacting")
            })
        })
        .collect()
}
