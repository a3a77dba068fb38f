//! Expansion snapshots, one folder per macro: each `tests/expand/MACRO/NAME.rs` is expanded
//! by MACRO and compared with `NAME.expanded.rs`, pretty-printed, so that a reviewer reads
//! what the macro emits (where every log call lands, what the derive asserts) and a change to
//! it shows in the diff. `UPDATE_EXPECT=1 cargo test -p pmem-macros` rewrites the snapshots
//! (and writes those of new inputs).
//!
//! They are unit tests of the proc-macro crate because its functions cannot be called from
//! an integration test, which links a proc-macro crate only as a compiler plugin.

use std::path::Path;

use expect_test::expect_file;
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
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.expect("entry").path().to_string_lossy().into_owned())
        .filter(|path| path.ends_with(".rs"))
        .collect();
    files.sort();
    let (snapshots, inputs): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|path| path.ends_with(".expanded.rs"));
    // A snapshot left behind by a renamed or deleted input would never be checked again.
    for snapshot in &snapshots {
        let input = format!("{}.rs", &snapshot[..snapshot.len() - ".expanded.rs".len()]);
        assert!(inputs.contains(&input), "{snapshot} has no input {input}");
    }
    assert!(!inputs.is_empty(), "no inputs in {}", directory.display());
    for input in inputs {
        let source = std::fs::read_to_string(&input).expect("input");
        // An absolute path: `expect_file!` resolves a relative one from the outermost
        // directory holding a `Cargo.toml`, a guess at the workspace root.
        expect_file![Path::new(&input).with_extension("expanded.rs")]
            .assert_eq(&pretty(&expand(&source)));
    }
}

/// Each input is an item as if marked `#[txn]`.
#[test]
fn txn_expansions_match_their_snapshots() {
    check_folder("txn", |source| {
        crate::txn::expand(TokenStream::new(), source.parse().expect("tokens"))
    });
}

/// Each input is a struct marked `#[derive(Persistent)]`; the snapshot is what the derive
/// adds beside it. (Refusals are checked in `ui-tests/fail`.)
#[test]
fn persistent_expansions_match_their_snapshots() {
    check_folder("persistent", |source| {
        crate::persistent::derive(syn::parse_str(source).expect("a struct"))
    });
}
