//! Procedural macros of `pmem`. Use them through the facade crate: `pmem::Persistent`.
//!
//! This file only dispatches; each macro lives in a module of its own that parses its input
//! into a typed form, checks it, and expands it. Every error is a `syn::Error` spanned on the
//! user's tokens.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod persistent;
mod txn;

/// Derives `pmem::Persistent` for a `#[repr(C)]` or `#[repr(transparent)]` struct whose
/// fields are all `Persistent`, refusing at compile time what may not live in persistent
/// memory. See the trait's documentation for the rules.
#[proc_macro_derive(Persistent)]
pub fn derive_persistent(input: TokenStream) -> TokenStream {
    persistent::derive(syn::parse_macro_input!(input as syn::DeriveInput)).into()
}

/// Marks a function, a method or every method of an `impl` block as transactional: its
/// stores into persistent memory log exactly the bytes they change, nested calls join the
/// caller's transaction, and an `Err` returned from the outermost call rolls the
/// transaction back. See `pmem::txn` for the whole contract.
#[proc_macro_attribute]
pub fn txn(args: TokenStream, item: TokenStream) -> TokenStream {
    txn::expand(args.into(), item.into()).into()
}

/// A block with the rewriting and rollback rules of a `#[txn]` function, for statements
/// that are not a function of their own. See `pmem::txn_block`.
#[proc_macro]
pub fn txn_block(input: TokenStream) -> TokenStream {
    txn::expand_block(input.into()).into()
}
