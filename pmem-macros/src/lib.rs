//! Procedural macros of `pmem`. Use them through the facade crate: `pmem::Persistent`.
//!
//! This file only dispatches; each macro lives in a module of its own that parses its input
//! into a typed form, checks it, and expands it. Every error is a `syn::Error` spanned on the
//! user's tokens.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod persistent;

/// Derives `pmem::Persistent` for a `#[repr(C)]` or `#[repr(transparent)]` struct whose
/// fields are all `Persistent`, refusing at compile time what may not live in persistent
/// memory. See the trait's documentation for the rules.
#[proc_macro_derive(Persistent)]
pub fn derive_persistent(input: TokenStream) -> TokenStream {
    persistent::derive(syn::parse_macro_input!(input as syn::DeriveInput)).into()
}
