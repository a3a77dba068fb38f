//! The workloads on one pool shared by threads ([`run_shared`](crate::run_shared)), as the
//! PMDK harness runs them with `--threads N` (`shared/baselines/pmdk/pmdk_bench.c`,
//! `bench_mt`): one pool, N threads started together, each doing its share of the ops in
//! transactions of its own ([`Pool::shared_txn`]).
//!
//! A shared transaction may change only what it locks ([`PMutex`]) or allocates, so where
//! the harness writes without locks, the pmem workloads lock what only one thread uses:
//!
//! - `sps`: thread `t` swaps inside its own `1/N` of the 1,000,000 elements. The harness
//!   swaps inside a plain array with no locks (the ranges are disjoint). Here the root is N
//!   ranges, each a `PMutex<[u64; 1_000_000 / N]>`, and each transaction locks its thread's
//!   range: a lock no other thread takes, so never contended, but taken and released (an
//!   atomic read-modify-write each) in every transaction. N must divide 1,000,000 (1, 2,
//!   4, 5, 8 and 10 are built in).
//! - `hashmap_insert`: the harness guards the 2^20 buckets with 1,024 `PMEMmutex` stripes
//!   (bucket `b` under stripe `b % 1024`, taken with `TX_PARAM_MUTEX`) and counts in one
//!   counter per thread, on a cache line of its own, written without a lock. Here each
//!   bucket is a `PMutex<PPtr<Node>>` of its own, and each of the 64 counters a
//!   `PMutex<Count>` of one cache line, which only its thread locks. Stripes cannot be the
//!   root: `[PMutex<[PPtr<Node>; 1024]>; 1024]` has a pointer run per stripe (an array of
//!   values with several pointers each is described element by element), 1,024 runs of 32
//!   bytes, more than the heap's 8 KiB type table holds, so `create` fails with "the heap's
//!   type table is full"; stripes in the heap would need a `tx.get`, which takes the heap's
//!   mutex, per insert. Keys and the node's bucket are PMDK's.
//!
//! - `map_insert` and `kv_put` (the collection workloads, against libpmemobj++'s
//!   `concurrent_hash_map`, which locks inside itself): the root is 64 stripes, each a
//!   `PMutex<PHashMap<..>>`, and a key goes to the stripe its top 6 bits name. Each
//!   transaction locks the key's stripe and inserts: the collection changes behind its
//!   lock as in an exclusive transaction, its buffers claimed for the transaction. A
//!   shared transaction never collects, so the buffers the maps outgrow stay until the
//!   pool is next opened; the pool is created with room for them.
//!
//! Thread `t` seeds its generator as the harness does (its seed xor `t`, one number drawn
//! and dropped when `t > 0`) and does `ops * (t + 1) / N - ops * t / N` operations. The pool
//! is created (untimed) before the threads start, with one lane per thread. The time is
//! from the barrier that releases the threads until the last finishes; the counts are
//! summed over the threads.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Barrier;
use std::time::Instant;

use pmem::{PHashMap, PMut, PMutex, PPtr, PString, Persistent, Pool, PoolOptions, SharedTxn, txn};

use crate::collections::{KV_VALUE_LEN, key16};
use crate::{
    BenchError, HASHMAP_BUCKETS, Measured, Node, PoolFile, Region, SPS_ELEMENTS, Xorshift64,
    bucket_of, each_thread, pool_size_for, report_heap, timed,
};

/// A workload whose threads share one pool.
trait SharedWorkload {
    /// The pool's root.
    type Root: Persistent + Sync;

    /// Creates the pool in `file` for `ops` operations on `threads` threads (untimed).
    fn setup(file: &PoolFile, ops: u64, threads: usize) -> Result<Pool<Self::Root>, pmem::Error>;

    /// Thread `thread`'s timed region: `ops` operations.
    fn run(
        pool: &Pool<Self::Root>,
        thread: usize,
        threads: usize,
        ops: u64,
    ) -> Result<(), pmem::Error>;

    /// Checks the pool after `ops` operations in all (untimed); panics if it is wrong.
    fn verify(pool: &Pool<Self::Root>, ops: u64, threads: usize) -> Result<(), pmem::Error>;
}

/// Runs `workload` on `threads` threads sharing one pool in `directory`.
pub(crate) fn run(
    workload: &str,
    ops: u64,
    threads: NonZeroUsize,
    directory: &Path,
) -> Result<Measured, BenchError> {
    let run: fn(&str, u64, usize, &Path) -> Result<Measured, pmem::Error> = match (
        workload,
        threads.get(),
    ) {
        ("sps", 1) => on_shared_pool::<Sps<1, 1_000_000>>,
        ("sps", 2) => on_shared_pool::<Sps<2, 500_000>>,
        ("sps", 4) => on_shared_pool::<Sps<4, 250_000>>,
        ("sps", 5) => on_shared_pool::<Sps<5, 200_000>>,
        ("sps", 8) => on_shared_pool::<Sps<8, 125_000>>,
        ("sps", 10) => on_shared_pool::<Sps<10, 100_000>>,
        ("sps", _) => {
            return Err(BenchError::Unsupported {
                workload: workload.to_owned(),
                reason: "on a shared pool, sps runs on 1, 2, 4, 5, 8 or 10 threads (each locks its own range of the array, a type of its own size)",
            });
        }
        ("hashmap_insert", threads) if threads <= MAX_THREADS => on_shared_pool::<HashmapInsert>,
        ("map_insert", _) => on_shared_pool::<StripedMap<u64>>,
        ("kv_put", _) => on_shared_pool::<StripedMap<PString>>,
        ("hashmap_insert", _) => {
            return Err(BenchError::Unsupported {
                workload: workload.to_owned(),
                reason: "on a shared pool, hashmap_insert runs on at most 64 threads (one counter each, as PMDK)",
            });
        }
        (
            "empty_txn" | "list_push" | "alloc_free" | "alloc_link_free" | "barrier" | "recovery"
            | "gc",
            _,
        ) => {
            return Err(BenchError::Unsupported {
                workload: workload.to_owned(),
                reason: "only sps, hashmap_insert, map_insert and kv_put run on a shared pool (`--pools N` runs N threads on pools of their own)",
            });
        }
        ("vec_push" | "str_append" | "map_get" | "kv_memory", _) => {
            return Err(BenchError::Unsupported {
                workload: workload.to_owned(),
                reason: crate::COLLECTIONS_ALONE,
            });
        }
        (other, _) => return Err(BenchError::UnknownWorkload(other.to_owned())),
    };
    Ok(run(workload, ops, threads.get(), directory)?)
}

fn on_shared_pool<W: SharedWorkload>(
    workload: &str,
    ops: u64,
    threads: usize,
    directory: &Path,
) -> Result<Measured, pmem::Error> {
    let file = PoolFile::new(directory, workload, None);
    let pool = W::setup(&file, ops, threads)?;
    let start = Barrier::new(threads);
    let thread = |index: usize| {
        let ops = share(ops, threads, index);
        start.wait();
        let ((), region) = timed(|| W::run(&pool, index, threads, ops))?;
        Ok::<Region, pmem::Error>(region)
    };
    let regions = each_thread(threads, &thread)?;
    W::verify(&pool, ops, threads)?;
    Ok(Measured::spanning(&regions))
}

/// Thread `index`'s share of `ops` over `threads` threads, as the PMDK harness splits them.
fn share(ops: u64, threads: usize, index: usize) -> u64 {
    let (threads, index) = (threads as u128, index as u128);
    let ops = u128::from(ops);
    (ops * (index + 1) / threads - ops * index / threads) as u64
}

/// The PMDK harness's generator for thread `thread`: its seed xor the thread's index, and
/// for every thread but the first one number drawn and dropped.
fn generator(thread: usize) -> Xorshift64 {
    let mut random = Xorshift64(Xorshift64::new().0 ^ thread as u64);
    if thread > 0 {
        random.next();
    }
    random
}

/// The lanes and log of a pool that `threads` threads share.
fn shared_options(size: u64, threads: usize) -> PoolOptions {
    PoolOptions::new()
        .size(size)
        .log_size(1 << 16)
        .lanes(u32::try_from(threads).expect("at most 64 threads"))
}

/// `sps` on `N` threads: the array as `N` ranges of `M` elements, each behind its own lock.
struct Sps<const N: usize, const M: usize>;

impl<const N: usize, const M: usize> SharedWorkload for Sps<N, M> {
    type Root = [PMutex<[u64; M]>; N];

    fn setup(file: &PoolFile, _: u64, threads: usize) -> Result<Pool<Self::Root>, pmem::Error> {
        const { assert!(N * M == SPS_ELEMENTS, "the ranges make up the array") };
        assert_eq!(threads, N, "one range per thread");
        let pool =
            shared_options(16 << 20, threads).create_with(&file.0, |ranges: &mut Self::Root| {
                for (index, value) in ranges
                    .iter_mut()
                    .flat_map(|range| range.get_mut().iter_mut())
                    .enumerate()
                {
                    *value = index as u64;
                }
            })?;
        eprintln!(
            "# pool={} size_mib={} lanes={} ranges={N}x{M}",
            file.0.display(),
            pool.info().size >> 20,
            pool.info().lanes
        );
        Ok(pool)
    }

    fn run(pool: &Pool<Self::Root>, thread: usize, _: usize, ops: u64) -> Result<(), pmem::Error> {
        let mut random = generator(thread);
        for _ in 0..ops {
            let (i, j) = (random.below(M), random.below(M));
            pool.shared_txn(|tx| {
                let range = &tx.root()[thread];
                swap_in_range(tx.lock(range), i, j);
            });
        }
        Ok(())
    }

    fn verify(pool: &Pool<Self::Root>, _: u64, _: usize) -> Result<(), pmem::Error> {
        for index in 0..N {
            let sum: u64 = pool.shared_txn(|tx| {
                let range = &tx.root()[index];
                tx.lock(range).iter().sum()
            });
            let (first, count) = ((index * M) as u64, M as u64);
            let expected = first * count + count * (count - 1) / 2;
            assert_eq!(
                sum, expected,
                "sps verify failed: range {index} is no longer a permutation of its elements"
            );
        }
        eprintln!("# verify ok (range sums)");
        Ok(())
    }
}

/// One `sps` operation on a shared pool: the swap of `sps`, inside the thread's range.
#[txn]
fn swap_in_range<const M: usize>(mut range: PMut<'_, [u64; M]>, i: usize, j: usize) {
    let (a, b) = (range[i], range[j]);
    range[i] = b;
    range[j] = a;
}

/// The PMDK harness's most threads.
const MAX_THREADS: usize = 64;

/// A thread's count of its inserts; with its lock word, one cache line.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Count {
    inserts: u64,
    pad: [u64; 6],
}

/// The root of `hashmap_insert` on a shared pool: the threads' counters (first, so that
/// each has a line of its own, the root being page-aligned), then the 2^20 buckets, each
/// a chain head behind its own lock (16 bytes: four to a line).
#[derive(Persistent)]
#[repr(C)]
struct LockedMap {
    counts: [PMutex<Count>; MAX_THREADS],
    buckets: [PMutex<PPtr<Node>>; HASHMAP_BUCKETS],
}

const _: () = assert!(size_of::<PMutex<Count>>() == 64, "a counter is one line");

/// One `hashmap_insert` operation on a shared pool: the bucket's lock is taken and its
/// head logged, the thread's counter locked and its line logged.
#[txn]
fn insert_locked(
    tx: &mut SharedTxn<'_, LockedMap>,
    thread: usize,
    key: u64,
    val: u64,
) -> Result<(), pmem::Error> {
    let map = tx.root();
    let bucket = &map.buckets[bucket_of(key)];
    let next = *tx.lock(bucket);
    let node = tx.alloc(Node {
        key,
        val,
        next,
        pad: [0; 5],
    })?;
    let mut head = tx.lock(bucket);
    *head = node;
    let mut count = tx.lock(&map.counts[thread]);
    count.inserts += 1;
    Ok(())
}

struct HashmapInsert;

impl SharedWorkload for HashmapInsert {
    type Root = LockedMap;

    fn setup(file: &PoolFile, ops: u64, threads: usize) -> Result<Pool<LockedMap>, pmem::Error> {
        let setup = Instant::now();
        // The root starts all zeros: every bucket null, every count 0, every lock free.
        let pool = shared_options(pool_size_for(size_of::<LockedMap>() as u64, ops), threads)
            .create_with(&file.0, |_: &mut LockedMap| {})?;
        eprintln!(
            "# pool={} size_mib={} lanes={} bucket_locks={HASHMAP_BUCKETS} setup_secs={:.3}",
            file.0.display(),
            pool.info().size >> 20,
            pool.info().lanes,
            setup.elapsed().as_secs_f64()
        );
        Ok(pool)
    }

    fn run(pool: &Pool<LockedMap>, thread: usize, _: usize, ops: u64) -> Result<(), pmem::Error> {
        let mut random = generator(thread);
        for op in 0..ops {
            let key = random.next();
            pool.try_shared_txn(|tx| insert_locked(tx, thread, key, op))?;
        }
        Ok(())
    }

    fn verify(pool: &Pool<LockedMap>, ops: u64, threads: usize) -> Result<(), pmem::Error> {
        let mut seen = 0u64;
        for bucket in 0..HASHMAP_BUCKETS {
            // A transaction per bucket: one that holds many locks looks each new one up
            // among those it holds.
            let mut at = pool.shared_txn(|tx| *tx.lock(&tx.root().buckets[bucket]));
            while !at.is_null() {
                let node = pool.get(at)?;
                assert_eq!(
                    bucket_of(node.key),
                    bucket,
                    "hashmap verify failed: a node in the wrong bucket"
                );
                at = node.next;
                seen += 1;
            }
        }
        let counted: u64 = (0..threads)
            .map(|thread| pool.shared_txn(|tx| tx.lock(&tx.root().counts[thread]).inserts))
            .sum();
        assert!(
            counted == ops && seen == ops,
            "hashmap verify failed: counts sum to {counted}, {seen} nodes in the chains, expected {ops}"
        );
        eprintln!("# verify ok (count {seen}, threads {threads})");
        report_heap(pool);
        Ok(())
    }
}

/// How many maps the collection workloads stripe their keys over.
const STRIPES: usize = 64;

/// The stripe of `key`: its top 6 bits (the generator's keys are uniform).
fn stripe_of(key: u64) -> usize {
    (key >> (64 - STRIPES.trailing_zeros())) as usize
}

/// A value the striped maps hold: `map_insert`'s `u64` (the op's index) or `kv_put`'s
/// 100-byte `PString`.
trait StripedValue: Persistent + Sync + Sized + 'static {
    /// The key type, and the stored key for the generator's `key`.
    type Key: Persistent + Copy + core::hash::Hash + Eq + Sync + 'static;
    fn key(key: u64) -> Self::Key;
    /// The value op `op` inserts, made in the running transaction.
    fn value(op: u64) -> Result<Self, pmem::Error>;
    /// Whether `found`, read back under its lock, is what op `op` inserted.
    fn is_inserted(found: &mut Self, op: u64) -> Result<bool, pmem::Error>;
    /// Heap bytes one entry adds, with growth's garbage: a slot (hash, key, value) at most
    /// three quarters full, doubled for the buffers outgrown, plus the value's own object.
    const BYTES_PER_ENTRY: u64;
}

impl StripedValue for u64 {
    type Key = u64;
    fn key(key: u64) -> u64 {
        key
    }
    fn value(op: u64) -> Result<Self, pmem::Error> {
        Ok(op)
    }
    fn is_inserted(found: &mut Self, op: u64) -> Result<bool, pmem::Error> {
        Ok(*found == op)
    }
    const BYTES_PER_ENTRY: u64 = 2 * 24 * 4 / 3;
}

impl StripedValue for PString {
    type Key = [u8; 16];
    fn key(key: u64) -> [u8; 16] {
        key16(key)
    }
    fn value(_: u64) -> Result<Self, pmem::Error> {
        PString::from_str_in(&"v".repeat(KV_VALUE_LEN))
    }
    fn is_inserted(found: &mut Self, _: u64) -> Result<bool, pmem::Error> {
        Ok(found.len() == KV_VALUE_LEN)
    }
    const BYTES_PER_ENTRY: u64 = 2 * 40 * 4 / 3 + 112;
}

/// `map_insert` (`V = u64`) or `kv_put` (`V = PString`) on a shared pool.
struct StripedMap<V>(core::marker::PhantomData<V>);

type Stripes<V> = [PMutex<PHashMap<<V as StripedValue>::Key, V>>; STRIPES];

impl<V: StripedValue> SharedWorkload for StripedMap<V> {
    type Root = Stripes<V>;

    fn setup(file: &PoolFile, ops: u64, threads: usize) -> Result<Pool<Self::Root>, pmem::Error> {
        let pool = shared_options((16 << 20) + ops * V::BYTES_PER_ENTRY * 2, threads).create(
            &file.0,
            core::array::from_fn(|_| PMutex::new(PHashMap::new())),
        )?;
        eprintln!(
            "# pool={} size_mib={} lanes={} stripes={STRIPES}",
            file.0.display(),
            pool.info().size >> 20,
            pool.info().lanes
        );
        Ok(pool)
    }

    fn run(pool: &Pool<Self::Root>, thread: usize, _: usize, ops: u64) -> Result<(), pmem::Error> {
        let mut random = generator(thread);
        for op in 0..ops {
            let key = random.next();
            pool.try_shared_txn(|tx| {
                let stripe = &tx.root()[stripe_of(key)];
                let value = V::value(op)?;
                tx.lock(stripe).insert(V::key(key), value)?;
                Ok::<(), pmem::Error>(())
            })?;
        }
        Ok(())
    }

    fn verify(pool: &Pool<Self::Root>, ops: u64, threads: usize) -> Result<(), pmem::Error> {
        let len: usize = (0..STRIPES)
            .map(|stripe| pool.shared_txn(|tx| tx.lock(&tx.root()[stripe]).len()))
            .sum();
        assert_eq!(
            len as u64, ops,
            "striped map verify failed: the maps' lengths"
        );
        for thread in 0..threads {
            let mut random = generator(thread);
            for op in 0..share(ops, threads, thread) {
                let key = random.next();
                let inserted = pool.try_shared_txn(|tx| {
                    let mut map = tx.lock(&tx.root()[stripe_of(key)]);
                    match map.get_mut(&V::key(key))? {
                        Some(mut found) => V::is_inserted(&mut found, op),
                        None => Ok(false),
                    }
                })?;
                assert!(
                    inserted,
                    "striped map verify failed: thread {thread}'s key {key:#x}"
                );
            }
        }
        eprintln!("# verify ok (maps of {ops}, threads {threads})");
        report_heap(pool);
        Ok(())
    }
}
