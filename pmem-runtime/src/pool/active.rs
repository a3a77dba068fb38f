//! The pool whose exclusive transaction runs on this thread, for code that holds no `Txn`:
//! persistent collections, whose methods take `&mut self` on a value inside the pool.
//!
//! `Pool::try_txn` registers its pool here for the duration of the body (a guard removes it,
//! also on a panic). A `&mut` into a pool exists in safe code only through a [`PMut`], which
//! borrows the transaction, so a method given `&mut self` on a value that lies in the
//! registered pool's data holds the transaction exclusively: no `&T` obtained from the
//! `Txn` is alive, and it may change what the value owns. What it owns, it alone must reach:
//! collections keep their buffers' [`PSlice`]s private, and a damaged file whose two
//! collections share a buffer is caught here: [`owned_slice_mut`] takes the owning
//! `PSlice` field itself (8 bytes, so two fields borrowed at once have two addresses),
//! remembers which field claimed each buffer in the transaction, and refuses a second
//! one. A collection that moves or drops values holding collections releases their claims
//! first ([`release_claims`]), so that they can lend their buffers from where they land.

use core::cell::{Cell, RefCell};
use core::ptr::NonNull;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use pmem_alloc::{PSlice, Persistent};

use crate::error::Error;
use crate::pmut::PMut;
use crate::txn;

use super::heap::TypeKey;
use super::slices::fill_new_slice;
use super::{Pool, Visibility};

/// What a collection needs of the pool: allocation and checked slices.
trait ActivePool {
    /// A slot for a slice of `len` elements of the type `key` describes.
    fn allocate_slice_slot(&self, key: &TypeKey, len: u64) -> Result<u64, Error>;
    /// The elements of the slice at `offset` (checked as `Pool::get_slice` checks): where
    /// they start, and how many there are.
    fn slice_elements(
        &self,
        offset: u64,
        key: &TypeKey,
        align: usize,
        size: usize,
    ) -> Result<(NonNull<u8>, usize), Error>;
    /// Whether `len` bytes at `address` lie in the pool's data.
    fn holds(&self, address: *const u8, len: usize) -> bool;
    /// The address of pool offset `offset`.
    fn address_of(&self, offset: usize) -> *mut u8;
}

impl<R: Persistent> ActivePool for Pool<R> {
    fn allocate_slice_slot(&self, key: &TypeKey, len: u64) -> Result<u64, Error> {
        self.allocate_exclusive_with(key, |heap, region, type_index, growth| {
            heap.alloc_slice(region, type_index, len, growth)
        })
    }

    fn slice_elements(
        &self,
        offset: u64,
        key: &TypeKey,
        align: usize,
        size: usize,
    ) -> Result<(NonNull<u8>, usize), Error> {
        self.checked_slice_raw(
            offset,
            key,
            align,
            size,
            Visibility::WrittenByThisTransaction,
        )
    }

    fn holds(&self, address: *const u8, len: usize) -> bool {
        let base = self.mapping.address_of(0) as usize;
        (address as usize)
            .checked_sub(base)
            .is_some_and(|offset| self.in_data(offset, len))
    }

    fn address_of(&self, offset: usize) -> *mut u8 {
        self.mapping.address_of(offset).cast_mut()
    }
}

/// The registered pool, and which field claimed each buffer in this transaction.
struct Active {
    pool: NonNull<dyn ActivePool>,
    /// Made when a collection first lends a buffer: most transactions never do.
    claims: RefCell<Option<Box<Claims>>>,
}

/// Which `PSlice` field (by address) claimed which buffer (by pool offset), both ways.
/// Offsets are small integers no one can choose freely (a damaged file could, at worst
/// slowing one transaction), so hashed with one multiplication, not SipHash.
#[derive(Default)]
struct Claims {
    by_buffer: HashMap<u64, usize, BuildHasherDefault<OffsetHasher>>,
    by_owner: BTreeMap<usize, u64>,
}

impl Claims {
    /// Records that the field at `owner` lends `buffer`, unless another field claimed it.
    fn claim(&mut self, owner: usize, buffer: u64) -> bool {
        match self.by_buffer.get(&buffer) {
            Some(&claimant) => claimant == owner,
            None => {
                // The field points elsewhere now (the collection grew): its old buffer is
                // no longer its to lend.
                if let Some(old) = self.by_owner.insert(owner, buffer) {
                    self.by_buffer.remove(&old);
                }
                self.by_buffer.insert(buffer, owner);
                true
            }
        }
    }

    /// Forgets the claims of the fields in `[start, end)`.
    fn release(&mut self, start: usize, end: usize) {
        let owners: Vec<usize> = self
            .by_owner
            .range(start..end)
            .map(|(&owner, _)| owner)
            .collect();
        for owner in owners {
            if let Some(buffer) = self.by_owner.remove(&owner) {
                self.by_buffer.remove(&buffer);
            }
        }
    }
}

/// Hashes a buffer's pool offset: a multiply and a rotate, enough to spread offsets that
/// are multiples of 16.
#[derive(Default)]
struct OffsetHasher(u64);

impl Hasher for OffsetHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (value ^ self.0)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

thread_local! {
    static ACTIVE: Cell<Option<NonNull<Active>>> = const { Cell::new(None) };
}

/// Runs `body` with `pool` registered as this thread's active pool.
pub(super) fn with_active_pool<R: Persistent, T>(pool: &Pool<R>, body: impl FnOnce() -> T) -> T {
    struct Unregister;
    impl Drop for Unregister {
        fn drop(&mut self) {
            ACTIVE.set(None);
        }
    }
    let erased: NonNull<dyn ActivePool + '_> = NonNull::from(pool as &dyn ActivePool);
    // SAFETY: only the lifetime bound is erased; `Unregister` removes the pointer before
    // this function returns or unwinds, while `pool` is still borrowed.
    let erased: NonNull<dyn ActivePool> = unsafe { core::mem::transmute(erased) };
    let active = Active {
        pool: erased,
        claims: RefCell::new(None),
    };
    ACTIVE.set(Some(NonNull::from(&active)));
    let _unregister = Unregister;
    body()
}

/// The active pool, or the error for there being none.
fn active<T>(
    action: impl FnOnce(&Active, &dyn ActivePool) -> Result<T, Error>,
) -> Result<T, Error> {
    let Some(active) = ACTIVE.get() else {
        return Err(Error::NoExclusiveTransaction);
    };
    // SAFETY: `with_active_pool` keeps the registration, and the pool it points at, alive
    // until it removes it; this thread is inside that call.
    let active = unsafe { active.as_ref() };
    // SAFETY: as above.
    let pool = unsafe { active.pool.as_ref() };
    action(active, pool)
}

/// Allocates a slice of `len` elements, element `i` set to `element(i)`, in the exclusive
/// transaction running on this thread: [`Txn::alloc_slice_with`](super::Txn::alloc_slice_with)
/// for code that holds no `Txn`.
///
/// # Errors
///
/// [`Error::NoExclusiveTransaction`] outside one; otherwise as
/// [`Txn::alloc_slice_with`](super::Txn::alloc_slice_with).
pub fn alloc_slice_with<T: Persistent>(
    len: usize,
    mut element: impl FnMut(usize) -> T,
) -> Result<PSlice<T>, Error> {
    let _layout_checked: u64 = const { T::LAYOUT_HASH };
    active(|_, pool| {
        let offset = pool.allocate_slice_slot(&TypeKey::slice_of::<T>(), len as u64)?;
        // SAFETY: the heap just returned this free slot for `len` elements of `T`.
        unsafe { fill_new_slice(pool.address_of(offset as usize), offset, len, &mut element) };
        Ok(PSlice::from_offset(offset))
    })
}

/// The elements of the slice `owner` points at, to change while `owner` is borrowed. This is
/// how a collection changes its own buffer: `owner` is the collection's private `PSlice`
/// field, so the buffer is its alone.
///
/// `owner` must lie in the pool of the exclusive transaction running on this thread (so it
/// was reached through a `PMut`, which holds the transaction), and no other field may have
/// claimed the buffer in this transaction: two fields that name one buffer (which only a
/// damaged file holds, since collections keep their fields private) are refused, not lent
/// twice. A collection that moves or drops values holding other collections releases
/// their claims first ([`release_claims`]). Stores log as through any [`PMut`]; a buffer
/// allocated in this transaction needs no log.
///
/// # Errors
///
/// [`Error::NoExclusiveTransaction`] outside one, or if `owner` is not in its pool;
/// [`Error::InvalidPointer`] if the slice is not a slice of `T` in it (as
/// `Pool::get_slice`), or if another field claimed it in this transaction.
pub fn owned_slice_mut<T: Persistent>(owner: &mut PSlice<T>) -> Result<PMut<'_, [T]>, Error> {
    let slice = *owner;
    owned_slice_mut_by(owner, slice)
}

/// As [`owned_slice_mut`], for a collection whose buffers are not each named by a field it
/// can borrow (a tree's nodes, named by pointers inside other nodes): `owner`, the
/// collection itself, claims `slice`, and lends it while borrowed.
///
/// `O` must not be zero-sized: two values borrowed at once have two addresses only if
/// they have bytes (a zero-sized field shares its neighbour's), and the claim follows the
/// address. A zero-sized `O` does not compile.
///
/// # Errors
///
/// As [`owned_slice_mut`].
pub fn owned_slice_mut_by<'a, O, T: Persistent>(
    owner: &'a mut O,
    slice: PSlice<T>,
) -> Result<PMut<'a, [T]>, Error> {
    const {
        assert!(
            size_of::<O>() != 0,
            "the owner of a lent buffer must have bytes, so that its address is its own"
        );
    }
    let _layout_checked: u64 = const { T::LAYOUT_HASH };
    let owner_address = core::ptr::from_mut(owner).cast::<u8>();
    active(|active, pool| {
        if !pool.holds(owner_address, size_of::<O>()) {
            return Err(Error::NoExclusiveTransaction);
        }
        if !active
            .claims
            .borrow_mut()
            .get_or_insert_with(Box::default)
            .claim(owner_address as usize, slice.offset())
        {
            return Err(Error::InvalidPointer {
                offset: slice.offset(),
                type_name: core::any::type_name::<[T]>(),
                reason: "another collection changed this buffer in the same transaction: two collections share it (a damaged pool), or one was moved within the pool during the transaction",
            });
        }
        let (elements, len) = pool.slice_elements(
            slice.offset(),
            &TypeKey::slice_of::<T>(),
            align_of::<T>(),
            size_of::<T>(),
        )?;
        let elements = NonNull::slice_from_raw_parts(elements.cast::<T>(), len);
        if txn::is_fresh(slice.offset() as usize) {
            // SAFETY: as below, and this transaction allocated the slice.
            return Ok(unsafe { PMut::new_fresh(elements) });
        }
        // SAFETY: `slice_elements` checked that the elements are valid, aligned and inside
        // one heap object of the pool's data. `owner` lies in the pool, so it was reached
        // through a `PMut` that borrows the transaction exclusively: no reference from the
        // `Txn` is alive. The `PMut` borrows `owner`, which has bytes, for its life, and the
        // buffer is claimed by `owner`'s address alone in this transaction: no other value,
        // whose address differs from `owner`'s while both are borrowed, is lent it.
        Ok(unsafe { PMut::new(elements) })
    })
}

/// Forgets which buffers the collections inside `values` claimed in the running
/// transaction ([`owned_slice_mut`]), before the collection holding them moves them
/// elsewhere or drops them: claims follow fields' addresses, and a value moved to another
/// address must be able to lend its buffers from there. Holding `values` mutably means
/// nothing they lent is still borrowed. Outside an exclusive transaction it does nothing.
pub fn release_claims<U: ?Sized>(values: &mut PMut<'_, U>) {
    let target = values.target();
    let start = target.as_ptr().cast::<u8>() as usize;
    // SAFETY: a `PMut`'s target is a valid `U` for the `PMut`'s life.
    let len = core::mem::size_of_val(unsafe { target.as_ref() });
    let _ = active(|active, _| {
        if let Some(claims) = active.claims.borrow_mut().as_mut() {
            claims.release(start, start + len);
        }
        Ok(())
    });
}
