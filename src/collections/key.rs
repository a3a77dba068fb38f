//! [`MapKey`] and [`HashKey`]: what [`PHashMap`](crate::PHashMap) and
//! [`PBTreeMap`](crate::PBTreeMap) keys are, and how the maps read and hash them.
//!
//! A key stored in a map lies in the pool, and a key that holds a buffer (a [`PString`])
//! has its bytes elsewhere in the heap. The maps compare and hash what a key *views* as,
//! its [`Query`](MapKey::Query) (`str` for a `PString`), and are looked up by a `&Query`
//! (`map.get(&pool, "name")`). Reading goes through a [`Reader`] where the map has one, and
//! through the running transaction where it changes with only `&mut self`
//! ([`MapKey::with_query`], on top of [`with_owned_slice`](crate::with_owned_slice)).

use core::hash::{Hash, Hasher};

use crate::{Error, PString, PVec, Persistent, Reader};

/// A type that keys a [`PBTreeMap`](crate::PBTreeMap) (when its [`Query`](MapKey::Query)
/// is `Ord`) or, as a [`HashKey`], a [`PHashMap`](crate::PHashMap).
///
/// Every plain `Copy` value without pointers is one, viewed as itself (`u64`, `[u8; 16]`,
/// a derived `Copy` struct of such fields): a `Copy` key that holds a `PPtr` or `PSlice`
/// is refused at compile time, since it would be compared as an offset, which compaction
/// changes. So are [`PString`] (viewed as `str`) and [`PVec<u8>`] (viewed as `[u8]`). A
/// key type of your own that holds one of those implements it by delegating to the field:
///
/// ```
/// use pmem::{Error, MapKey, PString, Persistent, Reader};
///
/// /// A user name: compared and looked up as its text.
/// #[derive(Persistent)]
/// #[repr(C)]
/// struct UserName {
///     text: PString,
/// }
///
/// impl MapKey for UserName {
///     type Query = str;
///
///     fn read<'r>(&'r self, reader: &'r impl Reader) -> Result<&'r str, Error> {
///         self.text.read(reader)
///     }
///
///     fn with_query<U>(&self, body: impl FnOnce(&str) -> U) -> Result<U, Error> {
///         self.text.with_query(body)
///     }
/// }
/// ```
///
/// Neither method may panic on what a damaged file holds; return an [`Error`] instead.
pub trait MapKey: Persistent + Sync + 'static {
    /// What the key is compared as, and what lookups take a reference to.
    type Query: ?Sized;

    /// Whether the key is compared (and hashed) as a persistent pointer's offset: a map
    /// so keyed is refused where it is made, since `pmem gc --compact` moves objects and so
    /// changes offsets, and every lookup would then miss. True for a `Copy` key that holds
    /// a `PPtr` or `PSlice`; false for a key that compares what its pointers lead to, as a
    /// [`PString`] does, and the default for a key of your own.
    const COMPARES_OFFSETS: bool = false;

    /// The stored key's view, read through `reader`.
    ///
    /// # Errors
    ///
    /// As the reads it makes (a [`PString`]'s: [`PString::as_str`]).
    fn read<'r>(&'r self, reader: &'r impl Reader) -> Result<&'r Self::Query, Error>;

    /// Runs `body` on the key's view, read through the transaction running on
    /// this thread ([`with_owned_slice`](crate::with_owned_slice)): how a map that
    /// changes, holding only `&mut self`, reads its stored keys, and reads a key handed to
    /// `insert` before it lies in the pool.
    ///
    /// # Errors
    ///
    /// As [`with_owned_slice`](crate::with_owned_slice), and as [`read`](MapKey::read) for
    /// what the bytes hold.
    fn with_query<U>(&self, body: impl FnOnce(&Self::Query) -> U) -> Result<U, Error>;
}

/// A [`MapKey`] that keys a [`PHashMap`](crate::PHashMap): its view is compared with `Eq`
/// and hashed by [`hash_query`](HashKey::hash_query) into the map's seeded SipHash-1-3.
///
/// The hash is stored with each entry and must be the same in every process that opens
/// the pool, so it is written explicitly: a `Copy` key writes what its [`Hash`] writes
/// (for integers, their bytes: pools are little-endian), a [`PString`] or `PVec<u8>` its
/// length as a little-endian `u64` and then its bytes. A key of your own should write its
/// fields' bytes the same way, not through the `Hash` of `str` or slices, whose output the
/// standard library does not promise to keep.
pub trait HashKey: MapKey<Query: Eq> {
    /// Writes `query`'s bytes into `hasher`. Two views that are equal must write the same.
    fn hash_query(query: &Self::Query, hasher: &mut impl Hasher);
}

/// Refuses a map keyed by `K` if it compares offsets ([`MapKey::COMPARES_OFFSETS`]): the
/// map's order and stored hashes would depend on where objects lie, which `pmem gc
/// --compact` (`pmem::inspect::compact`) changes. Evaluated where a map is made and where a
/// key is read, so a program that uses one does not compile.
pub(super) const fn refuse_pointer_keys<K: MapKey>() {
    assert!(
        !K::COMPARES_OFFSETS,
        "a map key that holds a persistent pointer (PPtr, PSlice) would be compared and hashed as an offset, which compaction changes: key the map by a value the object holds (an id), or by a PString"
    );
}

impl<K: Persistent + Copy + Sync + 'static> MapKey for K {
    type Query = K;

    /// A `Copy` key is compared and hashed as its bytes, pointers included.
    const COMPARES_OFFSETS: bool = !K::POINTER_FREE;

    fn read<'r>(&'r self, _reader: &'r impl Reader) -> Result<&'r K, Error> {
        const { refuse_pointer_keys::<K>() };
        Ok(self)
    }

    fn with_query<U>(&self, body: impl FnOnce(&K) -> U) -> Result<U, Error> {
        const { refuse_pointer_keys::<K>() };
        Ok(body(self))
    }
}

impl<K: Persistent + Copy + Hash + Eq + Sync + 'static> HashKey for K {
    fn hash_query(query: &K, hasher: &mut impl Hasher) {
        query.hash(hasher);
    }
}

/// The length as a little-endian `u64`, then the bytes: prefix-free, so that a key of
/// several byte strings hashes each one unambiguously.
fn hash_bytes(bytes: &[u8], hasher: &mut impl Hasher) {
    hasher.write(&(bytes.len() as u64).to_le_bytes());
    hasher.write(bytes);
}

impl MapKey for PString {
    type Query = str;

    fn read<'r>(&'r self, reader: &'r impl Reader) -> Result<&'r str, Error> {
        self.as_str(reader)
    }

    fn with_query<U>(&self, body: impl FnOnce(&str) -> U) -> Result<U, Error> {
        self.with_str(body)
    }
}

impl HashKey for PString {
    fn hash_query(query: &str, hasher: &mut impl Hasher) {
        hash_bytes(query.as_bytes(), hasher);
    }
}

impl MapKey for PVec<u8> {
    type Query = [u8];

    fn read<'r>(&'r self, reader: &'r impl Reader) -> Result<&'r [u8], Error> {
        self.as_slice(reader)
    }

    fn with_query<U>(&self, body: impl FnOnce(&[u8]) -> U) -> Result<U, Error> {
        self.with_elements(body)
    }
}

impl HashKey for PVec<u8> {
    fn hash_query(query: &[u8], hasher: &mut impl Hasher) {
        hash_bytes(query, hasher);
    }
}

/// Whether `key` views as `query`, read through the running transaction.
pub(super) fn key_is<K: MapKey<Query: Eq>>(key: &K, query: &K::Query) -> Result<bool, Error> {
    key.with_query(|stored| stored == query)
}
