//! Tests that need a second process: unclean exits, locks held elsewhere, `PMEM_FLUSH`.
//!
//! They live in a test binary of their own and take turns (`ONE_AT_A_TIME`): while a thread
//! spawns a child, the child briefly holds copies of every file descriptor of this process,
//! and with them the locks of pools that another thread has just closed. A pool closed in a
//! process that is spawning children can therefore stay locked for a few microseconds.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use pmem::simulation::ScratchFile;
use pmem::{Error, FlushMode, PPtr, Pool, PoolOptions};
use pmem_tests::{Ledger, xorshift};

const CHILD: &str = env!("CARGO_BIN_EXE_pool_child");

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the child binary's `command` on the pool at `path` and waits for it.
fn run_child(command: &str, path: &ScratchFile) -> std::process::ExitStatus {
    Command::new(CHILD)
        .args([command, path.path().to_str().expect("utf-8 path")])
        .status()
        .expect("run child")
}

/// Starts the child binary's `command` on the pool at `path`, with piped stdin, and
/// returns it with the first line it printed.
fn spawn_child(command: &str, path: &ScratchFile) -> (std::process::Child, String) {
    let mut child = Command::new(CHILD)
        .args([command, path.path().to_str().expect("utf-8 path")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run child");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    (child, line.trim().to_owned())
}

fn create_sample(path: &ScratchFile) -> Pool<Ledger> {
    PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 16)
        .create(path.path(), Ledger::sample(PPtr::null()))
        .expect("create")
}

#[test]
fn an_exit_without_close_is_reported_as_unclean() {
    let _turn = take_turn();
    let path = ScratchFile::new("unclean");
    drop(create_sample(&path));
    let status = run_child("exit-without-close", &path);
    assert!(status.success());
    let pool = Pool::<Ledger>::open(path.path()).expect("open after unclean exit");
    assert!(!pool.info().previous_shutdown_clean);
    assert_eq!(pool.root().balances, [100, 200, 300, 400]);
    drop(pool);
    assert!(
        Pool::<Ledger>::open(path.path())
            .expect("open")
            .info()
            .previous_shutdown_clean
    );
}

#[test]
fn a_pool_open_in_another_process_is_locked_until_it_closes() {
    let _turn = take_turn();
    let path = ScratchFile::new("locked-process");
    drop(create_sample(&path));
    let (mut child, line) = spawn_child("hold", &path);
    assert_eq!(line, "open");

    let before = path.contents();
    match Pool::<Ledger>::open(path.path()) {
        Err(Error::Locked { path: reported }) => assert_eq!(reported, path.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(path.contents() == before, "a refused open changed the file");

    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"done\n").expect("write");
    drop(stdin);
    assert!(child.wait().expect("wait").success());
    assert!(Pool::<Ledger>::open(path.path()).is_ok());
}

#[test]
fn pmem_flush_forces_the_mode_and_rejects_unknown_names() {
    let _turn = take_turn();
    let path = ScratchFile::new("env-mode");
    drop(create_sample(&path));
    let run = |value: &str| {
        let output = Command::new(CHILD)
            .args(["report-mode", path.path().to_str().expect("utf-8 path")])
            .env("PMEM_FLUSH", value)
            .output()
            .expect("run child");
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    };
    assert_eq!(run("none"), "mode: none");
    assert_eq!(run("msync"), "mode: msync");
    let refused = run("sometimes");
    assert!(
        refused.starts_with("error: unknown flush mode \"sometimes\""),
        "{refused}"
    );
    if FlushMode::Clwb.is_supported() {
        assert_eq!(run("clwb"), "mode: clwb");
    }
}

/// A child process dies inside a transaction; opening the pool rolls it back. Then every
/// image that a crash *during that recovery* could leave (any subset of the changed lines
/// already restored, the log still valid) must recover the same way.
#[test]
fn a_transaction_cut_short_by_exit_is_rolled_back_at_open_idempotently() {
    let _turn = take_turn();
    let path = ScratchFile::new("crash-mid-txn");
    PoolOptions::new()
        .log_size(1 << 16)
        .create(path.path(), pmem_tests::counting())
        .expect("create");
    let before = path.contents();
    let status = run_child("crash-mid-transaction", &path);
    assert!(status.success());
    let crashed = path.contents();

    let root = 4096..4096 + 512;
    let changed_lines: Vec<usize> = (root.start..root.end)
        .step_by(64)
        .filter(|&line| crashed[line..line + 64] != before[line..line + 64])
        .collect();
    assert_eq!(
        changed_lines.len(),
        8,
        "the child's stores reached the file"
    );

    for restored in 0u32..1 << changed_lines.len() {
        let mut image = crashed.clone();
        for (bit, &line) in changed_lines.iter().enumerate() {
            if restored & (1 << bit) != 0 {
                image[line..line + 64].copy_from_slice(&before[line..line + 64]);
            }
        }
        let copy = ScratchFile::new("crash-mid-txn-image");
        std::fs::write(copy.path(), &image).expect("write image");
        let pool = Pool::<pmem_tests::Counters>::open(copy.path()).expect("open crashed image");
        assert_eq!(
            pool.info().transactions_rolled_back,
            1,
            "subset {restored:#x}"
        );
        assert!(!pool.info().previous_shutdown_clean);
        assert_eq!(*pool.root(), pmem_tests::counting(), "subset {restored:#x}");
        drop(pool);
        let pool = Pool::<pmem_tests::Counters>::open(copy.path()).expect("reopen");
        assert_eq!(pool.info().transactions_rolled_back, 0);
        assert_eq!(*pool.root(), pmem_tests::counting());
    }
}

/// A child swaps counters in transactions until it is killed with SIGKILL at a random
/// moment; the pool must reopen with the counters still a permutation. `PMEM_KILL_CYCLES`
/// sets the number of cycles (default 10).
#[test]
fn sigkill_at_random_moments_never_breaks_the_pool() {
    let _turn = take_turn();
    let cycles: usize = std::env::var("PMEM_KILL_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    let path = ScratchFile::new("sigkill");
    PoolOptions::new()
        .log_size(1 << 16)
        .create(path.path(), pmem_tests::counting())
        .expect("create");
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    let (mut rolled_back, mut changed) = (0, 0);
    for cycle in 0..cycles {
        let (mut child, line) = spawn_child("swap-forever", &path);
        assert_eq!(line, "ready", "cycle {cycle}");
        let pause = xorshift(&mut random) % 20_000;
        std::thread::sleep(std::time::Duration::from_micros(pause));
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");

        let pool = Pool::<pmem_tests::Counters>::open(path.path())
            .unwrap_or_else(|error| panic!("cycle {cycle}: {error}"));
        let mut sorted = *pool.root();
        changed += usize::from(sorted != pmem_tests::counting());
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            pmem_tests::counting(),
            "cycle {cycle}: not a permutation"
        );
        rolled_back += pool.info().transactions_rolled_back;
    }
    println!(
        "{cycles} kills: {rolled_back} transactions rolled back at reopen, {changed} reopens saw swaps"
    );
    assert!(changed > 0, "the child never committed a swap");
}

/// A child pushes and pops heap nodes (allocating, and collecting every 64 transactions,
/// in a pool that starts at 128 KiB and may grow) until it is killed with SIGKILL at a
/// random moment; the pool must reopen, its collection finding no dangling pointer, with a
/// stack
/// whose depth field matches its nodes and whose nodes are whole. `PMEM_KILL_CYCLES` sets
/// the number of cycles (default 10).
#[test]
fn sigkill_during_allocation_and_collection_never_breaks_the_heap() {
    let _turn = take_turn();
    let cycles: usize = std::env::var("PMEM_KILL_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    let path = ScratchFile::new("sigkill-heap");
    PoolOptions::new()
        .size(128 << 10)
        .max_size(4 << 20)
        .log_size(1 << 14)
        .create(path.path(), pmem_tests::Stack::default())
        .expect("create");
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    let mut deepest = 0;
    for cycle in 0..cycles {
        let (mut child, line) = spawn_child("stack-forever", &path);
        assert_eq!(line, "ready", "cycle {cycle}");
        let pause = xorshift(&mut random) % 20_000;
        std::thread::sleep(std::time::Duration::from_micros(pause));
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");

        let mut pool =
            pmem_tests::open_either_way::<pmem_tests::Stack>(path.path(), cycle % 2 == 0)
                .unwrap_or_else(|error| panic!("cycle {cycle}: {error}"));
        let mut depth = 0;
        let mut at = pool.root().top;
        while !at.is_null() {
            let node = pool
                .get(at)
                .unwrap_or_else(|error| panic!("cycle {cycle}: {error}"));
            assert_eq!(node.check, !node.value, "cycle {cycle}: a torn node");
            depth += 1;
            at = node.next;
        }
        assert_eq!(depth, pool.root().depth, "cycle {cycle}: the depth field");
        let dangling = pmem_tests::first_collection(&mut pool).first_dangling;
        assert_eq!(dangling, None, "cycle {cycle}: a dangling pointer");
        deepest = deepest.max(depth);
    }
    println!("{cycles} kills of a heap workload; the deepest stack held {deepest} nodes");
    assert!(deepest > 0, "the child never committed a push");
}

/// A child runs three worker threads that make bank transfers in shared transactions on one
/// pool (a lane each), pushing a record of each onto a list, until it is killed with
/// SIGKILL at a random moment (also while its main thread empties the list in an exclusive
/// transaction and collects). The pool must reopen with no dangling pointer and the total
/// unchanged; each worker's counter must count every transfer the child printed as
/// committed, and at most one more (the one it may have committed before it could print);
/// and the list must hold, per worker, consecutive records ending at its counter.
/// `PMEM_KILL_CYCLES` sets the number of cycles (default 10).
#[test]
fn sigkill_with_three_threads_in_shared_transactions_never_breaks_the_bank() {
    use pmem_tests::shared_workloads::{ACCOUNTS, MAX_THREADS, OPENING_BALANCE, SharedBank};

    let _turn = take_turn();
    let cycles: usize = std::env::var("PMEM_KILL_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    let path = ScratchFile::new("sigkill-shared");
    PoolOptions::new()
        .lanes(MAX_THREADS as u32)
        .size(1 << 20)
        .log_size(1 << 12)
        .create(path.path(), SharedBank::opening())
        .expect("create");
    let mut random = 0x6a09_e667_f3bc_c908_u64;
    let mut known = [0u64; MAX_THREADS];
    let (mut rolled_back, mut printed, mut longest) = (0, 0, 0);
    for cycle in 0..cycles {
        let mut child = Command::new(CHILD)
            .args([
                "shared-bank-forever",
                path.path().to_str().expect("utf-8 path"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run child");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = lines.next().and_then(Result::ok);
        assert_eq!(ready.as_deref(), Some("ready"), "cycle {cycle}");
        // Read while the child runs, so that it never waits for a full pipe.
        let reader = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
        let pause = xorshift(&mut random) % 20_000;
        std::thread::sleep(std::time::Duration::from_micros(pause));
        let exited = child.try_wait().expect("try_wait");
        assert!(
            exited.is_none(),
            "cycle {cycle}: the child ended by itself: {exited:?}"
        );
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        for line in reader.join().expect("reader") {
            let (thread, seq) = line
                .split_once(' ')
                .and_then(|(thread, seq)| Some((thread.parse::<usize>().ok()?, seq.parse().ok()?)))
                .unwrap_or_else(|| panic!("cycle {cycle}: the child printed {line:?}"));
            known[thread] = known[thread].max(seq);
            printed += 1;
        }

        let mut pool = pmem_tests::open_either_way::<SharedBank>(path.path(), cycle % 2 == 0)
            .unwrap_or_else(|error| panic!("cycle {cycle}: {error}"));
        let collection = pmem_tests::first_collection(&mut pool);
        assert_eq!(
            collection.dangling_pointers, 0,
            "cycle {cycle}: {:?}",
            collection.first_dangling
        );
        rolled_back += pool.info().transactions_rolled_back;
        let (balances, committed, records) = pool.shared_txn(|tx| {
            let bank = tx.root();
            let balances: Vec<u64> = (0..ACCOUNTS).map(|i| *tx.lock(&bank.accounts[i])).collect();
            let committed: Vec<u64> = (0..MAX_THREADS)
                .map(|i| *tx.lock(&bank.committed[i]))
                .collect();
            let mut records = Vec::new();
            let mut at = *tx.lock(&bank.records);
            while !at.is_null() {
                let record = tx
                    .get(at)
                    .unwrap_or_else(|error| panic!("cycle {cycle}: {error}"));
                records.push(record.transfer);
                at = record.next;
            }
            (balances, committed, records)
        });
        let total: u64 = balances.iter().sum();
        assert_eq!(
            total,
            OPENING_BALANCE * ACCOUNTS as u64,
            "cycle {cycle}: {balances:?}"
        );
        for thread in 0..MAX_THREADS {
            let count = committed[thread];
            assert!(
                (known[thread]..=known[thread] + 1).contains(&count),
                "cycle {cycle}: worker {thread}'s counter is {count}, but it printed {} as committed",
                known[thread]
            );
            known[thread] = count;
            let seqs: Vec<u64> = records
                .iter()
                .filter(|record| record.thread == thread as u64)
                .map(|record| record.seq)
                .collect();
            assert!(
                seqs.first().is_none_or(|&newest| newest == count)
                    && seqs.windows(2).all(|pair| pair[0] == pair[1] + 1),
                "cycle {cycle}: worker {thread}'s counter is {count}, its records {seqs:?}"
            );
        }
        longest = longest.max(records.len());
    }
    let committed: u64 = known.iter().sum();
    println!(
        "{cycles} kills of three threads in shared transactions: {committed} transfers committed, {printed} seen committed before the kill, {rolled_back} transactions rolled back at reopen, the longest list {longest} records"
    );
    assert!(committed > 0, "the child never committed a transfer");
}

/// A child compacts a pool again and again (each time writing a new file and renaming it
/// over the pool) until it is killed with SIGKILL at a random moment; the pool must open
/// after every kill holding the same graph, and a compaction file a kill left is removed by
/// the next compaction. `PMEM_KILL_CYCLES` sets the number of cycles (default 10).
#[test]
fn sigkill_during_compaction_leaves_the_old_pool_or_the_new_one() {
    let _turn = take_turn();
    let cycles: usize = std::env::var("PMEM_KILL_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    let path = ScratchFile::new("sigkill-compact");
    let mut pool = PoolOptions::new()
        .create(path.path(), pmem_tests::Stack::default())
        .expect("create");
    pool.try_txn(|tx| {
        for value in 0..20_000 {
            let top = tx.root().top;
            let node = tx.alloc(pmem_tests::StackNode {
                value,
                check: !value,
                next: top,
            })?;
            let mut stack = tx.root_mut();
            stack.top = node;
            stack.depth += 1;
        }
        Ok::<_, pmem::Error>(())
    })
    .expect("fill");
    pool.close();
    let before = pmem_tests::graph_signature(path.path());
    // Kills land anywhere in the first three compactions a child makes (it starts by
    // opening the pool, which an earlier kill may have left to recover).
    let started = std::time::Instant::now();
    pmem::inspect::compact(path.path()).expect("a first compaction");
    let window = (started.elapsed().as_micros() as u64 * 3).max(1_000);
    let mut random = 0x51_7cc1_b727_220a_u64;
    let (mut interrupted, mut replaced) = (0, 0);
    let inode =
        || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path.path()).expect("metadata"));
    for cycle in 0..cycles {
        let before_kill = inode();
        let (mut child, line) = spawn_child("compact-forever", &path);
        assert_eq!(line, "ready", "cycle {cycle}");
        let pause = xorshift(&mut random) % window;
        std::thread::sleep(std::time::Duration::from_micros(pause));
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        interrupted += usize::from(!pmem_tests::compaction_leftovers(path.path()).is_empty());
        replaced += usize::from(inode() != before_kill);
        assert_eq!(
            pmem_tests::graph_signature(path.path()),
            before,
            "cycle {cycle}"
        );
    }
    let report = pmem::inspect::compact(path.path()).expect("a last compaction");
    assert!(pmem_tests::compaction_leftovers(path.path()).is_empty());
    assert_eq!(report.objects, 20_000);
    assert_eq!(pmem_tests::graph_signature(path.path()), before);
    eprintln!(
        "{cycles} kills within {window} µs of a child's start: {replaced} after the child had replaced the pool at least once, {interrupted} leaving a compaction file"
    );
}
