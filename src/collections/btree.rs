//! [`PBTreeMap`]: an ordered map in a pool, a B-tree of heap nodes.
//!
//! # Nodes
//!
//! A node is a heap slice of one [`Node`]: up to [`CAPACITY`] (16) keys, kept sorted, the
//! child pointers (`CAPACITY + 1`, null in a leaf), the node's length and level (0 for a
//! leaf, one more per level up), and a pointer to its values: a separate slice of `CAPACITY`
//! `V`s. Keys live in the node, next to each other, so that a search reads one node per
//! level; values live in a slice of their own because [`get_mut`](PBTreeMap::get_mut) hands
//! out a `PMut<V>` without logging it, and a `PMut` narrows to one element of a slice
//! ([`PMut::into_at`]) but not, outside `#[txn]`'s rewriting, to a field of a struct. Unused
//! slots hold zeros, so the collector, which traces whole objects, keeps nothing alive that
//! the map no longer holds.
//!
//! Every non-root node holds at least [`MIN`] (8) keys. An insert into a full node splits it
//! around its median; a removal that leaves a node short merges it with a sibling or, if the
//! sibling has keys to spare, redistributes the two evenly. So the tree stays balanced and
//! every search is logarithmic.
//!
//! # What is logged
//!
//! A change inside a node logs only the slots it moves: an insert that does not split logs
//! the leaf's length word and the keys and values it shifts (one line of each when it lands
//! at the end of a leaf), and the map's length. A structural change allocates: a split builds
//! its two halves as fresh nodes, a merge or redistribution its one or two results, and the
//! parent's slots are changed in place (logged); the nodes they replace are left to the
//! collector. Fresh objects need no undo entry (a crash before the commit leaves them
//! unreachable), so a split costs allocations, not log.
//!
//! # Ownership of the nodes within a transaction
//!
//! [`owned_slice_mut_by`](crate::owned_slice_mut_by) records, per transaction, which value first claimed each buffer, and
//! refuses a second claimant (two collections sharing a buffer in a damaged file). A B-tree
//! moves child pointers from slot to slot and from node to node (a split, a merge, a shifted
//! insert), so a node's parent slot is not a stable owner. Every node and values slice is
//! therefore claimed by the map itself (`&mut self`): one owner, however the pointers move.
//! The price is that one node can be changed at a time (each `PMut` borrows the map), so the
//! algorithms copy what they need (keys, values and pointers are plain data, copied bitwise;
//! the slot a key or value is copied from is then overwritten or zeroed, so each stays held
//! once) and reach the next node afterwards.
//!
//! A key that holds a buffer (a [`PString`](crate::PString)) is read at each comparison of
//! a search that changes the map through [`MapKey::with_query`], which claims the key's
//! buffer only while it compares: keys move between slots and nodes without releasing
//! anything.
//!
//! The *values* are another matter: a value that is itself a collection claims its buffers
//! with its own field's address, and inserts, removals and splits move values between
//! slots. So whenever the tree takes a node's values to change, it releases their claims
//! first ([`release_claims`](crate::release_claims)), and a value changed, moved by an
//! insert, and changed again in one transaction lends its buffer from its new slot.
//!
//! # Damaged files
//!
//! Every node is checked when it is reached: a slice of one node, a length within
//! `CAPACITY`, the level its parent implies (so a pointer cycle cannot make a descent loop),
//! a child pointer present where the level says there is a child, a values slice of
//! `CAPACITY`. Iteration also checks that keys come in increasing order, so a child shared
//! by two parents is reported rather than walked twice. Each failure is an
//! [`Error::CollectionDamaged`]; nothing panics on what a file holds.
//!
//! # Why the child pointer is not a `PSlice<Node>`
//!
//! A `PSlice<T>`'s layout hash includes `T`'s layout hash, so a node holding `PSlice`s of its
//! own type would make that constant depend on itself. [`NodeRef`] is a `PSlice<Node>` whose
//! layout hash, like a `PPtr`'s, sees only the node's name hash; its pointer map is the
//! `PSlice`'s own, so the collector traces and type-checks it as one.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Bound, RangeBounds, RangeFull};

use pmem_runtime::type_hash::{hash_str, hash_u64};

use super::{copied, zeroed};
use crate::{
    Error, MapKey, PMut, PSlice, Persistent, PointerMap, Reader, alloc_slice_with,
    owned_slice_mut_by, release_claims, txn,
};

/// How many keys a node holds at most. A multiple of 16, so that a node of any keys and
/// values of alignment up to 16 has no padding (see [`Node`]).
const CAPACITY: usize = 16;
/// How many keys a node other than the root holds at least: a full node split around its
/// median leaves `MIN` on each side, and a short node (`MIN - 1`) merged with a sibling of
/// `MIN` and their separator makes `CAPACITY`.
const MIN: usize = CAPACITY / 2;

/// An ordered map in a pool, the persistent `BTreeMap<K, V>`. Keys are [`MapKey`]s whose
/// [`Query`](MapKey::Query) is `Ord`: plain `Copy + Ord` values (integers, byte arrays,
/// derived structs), [`PString`](crate::PString)s (ordered as `str`), `PVec<u8>`s, or types
/// of your own that hold them; values may be anything `Persistent`, collections included
/// (`PBTreeMap<PString, PVec<u64>>`). Lookups take the query: `&5`, or `"name"`.
///
/// A key that holds a buffer is read at every comparison on the way down: one whose bytes
/// are not UTF-8 (a damaged file) makes the lookup fail with [`Error::CollectionDamaged`].
///
/// A B-tree of heap nodes of up to 16 keys (`src/collections/btree.rs` documents the design).
/// It changes, like [`PVec`](crate::PVec), inside a transaction through a `&mut`
/// into the pool: an insert that does not split a node logs the leaf's slots it shifts and
/// the lengths; splits and merges build fresh nodes, which need no log. It reads through any
/// [`Reader`], in key order.
#[derive(Persistent, Debug)]
#[repr(C)]
#[persistent(name = "pmem::PBTreeMap")]
pub struct PBTreeMap<K: Persistent, V: Persistent> {
    len: u64,
    root: NodeRef<K, V>,
}

/// One node: see the module documentation. Keys come first and the three words last, so
/// that each field starts aligned: `16 * size_of::<K>()` is a multiple of 16, and so are
/// the children and words after it (`17 * 8 + 3 * 8` bytes).
#[derive(Persistent)]
#[repr(C)]
#[persistent(name = "pmem::PBTreeMapNode")]
struct Node<K: Persistent, V: Persistent> {
    keys: [K; CAPACITY],
    children: [NodeRef<K, V>; CAPACITY + 1],
    len: u64,
    /// 0 for a leaf; a child's level is one less than its parent's.
    level: u64,
    values: PSlice<V>,
}

/// A pointer to a node: a `PSlice` of one [`Node`], whose layout hash sees only the node's
/// name hash (see the module documentation).
#[repr(transparent)]
struct NodeRef<K: Persistent, V: Persistent>(PSlice<Node<K, V>>);

impl<K: Persistent, V: Persistent> Clone for NodeRef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Persistent, V: Persistent> Copy for NodeRef<K, V> {}

impl<K: Persistent, V: Persistent> fmt::Debug for NodeRef<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<K: Persistent, V: Persistent> NodeRef<K, V> {
    const NULL: Self = Self(PSlice::null());
}

// SAFETY: a `NodeRef` is a transparent `PSlice`, which is `Persistent` (plain 8 bytes, every
// bit pattern valid, checked on use). Its hashes follow `type_hash` as `PPtr`'s do: the name
// hash from the pointee's name hash, the layout hash from the name hash and the size. Its
// pointer map is the `PSlice`'s, naming the pointer with the node slice's layout hash, so
// the collector traces it and checks the pointee's type exactly as for a `PSlice<Node>`.
unsafe impl<K: Persistent, V: Persistent> Persistent for NodeRef<K, V> {
    const NAME_HASH: u64 = hash_str(Node::<K, V>::NAME_HASH, "pmem::PBTreeMapNodeRef");
    const LAYOUT_HASH: u64 = hash_u64(Self::NAME_HASH, size_of::<Self>() as u64);

    fn describe_pointers(map: &mut PointerMap, offset: usize) {
        <PSlice<Node<K, V>> as Persistent>::describe_pointers(map, offset);
    }
}

fn damaged(offset: u64, what: &'static str) -> Error {
    Error::CollectionDamaged { offset, what }
}

impl<K: Persistent, V: Persistent> Node<K, V> {
    /// The checked length, and whether the level is `level` (when the parent implies one).
    fn checked_len(&self, at: NodeRef<K, V>, level: Option<u64>) -> Result<usize, Error> {
        if level.is_some_and(|level| level != self.level) {
            return Err(damaged(
                at.0.offset(),
                "a PBTreeMap node's level disagrees with its parent's",
            ));
        }
        usize::try_from(self.len)
            .ok()
            .filter(|&len| len <= CAPACITY)
            .ok_or(damaged(
                at.0.offset(),
                "a PBTreeMap node's length exceeds its capacity",
            ))
    }

    /// Child `index` of this internal node, which must be there.
    fn child(&self, at: NodeRef<K, V>, index: usize) -> Result<NodeRef<K, V>, Error> {
        let child = self.children[index];
        if self.level == 0 || child.0.is_null() {
            return Err(damaged(
                at.0.offset(),
                "a PBTreeMap node lacks a child its length implies",
            ));
        }
        Ok(child)
    }
}

/// A node read through a [`Reader`], checked.
struct Loaded<'r, K: Persistent, V: Persistent> {
    at: NodeRef<K, V>,
    node: &'r Node<K, V>,
    len: usize,
    values: &'r [V],
}

impl<'r, K: Persistent + Sync, V: Persistent + Sync> Loaded<'r, K, V> {
    /// The node `at`, which must be of `level` if that is given.
    fn load(reader: &'r impl Reader, at: NodeRef<K, V>, level: Option<u64>) -> Result<Self, Error> {
        let [node] = reader.get_slice(at.0)? else {
            return Err(damaged(
                at.0.offset(),
                "a PBTreeMap node is not a slice of one node",
            ));
        };
        let len = node.checked_len(at, level)?;
        let values = reader.get_slice(node.values)?;
        if values.len() != CAPACITY {
            return Err(damaged(
                node.values.offset(),
                "a PBTreeMap node's values slice has the wrong length",
            ));
        }
        Ok(Self {
            at,
            node,
            len,
            values,
        })
    }

    /// Child `index`, loaded.
    fn child(&self, reader: &'r impl Reader, index: usize) -> Result<Self, Error> {
        let child = self.node.child(self.at, index)?;
        Self::load(reader, child, Some(self.node.level - 1))
    }

    fn keys(&self) -> &'r [K] {
        &self.node.keys[..self.len]
    }

    fn entry(&self, index: usize) -> (&'r K, &'r V) {
        (&self.node.keys[index], &self.values[index])
    }
}

impl<K: MapKey<Query: Ord>, V: Persistent + 'static> PBTreeMap<K, V> {
    /// An empty map, which owns no node yet.
    #[must_use]
    pub const fn new() -> Self {
        const { crate::collections::key::refuse_pointer_keys::<K>() };
        Self {
            len: 0,
            root: NodeRef::NULL,
        }
    }

    /// How many entries it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root, loaded; `None` for an empty map.
    fn root<'r>(&self, reader: &'r impl Reader) -> Result<Option<Loaded<'r, K, V>>, Error>
    where
        V: Sync,
    {
        if self.root.0.is_null() {
            return Ok(None);
        }
        Loaded::load(reader, self.root, None).map(Some)
    }

    /// The value under `key`, if there is one.
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`](crate::Pool::get_slice) for the nodes on the way, and
    /// [`Error::CollectionDamaged`] for a damaged node.
    pub fn get<'r>(&self, reader: &'r impl Reader, key: &K::Query) -> Result<Option<&'r V>, Error>
    where
        V: Sync,
    {
        let Some(mut node) = self.root(reader)? else {
            return Ok(None);
        };
        loop {
            match search_keys(node.keys(), |stored| Ok(stored.read(reader)?.cmp(key)))? {
                Ok(index) => return Ok(Some(&node.values[index])),
                Err(_) if node.node.level == 0 => return Ok(None),
                Err(index) => node = node.child(reader, index)?,
            }
        }
    }

    /// Whether `key` has a value; see [`get`](PBTreeMap::get).
    ///
    /// # Errors
    ///
    /// As [`get`](PBTreeMap::get).
    pub fn contains_key(&self, reader: &impl Reader, key: &K::Query) -> Result<bool, Error>
    where
        V: Sync,
    {
        Ok(self.get(reader, key)?.is_some())
    }

    /// The entry with the least key, if any; see [`get`](PBTreeMap::get).
    ///
    /// # Errors
    ///
    /// As [`get`](PBTreeMap::get).
    pub fn first_key_value<'r>(
        &self,
        reader: &'r impl Reader,
    ) -> Result<Option<(&'r K, &'r V)>, Error>
    where
        V: Sync,
    {
        self.edge(reader, |_| 0)
    }

    /// The entry with the greatest key, if any; see [`get`](PBTreeMap::get).
    ///
    /// # Errors
    ///
    /// As [`get`](PBTreeMap::get).
    pub fn last_key_value<'r>(
        &self,
        reader: &'r impl Reader,
    ) -> Result<Option<(&'r K, &'r V)>, Error>
    where
        V: Sync,
    {
        self.edge(reader, |len| len)
    }

    /// Follows child `child(len)` down to a leaf, and returns the leaf's entry nearest that
    /// side: the first for child 0, the last for child `len`.
    fn edge<'r>(
        &self,
        reader: &'r impl Reader,
        child: impl Fn(usize) -> usize,
    ) -> Result<Option<(&'r K, &'r V)>, Error>
    where
        V: Sync,
    {
        let Some(mut node) = self.root(reader)? else {
            return Ok(None);
        };
        while node.node.level > 0 {
            node = node.child(reader, child(node.len))?;
        }
        if node.len == 0 {
            return Err(damaged(node.at.0.offset(), "a PBTreeMap leaf is empty"));
        }
        Ok(Some(node.entry(child(node.len).min(node.len - 1))))
    }

    /// The entries in key order, the keys as stored; see [`range`](PBTreeMap::range).
    ///
    /// # Errors
    ///
    /// As [`range`](PBTreeMap::range).
    pub fn iter<'r, R: Reader>(
        &self,
        reader: &'r R,
    ) -> Result<BTreeIter<'r, K, V, R, RangeFull>, Error>
    where
        V: Sync,
    {
        self.range(reader, ..)
    }

    /// The entries whose keys lie in `bounds`, in key order. The bounds are of the query
    /// type: `3..7` for a `u64` key, `(Bound::Included("a"), Bound::Excluded("m"))` for a
    /// `PString` one (std's `Range<&str>` bounds no `str`). Finding the first reads one
    /// node per level; the iterator then reads each node once, as it reaches it, and yields
    /// an `Err` (then ends) if one of them is damaged.
    ///
    /// # Errors
    ///
    /// As [`get`](PBTreeMap::get), for the nodes on the way to the first entry.
    ///
    /// # Panics
    ///
    /// If the start of `bounds` is greater than its end, or both are the same excluded key,
    /// like `BTreeMap::range`.
    pub fn range<'r, R: Reader, B: RangeBounds<K::Query>>(
        &self,
        reader: &'r R,
        bounds: B,
    ) -> Result<BTreeIter<'r, K, V, R, B>, Error>
    where
        V: Sync,
    {
        let (start, end) = (bounds.start_bound(), bounds.end_bound());
        if let (
            Bound::Included(first) | Bound::Excluded(first),
            Bound::Included(last) | Bound::Excluded(last),
        ) = (start, end)
        {
            assert!(
                first <= last,
                "range start is greater than range end in PBTreeMap"
            );
            assert!(
                first != last || !matches!((start, end), (Bound::Excluded(_), Bound::Excluded(_))),
                "range start and end are equal and excluded in PBTreeMap"
            );
        }
        let mut stack = Vec::new();
        if let Some(mut node) = self.root(reader)? {
            loop {
                let first = match start {
                    Bound::Unbounded => 0,
                    Bound::Included(start) => {
                        partition_keys(node.keys(), |key| Ok(key.read(reader)? < start))?
                    }
                    Bound::Excluded(start) => {
                        partition_keys(node.keys(), |key| Ok(key.read(reader)? <= start))?
                    }
                };
                let child = if node.node.level == 0 {
                    None
                } else {
                    Some(node.child(reader, first)?)
                };
                stack.push(Frame { node, next: first });
                match child {
                    Some(child) => node = child,
                    None => break,
                }
            }
        }
        Ok(BTreeIter {
            reader,
            stack,
            descend: None,
            bounds,
            last: None,
            done: false,
        })
    }
}

impl<K: MapKey<Query: Ord>, V: Persistent + 'static> Default for PBTreeMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// A node on an iterator's path, and the index of the next entry of it to yield.
struct Frame<'r, K: Persistent, V: Persistent> {
    node: Loaded<'r, K, V>,
    next: usize,
}

/// The entries of a [`PBTreeMap`] in key order: what [`PBTreeMap::iter`] and
/// [`PBTreeMap::range`] return. Each item is an entry, or the error for a damaged node met
/// on the way, after which the iterator ends.
pub struct BTreeIter<'r, K: Persistent, V: Persistent, R, B> {
    reader: &'r R,
    /// The path from the root to the node whose entry comes next.
    stack: Vec<Frame<'r, K, V>>,
    /// The subtree to enter before the next entry: the child after the entry just yielded.
    descend: Option<(NodeRef<K, V>, u64)>,
    /// The bounds the entries lie in: the iterator ends at the first past the end.
    bounds: B,
    /// The key yielded last, which the next must exceed.
    last: Option<&'r K>,
    done: bool,
}

impl<'r, K: MapKey<Query: Ord>, V: Persistent + Sync + 'static, R: Reader, B: RangeBounds<K::Query>>
    BTreeIter<'r, K, V, R, B>
{
    fn step(&mut self) -> Result<Option<(&'r K, &'r V)>, Error> {
        if let Some((child, level)) = self.descend.take() {
            let mut node = Loaded::load(self.reader, child, Some(level))?;
            while node.node.level > 0 {
                let next = node.child(self.reader, 0)?;
                self.stack.push(Frame { node, next: 0 });
                node = next;
            }
            self.stack.push(Frame { node, next: 0 });
        }
        while let Some(frame) = self.stack.last_mut() {
            if frame.next >= frame.node.len {
                self.stack.pop();
                continue;
            }
            let index = frame.next;
            frame.next += 1;
            let (key, value) = frame.node.entry(index);
            let query = key.read(self.reader)?;
            let past_end = match self.bounds.end_bound() {
                Bound::Unbounded => false,
                Bound::Included(end) => query > end,
                Bound::Excluded(end) => query >= end,
            };
            if past_end {
                return Ok(None);
            }
            let in_order = match self.last {
                Some(last) => last.read(self.reader)? < query,
                None => true,
            };
            if !in_order {
                return Err(damaged(
                    frame.node.at.0.offset(),
                    "a PBTreeMap's keys are out of order",
                ));
            }
            if frame.node.node.level > 0 {
                let child = frame.node.node.child(frame.node.at, index + 1)?;
                self.descend = Some((child, frame.node.node.level - 1));
            }
            self.last = Some(key);
            return Ok(Some((key, value)));
        }
        Ok(None)
    }
}

impl<'r, K: MapKey<Query: Ord>, V: Persistent + Sync + 'static, R: Reader, B: RangeBounds<K::Query>>
    Iterator for BTreeIter<'r, K, V, R, B>
{
    type Item = Result<(&'r K, &'r V), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step().transpose();
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

/// Binary search of `keys`, sorted, by `compare` (a stored key against the one sought): the
/// index of an equal key (`Ok`) or where it would go (`Err`); the first error `compare`
/// returns (a damaged key), if any.
fn search_keys<K>(
    keys: &[K],
    mut compare: impl FnMut(&K) -> Result<Ordering, Error>,
) -> Result<Result<usize, usize>, Error> {
    let mut failure = None;
    let found = keys.binary_search_by(|key| {
        compare(key).unwrap_or_else(|error| {
            // `Equal` ends the search; the error is what is returned.
            failure = Some(error);
            Ordering::Equal
        })
    });
    failure.map_or(Ok(found), Err)
}

/// How many of `keys`, sorted, come first by satisfying `before` (a range's start bound);
/// the first error `before` returns (a damaged key), if any.
fn partition_keys<K>(
    keys: &[K],
    mut before: impl FnMut(&K) -> Result<bool, Error>,
) -> Result<usize, Error> {
    let mut failure = None;
    let first = keys.partition_point(|key| {
        before(key).unwrap_or_else(|error| {
            failure = Some(error);
            false
        })
    });
    failure.map_or(Ok(first), Err)
}

/// A node's contents, copied out to build new nodes from: `children` is empty for a leaf,
/// else one longer than `keys`.
struct Contents<K: Persistent, V: Persistent> {
    level: u64,
    keys: Vec<K>,
    values: Vec<V>,
    children: Vec<NodeRef<K, V>>,
}

impl<K: Persistent, V: Persistent> Contents<K, V> {
    /// Allocates a fresh node holding `keys[range]`, their values and the children around
    /// them, in the transaction running on this thread: no log.
    fn alloc(&self, range: core::ops::Range<usize>) -> Result<NodeRef<K, V>, Error> {
        let (keys, values) = (&self.keys[range.clone()], &self.values[range.clone()]);
        let values = alloc_slice_with(CAPACITY, |index| {
            values.get(index).map_or_else(zeroed, copied)
        })?;
        let mut node: Node<K, V> = zeroed();
        for (slot, key) in node.keys.iter_mut().zip(keys) {
            *slot = copied(key);
        }
        if !self.children.is_empty() {
            let children = &self.children[range.start..=range.end];
            node.children[..children.len()].copy_from_slice(children);
        }
        node.len = keys.len() as u64;
        node.level = self.level;
        node.values = values;
        Ok(NodeRef(alloc_slice_with(1, |_| copied(&node))?))
    }

    /// Splits the contents, which are too many for one node, into two fresh nodes around the
    /// middle entry.
    fn split(&self) -> Result<Split<K, V>, Error> {
        let middle = (self.keys.len() - 1) / 2;
        Ok(Split {
            left: self.alloc(0..middle)?,
            key: copied(&self.keys[middle]),
            value: copied(&self.values[middle]),
            right: self.alloc(middle + 1..self.keys.len())?,
        })
    }
}

/// Two fresh nodes and the entry between them.
struct Split<K: Persistent, V: Persistent> {
    left: NodeRef<K, V>,
    key: K,
    value: V,
    right: NodeRef<K, V>,
}

/// Where a search through the nodes to change ended: the path of (internal node, child
/// taken), the node it ended in, and the key's index there (`Ok`) or where it would go
/// (`Err`, in a leaf).
struct Search<K: Persistent, V: Persistent> {
    path: Vec<(NodeRef<K, V>, usize)>,
    node: NodeRef<K, V>,
    found: Result<usize, usize>,
    values: PSlice<V>,
}

#[txn]
impl<K: MapKey<Query: Ord>, V: Persistent + 'static> PBTreeMap<K, V> {
    /// Sets `key` to `value`, returning the value it replaces, if any (then only that value
    /// is logged). Otherwise the entry goes into its leaf, which logs the slots it shifts and
    /// the lengths; a full leaf splits into two fresh nodes, and so on up, a split root
    /// growing the tree by one level.
    ///
    /// # Errors
    ///
    /// [`Error::NoTransaction`] outside a transaction, or if the map
    /// does not lie in its pool; allocation errors (the heap is full); and
    /// [`Error::CollectionDamaged`] for a damaged map. The map is left half-changed by an
    /// error: return it from the transaction, which rolls it back.
    pub fn insert(&mut self, key: K, value: V) -> Result<Option<V>, Error> {
        let len = self.len.checked_add(1).ok_or(damaged(
            self.root.0.offset(),
            "a PBTreeMap's length overflows",
        ))?;
        if self.root.0.is_null() {
            let contents = Contents {
                level: 0,
                keys: vec![key],
                values: vec![value],
                children: Vec::new(),
            };
            let root = contents.alloc(0..1)?;
            // Reaching the fresh root through the map checks that the map lies in the
            // transaction's pool, as every later change does, before it is stored.
            self.node_mut(root, Some(0))?;
            self.root = root;
            self.len = len;
            return Ok(None);
        }
        let search = key.with_query(|query| self.search(query))??;
        let at = match search.found {
            Ok(index) => {
                let mut values = self.values_mut(search.values)?;
                let old = copied(&values[index]);
                values.at(index).set(value);
                return Ok(Some(old));
            }
            Err(at) => at,
        };
        self.insert_at(search.path, search.node, at, key, value, None)?;
        self.len = len;
        Ok(None)
    }

    /// Inserts each of `entries` in turn, as [`insert`](PBTreeMap::insert) does: the
    /// persistent `extend`, and with [`new`](PBTreeMap::new) in place the persistent
    /// `collect`. A value an entry replaces is left to the collector.
    ///
    /// # Errors
    ///
    /// As [`insert`](PBTreeMap::insert).
    pub fn extend(&mut self, entries: impl IntoIterator<Item = (K, V)>) -> Result<(), Error> {
        for (key, value) in entries {
            self.insert(key, value)?;
        }
        Ok(())
    }

    /// Removes `key`, returning its value, if it had one. An entry of an internal node is
    /// replaced by its predecessor, taken from the end of a leaf; a leaf left with fewer than
    /// 8 keys is merged with a sibling or refilled from it, and so on up, an emptied root
    /// shrinking the tree by one level.
    ///
    /// # Errors
    ///
    /// As [`insert`](PBTreeMap::insert).
    pub fn remove(&mut self, key: &K::Query) -> Result<Option<V>, Error> {
        if self.root.0.is_null() {
            return Ok(None);
        }
        let mut search = self.search(key)?;
        let Ok(index) = search.found else {
            return Ok(None);
        };
        let len = self.len.checked_sub(1).ok_or(damaged(
            self.root.0.offset(),
            "a PBTreeMap's length is too small",
        ))?;
        let (node, _) = self.node_mut(search.node, None)?;
        let level = node.level;
        let left_child = if level == 0 {
            None
        } else {
            Some(node.child(search.node, index)?)
        };
        let (leaf, removed) = match left_child {
            None => (search.node, self.take(search.node, index)?),
            Some(mut child) => {
                // The predecessor: the last entry of the rightmost leaf left of the key.
                search.path.push((search.node, index));
                let mut level = level - 1;
                let last = loop {
                    let (node, len) = self.node_mut(child, Some(level))?;
                    if node.level == 0 {
                        break len
                            .checked_sub(1)
                            .ok_or(damaged(child.0.offset(), "a PBTreeMap leaf is empty"))?;
                    }
                    let next = node.child(child, len)?;
                    search.path.push((child, len));
                    (child, level) = (next, level - 1);
                };
                let predecessor_key = copied(&self.node_mut(child, None)?.0.keys[last]);
                let predecessor_value = self.take(child, last)?;
                let (mut node, _) = self.node_mut(search.node, None)?;
                node.keys[index] = predecessor_key;
                let values = node.values;
                let mut values = self.values_mut(values)?;
                let removed = copied(&values[index]);
                values.at(index).set(predecessor_value);
                (child, removed)
            }
        };
        self.rebalance(search.path, leaf)?;
        self.len = len;
        Ok(Some(removed))
    }

    /// The value under `key`, to change.
    ///
    /// # Errors
    ///
    /// As [`remove`](PBTreeMap::remove).
    pub fn get_mut(&mut self, key: &K::Query) -> Result<Option<PMut<'_, V>>, Error> {
        if self.root.0.is_null() {
            return Ok(None);
        }
        let search = self.search(key)?;
        let Ok(index) = search.found else {
            return Ok(None);
        };
        Ok(Some(self.values_mut(search.values)?.into_at(index)))
    }

    /// Empties the map and lets its nodes go (to the collector): logs 16 bytes.
    pub fn clear(&mut self) {
        self.len = 0;
        self.root = NodeRef::NULL;
    }

    /// Node `at`, to change, and its checked length; its level must be `level`, if given.
    fn node_mut(
        &mut self,
        at: NodeRef<K, V>,
        level: Option<u64>,
    ) -> Result<(PMut<'_, Node<K, V>>, usize), Error> {
        if at.0.is_null() {
            return Err(damaged(0, "a PBTreeMap node is missing"));
        }
        let slice = owned_slice_mut_by(self, at.0)?;
        if slice.len() != 1 {
            return Err(damaged(
                at.0.offset(),
                "a PBTreeMap node is not a slice of one node",
            ));
        }
        let node = slice.into_at(0);
        let len = node.checked_len(at, level)?;
        Ok((node, len))
    }

    /// A node's values, to change. The claims of the collections among them are released
    /// first ([`release_claims`]): the tree moves values between slots and nodes, and a
    /// value that is a collection must lend its buffers from wherever it now lies.
    fn values_mut(&mut self, values: PSlice<V>) -> Result<PMut<'_, [V]>, Error> {
        let mut slice = owned_slice_mut_by(self, values)?;
        if slice.len() != CAPACITY {
            return Err(damaged(
                values.offset(),
                "a PBTreeMap node's values slice has the wrong length",
            ));
        }
        release_claims(&mut slice);
        Ok(slice)
    }

    /// Descends from the root, which must be there, to `key` or to the leaf it belongs in,
    /// reading stored keys through the running transaction.
    fn search(&mut self, key: &K::Query) -> Result<Search<K, V>, Error> {
        let mut path = Vec::new();
        let mut at = self.root;
        let mut level = None;
        loop {
            let (node, len) = self.node_mut(at, level)?;
            let found = search_keys(&node.keys[..len], |stored| {
                stored.with_query(|stored| stored.cmp(key))
            })?;
            match found {
                Err(index) if node.level > 0 => {
                    let child = node.child(at, index)?;
                    level = Some(node.level - 1);
                    path.push((at, index));
                    at = child;
                }
                _ => {
                    return Ok(Search {
                        path,
                        node: at,
                        found,
                        values: node.values,
                    });
                }
            }
        }
    }

    /// The node's contents, copied out.
    fn contents(&mut self, at: NodeRef<K, V>, level: u64) -> Result<Contents<K, V>, Error> {
        let (node, len) = self.node_mut(at, Some(level))?;
        let keys = node.keys[..len].iter().map(copied).collect();
        let children = if level == 0 {
            Vec::new()
        } else {
            (0..=len)
                .map(|index| node.child(at, index))
                .collect::<Result<_, _>>()?
        };
        let values = node.values;
        let values = self.values_mut(values)?;
        Ok(Contents {
            level,
            keys,
            values: values[..len].iter().map(copied).collect(),
            children,
        })
    }

    /// Puts `key` and `value` at index `at` of node `node` (whose ancestors are `path`),
    /// and, for an internal node, the child `split.1` after them in place of `split.0`
    /// (the two halves of the child that split). A full node splits in turn.
    fn insert_at(
        &mut self,
        mut path: Vec<(NodeRef<K, V>, usize)>,
        mut node: NodeRef<K, V>,
        mut at: usize,
        mut key: K,
        mut value: V,
        mut split: Option<(NodeRef<K, V>, NodeRef<K, V>)>,
    ) -> Result<(), Error> {
        loop {
            let (mut target, len) = self.node_mut(node, None)?;
            let level = target.level;
            if len < CAPACITY {
                // Slot `len` is empty (zeroed), so a rotation moves it to `at`.
                let keys = &mut target.keys[at..=len];
                keys.rotate_right(1);
                target.keys[at] = key;
                if let Some((left, right)) = split {
                    let children = &mut target.children[at + 1..=len + 1];
                    children.rotate_right(1);
                    target.children[at] = left;
                    target.children[at + 1] = right;
                }
                target.len += 1;
                let values = target.values;
                let mut values = self.values_mut(values)?;
                values.range(at..len + 1).rotate_right(1);
                values.at(at).set(value);
                return Ok(());
            }
            let mut contents = self.contents(node, level)?;
            contents.keys.insert(at, key);
            contents.values.insert(at, value);
            if let Some((left, right)) = split {
                contents.children[at] = left;
                contents.children.insert(at + 1, right);
            }
            let halves = contents.split()?;
            let Some((parent, index)) = path.pop() else {
                let root = Contents {
                    level: level + 1,
                    keys: vec![halves.key],
                    values: vec![halves.value],
                    children: vec![halves.left, halves.right],
                };
                self.root = root.alloc(0..1)?;
                return Ok(());
            };
            (node, at, key, value, split) = (
                parent,
                index,
                halves.key,
                halves.value,
                Some((halves.left, halves.right)),
            );
        }
    }

    /// Removes entry `index` of leaf `leaf`, returning its value: shifts the entries after
    /// it down and zeroes the last slot (logged).
    fn take(&mut self, leaf: NodeRef<K, V>, index: usize) -> Result<V, Error> {
        let (mut node, len) = self.node_mut(leaf, Some(0))?;
        let keys = &mut node.keys[index..len];
        keys.rotate_left(1);
        node.keys[len - 1] = zeroed();
        node.len -= 1;
        let values = node.values;
        let mut values = self.values_mut(values)?;
        let removed = copied(&values[index]);
        values.range(index..len).rotate_left(1);
        values.at(len - 1).set(zeroed());
        Ok(removed)
    }

    /// Restores the minimum fill after a removal from `node`, whose ancestors are `path`:
    /// a short node and a sibling are merged into one fresh node (the parent losing an
    /// entry, so possibly falling short in turn) or, if they hold too many for one,
    /// redistributed into two; an emptied root is replaced by its only child.
    fn rebalance(
        &mut self,
        mut path: Vec<(NodeRef<K, V>, usize)>,
        mut node: NodeRef<K, V>,
    ) -> Result<(), Error> {
        loop {
            let (target, len) = self.node_mut(node, None)?;
            let level = target.level;
            let Some((parent, child)) = path.pop() else {
                if len == 0 {
                    // A leaf's children are null: an emptied leaf root empties the map.
                    self.root = target.children[0];
                }
                return Ok(());
            };
            if len >= MIN {
                return Ok(());
            }
            let (target, parent_len) = self.node_mut(parent, Some(level + 1))?;
            if parent_len == 0 {
                return Err(damaged(parent.0.offset(), "a PBTreeMap node is empty"));
            }
            // The short child and its left sibling, or its right one if it is the first.
            let separator = child.min(parent_len - 1);
            let (left, right) = (
                target.child(parent, separator)?,
                target.child(parent, separator + 1)?,
            );
            let separator_key = copied(&target.keys[separator]);
            let parent_values = target.values;
            let separator_value = copied(&self.values_mut(parent_values)?[separator]);
            let mut contents = self.contents(left, level)?;
            let right_contents = self.contents(right, level)?;
            contents.keys.push(separator_key);
            contents.keys.extend(right_contents.keys);
            contents.values.push(separator_value);
            contents.values.extend(right_contents.values);
            contents
                .children
                .extend_from_slice(&right_contents.children);
            if contents.keys.len() > CAPACITY {
                let halves = contents.split()?;
                let (mut target, _) = self.node_mut(parent, None)?;
                target.keys[separator] = halves.key;
                target.children[separator] = halves.left;
                target.children[separator + 1] = halves.right;
                let mut values = self.values_mut(parent_values)?;
                values.at(separator).set(halves.value);
                return Ok(());
            }
            let merged = contents.alloc(0..contents.keys.len())?;
            let (mut target, _) = self.node_mut(parent, None)?;
            let last = parent_len - 1;
            let keys = &mut target.keys[separator..parent_len];
            keys.rotate_left(1);
            target.keys[last] = zeroed();
            let children = &mut target.children[separator + 1..=parent_len];
            children.rotate_left(1);
            target.children[parent_len] = NodeRef::NULL;
            target.children[separator] = merged;
            target.len -= 1;
            let mut values = self.values_mut(parent_values)?;
            values.range(separator..parent_len).rotate_left(1);
            values.at(last).set(zeroed());
            node = parent;
        }
    }
}
