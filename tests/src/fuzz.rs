//! The pool the fuzz test (`tests/tests/fuzz.rs`) damages, and what its child process
//! (`src/bin/fuzz_child.rs`) does with each damaged copy.
//!
//! The root holds a linked list, a small hash map whose entries point into the list, a
//! blob with an array of pointers, and the heap has named roots of four types, one of them
//! large enough for spans of several pages: so type records with several pointer runs,
//! spans of several sizes, named roots and undo-log entries all exist to be damaged.

use pmem::{Error, PPtr, Persistent, Pool, PoolOptions, Txn};

/// The size of a base pool: small, so that a mutant is cheap to write and to open.
pub const POOL_SIZE: u64 = 1 << 18;
/// The undo log of a base pool.
pub const LOG_SIZE: u64 = 1 << 16;
/// Buckets of the root's hash map.
pub const BUCKETS: usize = 4;
/// The most objects one chain of the walk follows: a damaged pointer may close a cycle,
/// and the walk must end anyway.
const CHAIN_LIMIT: usize = 4096;

/// A list node.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct FuzzNode {
    /// The node's value.
    pub value: u64,
    /// The next node.
    pub next: PPtr<FuzzNode>,
}

/// A hash-map entry; its `node` points into the root's list.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct FuzzEntry {
    /// The key.
    pub key: u64,
    /// The value.
    pub value: u64,
    /// The next entry of the bucket.
    pub next: PPtr<FuzzEntry>,
    /// A list node.
    pub node: PPtr<FuzzNode>,
}

/// An object of 512 bytes whose pointers are one run of four.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct FuzzBlob {
    /// Filler.
    pub words: [u64; 60],
    /// List nodes.
    pub nodes: [PPtr<FuzzNode>; 4],
}

/// An object of 8808 bytes, whose spans have seven pages.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct FuzzBig {
    /// Filler.
    pub words: [u64; 1100],
    /// A blob.
    pub blob: PPtr<FuzzBlob>,
}

/// The root of the fuzzed pools.
#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct FuzzRoot {
    /// The list's first node.
    pub list: PPtr<FuzzNode>,
    /// The hash map's buckets.
    pub buckets: [PPtr<FuzzEntry>; BUCKETS],
    /// A blob.
    pub blob: PPtr<FuzzBlob>,
    /// How many nodes were pushed onto the list.
    pub pushed: u64,
    /// How many transactions changed the root.
    pub generation: u64,
}

fn blob(seed: u64, nodes: [PPtr<FuzzNode>; 4]) -> FuzzBlob {
    FuzzBlob {
        words: core::array::from_fn(|index| seed + index as u64),
        nodes,
    }
}

fn push(tx: &mut Txn<'_, FuzzRoot>, value: u64) -> Result<PPtr<FuzzNode>, Error> {
    let next = tx.root().list;
    let node = tx.alloc(FuzzNode { value, next })?;
    let mut root = tx.root_mut();
    root.list = node;
    root.pushed = root.pushed.wrapping_add(1);
    Ok(node)
}

fn insert(tx: &mut Txn<'_, FuzzRoot>, key: u64, node: PPtr<FuzzNode>) -> Result<(), Error> {
    let bucket = key as usize % BUCKETS;
    let next = tx.root().buckets[bucket];
    let entry = tx.alloc(FuzzEntry {
        key,
        value: key * 10,
        next,
        node,
    })?;
    tx.root_mut().buckets[bucket] = entry;
    Ok(())
}

/// Creates the clean base pool at `path`: 12 nodes, 10 map entries, 3 blobs, 2 big objects
/// and 4 named roots, then closes it.
///
/// # Errors
///
/// If the pool cannot be created or a transaction fails.
pub fn create(path: &std::path::Path) -> Result<(), Error> {
    let mut pool = PoolOptions::new()
        .size(POOL_SIZE)
        .log_size(LOG_SIZE)
        .create(path, FuzzRoot::default())?;
    pool.try_txn(|tx| {
        let mut nodes = Vec::new();
        for value in 0..12 {
            nodes.push(push(tx, value)?);
        }
        for key in 0..10 {
            insert(tx, key, nodes[key as usize])?;
        }
        let first = tx.alloc(blob(100, [nodes[0], nodes[1], PPtr::null(), nodes[3]]))?;
        tx.root_mut().blob = first;
        let named = tx.alloc(blob(200, [nodes[4]; 4]))?;
        tx.set_named_root("blob", named)?;
        let inner = tx.alloc(blob(300, [PPtr::null(); 4]))?;
        let big = tx.alloc(FuzzBig {
            words: [7; 1100],
            blob: inner,
        })?;
        tx.set_named_root("big", big)?;
        tx.alloc(FuzzBig {
            words: [8; 1100],
            blob: named,
        })?;
        tx.set_named_root("node", nodes[5])?;
        let entry = tx.root().buckets[1];
        tx.set_named_root("entry", entry)
    })?;
    pool.close();
    Ok(())
}

/// The transaction a dirty base image is interrupted in: it changes the root, several
/// objects and the named roots, and allocates.
///
/// # Errors
///
/// If a pointer of the base pool cannot be followed or an allocation fails.
pub fn interrupted_changes(tx: &mut Txn<'_, FuzzRoot>) -> Result<(), Error> {
    let generation = tx.root().generation.wrapping_add(1);
    tx.root_mut().generation = generation;
    let second = tx.get(tx.root().list)?.next;
    let third = tx.get(second)?.next;
    tx.get_mut(tx.root().list)?.next = third;
    for bucket in 0..BUCKETS {
        let entry = tx.root().buckets[bucket];
        tx.get_mut(entry)?.value += 1;
    }
    let blob = tx.root().blob;
    tx.get_mut(blob)?.words[10] = 0xdead;
    let node = push(tx, 99)?;
    tx.set_named_root("node", node)?;
    tx.remove_named_root("entry");
    let extra = tx.alloc(FuzzNode {
        value: 1234,
        next: node,
    })?;
    tx.set_named_root("extra", extra)
}

/// The transaction the child commits after opening a mutant: it changes the root,
/// allocates, and names the new node.
///
/// # Errors
///
/// If an allocation fails.
pub fn committed_changes(tx: &mut Txn<'_, FuzzRoot>) -> Result<(), Error> {
    let generation = tx.root().generation.wrapping_add(1);
    tx.root_mut().generation = generation;
    let node = push(tx, 1000)?;
    insert(tx, 1000, node)?;
    tx.set_named_root("fuzz", node)
}

/// What a walk found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Objects read.
    pub objects: usize,
    /// Pointers `get` refused, and named roots `named_root` refused.
    pub refused: usize,
    /// Named roots listed.
    pub names: usize,
}

impl Walk {
    fn follow<'p, T: Persistent + Sync>(
        &mut self,
        pool: &'p Pool<FuzzRoot>,
        pointer: PPtr<T>,
    ) -> Option<&'p T> {
        if pointer.is_null() {
            return None;
        }
        match pool.get(pointer) {
            Ok(object) => {
                self.objects += 1;
                Some(object)
            }
            Err(_) => {
                self.refused += 1;
                None
            }
        }
    }

    fn list(&mut self, pool: &Pool<FuzzRoot>, mut at: PPtr<FuzzNode>) {
        for _ in 0..CHAIN_LIMIT {
            match self.follow(pool, at) {
                Some(node) => at = node.next,
                None => return,
            }
        }
    }

    fn bucket(&mut self, pool: &Pool<FuzzRoot>, mut at: PPtr<FuzzEntry>) {
        for _ in 0..CHAIN_LIMIT {
            match self.follow(pool, at) {
                Some(entry) => {
                    self.list(pool, entry.node);
                    at = entry.next;
                }
                None => return,
            }
        }
    }

    fn blob(&mut self, pool: &Pool<FuzzRoot>, at: PPtr<FuzzBlob>) {
        if let Some(blob) = self.follow(pool, at) {
            for node in blob.nodes {
                self.list(pool, node);
            }
        }
    }

    fn named<T: Persistent + Sync>(
        &mut self,
        pool: &Pool<FuzzRoot>,
        name: &str,
    ) -> Option<PPtr<T>> {
        match pool.named_root::<T>(name) {
            Ok(found) => found,
            Err(_) => {
                self.refused += 1;
                None
            }
        }
    }
}

/// Reads everything reachable from the root and the named roots through `Pool::get`,
/// counting what `get` refuses instead of stopping: a damaged pointer may be refused, but
/// must never make the runtime panic or read outside the pool.
#[must_use]
pub fn walk(pool: &Pool<FuzzRoot>) -> Walk {
    let mut walk = Walk::default();
    let root = *pool.root();
    walk.list(pool, root.list);
    for bucket in root.buckets {
        walk.bucket(pool, bucket);
    }
    walk.blob(pool, root.blob);
    walk.names = pool.named_roots().len();
    if let Some(blob) = walk.named::<FuzzBlob>(pool, "blob") {
        walk.blob(pool, blob);
    }
    if let Some(big) = walk.named::<FuzzBig>(pool, "big") {
        if let Some(big) = walk.follow(pool, big) {
            walk.blob(pool, big.blob);
        }
    }
    for name in ["node", "extra", "fuzz"] {
        if let Some(node) = walk.named::<FuzzNode>(pool, name) {
            walk.list(pool, node);
        }
    }
    if let Some(entry) = walk.named::<FuzzEntry>(pool, "entry") {
        walk.bucket(pool, entry);
    }
    walk
}

/// The name of an error's variant, and for heap damage the heap error's too: the outcome
/// classes of the fuzz test.
#[must_use]
pub fn error_class(error: &Error) -> String {
    fn variant(debug: String) -> String {
        debug
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
    match error {
        Error::HeapCorrupted { source, .. } => {
            format!("HeapCorrupted/{}", variant(format!("{source:?}")))
        }
        Error::Heap(source) => format!("Heap/{}", variant(format!("{source:?}"))),
        other => variant(format!("{other:?}")),
    }
}
