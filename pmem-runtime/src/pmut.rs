//! [`PMut`]: the only `&mut` into a pool that safe code can hold, valid inside one
//! transaction, which logs before it hands out `&mut T`. `place.rs` narrows it field by
//! field for `#[txn]`'s precise stores.

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use crate::txn::{ThreadBound, in_transaction, log_range, note_unlogged_store};

/// `PMut`'s pointer to its target.
///
/// `PMut` is `!Send` and `!Sync` through its [`ThreadBound`] marker alone, so that moving one
/// to another thread is reported as "`*const pmem::ThisThreadsTransaction` cannot be sent
/// between threads safely", not as a complaint about a `NonNull`.
struct Target<T: ?Sized>(NonNull<T>);

impl<T: ?Sized> Clone for Target<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Target<T> {}

// SAFETY: a `Target` is only ever a field of `PMut`, which stays `!Send` and `!Sync` through
// its `ThreadBound` marker; these impls only keep `NonNull` out of the compiler's message.
unsafe impl<T: ?Sized> Send for Target<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: ?Sized> Sync for Target<T> {}

/// A mutable reference into a pool, valid inside one transaction.
///
/// `PMut<T>` dereferences to `&T` freely; the first `&mut T` it hands out logs the whole
/// `T` in the transaction's undo log (later ones are free), so every store through it can be
/// rolled back. Its lifetime ends with the transaction, and it cannot leave its thread.
///
/// Inside a `#[txn]` function, stores through a `PMut` log only the bytes they change:
/// `bank.accounts[i].balance -= amount` logs one `u64`'s cache line, not the bank. Outside
/// one, narrow it by hand before writing: [`PMut::at`] gives a `PMut` to one element of an
/// array.
pub struct PMut<'a, T: ?Sized> {
    target: Target<T>,
    /// Whether `target`'s bytes are already in the undo log (a `PMut` narrowed from one that
    /// was).
    logged: bool,
    borrow: PhantomData<&'a mut T>,
    not_send: ThreadBound,
}

impl<'a, T: ?Sized> PMut<'a, T> {
    /// # Safety
    ///
    /// `target` must point at a valid, aligned `T` inside the data of the pool of the
    /// transaction active on this thread, and nothing else may reference it for `'a`.
    pub(crate) unsafe fn new(target: NonNull<T>) -> Self {
        Self {
            target: Target(target),
            logged: false,
            borrow: PhantomData,
            not_send: PhantomData,
        }
    }

    /// A `PMut` to an object the running transaction allocated: its bytes need no undo
    /// entry (see `RunningTxn::note_fresh` in `txn/running.rs`).
    ///
    /// # Safety
    ///
    /// As [`PMut::new`], and the object must have been allocated by the running transaction.
    pub(crate) unsafe fn new_fresh(target: NonNull<T>) -> Self {
        Self {
            target: Target(target),
            logged: true,
            borrow: PhantomData,
            not_send: PhantomData,
        }
    }

    /// A `PMut` whose target is already logged, or is not in a pool at all: any `&mut`.
    pub(crate) fn from_logged(target: &'a mut T) -> Self {
        Self {
            target: Target(NonNull::from(target)),
            logged: true,
            borrow: PhantomData,
            not_send: PhantomData,
        }
    }

    /// A `PMut` to a part of this one's target, which logs only that part when written.
    ///
    /// # Safety
    ///
    /// `part` must point at a valid, aligned `U` inside `this`'s target.
    pub(crate) unsafe fn narrow<U: ?Sized>(this: Self, part: NonNull<U>) -> PMut<'a, U> {
        PMut {
            target: Target(part),
            logged: this.logged,
            borrow: PhantomData,
            not_send: PhantomData,
        }
    }

    /// Where the target is.
    pub(crate) fn target(&self) -> NonNull<T> {
        self.target.0
    }

    /// A shorter-lived `PMut` to the same object.
    pub fn reborrow(&mut self) -> PMut<'_, T> {
        PMut {
            target: self.target,
            logged: self.logged,
            borrow: PhantomData,
            not_send: PhantomData,
        }
    }

    /// The target as `&mut T`, for the rest of `'a`, logged first.
    pub(crate) fn into_mut(mut self) -> &'a mut T {
        self.log();
        // SAFETY: as in `deref`; the bytes are logged, so the caller may write them, and
        // `self` is consumed, so the reference is the only one for `'a`.
        unsafe { self.target.0.as_mut() }
    }

    fn log(&mut self) {
        if !self.logged {
            assert!(
                in_transaction(),
                "pmem: a PMut was used after its transaction ended"
            );
            // SAFETY: `PMut::new`'s contract: the target is valid for reads.
            let len = size_of_val(unsafe { self.target.0.as_ref() });
            log_range(self.target.0.as_ptr().cast::<u8>(), len);
            self.logged = true;
        }
    }
}

impl<T> PMut<'_, T> {
    /// Replaces the object, logging it first.
    pub fn set(&mut self, value: T) {
        **self = value;
    }

    /// Replaces the object without logging it (unless it is logged already): its bytes are
    /// written back when the transaction commits, as those of an object the transaction
    /// allocated are, but nothing restores them if it does not. For a collection's spare
    /// slots (`PVec::push`).
    ///
    /// # Safety
    ///
    /// Nothing may depend on the object's bytes unless the transaction commits. After it
    /// is rolled back, or recovered from a crash at any moment before its commit point, the
    /// bytes may hold `value`, their value when the transaction began, or any value they
    /// were given since (a word at a time); every reader of the pool must accept any of
    /// those and none may tell them apart: no committed object may read them, and the
    /// collector, which traces every allocated object whole, must find no pointer in them
    /// (`T` must be [`POINTER_FREE`](crate::Persistent::POINTER_FREE)). Bytes whose value at
    /// the transaction's start does matter may be stored to this way only if this
    /// transaction logged them before (a store through a logging `PMut`, whose entry
    /// restores them).
    #[doc(hidden)]
    pub unsafe fn set_unlogged(&mut self, value: T) {
        if !self.logged {
            note_unlogged_store(self.target.0.as_ptr().cast::<u8>(), size_of::<T>());
        }
        // SAFETY: as in `deref`; the store needs no undo entry, by the caller's contract,
        // and its lines are written back at commit.
        unsafe { *self.target.0.as_mut() = value };
    }
}

impl<T, const N: usize> PMut<'_, [T; N]> {
    /// A `PMut` to element `index`, which logs only that element when written.
    ///
    /// # Panics
    ///
    /// If `index >= N`, like indexing.
    pub fn at(&mut self, index: usize) -> PMut<'_, T> {
        assert!(
            index < N,
            "index {index} out of bounds for a persistent array of {N}"
        );
        // SAFETY: `index < N`, so the element lies inside the array.
        let element = unsafe { self.target.0.cast::<T>().add(index) };
        // SAFETY: the element is a valid `T` inside the array, which this `PMut` borrows
        // exclusively; the new `PMut` borrows `self` for its lifetime.
        unsafe { PMut::narrow(self.reborrow(), element) }
    }
}

impl<T> PMut<'_, [T]> {
    /// A `PMut` to element `index`, which logs only that element when written.
    ///
    /// # Panics
    ///
    /// If `index` is out of bounds, like indexing.
    pub fn at(&mut self, index: usize) -> PMut<'_, T> {
        let len = self.target.0.len();
        assert!(
            index < len,
            "index {index} out of bounds for a persistent slice of {len}"
        );
        // SAFETY: `index < len`, so the element lies inside the slice.
        let element = unsafe { self.target.0.cast::<T>().add(index) };
        // SAFETY: the element is a valid `T` inside the slice, which this `PMut` borrows
        // exclusively; the new `PMut` borrows `self` for its lifetime.
        unsafe { PMut::narrow(self.reborrow(), element) }
    }

    /// A `PMut` to the elements in `range`, which logs only those when written.
    ///
    /// # Panics
    ///
    /// If `range` is out of bounds or decreasing, like slicing.
    pub fn range(&mut self, range: core::ops::Range<usize>) -> PMut<'_, [T]> {
        self.reborrow().into_range(range)
    }
}

impl<T: Copy> PMut<'_, [T]> {
    /// Copies `values` into the slice without logging it (unless it is logged already), as
    /// [`set_unlogged`](PMut::set_unlogged) stores one element.
    ///
    /// # Safety
    ///
    /// As [`set_unlogged`](PMut::set_unlogged), for every element.
    ///
    /// # Panics
    ///
    /// If `values` is not as long as the slice, like `copy_from_slice`.
    #[doc(hidden)]
    pub unsafe fn copy_from_slice_unlogged(&mut self, values: &[T]) {
        let len = self.target.0.len();
        assert_eq!(
            values.len(),
            len,
            "copying {} values into a persistent slice of {len}",
            values.len()
        );
        if !self.logged {
            note_unlogged_store(self.target.0.as_ptr().cast::<u8>(), size_of_val(values));
        }
        // SAFETY: as in `deref`; the stores need no undo entry, by the caller's contract,
        // and their lines are written back at commit.
        unsafe { self.target.0.as_mut() }.copy_from_slice(values);
    }
}

impl<'a, T> PMut<'a, [T]> {
    /// As [`at`](PMut::at), for the rest of this `PMut`'s lifetime.
    ///
    /// # Panics
    ///
    /// As [`at`](PMut::at).
    #[must_use]
    pub fn into_at(self, index: usize) -> PMut<'a, T> {
        let len = self.target.0.len();
        assert!(
            index < len,
            "index {index} out of bounds for a persistent slice of {len}"
        );
        // SAFETY: `index < len`, so the element lies inside the slice.
        let element = unsafe { self.target.0.cast::<T>().add(index) };
        // SAFETY: the element is a valid `T` inside the slice, which this `PMut` borrows
        // exclusively for `'a`; the new `PMut` takes its place.
        unsafe { PMut::narrow(self, element) }
    }

    /// As [`range`](PMut::range), for the rest of this `PMut`'s lifetime.
    ///
    /// # Panics
    ///
    /// As [`range`](PMut::range).
    #[must_use]
    pub fn into_range(self, range: core::ops::Range<usize>) -> PMut<'a, [T]> {
        let len = self.target.0.len();
        assert!(
            range.start <= range.end && range.end <= len,
            "range {range:?} out of bounds for a persistent slice of {len}"
        );
        // SAFETY: `range` lies inside the slice.
        let first = unsafe { self.target.0.cast::<T>().add(range.start) };
        let part = NonNull::slice_from_raw_parts(first, range.end - range.start);
        // SAFETY: the elements are valid `T`s inside the slice, which this `PMut` borrows
        // exclusively for `'a`; the new `PMut` takes its place.
        unsafe { PMut::narrow(self, part) }
    }
}

impl<T: ?Sized> Deref for PMut<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `PMut::new`'s contract: valid, aligned, and exclusively ours for `'a`.
        unsafe { self.target.0.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for PMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.log();
        // SAFETY: as in `deref`; the bytes are logged, so the caller may write them.
        unsafe { self.target.0.as_mut() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for PMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
