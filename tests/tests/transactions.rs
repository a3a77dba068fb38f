//! Transactions: commit, rollback on `Err` and panic, durability across reopen, the cost of
//! the protocol in fences and logged bytes, and what the log refuses.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pmem::simulation::ScratchFile;
use pmem::{FlushMode, PPtr, Persistent, Pool, PoolOptions, Stats};
use pmem_tests::xorshift;

const ACCOUNTS: usize = 16;

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Bank {
    balances: [u64; ACCOUNTS],
    transfers: u64,
}

/// Why a transfer was refused: the balance, or (never, in these small transactions) the
/// log could not grow.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    Insufficient,
    Log(String),
}

impl From<pmem::Error> for Refused {
    fn from(error: pmem::Error) -> Self {
        Self::Log(error.to_string())
    }
}

fn bank_pool(path: &ScratchFile) -> Pool<Bank> {
    PoolOptions::new()
        .log_size(1 << 16)
        .create(
            path.path(),
            Bank {
                balances: [100; ACCOUNTS],
                transfers: 0,
            },
        )
        .expect("create")
}

fn transfer(pool: &mut Pool<Bank>, from: usize, to: usize, amount: u64) -> Result<(), Refused> {
    pool.try_txn(|tx| {
        let mut bank = tx.root_mut();
        let mut balances = bank.balances;
        // Debit first, so that a refusal leaves a change behind to roll back.
        balances[from] = balances[from].wrapping_sub(amount);
        bank.balances = balances;
        if balances[from] > 100 * ACCOUNTS as u64 {
            return Err(Refused::Insufficient);
        }
        bank.balances[to] += amount;
        bank.transfers += 1;
        Ok(())
    })
}

fn total(bank: &Bank) -> u64 {
    bank.balances.iter().sum()
}

#[test]
fn a_committed_transaction_survives_reopen() {
    let path = ScratchFile::new("commit");
    let mut pool = bank_pool(&path);
    transfer(&mut pool, 0, 1, 30).expect("enough money");
    assert_eq!(
        (pool.root().balances[0], pool.root().balances[1]),
        (70, 130)
    );
    drop(pool);
    let pool = Pool::<Bank>::open(path.path()).expect("reopen");
    assert_eq!(
        (pool.root().balances[0], pool.root().balances[1]),
        (70, 130)
    );
    assert_eq!(pool.root().transfers, 1);
    assert_eq!(pool.info().transactions_rolled_back, 0);
}

#[test]
fn an_err_rolls_every_change_back() {
    let path = ScratchFile::new("err");
    let mut pool = bank_pool(&path);
    let before = Stats::current_thread();
    assert_eq!(transfer(&mut pool, 0, 1, 500), Err(Refused::Insufficient));
    assert_eq!((Stats::current_thread() - before).rollbacks, 1);
    assert_eq!(pool.root().balances, [100; ACCOUNTS]);
    drop(pool);
    assert_eq!(
        Pool::<Bank>::open(path.path())
            .expect("reopen")
            .root()
            .balances,
        [100; ACCOUNTS]
    );
}

#[test]
fn a_panic_rolls_back_and_continues() {
    let path = ScratchFile::new("panic");
    let mut pool = bank_pool(&path);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.txn(|tx| {
            tx.root_mut().balances = [0; ACCOUNTS];
            panic!("interrupted on purpose");
        })
    }));
    let payload = outcome.expect_err("the panic continues past the transaction");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"interrupted on purpose")
    );
    assert_eq!(pool.root().balances, [100; ACCOUNTS]);
    pool.txn(|tx| tx.root_mut().transfers = 9);
    assert_eq!(
        pool.root().transfers,
        9,
        "the pool is usable after a rolled-back panic"
    );
}

#[test]
fn transfers_keep_the_total_across_errors_panics_and_reopen() {
    let path = ScratchFile::new("bank");
    let mut pool = bank_pool(&path);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |bound: u64| xorshift(&mut state) % bound;
    let (mut committed, mut refused, mut panicked) = (0, 0, 0);
    for round in 0..300 {
        let (from, to) = (
            next(ACCOUNTS as u64) as usize,
            next(ACCOUNTS as u64) as usize,
        );
        let amount = next(150);
        if round % 7 == 3 {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                pool.txn(|tx| {
                    tx.root_mut().balances[from] = 0;
                    panic!("crash in the middle of a transfer");
                })
            }));
            assert!(outcome.is_err());
            panicked += 1;
        } else if from != to && transfer(&mut pool, from, to, amount).is_ok() {
            committed += 1;
        } else {
            refused += 1;
        }
        assert_eq!(total(pool.root()), 100 * ACCOUNTS as u64, "round {round}");
    }
    assert!(
        committed > 50 && refused > 10 && panicked > 10,
        "{committed} {refused} {panicked}"
    );
    assert_eq!(pool.root().transfers, committed);
    drop(pool);
    let pool = Pool::<Bank>::open(path.path()).expect("reopen");
    assert_eq!(total(pool.root()), 100 * ACCOUNTS as u64);
    assert_eq!(pool.root().transfers, committed);
}

const ELEMENTS: usize = 1_000_000;

fn array_pool(path: &ScratchFile) -> Pool<[u64; ELEMENTS]> {
    PoolOptions::new()
        .size(16 << 20)
        .log_size(1 << 16)
        .flush_mode(FlushMode::None)
        .create_with(path.path(), |values: &mut [u64; ELEMENTS]| {
            for (index, value) in values.iter_mut().enumerate() {
                *value = index as u64;
            }
        })
        .expect("create")
}

fn swap(pool: &mut Pool<[u64; ELEMENTS]>, i: usize, j: usize) {
    pool.txn(|tx| {
        let mut array = tx.root_mut();
        let (a, b) = (*array.at(i), *array.at(j));
        *array.at(i) = b;
        *array.at(j) = a;
    });
}

#[test]
fn a_swap_in_two_lines_costs_two_entries_and_four_fences() {
    let path = ScratchFile::new("swap");
    let mut pool = array_pool(&path);
    let before = Stats::current_thread();
    swap(&mut pool, 10, 500_000);
    let cost = Stats::current_thread() - before;
    assert_eq!(cost.fences, 4, "{cost:?}");
    assert_eq!(
        cost.logged_bytes,
        2 * 40,
        "40 bytes of each of two cache lines, not the array: {cost:?}"
    );
    assert_eq!(cost.commits, 1);
    assert_eq!((pool.root()[10], pool.root()[500_000]), (500_000, 10));
}

#[test]
fn a_second_store_into_a_logged_line_costs_nothing() {
    let path = ScratchFile::new("same-line");
    let mut pool = array_pool(&path);
    let before = Stats::current_thread();
    swap(&mut pool, 16, 17);
    let cost = Stats::current_thread() - before;
    // The two elements share the 40 bytes the first store logs.
    assert_eq!((cost.fences, cost.logged_bytes), (3, 40), "{cost:?}");
}

#[test]
fn a_store_beyond_the_first_forty_bytes_of_a_line_logs_the_rest_of_it() {
    let path = ScratchFile::new("rest-of-line");
    let mut pool = array_pool(&path);
    let before = Stats::current_thread();
    // Elements 16 and 23 are the first and the last word of one line.
    swap(&mut pool, 16, 23);
    let cost = Stats::current_thread() - before;
    assert_eq!((cost.fences, cost.logged_bytes), (4, 64), "{cost:?}");
    assert_eq!((pool.root()[16], pool.root()[23]), (23, 16));
    let before = Stats::current_thread();
    // Element 20 is the line's fifth word, in the last word's window: the line's last 40
    // bytes.
    swap(&mut pool, 23, 20);
    let cost = Stats::current_thread() - before;
    assert_eq!((cost.fences, cost.logged_bytes), (3, 40), "{cost:?}");
}

#[test]
fn a_transaction_that_writes_nothing_costs_no_fence() {
    let path = ScratchFile::new("read-only");
    let mut pool = bank_pool(&path);
    let before = Stats::current_thread();
    let sum = pool.txn(|tx| total(tx.root()));
    let cost = Stats::current_thread() - before;
    assert_eq!(sum, 1600);
    assert_eq!((cost.fences, cost.lines_flushed, cost.commits), (0, 0, 1));
}

#[test]
fn writing_through_the_whole_root_logs_all_of_it_once() {
    let path = ScratchFile::new("coarse");
    let mut pool = bank_pool(&path);
    let before = Stats::current_thread();
    pool.txn(|tx| {
        let mut bank = tx.root_mut();
        for account in 0..ACCOUNTS {
            bank.balances[account] += 1;
        }
    });
    let cost = Stats::current_thread() - before;
    // `Bank` is 136 bytes from a page boundary: three lines, one entry.
    assert_eq!((cost.logged_bytes, cost.fences), (3 * 64, 3), "{cost:?}");
}

#[test]
fn a_transaction_larger_than_the_log_grows_it_into_the_heap() {
    let path = ScratchFile::new("log-grows");
    let mut pool = PoolOptions::new()
        .log_size(4096)
        .create_with(path.path(), |values: &mut [u64; 4096]| {
            values.fill(1);
            values[0] = 7;
        })
        .expect("create");
    let before = Stats::current_thread();
    pool.txn(|tx| {
        let mut array = tx.root_mut();
        for index in 0..4096 {
            *array.at(index) = 0;
        }
        pmem::abort();
    });
    let cost = Stats::current_thread() - before;
    assert!(
        cost.log_blocks >= 8,
        "32 KiB of entries in 4 KiB blocks: {cost:?}"
    );
    assert_eq!(pool.root()[0], 7);
    assert!(pool.root()[1..].iter().all(|&value| value == 1));
    let before = Stats::current_thread();
    pool.txn(|tx| {
        let mut array = tx.root_mut();
        for index in 0..4096 {
            *array.at(index) = index as u64;
        }
    });
    let cost = Stats::current_thread() - before;
    assert_eq!(
        cost.log_blocks, 0,
        "the second transaction reuses the chain"
    );
    drop(pool);
    let pool = pmem_tests::open_collecting::<[u64; 4096]>(path.path()).expect("reopen");
    assert!(
        pool.root()
            .iter()
            .enumerate()
            .all(|(index, &value)| value == index as u64)
    );
    assert_eq!(pmem_tests::collected_at_open(&pool).pinned, 0);
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Pair {
    left: [u64; 8],
    right: [u64; 8],
    right_ptr: PPtr<[u64; 8]>,
}

#[test]
fn objects_reached_through_pointers_are_logged_too() {
    let path = ScratchFile::new("pointer");
    let mut pool = PoolOptions::new()
        .log_size(1 << 16)
        .create(
            path.path(),
            Pair {
                left: [1; 8],
                right: [2; 8],
                right_ptr: PPtr::from_offset(4096 + 64),
            },
        )
        .expect("create");
    let outcome: Result<(), Box<dyn std::error::Error>> = pool.try_txn(|tx| {
        let pointer = tx.root().right_ptr;
        let mut right = tx.get_mut(pointer).expect("valid pointer");
        *right.at(3) = 99;
        Err("changed my mind".into())
    });
    assert_eq!(
        outcome.map_err(|error| error.to_string()),
        Err("changed my mind".to_owned())
    );
    assert_eq!(pool.root().right, [2; 8]);
    pool.txn(|tx| {
        let pointer = tx.root().right_ptr;
        tx.get_mut(pointer).expect("valid pointer").set([5; 8]);
    });
    assert_eq!(pool.root().right, [5; 8]);
    assert_eq!(pool.root().left, [1; 8]);
}

#[test]
fn a_transaction_on_a_second_pool_inside_the_first_is_refused() {
    let (first, second) = (ScratchFile::new("outer"), ScratchFile::new("inner"));
    let mut outer = bank_pool(&first);
    let mut inner = bank_pool(&second);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        outer.txn(|tx| {
            tx.root_mut().transfers = 5;
            inner.txn(|inner_tx| inner_tx.root_mut().transfers = 6);
        })
    }));
    let payload = outcome.expect_err("nested transactions on two pools are refused");
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("already active"), "{message:?}");
    assert_eq!((outer.root().transfers, inner.root().transfers), (0, 0));
}
