//! Procedural macros of `pmem`. Use them through the facade crate: `pmem::Persistent`.
//!
//! This file only dispatches; each macro lives in a module of its own that parses its input
//! into a typed form, checks it, and expands it. Every error is a `syn::Error` spanned on the
//! user's tokens.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod persistent;
#[cfg(test)]
mod snapshots;
mod txn;

/// Derives `pmem::Persistent` for a `#[repr(C)]` or `#[repr(transparent)]` struct whose
/// fields are all `Persistent`, refusing at compile time what may not live in persistent
/// memory. See the trait's documentation for the rules.
///
/// Type and const parameters are allowed; lifetime parameters are refused (a persistent
/// value cannot borrow). A type parameter gets no implicit bound: declare `T: Persistent`.
/// Every generic argument is part of the type's identity: for
/// `struct Blob<const N: usize> { len: u64, bytes: [u8; N] }`, a pool whose root is a
/// `Blob<16>` does not open as a `Blob<32>`. A const parameter may be of any type the
/// language allows (an integer, `bool`, `char`), mixed with type parameters and with
/// defaults. The padding and `Drop` checks of a generic struct run for each instantiation a
/// pool stores (`Blob<3>` has five bytes of padding, `Blob<8>` none).
///
/// `#[persistent(name = "path::Type")]` sets the text the type's identity is hashed from,
/// which is otherwise the defining module's path and the type's name: a type moved to
/// another module keeps its pools when given the path it had before.
#[proc_macro_derive(Persistent, attributes(persistent))]
pub fn derive_persistent(input: TokenStream) -> TokenStream {
    persistent::derive(syn::parse_macro_input!(input as syn::DeriveInput)).into()
}

/// Marks a function, a method or every method of an `impl` block as transactional.
///
/// - Stores through a `PMut` (`place = v`, `place op= v`, `&mut place`) log exactly the
///   bytes they change: `bank.accounts[i].balance -= x` logs one cache line. Stores the
///   macro cannot see (method calls, callees, macro invocations) are logged by `PMut`'s
///   `DerefMut`, coarsely: never unlogged.
/// - A nested call joins the caller's transaction (begun by `Pool::txn`).
/// - If the outermost `#[txn]` call returns `Err`, or a panic unwinds through any, the
///   transaction is rolled back when it ends.
/// - Refused: arguments, `const fn`, `async fn`, items other than functions and `impl`
///   blocks, and return types that may be a `Result` without saying so (a type parameter,
///   `Self` in a default method, `T::Out`): spell them `Result<_, _>`.
///
/// The guide's "Transactions" chapter (`docs/src/transactions.md`) gives the rewriting
/// policy and why it is sound.
#[proc_macro_attribute]
pub fn txn(args: TokenStream, item: TokenStream) -> TokenStream {
    txn::expand(args.into(), item.into()).into()
}

/// A block with the rewriting and rollback rules of a `#[txn]` function, for statements
/// that are not a function of their own, such as the closure given to `Pool::txn`:
/// `pool.txn(|tx| txn_block! { let mut bank = tx.root_mut(); bank.total += 1; })`.
///
/// The block runs as a closure: `return` and `?` inside it end the block, not the
/// enclosing function. (It is not `txn!`: an attribute macro and a function-like macro
/// cannot share a name.)
#[proc_macro]
pub fn txn_block(input: TokenStream) -> TokenStream {
    txn::expand_block(input.into()).into()
}
