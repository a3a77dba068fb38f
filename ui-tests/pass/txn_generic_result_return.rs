// Correct: generic `#[txn]` functions whose return type is spelled `Result` (directly, through an alias, as `io::Result`), a trait's default method returning `Result<Self::Out, E>`, a `#[txn]` trait impl block returning `Self::Out` it defines as a `Result`, `Self` in a `#[txn] impl` of a concrete type, and `impl Trait` from a non-generic function: `#[txn]` sees each `Err`.
use pmem::{PMut, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Counter {
    hits: u64,
}

#[derive(Debug)]
struct Refused;

type Outcome<T> = Result<T, Refused>;

#[pmem::txn]
fn count_then<T, E>(
    mut counter: PMut<'_, Counter>,
    then: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    counter.hits += 1;
    then()
}

#[pmem::txn]
fn count_then_alias<T>(mut counter: PMut<'_, Counter>, then: impl FnOnce() -> T) -> Outcome<T> {
    counter.hits += 1;
    Ok(then())
}

#[pmem::txn]
fn count_then_io<T>(mut counter: PMut<'_, Counter>, value: T) -> std::io::Result<T> {
    counter.hits += 1;
    Ok(value)
}

trait Step {
    type Out;

    fn run(&mut self) -> Self::Out;

    #[pmem::txn]
    fn run_checked(&mut self) -> Result<Self::Out, Refused> {
        Ok(self.run())
    }
}

struct Once;

#[pmem::txn]
impl Step for Once {
    type Out = Result<u64, Refused>;

    fn run(&mut self) -> Self::Out {
        Err(Refused)
    }
}

#[derive(Clone, Copy)]
struct Tally(u64);

#[pmem::txn]
impl Tally {
    fn next(self) -> Self {
        Tally(self.0 + 1)
    }
}

#[pmem::txn]
fn digits(counter: PMut<'_, Counter>) -> impl Iterator<Item = u64> {
    vec![counter.hits % 10].into_iter()
}

fn main() {
    let _: fn(PMut<'_, Counter>, fn() -> Result<u8, Refused>) -> Result<u8, Refused> = count_then;
    let _: fn(PMut<'_, Counter>, fn() -> u8) -> Outcome<u8> = count_then_alias;
    let _ = count_then_io::<u8>;
    let _ = <Once as Step>::run_checked;
    let _ = Tally(0).next();
    let _ = digits;
}
