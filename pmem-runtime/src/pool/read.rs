//! [`Reader`]: reading a pool through whatever the code holds.

use pmem_alloc::{PPtr, PSlice, Persistent};

use crate::error::Error;

use super::{Pool, SharedTxn, Txn};

/// What reads a pool: the [`Pool`] itself, or a transaction on it ([`Txn`], [`SharedTxn`]).
/// Code that only reads (a lookup, an iteration, a persistent collection's `get`) takes
/// `&impl Reader` and serves all three.
pub trait Reader {
    /// The object `pointer` points at; see [`Pool::get`].
    ///
    /// # Errors
    ///
    /// As [`Pool::get`].
    fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&T, Error>;

    /// The slice `slice` points at; see [`Pool::get_slice`].
    ///
    /// # Errors
    ///
    /// As [`Pool::get_slice`].
    fn get_slice<T: Persistent + Sync>(&self, slice: PSlice<T>) -> Result<&[T], Error>;
}

impl<R: Persistent> Reader for Pool<R> {
    fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&T, Error> {
        Pool::get(self, pointer)
    }

    fn get_slice<T: Persistent + Sync>(&self, slice: PSlice<T>) -> Result<&[T], Error> {
        Pool::get_slice(self, slice)
    }
}

impl<R: Persistent> Reader for Txn<'_, R> {
    fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&T, Error> {
        Txn::get(self, pointer)
    }

    fn get_slice<T: Persistent + Sync>(&self, slice: PSlice<T>) -> Result<&[T], Error> {
        Txn::get_slice(self, slice)
    }
}

impl<R: Persistent> Reader for SharedTxn<'_, R> {
    fn get<T: Persistent + Sync>(&self, pointer: PPtr<T>) -> Result<&T, Error> {
        SharedTxn::get(self, pointer)
    }

    fn get_slice<T: Persistent + Sync>(&self, slice: PSlice<T>) -> Result<&[T], Error> {
        SharedTxn::get_slice(self, slice)
    }
}
