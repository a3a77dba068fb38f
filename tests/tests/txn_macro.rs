//! `#[txn]`: precise logging of rewritten stores, the rollback rules (`Err`, panics,
//! `pmem::abort`), nesting, and Rust semantics kept for volatile code.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pmem::simulation::ScratchFile;
use pmem::{PMut, Persistent, Pool, PoolOptions, Stats, txn, txn_block};

const ACCOUNTS: usize = 16;

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Account {
    balance: u64,
    history: [u64; 7],
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Bank {
    accounts: [Account; ACCOUNTS],
    transfers: u64,
    pad: [u64; 7],
}

#[derive(Debug, PartialEq, Eq)]
struct Insufficient;

#[txn]
fn transfer(
    mut bank: PMut<'_, Bank>,
    from: usize,
    to: usize,
    amount: u64,
) -> Result<(), Insufficient> {
    // Debit first, so that a refusal has a change to roll back.
    bank.accounts[from].balance = bank.accounts[from].balance.wrapping_sub(amount);
    if bank.accounts[from].balance > 100 * ACCOUNTS as u64 {
        return Err(Insufficient);
    }
    bank.accounts[to].balance += amount;
    bank.transfers += 1;
    Ok(())
}

fn bank_pool(path: &ScratchFile) -> Pool<Bank> {
    let account = Account {
        balance: 100,
        history: [0; 7],
    };
    PoolOptions::new()
        .log_size(1 << 16)
        .create(
            path.path(),
            Bank {
                accounts: [account; ACCOUNTS],
                transfers: 0,
                pad: [0; 7],
            },
        )
        .expect("create")
}

fn total(bank: &Bank) -> u64 {
    bank.accounts.iter().map(|account| account.balance).sum()
}

#[test]
fn a_field_store_logs_its_line_not_the_root() {
    let path = ScratchFile::new("txn-precise");
    let mut pool = bank_pool(&path);
    let before = Stats::current_thread();
    pool.txn(|tx| transfer(tx.root_mut(), 1, 2, 10))
        .expect("funds");
    let cost = Stats::current_thread() - before;
    // Three lines: 40 bytes of account 1's, account 2's whole (it follows a line the
    // transaction logged), 40 bytes of the transfer count's.
    assert_eq!(cost.logged_bytes, 40 + 64 + 40);
    assert_eq!(cost.fences, 3 + 2);
    assert_eq!(pool.root().accounts[1].balance, 90);
    assert_eq!(pool.root().accounts[2].balance, 110);
    assert_eq!(total(pool.root()), 100 * ACCOUNTS as u64);
}

#[test]
fn an_err_from_the_outermost_call_rolls_back() {
    let path = ScratchFile::new("txn-err");
    let mut pool = bank_pool(&path);
    let result = pool.txn(|tx| transfer(tx.root_mut(), 1, 2, 1000));
    assert_eq!(result, Err(Insufficient));
    assert_eq!(pool.root().accounts[1].balance, 100);
    assert_eq!(total(pool.root()), 100 * ACCOUNTS as u64);
}

#[txn]
fn pay_interest(mut bank: PMut<'_, Bank>, rate_percent: u64) {
    for index in 0..ACCOUNTS {
        let interest = bank.accounts[index].balance * rate_percent / 100;
        bank.accounts[index].balance += interest;
    }
}

/// Tries each transfer and counts the refused ones: the nested `Err`s are handled, so they
/// roll nothing back.
#[txn]
fn transfer_all(
    mut bank: PMut<'_, Bank>,
    transfers: &[(usize, usize, u64)],
) -> Result<u64, Insufficient> {
    let mut refused = 0;
    for &(from, to, amount) in transfers {
        if transfer(bank.reborrow(), from, to, amount).is_err() {
            refused += 1;
            // The refused transfer debited before it failed: credit it back.
            bank.accounts[from].balance = bank.accounts[from].balance.wrapping_add(amount);
        }
    }
    if refused == transfers.len() as u64 {
        return Err(Insufficient);
    }
    Ok(refused)
}

#[test]
fn nested_calls_join_the_outer_transaction() {
    let path = ScratchFile::new("txn-nested");
    let mut pool = bank_pool(&path);
    let before = Stats::current_thread();
    let refused =
        pool.txn(|tx| transfer_all(tx.root_mut(), &[(0, 1, 50), (2, 3, 500), (4, 5, 60)]));
    let cost = Stats::current_thread() - before;
    assert_eq!(refused, Ok(1));
    assert_eq!(
        cost.commits, 1,
        "one transaction, however many #[txn] calls"
    );
    let bank = pool.root();
    assert_eq!(
        [bank.accounts[0].balance, bank.accounts[1].balance],
        [50, 150]
    );
    assert_eq!(
        [bank.accounts[2].balance, bank.accounts[3].balance],
        [100, 100]
    );
    assert_eq!(
        [bank.accounts[4].balance, bank.accounts[5].balance],
        [40, 160]
    );
    assert_eq!(bank.transfers, 2);
    assert_eq!(total(bank), 100 * ACCOUNTS as u64);
}

#[test]
fn an_err_propagated_by_the_outermost_call_rolls_everything_back() {
    let path = ScratchFile::new("txn-nested-err");
    let mut pool = bank_pool(&path);
    let before_bank = *pool.root();
    let result = pool.txn(|tx| transfer_all(tx.root_mut(), &[(0, 1, 500), (2, 3, 500)]));
    assert_eq!(result, Err(Insufficient));
    assert_eq!(*pool.root(), before_bank);
}

#[test]
fn a_panic_rolls_back_and_continues() {
    let path = ScratchFile::new("txn-panic");
    let mut pool = bank_pool(&path);
    let before_bank = *pool.root();
    #[txn]
    fn credit_then_panic(mut bank: PMut<'_, Bank>) {
        bank.accounts[0].balance += 1000;
        panic!("deliberate");
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.txn(|tx| credit_then_panic(tx.root_mut()))
    }));
    assert!(outcome.is_err());
    assert_eq!(*pool.root(), before_bank);
}

#[test]
fn a_panic_caught_inside_the_transaction_still_dooms_it() {
    let path = ScratchFile::new("txn-caught-panic");
    let mut pool = bank_pool(&path);
    let before_bank = *pool.root();
    #[txn]
    fn half_done(mut bank: PMut<'_, Bank>) {
        bank.accounts[0].balance -= 30;
        panic!("between the debit and the credit");
    }
    let returned = pool.txn(|tx| {
        let caught = catch_unwind(AssertUnwindSafe(|| half_done(tx.root_mut())));
        tx.root_mut().transfers += 1;
        caught.is_err()
    });
    assert!(returned, "the body saw the panic and went on");
    assert_eq!(*pool.root(), before_bank, "but the transaction was doomed");
}

#[test]
fn abort_rolls_back_whatever_the_body_returns() {
    let path = ScratchFile::new("txn-abort");
    let mut pool = bank_pool(&path);
    let before_bank = *pool.root();
    let value = pool.txn(|tx| {
        pay_interest(tx.root_mut(), 10);
        pmem::abort();
        7
    });
    assert_eq!(value, 7);
    assert_eq!(*pool.root(), before_bank);
    pool.txn(|tx| pay_interest(tx.root_mut(), 10));
    assert_eq!(pool.root().accounts[0].balance, 110);
}

#[test]
#[should_panic(expected = "outside a transaction")]
fn abort_outside_a_transaction_panics() {
    pmem::abort();
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Big {
    cells: [u64; 1_000_000],
}

#[test]
fn an_element_store_in_a_million_element_array_logs_one_line() {
    let path = ScratchFile::new("txn-million");
    let mut pool = PoolOptions::new()
        .size(16 << 20)
        .create_with(path.path(), |big: &mut Big| big.cells[999_999] = 5)
        .expect("create");
    #[txn]
    fn store(mut big: PMut<'_, Big>, index: usize, value: u64) {
        big.cells[index] = value;
        big.cells[index + 1] += 1;
    }
    let before = Stats::current_thread();
    pool.txn(|tx| store(tx.root_mut(), 123_456, 9));
    let cost = Stats::current_thread() - before;
    assert!(
        cost.logged_bytes <= 128,
        "logged {} bytes",
        cost.logged_bytes
    );
    assert_eq!(pool.root().cells[123_456], 9);
    assert_eq!(pool.root().cells[123_457], 1);
    assert_eq!(pool.root().cells[999_999], 5);
}

#[test]
fn each_compound_operator_is_rewritten_and_logged() {
    let path = ScratchFile::new("txn-operators");
    let mut pool = bank_pool(&path);
    #[txn]
    fn every_operator(mut bank: PMut<'_, Bank>) {
        let history = &mut bank.accounts[3].history;
        history[0] = 40;
        bank.accounts[3].history[0] += 2;
        bank.accounts[3].history[1] = 50;
        bank.accounts[3].history[1] -= 8;
        bank.accounts[3].history[2] = 21;
        bank.accounts[3].history[2] *= 2;
        bank.accounts[3].history[3] = 84;
        bank.accounts[3].history[3] /= 2;
        bank.accounts[3].history[4] = 142;
        bank.accounts[3].history[4] %= 100;
        bank.accounts[3].history[5] = 0b10_1000;
        bank.accounts[3].history[5] |= 0b10;
        bank.accounts[3].history[6] = 0xff;
        bank.accounts[3].history[6] &= 42;
        bank.accounts[4].history[0] = 0;
        bank.accounts[4].history[0] ^= 42;
        bank.accounts[4].history[1] = 21;
        bank.accounts[4].history[1] <<= 1;
        bank.accounts[4].history[2] = 84;
        bank.accounts[4].history[2] >>= 1;
    }
    let before = Stats::current_thread();
    pool.txn(|tx| every_operator(tx.root_mut()));
    let cost = Stats::current_thread() - before;
    assert_eq!(
        cost.logged_bytes,
        56 + 64,
        "account 3's history (the `&mut` to it logs it whole) and account 4's line, whole \
         since it follows a logged line"
    );
    assert_eq!(pool.root().accounts[3].history, [42; 7]);
    assert_eq!(pool.root().accounts[4].history[..3], [42; 3]);
}

#[test]
fn index_expressions_run_once_and_before_the_store() {
    let path = ScratchFile::new("txn-index-order");
    let mut pool = bank_pool(&path);
    #[txn]
    fn store_at_next(mut bank: PMut<'_, Bank>, calls: &mut Vec<&'static str>) {
        let mut next = |label| {
            calls.push(label);
            calls.len() - 1
        };
        bank.accounts[next("index")].history[next("inner index")] = {
            next("value");
            7
        };
    }
    let mut calls = Vec::new();
    pool.txn(|tx| store_at_next(tx.root_mut(), &mut calls));
    assert_eq!(calls, ["value", "index", "inner index"]);
    assert_eq!(pool.root().accounts[1].history[2], 7);
}

/// Volatile code in a `#[txn]` function keeps Rust's semantics, including disjoint borrows
/// of locals whose type the macro can see.
#[txn]
fn volatile_work(pairs: &mut Vec<(u64, u64)>) -> u64 {
    let mut pair = (1_u64, 2_u64);
    std::mem::swap(&mut pair.0, &mut pair.1);
    let (left, right) = (&mut pair.0, &mut pair.1);
    *left += 10;
    *right += 20;
    pairs[0].1 = pair.0 + pair.1;
    pairs.push(pair);
    for entry in pairs.iter_mut() {
        // A dereference of a `&mut` the macro cannot see the type of.
        (*entry).0 += 0;
    }
    let mut grid = [[0_u64; 3]; 3];
    grid[1][2] = 5;
    grid[2][1] += grid[1][2];
    let mut text = String::from("a");
    text += "b";
    pairs[0].1 + grid[2][1] + text.len() as u64
}

#[test]
fn volatile_code_behaves_as_without_the_macro() {
    let mut pairs = vec![(0, 0)];
    assert_eq!(volatile_work(&mut pairs), 33 + 5 + 2);
    assert_eq!(pairs, [(0, 33), (12, 21)]);
}

struct Teller {
    served: u64,
}

#[txn]
impl Teller {
    /// `account` was logged when the caller borrowed it: stores through it need nothing.
    fn deposit(&mut self, account: &mut Account, amount: u64) {
        account.balance += amount;
        account.history[0] = amount;
        self.served += 1;
    }

    fn refuse(&mut self, mut bank: PMut<'_, Bank>) -> Result<(), Insufficient> {
        bank.transfers += 1;
        Err(Insufficient)
    }
}

#[test]
fn txn_on_an_impl_block_instruments_each_method() {
    let path = ScratchFile::new("txn-impl");
    let mut pool = bank_pool(&path);
    let mut teller = Teller { served: 0 };
    let before = Stats::current_thread();
    pool.txn(|tx| {
        txn_block! {
            let mut bank = tx.root_mut();
            teller.deposit(&mut bank.accounts[5], 25);
        }
    });
    assert_eq!((Stats::current_thread() - before).logged_bytes, 64);
    assert_eq!(pool.root().accounts[5].balance, 125);
    assert_eq!(pool.root().accounts[5].history[0], 25);
    assert_eq!(teller.served, 1);
    assert_eq!(
        pool.txn(|tx| teller.refuse(tx.root_mut())),
        Err(Insufficient)
    );
    assert_eq!(pool.root().transfers, 0);
}

#[test]
fn a_txn_block_rolls_back_on_err() {
    let path = ScratchFile::new("txn-block");
    let mut pool = bank_pool(&path);
    let result: Result<(), Insufficient> = pool.txn(|tx| {
        txn_block! {
            let mut bank = tx.root_mut();
            bank.accounts[0].balance -= 100;
            if bank.accounts[0].balance == 0 {
                return Err(Insufficient);
            }
            Ok(())
        }
    });
    assert_eq!(result, Err(Insufficient));
    assert_eq!(pool.root().accounts[0].balance, 100);
}

#[test]
fn transfers_keep_the_total_across_errors_panics_and_reopen() {
    let path = ScratchFile::new("txn-reopen");
    let mut pool = bank_pool(&path);
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..60 {
        let from = (pmem_tests::xorshift(&mut random) % ACCOUNTS as u64) as usize;
        let to = (from + 1) % ACCOUNTS;
        let amount = pmem_tests::xorshift(&mut random) % 150;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            pool.txn(|tx| {
                let outcome = transfer(tx.root_mut(), from, to, amount);
                assert!(round % 7 != 3, "a panic after the transfer's stores");
                outcome
            })
        }));
        if round % 20 == 19 {
            pool.close();
            pool = Pool::open(path.path()).expect("reopen");
        }
        assert_eq!(total(pool.root()), 100 * ACCOUNTS as u64, "round {round}");
    }
    assert!(pool.root().transfers > 0);
}

/// Explicit dereferences of every depth Rust accepts, over a `PMut` held by value, through
/// `&mut PMut` (in an immutable and in a `mut` binding) and through `&mut &mut PMut`: each
/// store is rewritten and logs its account's line only.
#[txn]
fn store_through_explicit_derefs(mut bank: PMut<'_, Bank>) {
    (*bank).accounts[0].balance += 1;
    let rr: &mut PMut<'_, Bank> = &mut bank;
    (**rr).accounts[1].balance += 1;
    let mut mutable_rr: &mut PMut<'_, Bank> = rr;
    (**mutable_rr).accounts[2].balance += 1;
    let rrr: &mut &mut PMut<'_, Bank> = &mut mutable_rr;
    (***rrr).accounts[3].balance += 1;
    (**rrr).accounts[4].balance += 1;
}

/// A store through a `&mut PMut` parameter, as a method on a `PMut` receives it.
#[txn]
fn store_through_a_reference_parameter(rr: &mut PMut<'_, Bank>) {
    (**rr).transfers = 7;
}

#[test]
fn explicit_dereferences_of_any_depth_are_rewritten_and_logged() {
    let path = ScratchFile::new("txn-derefs");
    let mut pool = bank_pool(&path);
    let before_bank = *pool.root();
    let before = Stats::current_thread();
    pool.txn(|tx| {
        store_through_explicit_derefs(tx.root_mut());
        store_through_a_reference_parameter(&mut tx.root_mut());
        pmem::abort();
    });
    let cost = Stats::current_thread() - before;
    assert_eq!(
        cost.logged_bytes,
        40 + 4 * 64 + 40,
        "40 bytes of account 0's line, the lines of accounts 1 to 4 whole (each follows a \
         logged line), 40 bytes of the transfer count's"
    );
    assert_eq!(*pool.root(), before_bank, "every store was logged");
    pool.txn(|tx| {
        store_through_explicit_derefs(tx.root_mut());
        store_through_a_reference_parameter(&mut tx.root_mut());
    });
    let bank = pool.root();
    let balances: Vec<u64> = bank.accounts[..6].iter().map(|a| a.balance).collect();
    assert_eq!(balances, [101, 101, 101, 101, 101, 100]);
    assert_eq!(bank.transfers, 7);
}

/// Generic in what `then` returns, with the return type spelled `Result`: `#[txn]` sees an
/// `Err` whatever `T` and `E` are.
#[txn]
fn count_then<T, E>(mut bank: PMut<'_, Bank>, then: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    bank.transfers += 1;
    then()
}

#[test]
fn an_err_through_a_generic_result_signature_rolls_back() {
    let path = ScratchFile::new("txn-generic-err");
    let mut pool = bank_pool(&path);
    let refused = pool.txn(|tx| count_then(tx.root_mut(), || Err::<u64, _>(Insufficient)));
    assert_eq!(refused, Err(Insufficient));
    assert_eq!(pool.root().transfers, 0, "the outermost Err rolled back");
    let done = pool.txn(|tx| count_then::<_, Insufficient>(tx.root_mut(), || Ok(5_u64)));
    assert_eq!(done, Ok(5));
    assert_eq!(pool.root().transfers, 1);
}

/// Returns whatever `then` returns, as the `impl` block's `T`: `#[txn]` on the method alone
/// cannot see that `T` is a type parameter, so it cannot refuse it at compile time.
struct Runner<T>(std::marker::PhantomData<T>);

impl<T> Runner<T> {
    #[txn]
    fn run(&self, mut bank: PMut<'_, Bank>, then: impl FnOnce() -> T) -> T {
        bank.transfers += 1;
        then()
    }
}

#[test]
fn a_result_through_a_return_type_the_macro_cannot_see_rolls_back_loudly() {
    let path = ScratchFile::new("txn-hidden-result");
    let mut pool = bank_pool(&path);
    let runner = Runner(std::marker::PhantomData);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.txn(|tx| runner.run(tx.root_mut(), || Err::<(), _>(Insufficient)))
    }));
    let message = *outcome
        .expect_err("an Err it cannot see must not commit")
        .downcast::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("core::result::Result<(), txn_macro::Insufficient>")
            && message.contains("Result<_, _>"),
        "{message}"
    );
    assert_eq!(pool.root().transfers, 0, "rolled back, not committed");
    // An `Ok` is refused too: there `#[txn]` cannot tell it from an `Err`.
    let runner = Runner(std::marker::PhantomData);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.txn(|tx| runner.run(tx.root_mut(), || Ok::<(), Insufficient>(())))
    }));
    assert!(outcome.is_err());
    assert_eq!(pool.root().transfers, 0);
    // Any other type goes through, and commits.
    let runner = Runner(std::marker::PhantomData);
    assert_eq!(pool.txn(|tx| runner.run(tx.root_mut(), || 9_u64)), 9);
    assert_eq!(pool.root().transfers, 1);
}
