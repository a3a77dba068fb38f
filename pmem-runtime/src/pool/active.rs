//! The pool whose transaction runs on this thread, for code that holds no `Txn`:
//! persistent collections, whose methods take `&mut self` on a value inside the pool.
//!
//! `Pool::try_txn` and `Pool::try_shared_txn` register their pool here for the duration of
//! the body (a guard removes it, also on a panic). A `&mut` into a pool exists in safe code
//! only through a [`PMut`], which borrows the transaction (or, in a shared one, the lock
//! that guards the value), so a method given `&mut self` on a value that lies in the
//! registered pool's data holds it exclusively: no `&T` obtained from the transaction is
//! alive, and it may change what the value owns. What it owns, it alone must reach:
//! collections keep their buffers' [`PSlice`]s private, and a damaged file whose two
//! collections share a buffer is caught here: [`owned_slice_mut`] takes the owning
//! `PSlice` field itself (8 bytes, so two fields borrowed at once have two addresses),
//! remembers which field claimed each buffer in the transaction, and refuses a second
//! one. A collection that moves or drops values holding collections releases their claims
//! first ([`release_claims`]), so that they can lend their buffers from where they land.
//!
//! **Shared transactions.** A collection behind a [`PMutex`](crate::PMutex) changes in the
//! shared transaction holding the lock, whose `&mut` reaches the collection but not its
//! buffer, which is another heap object: threads that lock other values run beside it. So
//! the first time a shared transaction lends a buffer it did not allocate, it claims it in
//! the heap for the whole pool ([`Heap::claim`](pmem_alloc::Heap::claim)): the buffer is
//! hidden, as new objects are, until the transaction's body has returned, so no reader and
//! no other transaction reaches it meanwhile; and a buffer a reader (`Pool`, `SharedTxn`)
//! read since the last collection is refused, since the reference may still be alive. A
//! buffer behind a lock is never read so: the lock hands out only `&mut`, and its
//! collection reads through that. Both refusals happen only in a damaged file, where two
//! collections share a buffer, or after a collection read outside a lock has been moved
//! behind one (an exclusive transaction that changes it forgets the reads, since it has
//! the pool to itself).

use core::cell::{Cell, RefCell};
use core::ptr::NonNull;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use pmem_alloc::{ClaimRefused, HiddenSlot, PSlice, Persistent, slice_header_len};

use crate::error::Error;
use crate::pmut::PMut;
use crate::txn;

use super::heap::TypeKey;
use super::slices::fill_new_slice;
use super::{Pool, Visibility};

/// What a collection needs of the pool: allocation and checked slices.
pub(super) trait ActivePool {
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
    /// Makes the checked slice object `[offset, offset + len)` the transaction's to change,
    /// the first time it lends it (see the module's docs).
    fn take_buffer(&self, offset: u64, len: usize) -> Result<(), Error>;
    /// As [`slice_elements`](ActivePool::slice_elements), for a read that changes nothing,
    /// lent through the `owner_len` bytes at `owner`.
    fn readable_slice_elements(
        &self,
        owner: usize,
        owner_len: usize,
        offset: u64,
        key: &TypeKey,
        align: usize,
        size: usize,
    ) -> Result<(NonNull<u8>, usize), Error>;
    /// Whether `len` bytes at `address` lie in the pool's data.
    fn holds(&self, address: *const u8, len: usize) -> bool;
    /// Whether a rolled-back transaction may have left a collection naming the object at
    /// `offset` in a program variable (`txn/rolled_back.rs`).
    fn outlived_a_rollback(&self, offset: u64) -> bool;
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
        let elements = self.checked_slice_raw(
            offset,
            key,
            align,
            size,
            Visibility::WrittenByThisTransaction,
        )?;
        // A collection inside the transaction keeps it while the reference may be alive:
        // the collection lending it may lie outside the pool (`with_owned_slice`), and an
        // allocation meanwhile may collect.
        txn::note_lent(offset);
        Ok(elements)
    }

    fn take_buffer(&self, offset: u64, _len: usize) -> Result<(), Error> {
        // The transaction has the pool to itself: no reference from an earlier read is
        // alive, so a shared transaction may lend the buffer later.
        self.inner_read().heap.forget_read(offset);
        Ok(())
    }

    fn readable_slice_elements(
        &self,
        _owner: usize,
        _owner_len: usize,
        offset: u64,
        key: &TypeKey,
        align: usize,
        size: usize,
    ) -> Result<(NonNull<u8>, usize), Error> {
        self.slice_elements(offset, key, align, size)
    }

    fn holds(&self, address: *const u8, len: usize) -> bool {
        pool_holds(self, address, len)
    }

    fn outlived_a_rollback(&self, offset: u64) -> bool {
        self.rolled_back.contains(offset)
    }

    fn address_of(&self, offset: usize) -> *mut u8 {
        self.mapping.address_of(offset).cast_mut()
    }
}

fn pool_holds<R: Persistent>(pool: &Pool<R>, address: *const u8, len: usize) -> bool {
    let base = pool.mapping.address_of(0) as usize;
    (address as usize)
        .checked_sub(base)
        .is_some_and(|offset| pool.in_data(offset, len))
}

/// A shared transaction's pool: it allocates hidden slices, and claims the buffers it lends.
pub(super) struct SharedActivePool<'p, R: Persistent> {
    pool: &'p Pool<R>,
    /// What it allocated or claimed, to reveal before its locks are released.
    pub(super) hidden: RefCell<Vec<HiddenSlot>>,
    /// The buffers it claimed in the heap: a collection that moves one (releasing its
    /// claim in the transaction) lends it again from where it lands.
    claimed: RefCell<HashSet<u64>>,
}

impl<R: Persistent> SharedActivePool<'_, R> {
    /// Whether the transaction allocated or claimed the buffer at `offset`.
    fn owns(&self, offset: u64) -> bool {
        txn::is_fresh(offset as usize) || self.claimed.borrow().contains(&offset)
    }

    /// Keeps `slot`, the claim of the slice object `[offset, offset + len)`, until the
    /// transaction ends, and makes the object's bytes the transaction's to store to.
    fn keep_claim(&self, offset: u64, slot: HiddenSlot, len: usize) {
        self.hidden.borrow_mut().push(slot);
        self.claimed.borrow_mut().insert(offset);
        txn::note_claimed(offset as usize, len);
    }
}

impl<'p, R: Persistent> SharedActivePool<'p, R> {
    pub(super) fn new(pool: &'p Pool<R>) -> Self {
        Self {
            pool,
            hidden: RefCell::new(Vec::new()),
            claimed: RefCell::new(HashSet::new()),
        }
    }
}

impl<R: Persistent> ActivePool for SharedActivePool<'_, R> {
    fn allocate_slice_slot(&self, key: &TypeKey, len: u64) -> Result<u64, Error> {
        let (offset, slot) = self.pool.allocate_shared_slice(key, len as usize)?;
        self.hidden.borrow_mut().push(slot);
        Ok(offset)
    }

    fn slice_elements(
        &self,
        offset: u64,
        key: &TypeKey,
        align: usize,
        size: usize,
    ) -> Result<(NonNull<u8>, usize), Error> {
        let visibility = if self.owns(offset) {
            Visibility::WrittenByThisTransaction
        } else {
            // Another transaction's hidden object is refused unread: a forged pointer to a
            // slice it is still filling would read its length word as it is written.
            Visibility::Unhidden
        };
        self.pool
            .checked_slice_raw(offset, key, align, size, visibility)
    }

    fn take_buffer(&self, offset: u64, len: usize) -> Result<(), Error> {
        if self.owns(offset) {
            return Ok(());
        }
        let refused = |reason| Error::InvalidPointer {
            offset,
            type_name: "a collection's buffer",
            reason,
        };
        let claim = self
            .pool
            .inner_read()
            .heap
            .claim(offset)
            .expect("a checked slice starts a slot");
        match claim {
            Ok(slot) => {
                self.keep_claim(offset, slot, len);
                Ok(())
            }
            Err(ClaimRefused::Hidden) => Err(refused(
                "another running transaction is changing this buffer: two collections share it (a damaged pool)",
            )),
            Err(ClaimRefused::Read) => Err(refused(
                "a reader (a Pool or SharedTxn) read this buffer since the last collection, and its reference may be alive, so a shared transaction may not change it: two collections share it (a damaged pool), or a collection read outside a lock was moved behind one (an exclusive transaction may change it)",
            )),
        }
    }

    fn readable_slice_elements(
        &self,
        owner: usize,
        owner_len: usize,
        offset: u64,
        key: &TypeKey,
        align: usize,
        size: usize,
    ) -> Result<(NonNull<u8>, usize), Error> {
        if self.owns(offset) {
            return self.slice_elements(offset, key, align, size);
        }
        if txn::owns(owner, owner_len) {
            // A collection behind a lock this transaction holds: its buffer is claimed as
            // for a change, not marked read, so that a later transaction holding the lock
            // may still change it (a read mark would refuse it until the next collection).
            // Checked first, as a change checks it (another transaction's hidden object
            // refused unread), so that only a slice of the type is claimed.
            let (elements, len) = self.slice_elements(offset, key, align, size)?;
            let claim = self.pool.inner_read().heap.claim(offset);
            if let Some(Ok(slot)) = claim {
                let object_len = slice_header_len(align as u64) as usize + len * size;
                self.keep_claim(offset, slot, object_len);
                return Ok((elements, len));
            }
        }
        // Marked read before it is looked up, so that no other transaction claims it while
        // it is read, and refused if one has it.
        self.pool
            .checked_slice_raw(offset, key, align, size, Visibility::Published)
    }

    fn holds(&self, address: *const u8, len: usize) -> bool {
        pool_holds(self.pool, address, len)
    }

    fn outlived_a_rollback(&self, offset: u64) -> bool {
        self.pool.outlived_a_rollback(offset)
    }

    fn address_of(&self, offset: usize) -> *mut u8 {
        self.pool.address_of(offset)
    }
}

/// The registered pool, and which field claimed each buffer in this transaction.
struct Active {
    pool: NonNull<dyn ActivePool>,
    /// Made when a collection first lends a buffer: most transactions never do.
    claims: RefCell<Option<Box<Claims>>>,
}

/// Which `PSlice` field (by address) claimed which buffer (by pool offset), both ways.
///
/// A transaction claims a buffer or two, and scanning a short list of pairs is the cheapest
/// lookup; past [`SCAN_LIMIT`] claims (a transaction relinking thousands of collections) the
/// pairs move into two indexes. Offsets are small integers no one can choose freely (a
/// damaged file could, at worst slowing one transaction), so hashed with one
/// multiplication, not SipHash.
#[derive(Default)]
struct Claims {
    /// The claims while there are few: `(owner, buffer)`.
    pairs: Vec<(usize, u64)>,
    /// The claims once there are many.
    by_buffer: HashMap<u64, usize, BuildHasherDefault<OffsetHasher>>,
    by_owner: BTreeMap<usize, u64>,
}

/// How many claims a transaction keeps in a list before it indexes them.
const SCAN_LIMIT: usize = 16;

/// Whether a field may lend a buffer in the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lending {
    /// It lent it before.
    Again,
    /// It is the first to.
    First,
    /// Another field claimed it.
    Refused,
}

impl Claims {
    fn indexed(&self) -> bool {
        !self.by_owner.is_empty()
    }

    fn claimant(&self, buffer: u64) -> Option<usize> {
        if self.indexed() {
            return self.by_buffer.get(&buffer).copied();
        }
        self.pairs
            .iter()
            .find(|&&(_, claimed)| claimed == buffer)
            .map(|&(owner, _)| owner)
    }

    /// Whether the field at `owner` may lend `buffer`.
    fn lending(&self, owner: usize, buffer: u64) -> Lending {
        match self.claimant(buffer) {
            Some(claimant) if claimant == owner => Lending::Again,
            Some(_) => Lending::Refused,
            None => Lending::First,
        }
    }

    /// Records that the field at `owner` lends `buffer`, which no field claimed. The field
    /// may have claimed another before (the collection grew): that one is no longer its to
    /// lend.
    fn claim(&mut self, owner: usize, buffer: u64) {
        if !self.indexed() {
            if let Some(pair) = self
                .pairs
                .iter_mut()
                .find(|(claimant, _)| *claimant == owner)
            {
                pair.1 = buffer;
                return;
            }
            if self.pairs.len() < SCAN_LIMIT {
                self.pairs.push((owner, buffer));
                return;
            }
            for (owner, buffer) in self.pairs.drain(..) {
                self.by_owner.insert(owner, buffer);
                self.by_buffer.insert(buffer, owner);
            }
        }
        if let Some(old) = self.by_owner.insert(owner, buffer) {
            self.by_buffer.remove(&old);
        }
        self.by_buffer.insert(buffer, owner);
    }

    /// Forgets that `owner` claimed `buffer`, if it still does.
    fn unclaim(&mut self, owner: usize, buffer: u64) {
        if !self.indexed() {
            self.pairs.retain(|&pair| pair != (owner, buffer));
        } else if self.by_buffer.get(&buffer) == Some(&owner) {
            self.by_buffer.remove(&buffer);
            self.by_owner.remove(&owner);
        }
    }

    /// Forgets the claims of the fields in `[start, end)`.
    fn release(&mut self, start: usize, end: usize) {
        if !self.indexed() {
            self.pairs
                .retain(|&(owner, _)| !(start..end).contains(&owner));
            return;
        }
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

    /// Forgets every claim, keeping the list's room for the next transaction.
    fn clear(&mut self) {
        self.pairs.clear();
        if self.indexed() {
            self.by_owner.clear();
            self.by_buffer = HashMap::default();
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
    /// The claims of the thread's last transaction that lent a buffer, emptied, for the
    /// next one: a transaction that lends one then allocates nothing for its claims.
    static SPARE_CLAIMS: Cell<Option<Box<Claims>>> = const { Cell::new(None) };
}

/// The thread's spare claims, or new ones.
fn spare_claims() -> Box<Claims> {
    SPARE_CLAIMS.take().unwrap_or_default()
}

/// Runs `body` with `pool` registered as this thread's active pool.
pub(super) fn with_active_pool<T>(pool: &dyn ActivePool, body: impl FnOnce() -> T) -> T {
    struct Unregister<'a>(&'a Active);
    impl Drop for Unregister<'_> {
        fn drop(&mut self) {
            ACTIVE.set(None);
            let claims = self
                .0
                .claims
                .try_borrow_mut()
                .ok()
                .and_then(|mut claims| claims.take());
            if let Some(mut claims) = claims {
                claims.clear();
                SPARE_CLAIMS.set(Some(claims));
            }
        }
    }
    let erased: NonNull<dyn ActivePool + '_> = NonNull::from(pool);
    // SAFETY: only the lifetime bound is erased; `Unregister` removes the pointer before
    // this function returns or unwinds, while `pool` is still borrowed.
    let erased: NonNull<dyn ActivePool> = unsafe { core::mem::transmute(erased) };
    let active = Active {
        pool: erased,
        claims: RefCell::new(None),
    };
    ACTIVE.set(Some(NonNull::from(&active)));
    let _unregister = Unregister(&active);
    body()
}

/// The active pool, or the error for there being none.
fn active<T>(
    action: impl FnOnce(&Active, &dyn ActivePool) -> Result<T, Error>,
) -> Result<T, Error> {
    let Some(active) = ACTIVE.get() else {
        return Err(Error::NoTransaction);
    };
    // SAFETY: `with_active_pool` keeps the registration, and the pool it points at, alive
    // until it removes it; this thread is inside that call.
    let active = unsafe { active.as_ref() };
    // SAFETY: as above.
    let pool = unsafe { active.pool.as_ref() };
    action(active, pool)
}

/// Allocates a slice of `len` elements, element `i` set to `element(i)`, in the transaction
/// running on this thread: [`Txn::alloc_slice_with`](super::Txn::alloc_slice_with) (or
/// [`SharedTxn::alloc_slice_with`](super::SharedTxn::alloc_slice_with)) for code that holds
/// no `Txn`.
///
/// # Errors
///
/// [`Error::NoTransaction`] outside one; otherwise as
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
/// `owner` must lie in the pool of the transaction running on this thread (so it was
/// reached through a `PMut`, which holds the transaction, or in a shared one the lock), and
/// no other field may have claimed the buffer in this transaction: two fields that name one
/// buffer (which only a damaged file holds, since collections keep their fields private)
/// are refused, not lent twice. A collection that moves or drops values holding other
/// collections releases their claims first ([`release_claims`]). Stores log as through any
/// [`PMut`]; a buffer allocated in this transaction needs no log. A shared transaction
/// also claims the buffer for the whole pool (see the module's docs).
///
/// # Errors
///
/// [`Error::NoTransaction`] outside one, or if `owner` is not in its pool;
/// [`Error::InvalidPointer`] if the slice is not a slice of `T` in it (as
/// `Pool::get_slice`), or if another field claimed it in this transaction, or (in a shared
/// transaction) if another transaction has claimed it or a reader may still hold it.
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
            return Err(Error::NoTransaction);
        }
        let mut claims = active.claims.borrow_mut();
        let claims = claims.get_or_insert_with(spare_claims);
        let lending = claims.lending(owner_address as usize, slice.offset());
        if lending == Lending::Refused {
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
        if lending == Lending::First {
            let header = slice_header_len(align_of::<T>() as u64) as usize;
            pool.take_buffer(slice.offset(), header + len * size_of::<T>())?;
            claims.claim(owner_address as usize, slice.offset());
        }
        let elements = NonNull::slice_from_raw_parts(elements.cast::<T>(), len);
        if txn::is_fresh(slice.offset() as usize) {
            // SAFETY: as below, and this transaction allocated the slice.
            return Ok(unsafe { PMut::new_fresh(elements) });
        }
        // SAFETY: `slice_elements` checked that the elements are valid, aligned and inside
        // one heap object of the pool's data. `owner` lies in the pool, so it was reached
        // through a `PMut` that borrows the transaction exclusively (or, in a shared one,
        // also holds the lock of the value it lies in): no reference from the transaction
        // is alive. The `PMut` borrows `owner`, which has bytes, for its life, and the
        // buffer is claimed by `owner`'s address alone in this transaction: no other value,
        // whose address differs from `owner`'s while both are borrowed, is lent it. In a
        // shared transaction, `take_buffer` claimed it for the whole pool, so no other
        // thread reaches it until this transaction's body has returned, and no reader
        // that might still hold a reference read it.
        Ok(unsafe { PMut::new(elements) })
    })
}

/// Claims the slice at `offset` in the running transaction for `owner`, the address of the
/// transaction's handle, before the handle lends it mutably by itself
/// (`Txn::get_slice_mut`, `SharedTxn::get_slice_mut`): a collection naming the same buffer
/// (a `PSlice` made from its offset) is then refused a view of it
/// ([`with_owned_slice`], which borrows no handle) while the `PMut` may be alive; and the
/// handle is refused a buffer a collection lends. The handle claims one slice at a time:
/// lending another means the `PMut` to the first has ended.
pub(super) fn claim_for_handle(
    owner: usize,
    offset: u64,
    type_name: &'static str,
) -> Result<(), Error> {
    active(|active, _| {
        let mut claims = active.claims.borrow_mut();
        let claims = claims.get_or_insert_with(spare_claims);
        match claims.lending(owner, offset) {
            Lending::Refused => Err(Error::InvalidPointer {
                offset,
                type_name,
                reason: "a collection lends this buffer in the same transaction: a PSlice names a collection's buffer",
            }),
            Lending::First => {
                claims.claim(owner, offset);
                Ok(())
            }
            Lending::Again => Ok(()),
        }
    })
}

/// Runs `read` on the elements of the slice `owner` points at, in the transaction running
/// on this thread: the read-only [`owned_slice_mut_by`], for a
/// collection that must read a buffer (a stored key's bytes) where it holds no
/// [`Reader`](super::Reader), or holds the value (a key about to be inserted) outside the
/// pool.
///
/// `owner` claims the buffer for the length of `read` only, as [`owned_slice_mut_by`]
/// would: a buffer another value claimed in this transaction is refused, so no `PMut` into
/// it is alive while `read` sees it, and none can be made through another value until
/// `read` returns (a claim this call made is forgotten then; one `owner` held before is
/// kept). `owner` may lie outside the pool: a claim follows its address, which no value in
/// the pool shares. A shared transaction reads a buffer it neither allocated nor claimed as
/// a reader does (`Pool::get_slice`): refused while another transaction has it, and no
/// other transaction claims it after (see the module's docs).
///
/// # Errors
///
/// [`Error::NoTransaction`] outside one; [`Error::InvalidPointer`] if the slice is
/// not a slice of `T` in the pool (as `Pool::get_slice`), or if another value claimed it in
/// this transaction, or (in a shared transaction) another transaction has it.
pub fn with_owned_slice<O, T: Persistent, U>(
    owner: &O,
    slice: PSlice<T>,
    read: impl FnOnce(&[T]) -> U,
) -> Result<U, Error> {
    const {
        assert!(
            size_of::<O>() != 0,
            "the owner of a lent buffer must have bytes, so that its address is its own"
        );
    }
    let _layout_checked: u64 = const { T::LAYOUT_HASH };
    let owner_address = core::ptr::from_ref(owner) as usize;
    let (elements, newly_claimed) = active(|active, pool| {
        let mut claims = active.claims.borrow_mut();
        let claims = claims.get_or_insert_with(spare_claims);
        let lending = claims.lending(owner_address, slice.offset());
        if lending == Lending::Refused {
            return Err(Error::InvalidPointer {
                offset: slice.offset(),
                type_name: core::any::type_name::<[T]>(),
                reason: "another collection changed this buffer in the same transaction: two collections share it (a damaged pool), or one was moved within the pool during the transaction",
            });
        }
        let newly_claimed = lending == Lending::First;
        if newly_claimed {
            claims.claim(owner_address, slice.offset());
        }
        let elements = pool.readable_slice_elements(
            owner_address,
            size_of::<O>(),
            slice.offset(),
            &TypeKey::slice_of::<T>(),
            align_of::<T>(),
            size_of::<T>(),
        );
        match elements {
            Ok((elements, len)) => Ok((
                NonNull::slice_from_raw_parts(elements.cast::<T>(), len),
                newly_claimed,
            )),
            Err(error) => {
                if newly_claimed {
                    claims.unclaim(owner_address, slice.offset());
                }
                Err(error)
            }
        }
    })?;
    // SAFETY: `slice_elements` checked that the elements are valid, aligned and inside one
    // heap object of the pool's data. The buffer is claimed by `owner`'s address: no other
    // value was lent it mutably in this transaction, and none can be while `read` runs; a
    // `PMut` lent through `owner` itself borrowed `owner` mutably, so it is no longer alive
    // while `owner` is borrowed here. The reference does not outlive `read`.
    let value = read(unsafe { elements.as_ref() });
    if newly_claimed {
        let _ = active(|active, _| {
            if let Some(claims) = active.claims.borrow_mut().as_mut() {
                claims.unclaim(owner_address, slice.offset());
            }
            Ok(())
        });
    }
    Ok(value)
}

/// Whether another collection than the one asking may name `buffer`, without a damaged
/// file: a transaction rolled back in this open of the pool changed a word that named it,
/// or allocated it, so a collection its body moved out of the pool (`mem::take` into a
/// variable outside the closure) may hold it still, and be linked into the pool again. A
/// collection that writes its buffer without an undo entry, relying on being its only
/// collection (`pmem::PVec`'s spare slots), logs instead when this says `true`, as it
/// does outside a transaction.
pub fn buffer_outlived_a_rollback<T: Persistent>(buffer: PSlice<T>) -> bool {
    active(|_, pool| Ok(pool.outlived_a_rollback(buffer.offset()))).unwrap_or(true)
}

/// Forgets which buffers the collections inside `values` claimed in the running
/// transaction ([`owned_slice_mut`]), before the collection holding them moves them
/// elsewhere or drops them: claims follow fields' addresses, and a value moved to another
/// address must be able to lend its buffers from there. Holding `values` mutably means
/// nothing they lent is still borrowed. Outside a transaction it does nothing.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_found_alike_before_and_after_the_index() {
        let mut claims = Claims::default();
        for round in 0..2 {
            claims.clear();
            for owner in 0..40_usize {
                let buffer = 1000 + owner as u64 * 16;
                assert_eq!(
                    claims.lending(owner, buffer),
                    Lending::First,
                    "round {round}"
                );
                claims.claim(owner, buffer);
                assert_eq!(claims.lending(owner, buffer), Lending::Again);
                assert_eq!(claims.lending(owner + 1, buffer), Lending::Refused);
                if owner > 0 {
                    assert_eq!(
                        claims.lending(owner - 1, buffer - 16),
                        Lending::Again,
                        "an earlier claim, with {} claims",
                        owner + 1
                    );
                }
            }
            // A field that grew lends its new buffer; its old one is free to claim.
            claims.claim(3, 5000);
            assert_eq!(claims.lending(3, 5000), Lending::Again);
            assert_eq!(claims.lending(7, 1000 + 3 * 16), Lending::First);
            claims.release(10, 20);
            assert_eq!(claims.lending(99, 1000 + 15 * 16), Lending::First);
            assert_eq!(claims.lending(99, 1000 + 20 * 16), Lending::Refused);
            claims.unclaim(25, 1000 + 25 * 16);
            assert_eq!(claims.lending(99, 1000 + 25 * 16), Lending::First);
        }
        let mut few = Claims::default();
        few.claim(1, 100);
        few.claim(2, 200);
        few.release(2, 3);
        few.unclaim(1, 100);
        assert_eq!(few.lending(9, 100), Lending::First);
        assert_eq!(few.lending(9, 200), Lending::First);
    }
}
