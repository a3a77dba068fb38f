//! Place projections: what `#[txn]` rewrites a store's place into, so that a store through a
//! [`PMut`] logs only the bytes it changes.
//!
//! `bank.accounts[i].balance -= amount`, with `bank: PMut<Bank>`, would in plain Rust call
//! `PMut`'s `DerefMut` on `bank` and log the whole bank. `#[txn]` rewrites it into steps
//! that follow the place one projection at a time:
//!
//! ```text
//! *finish(Probe(Probe(Probe(bank.__pmem_base())
//!     .__pmem_field(|s| s.__pmem_field_accounts(), |r| &mut r.accounts))
//!     .__pmem_index(i, |r, i| &mut r[i]))
//!     .__pmem_field(|s| s.__pmem_field_balance(), |r| &mut r.balance)) -= amount
//! ```
//!
//! Each step picks its behaviour from the type it is given, by method resolution: an
//! inherent method of [`Probe`] (which wins when its receiver type matches) handles a
//! `PMut`, a trait method (the fallback) handles everything else.
//!
//! - On a `PMut`, a field step narrows to the field (through the [`Field`] token that
//!   `#[derive(Persistent)]` generates for each field) and an index step narrows to the
//!   element of an array or slice. No `&mut` is created and nothing is logged until
//!   [`finish`], which logs exactly the bytes of the final place.
//! - On anything else (volatile memory, or a `&mut` that a `PMut` already logged), each step
//!   runs the closure holding the user's own projection (`&mut r.accounts`), with Rust's
//!   ordinary autoderef and indexing, and `finish` is the identity.
//! - When a `PMut`'s target has no field token (a type with a hand-written `Persistent`
//!   impl, or a field reached through the type's own `DerefMut`) or an index step meets a
//!   type with its own `IndexMut`, the step logs the whole target first, then runs the
//!   user's projection: coarser, never unlogged.
//!
//! Soundness rests on one rule: user code never receives a `&mut` into a pool whose bytes
//! were not logged. The precise steps compute addresses from tokens and the standard
//! library's slice indexing, which run no user code; every fallback that hands a `&mut` to
//! user code ([`PMut::into_mut`]) logs first.

use core::marker::PhantomData;
use core::ops::IndexMut;
use core::ptr::NonNull;
use core::slice::SliceIndex;

use pmem_alloc::Persistent;

use crate::pmut::PMut;

/// The first step of a rewritten place: a `&mut` to the place's base. A `&mut` base is
/// reborrowed; any other base (a `PMut`, an owned value) is borrowed mutably, as Rust's
/// autoderef would.
pub trait Base {
    /// Returns `self`.
    fn __pmem_base(self) -> Self;
}

impl<T: ?Sized> Base for &mut T {
    fn __pmem_base(self) -> Self {
        self
    }
}

/// A step's input, wrapped so that inherent methods (the `PMut` cases) take precedence
/// over the fallback traits.
pub struct Probe<H>(pub H);

/// Where one field lies in a `S`: made by `#[derive(Persistent)]` for each field.
pub struct Field<S, U> {
    offset: usize,
    types: PhantomData<fn(S) -> U>,
}

impl<S, U> Field<S, U> {
    /// The field of type `U` at `offset` bytes into an `S`. A token is only used (see
    /// [`FieldToken`]) when both types are `Persistent`: then any `U` written there leaves
    /// a valid `S`, since every bit pattern of a `Persistent` type is valid.
    ///
    /// # Panics
    ///
    /// If a `U` at `offset` would not lie inside an `S`, or would be misaligned.
    #[must_use]
    pub const fn new(offset: usize) -> Self {
        assert!(
            size_of::<U>() <= size_of::<S>()
                && offset <= size_of::<S>() - size_of::<U>()
                && offset % align_of::<U>() == 0
                && align_of::<U>() <= align_of::<S>(),
            "pmem: a field token outside its struct"
        );
        Self {
            offset,
            types: PhantomData,
        }
    }
}

/// No field token: the type has none for this name (see [`Field`]).
pub struct NoField;

/// How a field step narrows a `PMut<S>` to a `PMut<U>`.
pub trait FieldToken<S: ?Sized, U: ?Sized> {
    /// Narrows `whole` to the field; `plain` is the user's projection.
    fn project<'a>(
        self,
        whole: PMut<'a, S>,
        plain: impl FnOnce(&'a mut S) -> &'a mut U,
    ) -> PMut<'a, U>;
}

impl<S: Persistent, U: Persistent> FieldToken<S, U> for Field<S, U> {
    fn project<'a>(
        self,
        whole: PMut<'a, S>,
        _plain: impl FnOnce(&'a mut S) -> &'a mut U,
    ) -> PMut<'a, U> {
        // SAFETY: `Field::new` checked that a `U` at `offset` lies inside an `S`.
        let part = unsafe { whole.target().cast::<u8>().add(self.offset) }.cast::<U>();
        // SAFETY: the part is an aligned `U` inside the target (checked by `Field::new`),
        // and valid, and any `U` written there leaves a valid `S`, because every bit pattern
        // of a `Persistent` type is.
        unsafe { PMut::narrow(whole, part) }
    }
}

impl<S: ?Sized, U: ?Sized> FieldToken<S, U> for NoField {
    fn project<'a>(
        self,
        whole: PMut<'a, S>,
        plain: impl FnOnce(&'a mut S) -> &'a mut U,
    ) -> PMut<'a, U> {
        PMut::from_logged(plain(whole.into_mut()))
    }
}

impl<'a, S: ?Sized> Probe<PMut<'a, S>> {
    /// A field step on a `PMut`.
    pub fn __pmem_field<Token, U, Getter, Plain>(self, getter: Getter, plain: Plain) -> PMut<'a, U>
    where
        U: ?Sized,
        Getter: FnOnce(&S) -> Token,
        Token: FieldToken<S, U>,
        Plain: FnOnce(&'a mut S) -> &'a mut U,
    {
        let token = getter(&self.0);
        token.project(self.0, plain)
    }
}

impl<'b, S: ?Sized> Probe<&'b mut PMut<'_, S>> {
    /// A field step on a `PMut` variable: autoderef, done precisely.
    pub fn __pmem_field<Token, U, Getter, Plain>(self, getter: Getter, plain: Plain) -> PMut<'b, U>
    where
        U: ?Sized,
        Getter: FnOnce(&S) -> Token,
        Token: FieldToken<S, U>,
        Plain: FnOnce(&'b mut S) -> &'b mut U,
    {
        Probe(self.0.reborrow()).__pmem_field(getter, plain)
    }
}

impl<'a, T> Probe<PMut<'a, [T]>> {
    /// An index step on a persistent slice.
    ///
    /// # Panics
    ///
    /// As indexing the slice does, if `index` is out of bounds.
    pub fn __pmem_index<I, Plain>(self, index: I, _plain: Plain) -> PMut<'a, I::Output>
    where
        I: SliceIndex<[T]>,
        Plain: FnOnce(&'a mut [T], I) -> &'a mut I::Output,
    {
        let target = self.0.target();
        // SAFETY: the `PMut` borrows its target exclusively for `'a`; the standard library's
        // indexing only computes the part's address, and nothing writes through this
        // reference.
        let slice = unsafe { &mut *target.as_ptr() };
        let part = NonNull::from(slice.index_mut(index));
        // SAFETY: the part lies inside the slice and is valid and aligned, being what
        // indexing it returned.
        unsafe { PMut::narrow(self.0, part) }
    }
}

impl<'a, T, const N: usize> Probe<PMut<'a, [T; N]>> {
    /// An index step on a persistent array.
    ///
    /// # Panics
    ///
    /// As indexing the array does, if `index` is out of bounds.
    pub fn __pmem_index<I, Plain>(self, index: I, _plain: Plain) -> PMut<'a, I::Output>
    where
        I: SliceIndex<[T]>,
        Plain: FnOnce(&'a mut [T; N], I) -> &'a mut I::Output,
    {
        let elements = NonNull::slice_from_raw_parts(self.0.target().cast::<T>(), N);
        // SAFETY: an array and the slice of its elements are the same bytes.
        let slice = unsafe { PMut::narrow(self.0, elements) };
        Probe(slice).__pmem_index(index, |whole: &'a mut [T], index| whole.index_mut(index))
    }
}

impl<'b, T> Probe<&'b mut PMut<'_, [T]>> {
    /// An index step on a persistent slice variable.
    ///
    /// # Panics
    ///
    /// As indexing the slice does, if `index` is out of bounds.
    pub fn __pmem_index<I, Plain>(self, index: I, _plain: Plain) -> PMut<'b, I::Output>
    where
        I: SliceIndex<[T]>,
        Plain: FnOnce(&'b mut [T], I) -> &'b mut I::Output,
    {
        Probe(self.0.reborrow())
            .__pmem_index(index, |whole: &'b mut [T], index| whole.index_mut(index))
    }
}

impl<'b, T, const N: usize> Probe<&'b mut PMut<'_, [T; N]>> {
    /// An index step on a persistent array variable.
    ///
    /// # Panics
    ///
    /// As indexing the array does, if `index` is out of bounds.
    pub fn __pmem_index<I, Plain>(self, index: I, _plain: Plain) -> PMut<'b, I::Output>
    where
        I: SliceIndex<[T]>,
        Plain: FnOnce(&'b mut [T; N], I) -> &'b mut I::Output,
    {
        Probe(self.0.reborrow())
            .__pmem_index(index, |whole: &'b mut [T; N], index| whole.index_mut(index))
    }
}

impl<'b, 'a: 'b, T: ?Sized> Probe<&'b mut PMut<'a, T>> {
    /// A dereference of a `PMut` variable: the `PMut` itself, not yet logged.
    pub fn __pmem_deref<Plain>(self, _plain: Plain) -> PMut<'b, T>
    where
        Plain: FnOnce(&'b mut PMut<'a, T>) -> &'b mut T,
    {
        self.0.reborrow()
    }
}

/// The fallback field step: the user's projection.
pub trait PlainField<'b>: Sized {
    /// The type the step projects from.
    type Target: ?Sized + 'b;

    /// Runs `plain`; `getter` only type-checks the precise path's closure.
    fn __pmem_field<R, U: ?Sized>(
        self,
        getter: impl FnOnce(&Self::Target) -> R,
        plain: impl FnOnce(&'b mut Self::Target) -> &'b mut U,
    ) -> &'b mut U;
}

impl<'b, X: ?Sized> PlainField<'b> for Probe<&'b mut X> {
    type Target = X;

    fn __pmem_field<R, U: ?Sized>(
        self,
        _getter: impl FnOnce(&X) -> R,
        plain: impl FnOnce(&'b mut X) -> &'b mut U,
    ) -> &'b mut U {
        plain(self.0)
    }
}

/// The fallback index step: the user's indexing, after logging a `PMut`'s whole target.
pub trait PlainIndex<'b>: Sized {
    /// The type the step indexes.
    type Target: ?Sized + 'b;

    /// Runs `plain`.
    fn __pmem_index<I, U: ?Sized>(
        self,
        index: I,
        plain: impl FnOnce(&'b mut Self::Target, I) -> &'b mut U,
    ) -> &'b mut U;
}

impl<'b, X: ?Sized> PlainIndex<'b> for Probe<&'b mut X> {
    type Target = X;

    fn __pmem_index<I, U: ?Sized>(
        self,
        index: I,
        plain: impl FnOnce(&'b mut X, I) -> &'b mut U,
    ) -> &'b mut U {
        plain(self.0, index)
    }
}

impl<'a, X: ?Sized> PlainIndex<'a> for Probe<PMut<'a, X>> {
    type Target = X;

    fn __pmem_index<I, U: ?Sized>(
        self,
        index: I,
        plain: impl FnOnce(&'a mut X, I) -> &'a mut U,
    ) -> &'a mut U {
        plain(self.0.into_mut(), index)
    }
}

/// The fallback dereference step: the user's `DerefMut`, after logging a `PMut`'s whole
/// target.
pub trait PlainDeref<'b>: Sized {
    /// The type the step dereferences.
    type Target: ?Sized + 'b;

    /// Runs `plain`.
    fn __pmem_deref<U: ?Sized>(
        self,
        plain: impl FnOnce(&'b mut Self::Target) -> &'b mut U,
    ) -> &'b mut U;
}

impl<'b, X: ?Sized> PlainDeref<'b> for Probe<&'b mut X> {
    type Target = X;

    fn __pmem_deref<U: ?Sized>(self, plain: impl FnOnce(&'b mut X) -> &'b mut U) -> &'b mut U {
        plain(self.0)
    }
}

impl<'a, X: ?Sized> PlainDeref<'a> for Probe<PMut<'a, X>> {
    type Target = X;

    fn __pmem_deref<U: ?Sized>(self, plain: impl FnOnce(&'a mut X) -> &'a mut U) -> &'a mut U {
        plain(self.0.into_mut())
    }
}

/// The last step: the place as `&mut`, its bytes logged if it is in a pool.
pub trait Finish<'a> {
    /// The place's type.
    type Target: ?Sized + 'a;

    /// The place, ready to be written.
    fn finish(self) -> &'a mut Self::Target;
}

impl<'a, T: ?Sized> Finish<'a> for PMut<'a, T> {
    type Target = T;

    fn finish(self) -> &'a mut T {
        self.into_mut()
    }
}

impl<'a, T: ?Sized> Finish<'a> for &'a mut T {
    type Target = T;

    fn finish(self) -> &'a mut T {
        self
    }
}

/// The place a step chain ends at, ready to be written: see [`Finish`].
pub fn finish<'a, H: Finish<'a>>(handle: H) -> &'a mut H::Target {
    handle.finish()
}

/// Calls `body` once: what a `#[txn]` function's body becomes, so that `return` and `?`
/// inside it end the body, not the function. Taking `FnOnce` lets the body move out of its
/// captures and return borrows of them, as a function body can.
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// A `#[txn]` function's return value, asked whether it is an `Err`.
pub struct Outcome<'r, T>(pub &'r T);

impl<T, E> Outcome<'_, Result<T, E>> {
    /// Whether the call failed.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.0.is_err()
    }
}

/// The fallback for return types other than `Result`: they never fail.
///
/// Rust picks between this and the inherent method when it type-checks the `#[txn]`
/// function, before monomorphisation. So a return type that only becomes a `Result` then (a
/// type parameter, `Self` in a trait, an associated type) lands here, where an `Err` cannot
/// be told from an `Ok`. `#[txn]` refuses the shapes it can see at compile time; this is the
/// safety net for those it cannot (a method of a generic `impl` block returning the block's
/// `T`, with `#[txn]` on the method alone).
pub trait NeverFails {
    /// `false`.
    ///
    /// # Panics
    ///
    /// If the value is a `Result` after all: the panic dooms the transaction, which is then
    /// rolled back rather than risk committing an `Err`. It panics for an `Ok` too, and at
    /// any depth of nesting, so that a misspelt return type fails on its first call,
    /// whatever the value and the caller.
    fn failed(&self) -> bool;
}

impl<T> NeverFails for Outcome<'_, T> {
    #[track_caller]
    fn failed(&self) -> bool {
        assert!(
            !is_result::<T>(),
            "pmem: a `#[txn]` function returned a `{}` through a return type that does not say \
             `Result` (a type parameter of its `impl` block, `Self` or an associated type); \
             `#[txn]` cannot tell an `Err` from an `Ok` there, so it rolls the transaction back \
             rather than risk committing an `Err`. Spell the function's return type as \
             `Result<_, _>` (its parts may be generic: `Result<T, E>`)",
            core::any::type_name::<T>()
        );
        false
    }
}

/// Whether `T` is a `Result`, for a `T` that Rust's type-checking did not see as one.
///
/// Stable Rust has no way to ask this of a generic `T`: no specialisation, and `TypeId`
/// needs `'static` and the `Result`'s parts. So this reads the type's name, the last resort:
/// `type_name` is documented as a diagnostic, not a stable identifier, but it only has to
/// recognise the path of one type, `core::result::Result`, which no other type can have. If
/// a compiler ever spelt it otherwise, the net would stop firing (a silent commit, as
/// without it), and `tests/tests/txn_macro.rs` would report it. For every other type, the
/// comparison of two constant strings is folded away once `T` is known.
fn is_result<T>() -> bool {
    core::any::type_name::<T>().starts_with("core::result::Result<")
}
