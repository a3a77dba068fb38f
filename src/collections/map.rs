//! [`PHashMap`]: a hash map in a pool.

use core::hash::{BuildHasher, Hasher};
use std::collections::hash_map::RandomState;

use siphasher::sip::SipHasher13;

use super::key::key_is;
use super::{copied, zeroed};
use crate::{
    Error, HashKey, PMut, PSlice, Persistent, Reader, alloc_slice_with, owned_slice_mut,
    release_claims, txn,
};

/// A hash map in a pool, the persistent `HashMap<K, V>`. Keys are [`HashKey`]s: plain
/// `Copy` values (`u64`, `[u8; 16]`, a `#[derive(Persistent, Clone, Copy, PartialEq, Eq,
/// Hash)]` struct), [`PString`](crate::PString)s, `PVec<u8>`s, or types of your own that
/// hold them; values may be anything `Persistent`, collections included (a
/// `PHashMap<PString, PVec<u64>>`). Lookups take the key's [`Query`](crate::MapKey::Query): `&5`
/// for a `u64` key, `"name"` for a `PString` one.
///
/// Open addressing with linear probing over three parallel slices (hashes, keys, values),
/// at most three quarters full. An insert logs the map's length and the three slots it
/// fills; growth rehashes into fresh slices twice as large (logging nothing but the map)
/// and leaves the old ones to the collector; a removal shifts the entries after it back
/// one slot each (no tombstones), logging what it moves.
///
/// **Hashing** is SipHash-1-3 keyed by a seed drawn when the map first allocates and stored
/// with it: the same in every run and process (so the map needs no rehash when the pool is
/// reopened), and unknown to whoever chooses the keys, who therefore cannot make them
/// collide. Keys are hashed by [`HashKey::hash_query`]: a `Copy` key with its
/// [`Hash`](core::hash::Hash) implementation, which for the integer types writes their
/// bytes in the machine's order (pools are little-endian); a string its length and bytes,
/// written explicitly so that the hash does not change with the standard library's.
///
/// A key that holds a buffer (a `PString`) is read wherever it is compared: a stored key's
/// bytes that are not UTF-8 (a damaged file) make the lookup that meets it fail with
/// [`Error::CollectionDamaged`]. Replacing a value keeps the stored key (the one given is
/// left to the collector, as is a removed entry's key).
///
/// It changes, like [`PVec`](crate::PVec), inside a transaction through a `&mut`
/// into the pool, and reads through any [`Reader`].
#[derive(Persistent, Debug)]
#[repr(C)]
#[persistent(name = "pmem::PHashMap")]
pub struct PHashMap<K: Persistent, V: Persistent> {
    len: u64,
    seed: [u64; 2],
    /// Per slot, 0 if it is empty, else the key's hash with the top bit set.
    hashes: PSlice<u64>,
    keys: PSlice<K>,
    values: PSlice<V>,
}

/// The first number of slots.
const MIN_SLOTS: usize = 8;
/// Marks a slot as full in its hash word.
const FULL: u64 = 1 << 63;

/// The three slices (hashes, keys, values), to change.
type SlotsMut<'a, K, V> = (PMut<'a, [u64]>, PMut<'a, [K]>, PMut<'a, [V]>);

/// The three slices, read.
struct Slots<'r, K, V> {
    hashes: &'r [u64],
    keys: &'r [K],
    values: &'r [V],
}

impl<K: HashKey, V: Persistent + 'static> PHashMap<K, V> {
    /// An empty map, which owns no slots yet.
    #[must_use]
    pub const fn new() -> Self {
        const { crate::collections::key::refuse_pointer_keys::<K>() };
        Self {
            len: 0,
            seed: [0; 2],
            hashes: PSlice::null(),
            keys: PSlice::null(),
            values: PSlice::null(),
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

    /// The slices, checked to be of one length, a power of two.
    fn slots<'r>(&self, reader: &'r impl Reader) -> Result<Option<Slots<'r, K, V>>, Error>
    where
        V: Sync,
    {
        if self.hashes.is_null() {
            return Ok(None);
        }
        let slots = Slots {
            hashes: reader.get_slice(self.hashes)?,
            keys: reader.get_slice(self.keys)?,
            values: reader.get_slice(self.values)?,
        };
        check_slots(
            self.len,
            self.hashes.offset(),
            [slots.hashes.len(), slots.keys.len(), slots.values.len()],
        )?;
        Ok(Some(slots))
    }

    /// The slot holding `key`, or `None`.
    fn find(
        &self,
        reader: &impl Reader,
        slots: &Slots<'_, K, V>,
        key: &K::Query,
    ) -> Result<Option<usize>, Error> {
        let hash = hash_with::<K>(self.seed, key);
        let mask = slots.hashes.len() - 1;
        let mut at = hash as usize & mask;
        for _ in 0..slots.hashes.len() {
            match slots.hashes[at] {
                0 => return Ok(None),
                found if found == hash && slots.keys[at].read(reader)? == key => {
                    return Ok(Some(at));
                }
                _ => at = (at + 1) & mask,
            }
        }
        Ok(None)
    }

    /// The value under `key`, if there is one.
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`](crate::Pool::get_slice) for the map's slices, and
    /// [`Error::CollectionDamaged`] if they disagree; as
    /// [`MapKey::read`](crate::MapKey::read) for the stored keys it compares (a `PString`
    /// key that is not UTF-8).
    pub fn get<'r>(&self, reader: &'r impl Reader, key: &K::Query) -> Result<Option<&'r V>, Error>
    where
        V: Sync,
    {
        let Some(slots) = self.slots(reader)? else {
            return Ok(None);
        };
        Ok(self.find(reader, &slots, key)?.map(|at| &slots.values[at]))
    }

    /// Whether `key` has a value; see [`get`](PHashMap::get).
    ///
    /// # Errors
    ///
    /// As [`get`](PHashMap::get).
    pub fn contains_key(&self, reader: &impl Reader, key: &K::Query) -> Result<bool, Error>
    where
        V: Sync,
    {
        Ok(self.get(reader, key)?.is_some())
    }

    /// The entries, the keys as stored, in slot order (an order that depends on the seed);
    /// see [`get`](PHashMap::get).
    ///
    /// # Errors
    ///
    /// As [`get`](PHashMap::get).
    pub fn iter<'r>(
        &self,
        reader: &'r impl Reader,
    ) -> Result<impl Iterator<Item = (&'r K, &'r V)> + 'r, Error>
    where
        V: Sync,
    {
        let slots = self.slots(reader)?;
        Ok(slots.into_iter().flat_map(|slots| {
            slots
                .hashes
                .iter()
                .zip(slots.keys)
                .zip(slots.values)
                .filter(|((hash, _), _)| **hash != 0)
                .map(|((_, key), value)| (key, value))
        }))
    }

    /// The three slices, which must not be null, to change, checked to agree.
    fn slots_mut(&mut self) -> Result<SlotsMut<'_, K, V>, Error> {
        let len = self.len;
        let offset = self.hashes.offset();
        // Each slice is claimed by the map's own field that points at it; the `PMut`s borrow
        // those fields, and so the map, for as long as they live.
        let Self {
            hashes,
            keys,
            values,
            ..
        } = self;
        let slots = (
            owned_slice_mut(hashes)?,
            owned_slice_mut(keys)?,
            owned_slice_mut(values)?,
        );
        check_slots(len, offset, [slots.0.len(), slots.1.len(), slots.2.len()])?;
        Ok(slots)
    }
}

/// Checks that a map of `len` entries, whose hashes lie at `offset`, has slices of
/// `[hashes, keys, values]` elements that agree: one length, a power of two, more than
/// `len`.
fn check_slots(len: u64, offset: u64, [hashes, keys, values]: [usize; 3]) -> Result<(), Error> {
    let consistent = hashes == keys
        && hashes == values
        && hashes.is_power_of_two()
        && usize::try_from(len).is_ok_and(|len| len < hashes);
    if consistent {
        Ok(())
    } else {
        Err(Error::CollectionDamaged {
            offset,
            what: "a PHashMap's slices disagree in length, or hold more entries than slots",
        })
    }
}

/// `query`'s hash word under `seed`: SipHash-1-3 of what [`HashKey::hash_query`] writes,
/// the top bit set.
fn hash_with<K: HashKey>(seed: [u64; 2], query: &K::Query) -> u64 {
    let mut hasher = SipHasher13::new_with_keys(seed[0], seed[1]);
    K::hash_query(query, &mut hasher);
    hasher.finish() | FULL
}

/// Where a probe for a key ended.
enum Probe {
    /// At the slot holding it.
    Found(usize),
    /// At an empty slot: the key is absent, and would go there.
    Vacant(usize),
    /// Nowhere: every slot is full, which a sound map never is.
    Full,
}

/// Probes `hashes` and `keys`, which are of one length, a power of two, for `query` of
/// hash word `hash`, reading stored keys through the running transaction.
fn probe<K: HashKey>(
    hashes: &[u64],
    keys: &[K],
    hash: u64,
    query: &K::Query,
) -> Result<Probe, Error> {
    let mask = hashes.len() - 1;
    let mut at = hash as usize & mask;
    for _ in 0..hashes.len() {
        match hashes[at] {
            0 => return Ok(Probe::Vacant(at)),
            found if found == hash && key_is(&keys[at], query)? => return Ok(Probe::Found(at)),
            _ => at = (at + 1) & mask,
        }
    }
    Ok(Probe::Full)
}

impl<K: HashKey, V: Persistent + 'static> Default for PHashMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[txn]
impl<K: HashKey, V: Persistent + 'static> PHashMap<K, V> {
    /// Sets `key` to `value`, returning the value it replaces, if any. Logs the length and
    /// the slot's hash, key and value (or only the value, if the key was there: the stored
    /// key stays, and `key` is left to the collector); growing first if the map would be
    /// more than three quarters full.
    ///
    /// # Errors
    ///
    /// [`Error::NoTransaction`] outside a transaction, or if the map
    /// does not lie in its pool; allocation errors from growth; as
    /// [`MapKey::with_query`](crate::MapKey::with_query) for the keys it compares; and
    /// [`Error::CollectionDamaged`] for a damaged map.
    pub fn insert(&mut self, key: K, value: V) -> Result<Option<V>, Error> {
        Ok(self.insert_at_slot(key, value)?.1)
    }

    /// Inserts each of `entries` in turn, as [`insert`](PHashMap::insert) does: the
    /// persistent `extend`, and with [`new`](PHashMap::new) in place the persistent
    /// `collect`. A value an entry replaces is left to the collector.
    ///
    /// # Errors
    ///
    /// As [`insert`](PHashMap::insert); the entries before the failing one are in the map
    /// until the transaction is rolled back.
    pub fn extend(&mut self, entries: impl IntoIterator<Item = (K, V)>) -> Result<(), Error> {
        for (key, value) in entries {
            self.insert(key, value)?;
        }
        Ok(())
    }

    /// [`insert`](PHashMap::insert), also returning the slot the entry is in.
    fn insert_at_slot(&mut self, key: K, value: V) -> Result<(usize, Option<V>), Error> {
        let slots = self.slot_count()?;
        if (self.len as usize + 1) * 4 > slots * 3 {
            self.grow((slots * 2).max(MIN_SLOTS))?;
        }
        let seed = self.seed;
        let (mut hashes, mut keys, mut values) = self.slots_mut()?;
        let (hash, probe) = key.with_query(|query| {
            let hash = hash_with::<K>(seed, query);
            probe(&hashes, &keys, hash, query).map(|probe| (hash, probe))
        })??;
        match probe {
            Probe::Vacant(at) => {
                hashes.at(at).set(hash);
                keys.at(at).set(key);
                values.at(at).set(value);
                self.len += 1;
                Ok((at, None))
            }
            Probe::Found(at) => {
                let old = copied(&values[at]);
                release_claims(&mut values.at(at));
                values.at(at).set(value);
                Ok((at, Some(old)))
            }
            Probe::Full => Err(self.full_of_entries()),
        }
    }

    /// The slot holding `key`, if any.
    fn slot_of(&mut self, key: &K::Query) -> Result<Option<usize>, Error> {
        if self.hashes.is_null() {
            return Ok(None);
        }
        let hash = hash_with::<K>(self.seed, key);
        let (hashes, keys, _) = self.slots_mut()?;
        match probe(&hashes, &keys, hash, key)? {
            Probe::Found(at) => Ok(Some(at)),
            Probe::Vacant(_) => Ok(None),
            Probe::Full => Err(self.full_of_entries()),
        }
    }

    /// Removes `key`, returning its value, if it had one (the stored key is left to the
    /// collector). Logs the length and the slots it empties or shifts.
    ///
    /// # Errors
    ///
    /// As [`insert`](PHashMap::insert), without allocation errors.
    pub fn remove(&mut self, key: &K::Query) -> Result<Option<V>, Error> {
        let Some(at) = self.slot_of(key)? else {
            return Ok(None);
        };
        let (mut hashes, mut keys, mut values) = self.slots_mut()?;
        let mask = hashes.len() - 1;
        let removed = copied(&values[at]);
        release_claims(&mut values.at(at));
        // Backward shift: each later entry of the run that may move to the hole does.
        let mut hole = at;
        let mut next = (hole + 1) & mask;
        // A map that is sound has an empty slot, which ends the run; `len` steps bound it
        // in one that is not.
        for _ in 0..hashes.len() {
            if hashes[next] == 0 {
                break;
            }
            let home = hashes[next] as usize & mask;
            if (next.wrapping_sub(home) & mask) >= (next.wrapping_sub(hole) & mask) {
                release_claims(&mut keys.at(next));
                release_claims(&mut values.at(next));
                let (hash, key, value) = (hashes[next], copied(&keys[next]), copied(&values[next]));
                hashes.at(hole).set(hash);
                keys.at(hole).set(key);
                values.at(hole).set(value);
                hole = next;
            }
            next = (next + 1) & mask;
        }
        hashes.at(hole).set(0);
        keys.at(hole).set(zeroed());
        values.at(hole).set(zeroed());
        self.len -= 1;
        Ok(Some(removed))
    }

    /// The error for slots that are all full, which a sound map (at most three quarters
    /// full) never has.
    fn full_of_entries(&self) -> Error {
        Error::CollectionDamaged {
            offset: self.hashes.offset(),
            what: "a PHashMap's slots are all full",
        }
    }

    /// The value under `key`, to change.
    ///
    /// # Errors
    ///
    /// As [`remove`](PHashMap::remove).
    pub fn get_mut(&mut self, key: &K::Query) -> Result<Option<PMut<'_, V>>, Error>
    where
        V: Sync,
    {
        let Some(at) = self.slot_of(key)? else {
            return Ok(None);
        };
        let (_, _, values) = self.slots_mut()?;
        Ok(Some(values.into_at(at)))
    }

    /// The value under `key`, inserting `key` and `default()` first if there is none: the
    /// persistent `entry(key).or_insert_with(default)`. If there is one, `key` is left to
    /// the collector.
    ///
    /// # Errors
    ///
    /// As [`insert`](PHashMap::insert).
    pub fn get_or_insert_with(
        &mut self,
        key: K,
        default: impl FnOnce() -> V,
    ) -> Result<PMut<'_, V>, Error>
    where
        V: Sync,
    {
        let at = match key.with_query(|query| self.slot_of(query))?? {
            Some(at) => at,
            None => self.insert_at_slot(key, default())?.0,
        };
        let (_, _, values) = self.slots_mut()?;
        Ok(values.into_at(at))
    }

    /// Empties the map and lets its slices go (to the collector).
    ///
    /// # Errors
    ///
    /// As [`remove`](PHashMap::remove).
    pub fn clear(&mut self) -> Result<(), Error> {
        if !self.hashes.is_null() {
            let (_, mut keys, mut values) = self.slots_mut()?;
            release_claims(&mut keys);
            release_claims(&mut values);
        }
        self.len = 0;
        self.hashes = PSlice::null();
        self.keys = PSlice::null();
        self.values = PSlice::null();
        Ok(())
    }

    /// How many slots there are (0 before the first insert), checked.
    fn slot_count(&mut self) -> Result<usize, Error> {
        if self.hashes.is_null() {
            return Ok(0);
        }
        Ok(self.slots_mut()?.0.len())
    }

    /// Rehashes every entry into fresh slices of `slots` slots; the old ones are left to
    /// the collector. The first growth draws the map's seed. Entries move by their stored
    /// hash words: no key is read.
    fn grow(&mut self, slots: usize) -> Result<(), Error> {
        if self.hashes.is_null() {
            let random = RandomState::new();
            self.seed = [random.hash_one(0u8), random.hash_one(1u8)];
        }
        let mut placed = vec![usize::MAX; slots];
        let mut new_hashes = vec![0u64; slots];
        let mask = slots - 1;
        let old = if self.hashes.is_null() {
            None
        } else {
            let (hashes, mut keys, mut values) = self.slots_mut()?;
            release_claims(&mut keys);
            release_claims(&mut values);
            Some((hashes, keys, values))
        };
        if let Some((hashes, _, _)) = &old {
            for (from, &hash) in hashes.iter().enumerate() {
                if hash == 0 {
                    continue;
                }
                let mut at = hash as usize & mask;
                while new_hashes[at] != 0 {
                    at = (at + 1) & mask;
                }
                new_hashes[at] = hash;
                placed[at] = from;
            }
        }
        let key_at = |at: usize| match (&old, placed[at]) {
            (Some((_, keys, _)), from) if from != usize::MAX => copied(&keys[from]),
            _ => zeroed(),
        };
        let keys = alloc_slice_with(slots, key_at)?;
        let value_at = |at: usize| match (&old, placed[at]) {
            (Some((_, _, values)), from) if from != usize::MAX => copied(&values[from]),
            _ => zeroed(),
        };
        let values = alloc_slice_with(slots, value_at)?;
        let hashes = alloc_slice_with(slots, |at| new_hashes[at])?;
        self.hashes = hashes;
        self.keys = keys;
        self.values = values;
        Ok(())
    }
}
