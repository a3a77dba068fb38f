//! The crash demo (`examples/crash-demo.rs`), run short: a child making transfers is killed
//! with SIGKILL three times, and each time the reopened pool holds the total and every
//! transfer the child reported. A test binary of its own: the children it spawns briefly
//! hold copies of this process's file descriptors, pool locks among them.

use std::process::Command;

use pmem::simulation::ScratchFile;

#[allow(
    dead_code,
    reason = "`main` and its argument parsing are the command line's"
)]
#[path = "../../examples/crash-demo.rs"]
mod demo;

/// The child binary, making transfers on the pool in `file`.
fn child_on(file: &ScratchFile) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crash_demo_child"));
    command.arg(file.path());
    command
}

/// Three rounds, or `PMEM_CRASH_DEMO_ROUNDS` (the long run is 1,000: `PMEM_CRASH_DEMO_ROUNDS=1000
/// cargo test --release -p pmem-tests --test crash_demo -- --nocapture`, about four minutes).
#[test]
fn the_crash_demo_kills_the_child_and_finds_every_committed_transfer() {
    let rounds: u32 = std::env::var("PMEM_CRASH_DEMO_ROUNDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3);
    let file = ScratchFile::new("crash-demo");
    let child = || child_on(&file);
    let mut out = Vec::new();
    demo::run(file.path(), rounds, child, &mut out).expect("every round recovers the bank");
    let out = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = out.lines().collect();
    let rounds = rounds as usize;
    assert_eq!(lines.len(), rounds + 2, "{out}");
    assert!(
        lines[..rounds]
            .iter()
            .all(|line| line.contains("all found")),
        "{out}"
    );
    assert!(
        lines[rounds + 1].contains(": sound ("),
        "the check's verdict: {out}"
    );
    eprintln!("{}\n{}", lines[rounds], lines[rounds + 1]);
    let summary = lines[rounds];
    let kills = format!("{rounds} kills, ");
    assert!(summary.starts_with(&kills), "{summary}");
    let committed: u64 = summary[kills.len()..]
        .split(' ')
        .next()
        .and_then(|count| count.parse().ok())
        .expect("a count");
    assert!(committed > 0, "the child committed no transfer: {out}");
}

#[test]
fn a_damaged_total_is_reported_not_passed() {
    let file = ScratchFile::new("crash-demo-damaged");
    let child = || child_on(&file);
    let mut out = Vec::new();
    demo::run(file.path(), 1, child, &mut out).expect("a first round");
    // The first account's balance sits right after the header page, in the root.
    let mut bytes = std::fs::read(file.path()).expect("read");
    bytes[4096] ^= 1;
    std::fs::write(file.path(), &bytes).expect("write");
    let refused = demo::run(file.path(), 1, child, &mut Vec::new());
    assert!(
        refused
            .as_ref()
            .is_err_and(|problem| problem.contains("the total is")),
        "{refused:?}"
    );
}
