//! [`PVec`]: a growable array in a pool.

use super::{copied, zeroed};
use crate::{
    Error, PMut, PSlice, Persistent, Reader, alloc_slice_with, buffer_outlived_a_rollback,
    owned_slice_mut, release_claims, txn, with_owned_slice,
};

/// A growable array of `T` in a pool, the persistent `Vec<T>`: a length and a buffer, a
/// [`PSlice`] whose own length is the capacity.
///
/// A `PVec` lives inside a pool (a field of the root or of a heap object) and changes inside
/// a transaction ([`Pool::txn`](crate::Pool::txn), or [`Pool::shared_txn`](crate::Pool::shared_txn)
/// if it lies behind a [`PMutex`](crate::PMutex) the transaction locked), through the `&mut` a
/// [`PMut`] gives: `tx.root_mut().items.push(7)?`, or in a `#[txn]` function
/// `let items = &mut root.items; items.push(7)?;`, which logs the vector's 16 bytes. Its
/// methods log only what they change: a push logs the length and, if the elements hold
/// pointers, the new slot, not the buffer. Growth allocates a buffer twice as large in the
/// pool's heap, moves the elements, and leaves the old buffer to the collector. Reading
/// takes anything that reads the pool (a [`Reader`]: the `Pool`, a `Txn` or a `SharedTxn`)
/// and logs nothing.
///
/// The elements may themselves hold pointers and collections (a `PVec<PString>`). Slots
/// past the length then hold zeros, so the collector, which traces the whole buffer, keeps
/// nothing alive that the vector no longer holds. For an element type without pointers
/// ([`Persistent::POINTER_FREE`]: numbers, arrays and structs of them), a push or an
/// extension stores into the spare slots without logging them, at the cost of their
/// write-back alone (see `store_spare`), so a push logs the length's line only; after a
/// rollback, such a slot may keep the value pushed, which nothing reads.
#[derive(Persistent, Debug)]
#[repr(C)]
#[persistent(name = "pmem::PVec")]
pub struct PVec<T: Persistent> {
    len: u64,
    buffer: PSlice<T>,
}

/// The first capacity a push allocates.
const MIN_CAPACITY: usize = 4;

/// Stores `value` into `slot`, a spare slot: at or past the vector's length, in its
/// current buffer. For an element type with pointers, the store is logged, so that a
/// rollback puts back the zeros that spare slots hold. For one without, it is not: only
/// written back at commit (`PMut::set_unlogged`). That is sound because a rollback (or a
/// recovery after a crash at any fence of the transaction) never has to restore a spare
/// slot's bytes. Say the transaction began with length `L`, and the slot is at `i`:
///
/// - if `i >= L`, the slot was spare when the transaction began, and is spare again once
///   the length is restored to `L` (the length's own store is logged): no one reads its
///   bytes, whatever they hold, since reads stop at the length; and the collector, which
///   traces the whole buffer, finds no pointer in them, stale or not (`T` has none). That
///   is the one reason pointer-carrying elements keep their log: a stale pointer in a
///   spare slot could name an object freed since, and keep it or trip over it;
/// - if `i < L`, the slot held an element when the transaction began, and has left the
///   length since. Every way a slot leaves the length in its buffer (`pop`, `truncate`,
///   `remove`, which pops) stores zeros into it through a logging `PMut`, so its element
///   is in the undo log, in an entry made durable before that store (and so before this
///   one), and rollback and recovery restore it: the earliest entry of a byte wins. The
///   other ways (`clear`, growth) leave the buffer itself, whose slots they do not touch:
///   later pushes go to another buffer. And a buffer this transaction allocated needs no
///   log at all (nothing reaches it after a rollback), which `PMut::set_unlogged` sees.
///
/// Stores into elements inside the length (`as_mut_slice`, `insert`'s and `remove`'s
/// shifts) are logged as always; if they log a spare slot along the way (a shift, or a
/// line shared with one), the entry holds the bytes it held then, which a rollback may put
/// back into a slot that is spare again, which is as harmless as above.
///
/// The argument takes each buffer to have one vector. A second one naming it exists only
/// in a damaged file, or when a program moves a vector out of a transaction that is then
/// rolled back (`mem::take` into a variable outside the closure) and links that copy into
/// the pool again: the copy's length may cover slots that are spare in the pool's vector,
/// and a rolled-back push into one of those would stay visible through the copy. So a push
/// asks first whether a transaction rolled back in this open of the pool could have left
/// such a copy of its buffer ([`buffer_outlived_a_rollback`]), and logs the slot if so.
/// A crash leaves no copy: program variables end with the process. Only a damaged file can
/// still give a buffer two vectors, and then a rolled-back push may show through the other
/// one, which breaks neither memory safety nor the pool's consistency (the bytes are a `T`,
/// and `T` has no pointers).
fn store_spare<T: Persistent>(buffer: PSlice<T>, mut slot: PMut<'_, T>, value: T) {
    if spare_slots_unlogged(buffer) {
        // SAFETY: a spare slot of a pointer-free element, of a buffer no copy of a
        // collection from a rolled-back transaction names: nothing depends on its bytes
        // unless the transaction commits, as the argument above shows.
        unsafe { slot.set_unlogged(value) };
    } else {
        slot.set(value);
    }
}

/// Whether stores into `buffer`'s spare slots may skip the undo log (see `store_spare`).
fn spare_slots_unlogged<T: Persistent>(buffer: PSlice<T>) -> bool {
    T::POINTER_FREE && !buffer_outlived_a_rollback(buffer)
}

impl<T: Persistent> PVec<T> {
    /// An empty vector, which owns no buffer yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            len: 0,
            buffer: PSlice::null(),
        }
    }

    /// How many elements it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements.
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`](crate::Pool::get_slice) for the buffer, and
    /// [`Error::CollectionDamaged`] if the length exceeds it.
    pub fn as_slice<'r>(&self, reader: &'r impl Reader) -> Result<&'r [T], Error>
    where
        T: Sync,
    {
        if self.buffer.is_null() {
            return self.checked_len(0).map(|_| &[][..]);
        }
        let buffer = reader.get_slice(self.buffer)?;
        let len = self.checked_len(buffer.len())?;
        Ok(&buffer[..len])
    }

    /// Element `index`, or `None` past the end; see [`as_slice`](PVec::as_slice).
    ///
    /// # Errors
    ///
    /// As [`as_slice`](PVec::as_slice).
    pub fn get<'r>(&self, reader: &'r impl Reader, index: usize) -> Result<Option<&'r T>, Error>
    where
        T: Sync,
    {
        Ok(self.as_slice(reader)?.get(index))
    }

    /// The elements in order; see [`as_slice`](PVec::as_slice).
    ///
    /// # Errors
    ///
    /// As [`as_slice`](PVec::as_slice).
    pub fn iter<'r>(&self, reader: &'r impl Reader) -> Result<core::slice::Iter<'r, T>, Error>
    where
        T: Sync,
    {
        Ok(self.as_slice(reader)?.iter())
    }

    /// How many elements fit before the next push reallocates; see
    /// [`as_slice`](PVec::as_slice).
    ///
    /// # Errors
    ///
    /// As [`as_slice`](PVec::as_slice).
    pub fn capacity(&self, reader: &impl Reader) -> Result<usize, Error>
    where
        T: Sync,
    {
        if self.buffer.is_null() {
            return Ok(0);
        }
        Ok(reader.get_slice(self.buffer)?.len())
    }

    /// Runs `body` on the elements, read through the transaction running on this thread
    /// ([`with_owned_slice`]): for code that holds no [`Reader`], such as a vector behind a
    /// lock in a shared transaction, or a map reading its stored keys with only `&mut self`.
    ///
    /// # Errors
    ///
    /// As [`with_owned_slice`], and [`Error::CollectionDamaged`] if the length exceeds the
    /// buffer.
    pub fn with_elements<U>(&self, body: impl FnOnce(&[T]) -> U) -> Result<U, Error> {
        if self.buffer.is_null() {
            return self.checked_len(0).map(|_| body(&[]));
        }
        with_owned_slice(&self.buffer, self.buffer, |buffer| {
            self.checked_len(buffer.len())
                .map(|len| body(&buffer[..len]))
        })?
    }

    /// The pool offset of the buffer; 0 if there is none.
    pub(crate) fn buffer_offset(&self) -> u64 {
        self.buffer.offset()
    }

    /// The length, if it fits a buffer of `capacity` elements.
    fn checked_len(&self, capacity: usize) -> Result<usize, Error> {
        usize::try_from(self.len)
            .ok()
            .filter(|&len| len <= capacity)
            .ok_or(Error::CollectionDamaged {
                offset: self.buffer.offset(),
                what: "a PVec's length exceeds its buffer",
            })
    }

    /// The buffer's capacity and the checked length, through the buffer to change.
    fn capacity_and_len(&mut self) -> Result<(usize, usize), Error> {
        if self.buffer.is_null() {
            return Ok((0, self.checked_len(0)?));
        }
        let (elements, len) = self.elements()?;
        Ok((elements.len(), len))
    }

    /// The buffer, which must not be null, to change, and the checked length.
    fn elements(&mut self) -> Result<(PMut<'_, [T]>, usize), Error> {
        let buffer = self.buffer;
        let len = self.len;
        let elements = owned_slice_mut(&mut self.buffer)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= elements.len())
            .ok_or(Error::CollectionDamaged {
                offset: buffer.offset(),
                what: "a PVec's length exceeds its buffer",
            })?;
        Ok((elements, len))
    }
}

impl<T: Persistent> Default for PVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[txn]
impl<T: Persistent> PVec<T> {
    /// A vector holding `elements`, its buffer allocated in the transaction running
    /// on this thread: the persistent `collect`.
    ///
    /// # Errors
    ///
    /// As [`alloc_slice_with`](crate::alloc_slice_with).
    pub fn from_elements(elements: impl IntoIterator<Item = T>) -> Result<Self, Error> {
        let elements: Vec<T> = elements.into_iter().collect();
        let buffer = alloc_slice_with(elements.len(), |index| copied(&elements[index]))?;
        Ok(Self {
            len: elements.len() as u64,
            buffer,
        })
    }

    /// Appends `value`: logs the length, and the slot if `T` holds pointers (see
    /// [`PVec`]); growing first, if the buffer is full, to twice its capacity (at least 4).
    ///
    /// # Errors
    ///
    /// [`Error::NoTransaction`] outside a transaction, or if the vector
    /// does not lie in its pool; allocation errors from growth (the heap is full); and
    /// [`Error::CollectionDamaged`] for a damaged vector.
    pub fn push(&mut self, value: T) -> Result<(), Error> {
        if !self.buffer.is_null() {
            let buffer = self.buffer;
            let (mut elements, len) = self.elements()?;
            if len < elements.len() {
                store_spare(buffer, elements.at(len), value);
                self.len += 1;
                return Ok(());
            }
        }
        let (capacity, len) = self.capacity_and_len()?;
        self.grow(capacity.saturating_mul(2).max(MIN_CAPACITY))?;
        let buffer = self.buffer;
        let (mut elements, _) = self.elements()?;
        store_spare(buffer, elements.at(len), value);
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the last element, zeroing its slot (both logged).
    ///
    /// # Errors
    ///
    /// As [`push`](PVec::push), without allocation errors.
    pub fn pop(&mut self) -> Result<Option<T>, Error> {
        if self.capacity_and_len()?.1 == 0 {
            return Ok(None);
        }
        let (mut elements, len) = self.elements()?;
        let last = len - 1;
        let value = copied(&elements[last]);
        release_claims(&mut elements.at(last));
        elements.at(last).set(zeroed());
        self.len -= 1;
        Ok(Some(value))
    }

    /// Appends each of `values` in turn, as [`push`](PVec::push) does, growing first to
    /// hold as many as the iterator says it has at least: the persistent `extend`.
    ///
    /// # Errors
    ///
    /// As [`push`](PVec::push); the values before the failing one are in the vector until
    /// the transaction is rolled back.
    pub fn extend(&mut self, values: impl IntoIterator<Item = T>) -> Result<(), Error> {
        let values = values.into_iter();
        let (capacity, len) = self.capacity_and_len()?;
        let at_least = len.saturating_add(values.size_hint().0);
        if at_least > capacity {
            self.grow(at_least.max(capacity.saturating_mul(2)).max(MIN_CAPACITY))?;
        }
        for value in values {
            self.push(value)?;
        }
        Ok(())
    }

    /// Appends a copy of each of `values`, growing once if needed.
    ///
    /// # Errors
    ///
    /// As [`push`](PVec::push).
    pub fn extend_from_slice(&mut self, values: &[T]) -> Result<(), Error>
    where
        T: Copy,
    {
        let (capacity, len) = self.capacity_and_len()?;
        if values.is_empty() {
            return Ok(());
        }
        let needed = len
            .checked_add(values.len())
            .ok_or(Error::CollectionDamaged {
                offset: self.buffer.offset(),
                what: "a PVec's length overflows",
            })?;
        if needed > capacity {
            self.grow(needed.max(capacity.saturating_mul(2)).max(MIN_CAPACITY))?;
        }
        let buffer = self.buffer;
        let (mut elements, _) = self.elements()?;
        let mut slots = elements.range(len..needed);
        if spare_slots_unlogged(buffer) {
            // SAFETY: spare slots of a pointer-free element, as in `store_spare`.
            unsafe { slots.copy_from_slice_unlogged(values) };
        } else {
            for (index, &value) in values.iter().enumerate() {
                slots.at(index).set(value);
            }
        }
        self.len = needed as u64;
        Ok(())
    }

    /// Inserts `value` at `index`, moving the elements after it up by one (logging them).
    ///
    /// # Errors
    ///
    /// As [`push`](PVec::push).
    ///
    /// # Panics
    ///
    /// If `index > len`, like `Vec::insert`.
    pub fn insert(&mut self, index: usize, value: T) -> Result<(), Error> {
        let len = self.len();
        assert!(
            index <= len,
            "insertion index {index} is past the length {len}"
        );
        self.push(value)?;
        let (mut elements, len) = self.elements()?;
        let mut moved = elements.range(index..len);
        release_claims(&mut moved);
        moved.rotate_right(1);
        Ok(())
    }

    /// Removes and returns the element at `index`, moving the elements after it down by
    /// one (logging them).
    ///
    /// # Errors
    ///
    /// As [`pop`](PVec::pop).
    ///
    /// # Panics
    ///
    /// If `index >= len`, like `Vec::remove`.
    pub fn remove(&mut self, index: usize) -> Result<T, Error> {
        let len = self.len();
        assert!(
            index < len,
            "removal index {index} is past the length {len}"
        );
        let (mut elements, len) = self.elements()?;
        let mut moved = elements.range(index..len);
        release_claims(&mut moved);
        moved.rotate_left(1);
        Ok(self.pop()?.expect("the vector holds the element"))
    }

    /// Shortens the vector to `len` elements, zeroing the slots it empties (logged); no
    /// change if it is not longer.
    ///
    /// # Errors
    ///
    /// As [`pop`](PVec::pop).
    pub fn truncate(&mut self, len: usize) -> Result<(), Error> {
        if len >= self.capacity_and_len()?.1 {
            return Ok(());
        }
        let (mut elements, current) = self.elements()?;
        let mut emptied = elements.range(len..current);
        release_claims(&mut emptied);
        for index in 0..current - len {
            emptied.at(index).set(zeroed());
        }
        self.len = len as u64;
        Ok(())
    }

    /// Empties the vector and lets its buffer go (to the collector): logs 16 bytes.
    ///
    /// # Errors
    ///
    /// As [`pop`](PVec::pop).
    pub fn clear(&mut self) -> Result<(), Error> {
        if !self.buffer.is_null() {
            let (mut elements, len) = self.elements()?;
            release_claims(&mut elements.range(0..len));
        }
        self.len = 0;
        self.buffer = PSlice::null();
        Ok(())
    }

    /// The elements, to change: stores log as through any [`PMut`]. `None` while the
    /// vector has no buffer (it never held an element, or was cleared).
    ///
    /// # Errors
    ///
    /// As [`pop`](PVec::pop).
    pub fn as_mut_slice(&mut self) -> Result<Option<PMut<'_, [T]>>, Error> {
        if self.buffer.is_null() {
            self.checked_len(0)?;
            return Ok(None);
        }
        let (elements, len) = self.elements()?;
        Ok(Some(elements.into_range(0..len)))
    }

    /// Moves the elements to a new buffer of `capacity` slots (the rest zeroed); the old
    /// one is left to the collector.
    fn grow(&mut self, capacity: usize) -> Result<(), Error> {
        let buffer = if self.buffer.is_null() {
            alloc_slice_with(capacity, |_| zeroed())?
        } else {
            let (mut old, len) = self.elements()?;
            release_claims(&mut old.range(0..len));
            alloc_slice_with(capacity, |index| {
                if index < len {
                    copied(&old[index])
                } else {
                    zeroed()
                }
            })?
        };
        self.buffer = buffer;
        Ok(())
    }
}
