//! Expansion snapshots, one folder per macro: each `tests/expand/MACRO/NAME.rs` is expanded
//! by MACRO and compared with `NAME.expanded.rs`, pretty-printed, so that a reviewer reads
//! what the macro emits (where every log call lands, what the derive asserts) and a change to
//! it shows in the diff. `PMEM_SNAPSHOTS=overwrite` rewrites the snapshots.
//!
//! They are unit tests of the proc-macro crate because its functions cannot be called from
//! an integration test, which links a proc-macro crate only as a compiler plugin.

use std::path::Path;

use proc_macro2::TokenStream;

/// `tokens`, a sequence of items, as rustfmt-like source text.
pub(crate) fn pretty(tokens: &TokenStream) -> String {
    prettyplease::unparse(&syn::parse2(tokens.clone()).expect("a file"))
}

/// Checks every input of `tests/expand/<folder>` against its snapshot, expanded by `expand`.
fn check_folder(folder: &str, expand: fn(&str) -> TokenStream) {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expand")
        .join(folder);
    let overwrite = std::env::var_os("PMEM_SNAPSHOTS").is_some_and(|value| value == "overwrite");
    let mut inputs: Vec<_> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| !path.to_string_lossy().ends_with(".expanded.rs"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", directory.display());
    for input in inputs {
        let source = std::fs::read_to_string(&input).expect("input");
        let expanded = pretty(&expand(&source));
        let snapshot = input.with_extension("expanded.rs");
        if overwrite {
            std::fs::write(&snapshot, &expanded).expect("write snapshot");
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        assert!(
            expanded == expected,
            "{} expands differently from its snapshot (PMEM_SNAPSHOTS=overwrite to accept):\n{expanded}",
            input.display()
        );
    }
}

/// Each input is an item as if marked `#[txn]`.
#[test]
fn txn_expansions_match_their_snapshots() {
    check_folder("txn", |source| {
        crate::txn::expand(TokenStream::new(), source.parse().expect("tokens"))
    });
}
