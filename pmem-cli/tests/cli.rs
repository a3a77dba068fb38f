//! The `pmem` tool, run as a process on pools this test makes with the library: what each
//! subcommand prints and how it exits, on sound, dirty, dangling and damaged pools, and
//! that a read-only subcommand or a refused open leaves the file byte for byte as it was.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pmem::simulation::ScratchFile;
use pmem::{Error, PPtr, PSlice, Persistent, Pool, PoolOptions};
use pmem_tests::forge::{PoolLayout, STATE_SLOTS, fix_identity, put_u32, put_u64, u64_at};
use serde_json::Value;

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct List {
    head: PPtr<Node>,
    len: u64,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

/// Unreachable filler: 64 bytes, in spans of its own.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Garbage {
    words: [u64; 8],
}

/// The type records of a list pool, in the order they are first allocated.
const NODE_TYPE: usize = 1;

/// What a run of the tool did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the tool. A pool this test process closed a moment ago may still look locked to
/// it: a child spawned by another test's thread shares every open file until its `exec`
/// (the documented caveat of `Error::Locked`), so a refusal as locked is retried, unless
/// the test expects one (`pmem_once`).
fn pmem<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args
        .into_iter()
        .map(|arg| arg.as_ref().to_owned())
        .collect();
    let mut run = pmem_once(&args);
    for _ in 0..100 {
        if !(run.code == 3 && run.stderr.contains("is already open")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        run = pmem_once(&args);
    }
    run
}

/// Runs the tool once.
fn pmem_once(args: &[OsString]) -> Run {
    let output = assert_cmd::Command::cargo_bin("pmem")
        .expect("the pmem binary")
        .env_remove("PMEM_FLUSH")
        .args(args)
        .output()
        .expect("run pmem");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

fn args_on(subcommand: &str, path: &Path, rest: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![subcommand.into(), path.into()];
    args.extend(rest.iter().map(OsString::from));
    args
}

fn pmem_on(subcommand: &str, path: &Path, rest: &[&str]) -> Run {
    pmem(args_on(subcommand, path, rest))
}

/// Opens a list pool with the typed API, retrying while it looks locked (see [`pmem`]).
fn open_list(path: &Path) -> Pool<List> {
    let mut tries = 0;
    loop {
        match Pool::<List>::open(path) {
            Err(Error::Locked { .. }) if tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            opened => return opened.expect("open the list pool"),
        }
    }
}

fn json(run: &Run) -> Value {
    assert_eq!(run.code, 0, "{run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("{error}: {}", run.stdout))
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

/// A closed pool: a list of `len` nodes (values 0 to `len - 1`, the last pushed first),
/// a named root "extra" holding one more node (value 1000), and `garbage` unreachable
/// 64-byte objects.
fn list_pool(label: &str, len: u64, garbage: u64) -> ScratchFile {
    let path = ScratchFile::new(label);
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 14)
        .lanes(2)
        .create(path.path(), List::default())
        .expect("create");
    pool.try_txn(|tx| {
        for value in 0..len {
            let next = tx.root().head;
            let node = tx.alloc(Node { value, next })?;
            tx.root_mut().head = node;
            tx.root_mut().len += 1;
        }
        let extra = tx.alloc(Node {
            value: 1000,
            next: PPtr::null(),
        })?;
        tx.set_named_root("extra", extra)?;
        for value in 0..garbage {
            tx.alloc(Garbage { words: [value; 8] })?;
        }
        Ok::<_, Error>(())
    })
    .expect("fill");
    pool.close();
    path
}

/// A copy of a 3-node list pool taken in the middle of a transaction that set `len` to
/// 1000: a pool a crash left dirty, with a valid undo log.
fn dirty_pool(label: &str) -> (ScratchFile, ScratchFile) {
    let original = list_pool(&format!("{label}-original"), 3, 0);
    let image = ScratchFile::new(label);
    let mut pool = open_list(original.path());
    pool.txn(|tx| {
        tx.root_mut().len = 1000;
        std::fs::copy(original.path(), image.path()).expect("copy mid-transaction");
        pmem::abort();
    });
    drop(pool);
    (original, image)
}

fn rewrite(path: &ScratchFile, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = path.contents();
    change(&mut bytes);
    std::fs::write(path.path(), bytes).expect("write");
}

/// The values of a list pool's nodes, through the typed API.
fn list_values(pool: &Pool<List>) -> Vec<u64> {
    let mut values = Vec::new();
    let mut next = pool.root().head;
    while !next.is_null() {
        let node = pool.get(next).expect("a node");
        values.push(node.value);
        next = node.next;
    }
    values
}

/// `run` failed as a bad input must: `code`, one line on stderr naming `path`, no panic.
fn one_line_failure(run: &Run, code: i32, path: &Path, what: &str) {
    assert_eq!(run.code, code, "{what}: {run:?}");
    let name = path.display().to_string();
    assert_eq!(run.stderr.lines().count(), 1, "{what}: {run:?}");
    assert!(run.stderr.starts_with("pmem: "), "{what}: {run:?}");
    assert!(run.stderr.contains(&name), "{what}: {run:?}");
    assert!(!run.stderr.contains("panicked"), "{what}: {run:?}");
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{what}: {run:?}");
}

const SUBCOMMANDS: [&str; 4] = ["info", "check", "gc", "dump"];

#[test]
fn version_and_help() {
    let version = pmem(["--version"]);
    assert_eq!(version.code, 0);
    assert_eq!(
        version.stdout.trim(),
        format!("pmem {}", env!("CARGO_PKG_VERSION"))
    );
    let help = pmem(["--help"]);
    assert_eq!(help.code, 0);
    for subcommand in SUBCOMMANDS {
        assert!(help.stdout.contains(subcommand), "{}", help.stdout);
        let help = pmem([subcommand, "--help"]);
        assert_eq!(help.code, 0, "{help:?}");
        assert!(
            help.stdout
                .contains(&format!("Usage: pmem {subcommand} [OPTIONS] <POOL>"))
                || help
                    .stdout
                    .contains(&format!("Usage: pmem {subcommand} <POOL>")),
            "{}",
            help.stdout
        );
        assert!(help.stdout.contains("Exit status:"), "{}", help.stdout);
        assert!(help.stdout.contains("  3  "), "{}", help.stdout);
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &["frobnicate"][..],
        &[],
        &["check"],
        &["info", "a.pool", "b.pool"],
        &["dump", "a.pool", "--limit", "many"],
        &["gc", "a.pool", "--compact-everything"],
    ] {
        let run = pmem(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
        assert!(!run.stderr.contains("panicked"), "{args:?}: {run:?}");
    }
    let typo = pmem(["inof", "a.pool"]);
    assert!(typo.stderr.contains("'info'"), "{typo:?}");
}

#[test]
fn info_describes_the_pool() {
    let path = list_pool("cli-info", 5, 0);
    let before = path.contents();
    let run = pmem_on("info", path.path(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    let text = &run.stdout;
    for expected in [
        path.path().display().to_string().as_str(),
        "root type       cli::List (16 bytes",
        "state           clean",
        "lanes           2",
        "log slot        16 KiB",
        "growth limit    set by the program that opens it (default 64 GiB)",
        "flush mode      msync",
        "DAX             no",
        "format version  2",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    let node_row = text
        .lines()
        .find(|line| line.ends_with("cli::Node") && !line.contains("0x"))
        .unwrap_or_else(|| panic!("a row for Node in\n{text}"));
    assert_eq!(node_row.split_whitespace().next(), Some("6"), "{node_row}");
    let extra = text
        .lines()
        .find(|line| line.trim_start().starts_with("extra "))
        .unwrap_or_else(|| panic!("the named root in\n{text}"));
    assert!(extra.ends_with("cli::Node"), "{extra}");
    assert!(path.contents() == before, "info wrote the file");
}

#[test]
fn info_json_holds_the_real_values() {
    let path = list_pool("cli-info-json", 5, 0);
    let before = path.contents();
    let report = json(&pmem_on("info", path.path(), &["--json"]));
    assert_eq!(report["path"], path.path().display().to_string());
    assert_eq!(report["format_version"], pmem::format::FORMAT_VERSION);
    assert_eq!(report["root"]["type_name"], "cli::List");
    assert_eq!(report["root"]["size"], 16);
    assert_eq!(report["root"]["offset"], 4096);
    assert_eq!(report["state"]["previous_shutdown_clean"], true);
    assert_eq!(report["state"]["unfinished_transactions"], 0);
    assert_eq!(report["lanes"], 2);
    assert_eq!(report["file_size"], before.len());
    assert_eq!(report["pool_size"], 1 << 20);
    assert_eq!(report["growth_limit"]["stored_in_pool"], false);
    assert_eq!(report["growth_limit"]["default_bytes"], 64u64 << 30);
    assert_eq!(
        report["heap"]["objects"], 6,
        "five list nodes and the named one"
    );
    assert_eq!(report["collection_at_open"]["live_objects"], 6);
    assert_eq!(report["heap"]["dangling_pointers"], 0);
    let types = report["types"].as_array().expect("types");
    assert_eq!(types.len(), 1, "{types:?}");
    assert_eq!(types[0]["name"], "cli::Node");
    assert_eq!(types[0]["objects"], 6);
    assert_eq!(
        types[0]["bytes"].as_u64(),
        Some(6 * types[0]["slot_size"].as_u64().expect("a slot size"))
    );
    let classes = report["size_classes"].as_array().expect("size classes");
    assert_eq!(classes.len(), 1);
    assert_eq!(classes[0]["objects"], 6);
    assert_eq!(classes[0]["types"][0], "cli::Node");
    let roots = report["named_roots"].as_array().expect("named roots");
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["name"], "extra");
    assert_eq!(roots[0]["type_name"], "cli::Node");
    let pool = open_list(path.path());
    assert_eq!(list_values(&pool), [4, 3, 2, 1, 0]);
    drop(pool);
}

#[test]
fn info_json_of_a_rich_pool() {
    let path = ScratchFile::new("cli-info-rich");
    pmem_tests::fuzz::create(path.path()).expect("create the rich pool");
    let report = json(&pmem_on("info", path.path(), &["--json"]));
    let objects = |name: &str| {
        report["types"]
            .as_array()
            .expect("types")
            .iter()
            .find(|each| {
                each["name"]
                    .as_str()
                    .is_some_and(|each| each.ends_with(name))
            })
            .map_or(0, |each| each["objects"].as_u64().expect("a count"))
    };
    assert_eq!(objects("::FuzzNode"), 12);
    assert_eq!(objects("::FuzzEntry"), 10);
    assert_eq!(objects("::FuzzBlob"), 3);
    assert_eq!(objects("::FuzzBig"), 1, "the unrooted one is garbage");
    assert_eq!(report["heap"]["objects"], 26);
    let mut names: Vec<&str> = report["named_roots"]
        .as_array()
        .expect("named roots")
        .iter()
        .map(|root| root["name"].as_str().expect("a name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["big", "blob", "entry", "node"]);
    let check = pmem_on("check", path.path(), &[]);
    assert_eq!(check.code, 0, "{check:?}");
    let dump = json(&pmem_on("dump", path.path(), &["--json", "--words", "2"]));
    assert_eq!(dump["roots"].as_array().map(Vec::len), Some(4));
    assert_eq!(dump["objects"].as_array().map(Vec::len), Some(27));
}

#[test]
fn check_passes_a_clean_pool() {
    let path = list_pool("cli-check-clean", 5, 0);
    let before = path.contents();
    let run = pmem_on("check", path.path(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    assert!(run.stdout.contains("state: clean"), "{}", run.stdout);
    assert_eq!(
        last_line(&run.stdout),
        format!(
            "{}: sound (6 live objects, 2 types, 0 dangling pointers)",
            path.path().display()
        )
    );
    assert!(path.contents() == before, "check wrote the file");
}

#[test]
fn check_passes_a_dirty_pool_and_repair_rolls_it_back() {
    let (_original, image) = dirty_pool("cli-check-dirty");
    let before = image.contents();
    let run = pmem_on("check", image.path(), &[]);
    assert_eq!(
        run.code, 0,
        "a dirty pool with a valid log is sound: {run:?}"
    );
    assert!(
        run.stdout
            .contains("state: dirty: 1 unfinished transaction with a valid undo log (not damage)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--repair"), "{}", run.stdout);
    assert!(
        last_line(&run.stdout)
            .ends_with("0 dangling pointers; 1 unfinished transaction to roll back)"),
        "{}",
        run.stdout
    );
    assert!(
        image.contents() == before,
        "check without --repair wrote the file"
    );

    let repair = pmem_on("check", image.path(), &["--repair"]);
    assert_eq!(repair.code, 0, "{repair:?}");
    assert!(
        repair
            .stdout
            .contains("repair: opened read-write: rolled back 1 unfinished transaction"),
        "{}",
        repair.stdout
    );
    assert!(repair.stdout.contains("checking"), "{}", repair.stdout);
    assert!(
        last_line(&repair.stdout).ends_with("sound (4 live objects, 2 types, 0 dangling pointers)"),
        "{}",
        repair.stdout
    );
    assert!(image.contents() != before, "--repair wrote the file");
    let pool = open_list(image.path());
    assert_eq!(pool.info().transactions_rolled_back, 0);
    assert!(pool.info().previous_shutdown_clean);
    assert_eq!(pool.root().len, 3, "the rolled-back value");
    assert_eq!(list_values(&pool), [2, 1, 0]);
    drop(pool);

    let again = pmem_on("check", image.path(), &["--repair"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("repair: nothing for an open to repair"),
        "{}",
        again.stdout
    );
}

#[test]
fn check_finds_a_dangling_and_a_mistyped_pointer() {
    let path = list_pool("cli-check-dangling", 3, 0);
    let mut pool = open_list(path.path());
    let garbage = 0x10_0008;
    pool.txn(|tx| tx.root_mut().head = PPtr::from_offset(garbage));
    drop(pool);
    let before = path.contents();
    let run = pmem_on("check", path.path(), &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    let listed = run
        .stdout
        .lines()
        .find(|line| line.contains("dangling: the pointer at 0x1000"))
        .unwrap_or_else(|| panic!("the pointer listed in\n{}", run.stdout));
    assert!(listed.contains(&format!("holds {garbage:#x}")), "{listed}");
    assert!(
        listed.contains("in the cli::List at 0x1000 (field +0x0)"),
        "{listed}"
    );
    assert_eq!(
        last_line(&run.stdout),
        format!(
            "{}: damaged: 1 dangling pointer (1 live object, 2 types)",
            path.path().display()
        )
    );
    assert!(path.contents() == before, "check wrote the file");
    let repair = pmem_on("check", path.path(), &["--repair"]);
    assert_eq!(repair.code, 1, "{repair:?}");
    assert!(
        repair
            .stdout
            .contains("dangling pointers are left as they are"),
        "{}",
        repair.stdout
    );

    // A pointer to a live object of another type: a type mismatch.
    let mistyped = list_pool("cli-check-mistyped", 1, 0);
    let mut pool = open_list(mistyped.path());
    pool.try_txn(|tx| {
        let other = tx.alloc(Garbage { words: [7; 8] })?;
        tx.set_named_root("other", other)?;
        tx.root_mut().head = PPtr::from_offset(other.offset());
        Ok::<_, Error>(())
    })
    .expect("store a mistyped pointer");
    drop(pool);
    let run = pmem_on("check", mistyped.path(), &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("type mismatch: the pointer at 0x1000"),
        "{}",
        run.stdout
    );
    assert!(
        last_line(&run.stdout).contains("damaged: 1 mistyped pointer"),
        "{}",
        run.stdout
    );
}

/// A pool damaged in each way the open refuses, and what the message says.
fn damaged_pools() -> Vec<(&'static str, ScratchFile, &'static str)> {
    let mut pools = Vec::new();
    let not_a_pool = ScratchFile::new("cli-not-a-pool");
    std::fs::write(not_a_pool.path(), vec![0x5a; 3 * 4096]).expect("write");
    pools.push(("not a pool", not_a_pool, "is not a pmem pool"));

    let empty = ScratchFile::new("cli-empty");
    std::fs::write(empty.path(), b"").expect("write");
    pools.push(("an empty file", empty, "is not a pmem pool"));

    let truncated = list_pool("cli-truncated", 3, 0);
    rewrite(&truncated, |bytes| bytes.truncate(bytes.len() / 2));
    pools.push(("truncated", truncated, "is truncated"));

    let header = list_pool("cli-damaged-header", 3, 0);
    rewrite(&header, |bytes| bytes[170] ^= 0x20);
    pools.push(("a damaged identity block", header, "identity block failed"));

    let state = list_pool("cli-damaged-state", 3, 0);
    rewrite(&state, |bytes| {
        for at in STATE_SLOTS {
            bytes[at + 8] ^= 0xff;
        }
    });
    pools.push(("damaged state records", state, "state records failed"));

    let version = list_pool("cli-wrong-version", 3, 0);
    rewrite(&version, |bytes| {
        put_u32(bytes, 8, 99);
        fix_identity(bytes);
    });
    pools.push(("a wrong version", version, "has format version 99"));

    let heap = list_pool("cli-damaged-heap", 3, 0);
    rewrite(&heap, |bytes| {
        let layout = PoolLayout::of(bytes);
        let at = layout.type_record(bytes, NODE_TYPE);
        put_u64(bytes, at + 8, u64::MAX);
        layout.fix_type_record(bytes, at, NODE_TYPE as u32);
    });
    pools.push(("a damaged heap", heap, "size or alignment"));

    let (_original, log) = dirty_pool("cli-damaged-log");
    rewrite(&log, |bytes| {
        let slot = PoolLayout::of(bytes).log_offset;
        assert_ne!(u64_at(bytes, slot), 0);
        put_u64(bytes, slot, u64::MAX);
    });
    pools.push(("a damaged log", log, "undo log is damaged"));
    pools
}

#[test]
fn every_subcommand_refuses_a_damaged_pool_in_one_line_and_writes_nothing() {
    for (what, path, message) in damaged_pools() {
        let before = path.contents();
        for subcommand in SUBCOMMANDS {
            let run = pmem_on(subcommand, path.path(), &[]);
            let case = format!("{subcommand} on {what}");
            one_line_failure(&run, 1, path.path(), &case);
            assert!(run.stderr.contains(message), "{case}: {run:?}");
            if subcommand == "check" {
                assert!(
                    last_line(&run.stdout)
                        .starts_with(&format!("{}: damaged: ", path.path().display())),
                    "{case}: {run:?}"
                );
            } else {
                assert!(run.stdout.is_empty(), "{case}: {run:?}");
            }
            assert!(path.contents() == before, "{case}: the file changed");
        }
        for (subcommand, flag) in [("check", "--repair"), ("gc", "--compact")] {
            let run = pmem_on(subcommand, path.path(), &[flag]);
            let case = format!("{subcommand} {flag} on {what}");
            one_line_failure(&run, 1, path.path(), &case);
            assert!(path.contents() == before, "{case}: the file changed");
            assert!(
                pmem_tests::compaction_leftovers(path.path()).is_empty(),
                "{case}"
            );
        }
    }
}

#[test]
fn gc_compact_shrinks_a_pool_whose_live_data_dropped_to_a_tenth() {
    let path = ScratchFile::new("cli-compact");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 14)
        .create(path.path(), List::default())
        .expect("create");
    pool.try_txn(|tx| {
        for value in 0..100_000 {
            let next = tx.root().head;
            let node = tx.alloc(Node { value, next })?;
            tx.root_mut().head = node;
            tx.root_mut().len += 1;
        }
        Ok::<_, Error>(())
    })
    .expect("fill");
    // Keep every tenth node.
    pool.try_txn(|tx| {
        let mut at = tx.root().head;
        while !at.is_null() {
            let mut next = tx.get(at)?.next;
            for _ in 0..9 {
                if next.is_null() {
                    break;
                }
                next = tx.get(next)?.next;
            }
            tx.get_mut(at)?.next = next;
            at = next;
        }
        tx.root_mut().len = 10_000;
        Ok::<_, Error>(())
    })
    .expect("thin");
    let kept = list_values(&pool);
    assert_eq!(kept.len(), 10_000);
    pool.close();
    let size_before = std::fs::metadata(path.path()).expect("metadata").len();

    let run = pmem_on("gc", path.path(), &["--compact"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    assert!(
        run.stdout.contains("moved:       10,000 objects")
            || run.stdout.contains("moved:       10000 objects"),
        "{}",
        run.stdout
    );
    let size_after = std::fs::metadata(path.path()).expect("metadata").len();
    assert!(
        run.stdout
            .contains(&format!("({size_before} bytes to {size_after})")),
        "{}",
        run.stdout
    );
    assert!(
        size_after * 5 < size_before,
        "{size_before} bytes compacted to {size_after}"
    );
    let check = pmem_on("check", path.path(), &[]);
    assert_eq!(check.code, 0, "{check:?}");
    let pool = open_list(path.path());
    assert_eq!(list_values(&pool), kept, "the same list, moved");
    assert_eq!(pool.root().len, 10_000);
}

#[test]
fn gc_compact_refuses_a_dangling_pointer_and_leaves_the_pool() {
    let path = list_pool("cli-compact-dangling", 3, 0);
    let mut pool = open_list(path.path());
    pool.txn(|tx| tx.root_mut().head = PPtr::from_offset(0x10_0008));
    drop(pool);
    let before = path.contents();
    let run = pmem_on("gc", path.path(), &["--compact"]);
    one_line_failure(&run, 1, path.path(), "gc --compact with a dangling pointer");
    assert!(run.stderr.contains("cannot be compacted"), "{run:?}");
    assert!(path.contents() == before, "the file changed");
}

#[test]
fn a_missing_pool_is_a_usage_error() {
    let path = ScratchFile::new("cli-missing");
    for subcommand in SUBCOMMANDS {
        let run = pmem_on(subcommand, path.path(), &[]);
        one_line_failure(&run, 2, path.path(), subcommand);
        assert!(run.stderr.contains("No such file"), "{run:?}");
        assert!(!path.path().exists(), "{subcommand} created the file");
    }
    let directory = pmem::scratch_directory();
    let run = pmem_on("info", &directory, &[]);
    one_line_failure(&run, 2, &directory, "info on a directory");
}

#[test]
fn a_pool_a_writer_has_open_cannot_be_checked() {
    let path = list_pool("cli-locked", 3, 0);
    let writer = open_list(path.path());
    let before = path.contents();
    for subcommand in SUBCOMMANDS {
        let run = pmem_once(&args_on(subcommand, path.path(), &[]));
        one_line_failure(&run, 3, path.path(), subcommand);
        assert!(run.stderr.contains("already open"), "{run:?}");
        if subcommand == "check" {
            assert!(
                last_line(&run.stdout).contains(": not checked: a writer has it open"),
                "{run:?}"
            );
        }
    }
    assert!(path.contents() == before, "the file changed");
    drop(writer);
    assert_eq!(pmem_on("check", path.path(), &[]).code, 0);
}

#[test]
fn gc_releases_the_garbage_and_keeps_the_data() {
    let path = list_pool("cli-gc", 5, 400);
    let before = json(&pmem_on("info", path.path(), &["--json"]));
    let released = before["collection_at_open"]["released_pages"]
        .as_u64()
        .expect("a count");
    assert!(
        released >= 6,
        "400 unreachable 64-byte objects fill whole pages: {released}"
    );
    assert_eq!(before["collection_at_open"]["live_objects"], 6);

    let run = pmem_on("gc", path.path(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("released:    {released} pages")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("live:        6 objects"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rolled back: 0 unfinished transactions"),
        "{}",
        run.stdout
    );

    let after = json(&pmem_on("info", path.path(), &["--json"]));
    assert_eq!(after["collection_at_open"]["released_pages"], 0);
    assert_eq!(after["collection_at_open"]["live_objects"], 6);
    let free = |report: &Value| report["heap"]["free_page_bytes"].as_u64().expect("bytes");
    assert_eq!(free(&after), free(&before), "what the preview promised");
    let mut pool = open_list(path.path());
    assert_eq!(pool.collect().expect("collect").released_pages, 0);
    assert_eq!(pool.heap_stats().allocated_objects, 6);
    assert_eq!(list_values(&pool), [4, 3, 2, 1, 0]);
    drop(pool);

    // A dirty pool: gc's open rolls the transaction back first.
    let (_original, image) = dirty_pool("cli-gc-dirty");
    let run = pmem_on("gc", image.path(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("rolled back: 1 unfinished transaction"),
        "{}",
        run.stdout
    );
    let pool = open_list(image.path());
    assert_eq!(pool.root().len, 3);
}

#[test]
fn dump_lists_exactly_the_reachable_objects() {
    let path = list_pool("cli-dump", 50, 100);
    let before = path.contents();
    let report = json(&pmem_on("dump", path.path(), &["--json"]));
    assert!(path.contents() == before, "dump wrote the file");
    let roots = report["roots"].as_array().expect("roots");
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["name"], "extra");
    assert_eq!(roots[0]["type"], "cli::Node");
    let objects = report["objects"].as_array().expect("objects");
    assert_eq!(
        objects.len(),
        52,
        "the root, 50 list nodes and the named one"
    );
    assert_eq!(report["objects_reachable"], 52);
    assert_eq!(objects[0]["type"], "cli::List");
    assert_eq!(objects[0]["offset"], 4096);
    assert!(
        objects
            .iter()
            .all(|object| object["type"] != "cli::Garbage")
    );
    let value = |object: &Value| {
        let words = object["words"].as_array().expect("words");
        assert_eq!(words[0]["field"], 0, "{object}");
        words[0]["value"].as_u64().expect("a value")
    };
    assert_eq!(
        objects[1]["offset"], roots[0]["offset"],
        "the named root next"
    );
    assert_eq!(value(&objects[1]), 1000);
    let list: Vec<u64> = objects[2..].iter().map(value).collect();
    assert_eq!(list, (0..50).rev().collect::<Vec<_>>(), "in list order");
    for pair in objects[2..].windows(2) {
        let next = &pair[0]["pointers"][0];
        assert_eq!(next["field"], 8);
        assert_eq!(next["target"], "object");
        assert_eq!(next["type"], "cli::Node");
        assert_eq!(next["value"], pair[1]["offset"]);
    }
    assert_eq!(objects[51]["pointers"][0]["target"], "null");

    let text = pmem_on("dump", path.path(), &[]);
    assert_eq!(text.code, 0, "{text:?}");
    let headers: Vec<&str> = text
        .stdout
        .lines()
        .filter(|line| line.starts_with("0x"))
        .collect();
    assert_eq!(headers.len(), 52, "{}", text.stdout);
    assert!(
        headers[0].contains("cli::List, 16 bytes (the root object)"),
        "{}",
        headers[0]
    );
    let values: Vec<u64> = text
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("  +0x0000  0x"))
        .map(|hex| u64::from_str_radix(hex, 16).expect("hex"))
        .collect();
    let mut expected = vec![1000];
    expected.extend((0..50).rev());
    assert_eq!(values, expected);
    assert_eq!(
        last_line(&text.stdout),
        "52 reachable objects (the root object included)"
    );

    let limited = pmem_on("dump", path.path(), &["--limit", "3", "--words", "0"]);
    assert_eq!(limited.code, 0, "{limited:?}");
    assert_eq!(
        limited
            .stdout
            .lines()
            .filter(|line| line.starts_with("0x"))
            .count(),
        3
    );
    assert!(
        !limited.stdout.contains("  +0x0000  0x"),
        "{}",
        limited.stdout
    );
    assert!(
        limited.stdout.contains("... 1 more word"),
        "{}",
        limited.stdout
    );
    assert_eq!(
        last_line(&limited.stdout),
        "52 reachable objects (the root object included); 3 shown (--limit)"
    );
}

#[test]
fn dump_shows_where_a_dangling_pointer_fails() {
    let path = list_pool("cli-dump-dangling", 1, 0);
    let mut pool = open_list(path.path());
    pool.txn(|tx| tx.root_mut().head = PPtr::from_offset(0x10_0008));
    drop(pool);
    let text = pmem_on("dump", path.path(), &[]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .contains("+0x0000  -> 0x00100008  DANGLING: it is not the start of an object"),
        "{}",
        text.stdout
    );
    let report = json(&pmem_on("dump", path.path(), &["--json"]));
    let pointer = &report["objects"][0]["pointers"][0];
    assert_eq!(pointer["target"], "dangling");
    assert_eq!(pointer["value"], 0x10_0008);
    assert!(
        pointer["reason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty())
    );
}

/// A path in the scratch directory whose name is not UTF-8, removed when dropped.
struct NonUtf8(PathBuf);

impl NonUtf8 {
    fn new(label: &str) -> Self {
        let mut name = format!("pmem-cli-{label}-{}-", std::process::id()).into_bytes();
        name.extend_from_slice(b"\xff\xfe.pool");
        Self(pmem::scratch_directory().join(OsString::from_vec(name)))
    }
}

impl Drop for NonUtf8 {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_path_that_is_not_utf8_works() {
    let source = list_pool("cli-non-utf8", 2, 0);
    let path = NonUtf8::new("present");
    std::fs::copy(source.path(), &path.0).expect("copy");
    let run = pmem_on("check", &path.0, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains('\u{fffd}'), "{run:?}");
    let report = json(&pmem_on("info", &path.0, &["--json"]));
    assert_eq!(report["heap"]["objects"], 3);

    let missing = NonUtf8::new("missing");
    let run = pmem_on("dump", &missing.0, &[]);
    one_line_failure(&run, 2, &missing.0, "dump of a missing non-UTF-8 path");
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Slices {
    numbers: PSlice<u64>,
    nodes: PSlice<PPtr<Node>>,
}

#[test]
fn slices_are_counted_and_dumped_with_their_elements() {
    let path = ScratchFile::new("cli-slices");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .create(path.path(), Slices::default())
        .expect("create");
    pool.try_txn(|tx| {
        let numbers = tx.alloc_slice_copied(&[10u64, 20, 30])?;
        let first = tx.alloc(Node {
            value: 1,
            next: PPtr::null(),
        })?;
        let second = tx.alloc(Node {
            value: 2,
            next: first,
        })?;
        let nodes = tx.alloc_slice_copied(&[first, second])?;
        tx.root_mut().numbers = numbers;
        tx.root_mut().nodes = nodes;
        Ok::<_, Error>(())
    })
    .expect("fill");
    pool.close();

    let report = json(&pmem_on("info", path.path(), &["--json"]));
    let types = report["types"].as_array().expect("types");
    let numbers = types
        .iter()
        .find(|each| each["name"] == "[u64]")
        .unwrap_or_else(|| panic!("[u64] in {types:?}"));
    assert_eq!(numbers["kind"], "slice");
    assert_eq!(numbers["slot_size"], Value::Null);
    assert_eq!(numbers["objects"], 1);
    let slot = numbers["bytes"].as_u64().expect("bytes");
    assert!(slot >= 32, "a header and three words: {slot}");
    let classes = report["size_classes"].as_array().expect("size classes");
    assert!(
        classes
            .iter()
            .any(|class| class["slot_size"] == slot && class["types"][0] == "[u64]"),
        "{classes:?}"
    );
    assert_eq!(report["heap"]["objects"], 4);
    let total: u64 = types
        .iter()
        .map(|each| each["bytes"].as_u64().expect("bytes"))
        .sum();
    assert_eq!(report["heap"]["object_bytes"], total);

    let dump = json(&pmem_on("dump", path.path(), &["--json"]));
    let objects = dump["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 5, "the root, two slices and two nodes");
    let numbers = objects
        .iter()
        .find(|object| object["type"] == "[u64]")
        .expect("the numbers");
    assert_eq!(numbers["elements"], 3);
    let words: Vec<(u64, u64)> = numbers["words"]
        .as_array()
        .expect("words")
        .iter()
        .map(|word| {
            (
                word["field"].as_u64().expect("field"),
                word["value"].as_u64().expect("value"),
            )
        })
        .collect();
    assert_eq!(
        words,
        [(0, 3), (8, 10), (16, 20), (24, 30)],
        "the length, then the elements"
    );
    let nodes = objects
        .iter()
        .find(|object| object["elements"] == 2)
        .expect("the node pointers");
    let pointers = nodes["pointers"].as_array().expect("pointers");
    assert_eq!(pointers.len(), 2);
    assert!(
        pointers
            .iter()
            .all(|pointer| pointer["target"] == "object" && pointer["type"] == "cli::Node")
    );
    assert_eq!(pointers[0]["field"], 8);
    assert_eq!(pointers[1]["field"], 16);
    let text = pmem_on("dump", path.path(), &[]);
    assert!(
        text.stdout.contains("[u64], a slice of 3 elements"),
        "{}",
        text.stdout
    );
}

/// A bad `PMEM_FLUSH` would stop a program's open, not a read-only one: `info` reports it
/// as the flush mode a program could not use, and `check` still checks.
#[test]
fn a_bad_pmem_flush_is_reported_not_refused_by_read_only_subcommands() {
    let path = list_pool("cli-bad-flush", 3, 0);
    let run = |subcommand: &str, rest: &[&str]| {
        let output = assert_cmd::Command::cargo_bin("pmem")
            .expect("the pmem binary")
            .env("PMEM_FLUSH", "bogus")
            .args(args_on(subcommand, path.path(), rest))
            .output()
            .expect("run pmem");
        (
            output.status.code(),
            String::from_utf8(output.stdout).expect("UTF-8"),
        )
    };
    let (code, stdout) = run("info", &["--json"]);
    assert_eq!(code, Some(0), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(report["flush_mode"].is_null(), "{report}");
    assert!(
        report["flush_mode_error"]
            .as_str()
            .is_some_and(|error| error.contains("bogus")),
        "{report}"
    );
    let (code, stdout) = run("check", &[]);
    assert_eq!(code, Some(0), "{stdout}");
}
