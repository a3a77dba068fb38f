// Correct: naming `Pool<T>` and calling `Pool::create`, `Pool::open` and `PoolOptions` with a persistent root type.
use pmem::{PPtr, Persistent, Pool, PoolOptions};

#[derive(Persistent)]
#[repr(C)]
struct Bank {
    accounts: [u64; 16],
    log: PPtr<Bank>,
}

#[allow(dead_code)]
fn create(path: &str) -> Result<Pool<Bank>, pmem::Error> {
    Pool::create(
        path,
        Bank {
            accounts: [0; 16],
            log: PPtr::null(),
        },
    )
}

#[allow(dead_code)]
fn open(path: &str) -> Result<u64, pmem::Error> {
    let pool = Pool::<Bank>::open(path)?;
    let total = pool.root().accounts.iter().sum();
    let _: &Bank = pool.get(pool.root_ptr())?;
    pool.close();
    Ok(total)
}

#[allow(dead_code)]
fn with_options(path: &str) -> Result<Pool<u64>, pmem::Error> {
    PoolOptions::new().size(1 << 20).create(path, 0u64)
}

fn main() {}
