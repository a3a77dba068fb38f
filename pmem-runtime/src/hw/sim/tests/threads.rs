//! The domain with several threads: per-thread write-backs, volatile bytes, and epochs of
//! overlapping transactions, driven event by event in a fixed order.

use std::sync::mpsc;
use std::thread::{self, Scope};

use super::{domain, store};
use crate::hw::flush::{CACHE_LINE, Event, Flusher};
use crate::hw::sim::{CrashPoint, Lint};

/// A thread that runs the jobs it is given one at a time while the caller waits: a second
/// thread whose events interleave with the caller's in the order the test writes.
struct Worker<'scope> {
    jobs: mpsc::Sender<Box<dyn FnOnce() + Send + 'scope>>,
    done: mpsc::Receiver<()>,
}

impl<'scope> Worker<'scope> {
    fn spawn(scope: &'scope Scope<'scope, '_>) -> Self {
        let (jobs, queue) = mpsc::channel::<Box<dyn FnOnce() + Send + 'scope>>();
        let (finished, done) = mpsc::channel();
        scope.spawn(move || {
            for job in queue {
                job();
                finished.send(()).expect("the caller waits for the job");
            }
        });
        Self { jobs, done }
    }

    fn run(&self, job: impl FnOnce() + Send + 'scope) {
        self.jobs.send(Box::new(job)).expect("the worker runs");
        self.done.recv().expect("the job finished");
    }
}

/// The word at `offset` in the point's guaranteed image.
fn durable_word(point: &CrashPoint, offset: usize) -> [u8; 8] {
    point.durable()[offset..offset + 8]
        .try_into()
        .expect("eight bytes")
}

/// The values the word at `offset` may hold instead of its durable one at the point.
fn candidates(point: &CrashPoint, offset: usize) -> Vec<[u8; 8]> {
    point
        .candidates
        .iter()
        .find(|(word, _)| *word == offset)
        .map(|(_, values)| values.clone())
        .unwrap_or_default()
}

/// A transaction's events on the calling thread: it began, and it ends having logged
/// `lines`.
fn ending(flusher: &Flusher, lines: &[usize]) {
    flusher.tell(Event::TransactionEnding {
        in_data: &|_| true,
        logged: &|line| if lines.contains(&line) { u64::MAX } else { 0 },
    });
}

#[test]
fn a_fence_makes_only_its_own_threads_write_backs_durable() {
    let (mapping, simulation, flusher) = domain();
    simulation.capture(true);
    store(&mapping, 64, [1; 8]);
    flusher.flush(&mapping, 64, 8);
    thread::scope(|scope| {
        let other = Worker::spawn(scope);
        other.run(|| flusher.fence());
        flusher.fence();
        other.run(|| flusher.fence());
    });
    let points = simulation.take_crash_points();
    let [at_other, at_own, after_own] = &points[..] else {
        panic!("three fences, three crash points: {}", points.len());
    };
    for point in [at_other, at_own] {
        assert_eq!(
            durable_word(point, 64),
            [0; 8],
            "the other thread's fence did not make the line durable"
        );
        assert_eq!(
            candidates(point, 64),
            [[1; 8]],
            "but it may have been evicted"
        );
    }
    assert_eq!(durable_word(after_own, 64), [1; 8], "its own fence did");
    assert_eq!(candidates(after_own, 64), [[0; 8]; 0]);
    assert_eq!(
        at_other.thread, None,
        "threads that are not scheduled have no index"
    );
}

#[test]
fn an_earlier_write_back_fenced_later_does_not_undo_a_durable_later_one() {
    let (mapping, simulation, flusher) = domain();
    simulation.capture(true);
    store(&mapping, 64, [1; 8]);
    flusher.flush(&mapping, 64, 8);
    thread::scope(|scope| {
        let other = Worker::spawn(scope);
        other.run(|| {
            store(&mapping, 64, [2; 8]);
            flusher.flush(&mapping, 64, 8);
            flusher.fence();
        });
        flusher.fence();
        other.run(|| flusher.fence());
    });
    let points = simulation.take_crash_points();
    assert_eq!(
        durable_word(&points[2], 64),
        [2; 8],
        "the line holds the later write-back"
    );
}

#[test]
fn flushes_and_fences_are_linted_per_thread() {
    let (mapping, simulation, flusher) = domain();
    store(&mapping, 64, [1; 8]);
    flusher.flush(&mapping, 64, 8);
    thread::scope(|scope| {
        let other = Worker::spawn(scope);
        other.run(|| {
            flusher.tell(Event::TransactionBegan { in_data: &|_| true });
            flusher.flush(&mapping, 64, 8);
        });
        assert_eq!(
            simulation.lints(),
            [],
            "the line was not flushed before by this thread"
        );
        flusher.flush(&mapping, 64, 8);
        assert_eq!(simulation.lints(), [Lint::RedundantFlush { offset: 64 }]);
        flusher.fence();
        other.run(|| flusher.fence());
        assert_eq!(simulation.lints(), [], "each fence had its own write-back");
        other.run(|| flusher.fence());
        assert_eq!(simulation.lints(), [Lint::EmptyFence { fence: 3 }]);
    });
}

#[test]
fn volatile_bytes_are_exempt_from_every_lint() {
    let (mapping, simulation, flusher) = domain();
    flusher.tell(Event::Volatile {
        offset: 128,
        len: 8,
    });
    store(&mapping, 128, [1; 8]);
    flusher.flush(&mapping, 128, 8);
    ending(&flusher, &[]);
    flusher.tell(Event::Committed { deferred: &[] });
    flusher.tell(Event::Settled);
    store(&mapping, 128, [2; 8]);
    flusher.tell(Event::TransactionBegan { in_data: &|_| true });
    store(&mapping, 128, [3; 8]);
    ending(&flusher, &[]);
    flusher.tell(Event::Committed { deferred: &[] });
    flusher.tell(Event::Settled);
    assert_eq!(
        simulation.lints(),
        [],
        "neither unlogged, nor dirty at commit, nor stored outside a transaction"
    );

    store(&mapping, 136, [4; 8]);
    flusher.tell(Event::TransactionBegan { in_data: &|_| true });
    assert_eq!(
        simulation.lints(),
        [Lint::StoreOutsideTransaction { offset: 128 }],
        "the next word of the line is not volatile"
    );
    ending(&flusher, &[]);
    flusher.tell(Event::Settled);

    simulation.attach(&mapping);
    store(&mapping, 128, [5; 8]);
    flusher.tell(Event::TransactionBegan { in_data: &|_| true });
    assert_eq!(
        simulation.lints(),
        [Lint::StoreOutsideTransaction { offset: 128 }],
        "bytes are volatile only while the domain stays attached"
    );
}

#[test]
fn overlapping_transactions_that_log_their_own_lines_are_not_reported() {
    let (mapping, simulation, flusher) = domain();
    let line = |number: usize| number * CACHE_LINE;
    store(&mapping, line(1), [1; 8]);
    thread::scope(|scope| {
        let other = Worker::spawn(scope);
        other.run(|| {
            flusher.tell(Event::TransactionBegan { in_data: &|_| true });
            store(&mapping, line(2), [2; 8]);
        });
        // A fresh object of this thread's transaction, in a line nobody logs.
        flusher.tell(Event::Unlogged {
            offset: line(3),
            len: 8,
        });
        store(&mapping, line(3), [3; 8]);
        ending(&flusher, &[1]);
        flusher.tell(Event::Settled);
        other.run(|| ending(&flusher, &[2]));
        other.run(|| flusher.tell(Event::Settled));
    });
    assert_eq!(
        simulation.lints(),
        [],
        "each line was logged by the transaction that stored it, or exempt for the epoch"
    );
    flusher.tell(Event::TransactionBegan { in_data: &|_| true });
    assert_eq!(simulation.lints(), [], "the epoch's end settled the stores");
}

#[test]
fn an_unlogged_store_is_reported_when_the_epochs_last_transaction_ends() {
    let (mapping, simulation, flusher) = domain();
    let line = |number: usize| number * CACHE_LINE;
    store(&mapping, line(1), [1; 8]);
    thread::scope(|scope| {
        let other = Worker::spawn(scope);
        other.run(|| {
            flusher.tell(Event::TransactionBegan { in_data: &|_| true });
            store(&mapping, line(2), [2; 8]);
            store(&mapping, line(3), [3; 8]);
        });
        ending(&flusher, &[1]);
        flusher.tell(Event::Committed { deferred: &[] });
        assert_eq!(
            simulation.lints(),
            [],
            "another transaction still runs: its lines may be unlogged and dirty for now"
        );
        flusher.tell(Event::Settled);
        other.run(|| ending(&flusher, &[2]));
        assert_eq!(
            simulation.lints(),
            [Lint::UnloggedStore { offset: line(3) }]
        );
        other.run(|| flusher.tell(Event::Committed { deferred: &[] }));
        assert_eq!(
            simulation.lints(),
            [1, 2, 3].map(|number| Lint::DirtyAtCommit {
                offset: line(number)
            }),
            "the last commit of the epoch is checked"
        );
    });
}

/// The lints of a transaction that stores a word at bytes 0 and 16 of line 2 and ends
/// having logged `logged` of that line (bit `i` for byte `i`).
fn lints_of_two_stores_logging(logged: u64) -> Vec<Lint> {
    let (mapping, simulation, flusher) = domain();
    let line = 2 * CACHE_LINE;
    flusher.tell(Event::TransactionBegan { in_data: &|_| true });
    store(&mapping, line, [1; 8]);
    store(&mapping, line + 16, [2; 8]);
    flusher.tell(Event::TransactionEnding {
        in_data: &|_| true,
        logged: &|logged_line| if logged_line == 2 { logged } else { 0 },
    });
    simulation.lints()
}

#[test]
fn a_store_beside_the_logged_bytes_of_a_line_is_reported() {
    assert_eq!(
        lints_of_two_stores_logging(0xff),
        [Lint::UnloggedStore {
            offset: 2 * CACHE_LINE
        }],
        "bytes 16 to 24 were not logged"
    );
    assert_eq!(
        lints_of_two_stores_logging(0xff | 0xff << 16),
        [],
        "every changed byte was logged"
    );
}
