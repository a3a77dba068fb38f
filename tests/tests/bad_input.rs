//! Every kind of bad input gets its own typed error, and leaves the file exactly as it was.

use std::fs::OpenOptions;

use pmem::simulation::ScratchFile;
use pmem::{Error, HeaderPart, PPtr, Pool, PoolOptions};
use pmem_tests::{Journal, Ledger};

/// Byte offsets from the file-format specification (`docs/src/file-format.md`).
const VERSION_OFFSET: usize = 8;
const LAYOUT_NAME_OFFSET: usize = 96;
const STATE_RECORD_OFFSETS: [usize; 2] = [256, 320];
const POOL_SIZE: u64 = 1 << 20;

fn make_pool(label: &str) -> ScratchFile {
    let path = ScratchFile::new(label);
    PoolOptions::new()
        .layout("ledger-v1")
        .size(POOL_SIZE)
        .log_size(1 << 16)
        .create(path.path(), Ledger::sample(PPtr::null()))
        .expect("create");
    path
}

fn rewrite(path: &ScratchFile, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = path.contents();
    change(&mut bytes);
    std::fs::write(path.path(), bytes).expect("write");
}

/// Opens `path` as a `Ledger` pool with `options`, checks the file is byte-for-byte
/// unchanged, and returns the error.
fn refused_open(path: &ScratchFile, options: &PoolOptions) -> Error {
    let before = path.contents();
    let result = options.open::<Ledger>(path.path());
    assert!(path.contents() == before, "a refused open changed the file");
    match result {
        Ok(pool) => panic!("expected an error, opened {:?}", pool.info()),
        Err(error) => {
            assert!(
                error
                    .to_string()
                    .contains(&path.path().display().to_string()),
                "the message does not name the file: {error}"
            );
            error
        }
    }
}

fn refused(path: &ScratchFile) -> Error {
    refused_open(path, &PoolOptions::new())
}

#[test]
fn a_file_that_is_not_a_pool() {
    let path = ScratchFile::new("not-a-pool");
    std::fs::write(
        path.path(),
        b"#!/bin/sh\necho this is a shell script\n".repeat(200),
    )
    .expect("write");
    assert!(matches!(refused(&path), Error::NotAPool { .. }));
}

#[test]
fn an_empty_file() {
    let path = ScratchFile::new("empty");
    std::fs::write(path.path(), b"").expect("write");
    assert!(matches!(refused(&path), Error::NotAPool { .. }));
}

#[test]
fn a_file_cut_inside_the_header() {
    let path = make_pool("cut-header");
    rewrite(&path, |bytes| bytes.truncate(1000));
    match refused(&path) {
        Error::Truncated {
            expected: 4096,
            found: 1000,
            ..
        } => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn a_file_cut_inside_the_data() {
    let path = make_pool("cut-data");
    OpenOptions::new()
        .write(true)
        .open(path.path())
        .and_then(|file| file.set_len(POOL_SIZE / 2))
        .expect("truncate");
    match refused(&path) {
        Error::Truncated {
            expected, found, ..
        } => {
            assert_eq!((expected, found), (POOL_SIZE, POOL_SIZE / 2));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn a_damaged_identity_block() {
    let path = make_pool("damaged-identity");
    rewrite(&path, |bytes| bytes[LAYOUT_NAME_OFFSET + 2] ^= 0x20);
    match refused(&path) {
        Error::Corrupted {
            part: HeaderPart::Identity,
            ..
        } => {}
        other => panic!("expected Corrupted(Identity), got {other:?}"),
    }
}

#[test]
fn both_state_records_damaged() {
    let path = make_pool("damaged-state");
    rewrite(&path, |bytes| {
        for offset in STATE_RECORD_OFFSETS {
            bytes[offset + 8] ^= 0x01;
        }
    });
    match refused(&path) {
        Error::Corrupted {
            part: HeaderPart::State,
            ..
        } => {}
        other => panic!("expected Corrupted(State), got {other:?}"),
    }
}

#[test]
fn one_state_record_damaged_is_survivable() {
    let path = make_pool("one-state-damaged");
    let pool = Pool::<Ledger>::open(path.path()).expect("open");
    drop(pool);
    // Two opens and closes later, both records have been written; damage one.
    rewrite(&path, |bytes| bytes[STATE_RECORD_OFFSETS[0] + 8] ^= 0x01);
    let pool = Pool::<Ledger>::open(path.path()).expect("the other record still holds");
    assert_eq!(pool.root().balances, [100, 200, 300, 400]);
}

#[test]
fn another_format_version() {
    let path = make_pool("version");
    rewrite(&path, |bytes| bytes[VERSION_OFFSET] = 9);
    match refused(&path) {
        Error::UnsupportedVersion {
            found: 9,
            supported: 2,
            ..
        } => {}
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[test]
fn another_root_type_of_the_same_layout() {
    let path = make_pool("root-type");
    let before = path.contents();
    let error = Pool::<Journal>::open(path.path()).expect_err("a Journal is not a Ledger");
    assert!(path.contents() == before, "a refused open changed the file");
    match &error {
        Error::RootTypeMismatch {
            expected, found, ..
        } => {
            assert!(
                expected.ends_with("Journal") && found.ends_with("Ledger"),
                "{error}"
            );
        }
        other => panic!("expected RootTypeMismatch, got {other:?}"),
    }
}

#[test]
fn another_root_type_of_another_size() {
    let path = make_pool("root-size");
    let before = path.contents();
    let error = Pool::<u64>::open(path.path()).expect_err("a u64 is not a Ledger");
    assert!(path.contents() == before, "a refused open changed the file");
    assert!(matches!(error, Error::RootTypeMismatch { .. }), "{error:?}");
}

#[test]
fn another_layout_name() {
    let path = make_pool("layout");
    match refused_open(&path, &PoolOptions::new().layout("ledger-v2")) {
        Error::LayoutMismatch {
            expected, found, ..
        } => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                ("ledger-v2", "ledger-v1")
            );
        }
        other => panic!("expected LayoutMismatch, got {other:?}"),
    }
}

#[test]
fn a_pool_already_open_in_this_process() {
    let path = make_pool("locked");
    let open = Pool::<Ledger>::open(path.path()).expect("first open");
    assert!(matches!(refused(&path), Error::Locked { .. }));
    drop(open);
    assert!(Pool::<Ledger>::open(path.path()).is_ok());
}

#[test]
fn a_missing_file() {
    let path = ScratchFile::new("missing");
    match Pool::<Ledger>::open(path.path()) {
        Err(Error::Io {
            source,
            operation: "open",
            ..
        }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io(NotFound), got {other:?}"),
    }
    assert!(!path.path().exists());
}

#[test]
fn creating_over_an_existing_file() {
    let path = ScratchFile::new("exists");
    std::fs::write(path.path(), b"precious data").expect("write");
    match Pool::create(path.path(), 1u64) {
        Err(Error::AlreadyExists { .. }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(path.contents(), b"precious data");
}

#[test]
fn invalid_options_create_no_file() {
    let path = ScratchFile::new("options");
    let long_layout = PoolOptions::new().layout("x".repeat(64));
    assert!(matches!(
        long_layout.create(path.path(), 1u64),
        Err(Error::InvalidOption {
            option: "layout",
            ..
        })
    ));
    let small_maximum = PoolOptions::new().size(1 << 20).max_size(1 << 16);
    assert!(matches!(
        small_maximum.create(path.path(), 1u64),
        Err(Error::InvalidOption {
            option: "max_size",
            ..
        })
    ));
    assert!(!path.path().exists());
}

#[test]
fn a_full_file_system_is_an_error_and_leaves_no_file() {
    // RLIMIT_FSIZE would kill the process with SIGXFSZ; a size beyond what any test machine
    // can allocate makes `fallocate` fail instead.
    let path = ScratchFile::new("full");
    let huge = PoolOptions::new().size(1 << 60).max_size(1 << 60);
    match huge.create(path.path(), 1u64) {
        Err(Error::Io { operation, .. }) => assert_eq!(operation, "allocate space for"),
        other => panic!("expected an allocation error, got {other:?}"),
    }
    assert!(!path.path().exists(), "a failed create left a file behind");
}
