//! The collection workloads: `pmem::collections` against libpmemobj++'s containers, as
//! `shared/baselines/pmdkxx/pmdkxx_bench.cpp` defines them. One op is one transaction,
//! except for `map_get`, whose lookups are reads outside any transaction (the harness's
//! `find` takes a bucket lock but no transaction either):
//!
//! - `vec_push`: push `op` (a `u64`) onto a `PVec<u64>` in the root;
//! - `str_append`: append 16 bytes (`0123456789abcdef`) to a `PString` in the root;
//! - `map_insert`: insert the generator's next key, with `op` as its value, into a
//!   `PHashMap<u64, u64>` in the root;
//! - `map_get`: insert `ops` keys as `map_insert` does (untimed, 1000 per transaction), then
//!   look each of them up again, in the same order, as the harness does;
//! - `kv_put`: insert a 16-byte key (the generator's next key as 16 lower-case hex digits,
//!   the harness's `key16`) with a 100-byte value (`PString`) into a
//!   `PHashMap<[u8; 16], PString>` in the root;
//! - `kv_memory` (pmem only): push a 16-byte `PString` (a `key16`) onto a `PVec<PString>`,
//!   then, untimed, measure what the values take in the heap (see [`kv_memory`]).
//!
//! Each op is a `#[txn]` function that narrows its borrow to the collection it changes
//! (`let numbers = &mut root.numbers;`), as the collections' documentation shows, so that it
//! logs the collection's own line, not the whole root.
//!
//! **Threads.** `map_insert` and `kv_put` also run on a shared pool (`--threads N`, see
//! `shared.rs`), against the harness's `--threads N` runs of its `concurrent_hash_map`.

use core::mem::offset_of;
use std::time::Instant;

use pmem::{Error, PHashMap, PMut, PString, PVec, Persistent, Pool, PoolOptions, txn};

use crate::{Measured, PoolFile, Xorshift64, report_heap, timed};

/// The root of every collection workload (each uses one field, in a pool of its own), as
/// the harness's root holds its vector, string and maps. The fields are in an order that
/// keeps each within one cache line (the root starts a page): a change logs its
/// collection's bytes whole lines at a time, so a map straddling two lines (48 bytes from
/// offset 32) would log 64 bytes more per insert than the map costs.
#[derive(Persistent, Default)]
#[repr(C)]
struct Collections {
    map: PHashMap<u64, u64>,
    numbers: PVec<u64>,
    text: PString,
    kv: PHashMap<[u8; 16], PString>,
    values: PVec<PString>,
}

/// Whether `size` bytes from `offset` lie within one cache line.
const fn within_a_line(offset: usize, size: usize) -> bool {
    offset / 64 == (offset + size - 1) / 64
}

const _: () = assert!(
    within_a_line(
        offset_of!(Collections, map),
        size_of::<PHashMap<u64, u64>>()
    ) && within_a_line(offset_of!(Collections, numbers), size_of::<PVec<u64>>())
        && within_a_line(offset_of!(Collections, text), size_of::<PString>())
        && within_a_line(
            offset_of!(Collections, kv),
            size_of::<PHashMap<[u8; 16], PString>>()
        )
        && within_a_line(offset_of!(Collections, values), size_of::<PVec<PString>>()),
    "each collection lies within one cache line of the root"
);

/// What `str_append` appends.
const SIXTEEN: &str = "0123456789abcdef";

/// The length of `kv_put`'s value, the harness's `std::string value(100, 'v')`.
pub(crate) const KV_VALUE_LEN: usize = 100;

/// Untimed fills commit this many changes per transaction: random inserts log three lines
/// each, so a batch of 100 fits the 64 KiB undo log.
const FILL_BATCH: u64 = 100;

/// The harness's `key16`: `key` as 16 lower-case hex digits.
pub(crate) fn key16(key: u64) -> [u8; 16] {
    let mut bytes = [0; 16];
    bytes.copy_from_slice(format!("{key:016x}").as_bytes());
    bytes
}

/// A fresh pool for `ops` operations that each add about `bytes_per_op` to the heap: with
/// room for the garbage a doubling collection leaves until the collector reclaims it, so
/// that the timed region does not grow the file.
fn create_pool(file: &PoolFile, ops: u64, bytes_per_op: u64) -> Result<Pool<Collections>, Error> {
    let pool = PoolOptions::new()
        .size((16 << 20) + ops * bytes_per_op * 4)
        .log_size(1 << 16)
        .create(file.path(), Collections::default())?;
    eprintln!(
        "# pool={} size_mib={}",
        file.path().display(),
        pool.info().size >> 20
    );
    Ok(pool)
}

/// One `vec_push` operation.
#[txn]
fn push_number(mut root: PMut<'_, Collections>, value: u64) -> Result<(), Error> {
    let numbers = &mut root.numbers;
    numbers.push(value)
}

pub(crate) fn vec_push(file: &PoolFile, ops: u64) -> Result<Measured, Error> {
    let mut pool = create_pool(file, ops, 8)?;
    let ((), region) =
        timed(|| (0..ops).try_for_each(|op| pool.try_txn(|tx| push_number(tx.root_mut(), op))))?;
    let numbers = pool.root().numbers.as_slice(&pool)?;
    assert!(
        numbers.len() as u64 == ops && numbers.iter().copied().eq(0..ops),
        "vec_push verify failed: {} elements, expected 0..{ops}",
        numbers.len()
    );
    eprintln!("# verify ok (vector of {ops})");
    report_heap(&pool);
    Ok(Measured::spanning(&[region]))
}

/// One `str_append` operation.
#[txn]
fn append_text(mut root: PMut<'_, Collections>, text: &str) -> Result<(), Error> {
    let string = &mut root.text;
    string.push_str(text)
}

pub(crate) fn str_append(file: &PoolFile, ops: u64) -> Result<Measured, Error> {
    let mut pool = create_pool(file, ops, 16)?;
    let ((), region) = timed(|| {
        (0..ops).try_for_each(|_| pool.try_txn(|tx| append_text(tx.root_mut(), SIXTEEN)))
    })?;
    let text = pool.root().text.as_str(&pool)?;
    assert!(
        text.len() as u64 == ops * 16
            && text
                .as_bytes()
                .chunks(16)
                .all(|chunk| chunk == SIXTEEN.as_bytes()),
        "str_append verify failed: {} bytes, expected {ops} times {SIXTEEN:?}",
        text.len()
    );
    eprintln!("# verify ok (string of {} bytes)", text.len());
    report_heap(&pool);
    Ok(Measured::spanning(&[region]))
}

/// One `map_insert` operation.
#[txn]
fn insert_number(mut root: PMut<'_, Collections>, key: u64, value: u64) -> Result<(), Error> {
    let map = &mut root.map;
    map.insert(key, value)?;
    Ok(())
}

/// A map's slices take 24 bytes a slot, at most three quarters full, so 32 to 64 bytes an
/// entry.
const MAP_BYTES_PER_ENTRY: u64 = 64;

/// Checks that the map holds exactly the first `ops` keys of the generator, each with its
/// index as its value.
fn verify_map(pool: &Pool<Collections>, ops: u64, workload: &str) -> Result<(), Error> {
    let map = &pool.root().map;
    assert_eq!(
        map.len() as u64,
        ops,
        "{workload} verify failed: the map's length"
    );
    let mut random = Xorshift64::new();
    for op in 0..ops {
        let key = random.next();
        let found = map.get(pool, &key)?.copied();
        assert_eq!(found, Some(op), "{workload} verify failed: key {key:#x}");
    }
    eprintln!("# verify ok (map of {ops})");
    Ok(())
}

pub(crate) fn map_insert(file: &PoolFile, ops: u64) -> Result<Measured, Error> {
    let mut pool = create_pool(file, ops, MAP_BYTES_PER_ENTRY)?;
    let mut random = Xorshift64::new();
    let ((), region) = timed(|| {
        (0..ops).try_for_each(|op| {
            let key = random.next();
            pool.try_txn(|tx| insert_number(tx.root_mut(), key, op))
        })
    })?;
    verify_map(&pool, ops, "map_insert")?;
    report_heap(&pool);
    Ok(Measured::spanning(&[region]))
}

pub(crate) fn map_get(file: &PoolFile, ops: u64) -> Result<Measured, Error> {
    let mut pool = create_pool(file, ops, MAP_BYTES_PER_ENTRY)?;
    let start = Instant::now();
    let mut random = Xorshift64::new();
    let mut filled = 0;
    while filled < ops {
        let batch = FILL_BATCH.min(ops - filled);
        pool.try_txn(|tx| {
            (filled..filled + batch)
                .try_for_each(|op| insert_number(tx.root_mut(), random.next(), op))
        })?;
        filled += batch;
    }
    eprintln!("# fill_secs={:.3}", start.elapsed().as_secs_f64());
    let mut random = Xorshift64::new();
    let (found, region) = timed(|| {
        let map = &pool.root().map;
        (0..ops).try_fold(0u64, |found, _| {
            let value = map.get(&pool, &random.next())?;
            Ok::<_, Error>(found + u64::from(std::hint::black_box(value).is_some()))
        })
    })?;
    assert_eq!(found, ops, "map_get verify failed: keys not found");
    verify_map(&pool, ops, "map_get")?;
    Ok(Measured::spanning(&[region]))
}

/// One `kv_put` operation: the value is allocated in the transaction that inserts it.
#[txn]
fn put(mut root: PMut<'_, Collections>, key: [u8; 16], value: &str) -> Result<(), Error> {
    let value = PString::from_str_in(value)?;
    let kv = &mut root.kv;
    kv.insert(key, value)?;
    Ok(())
}

pub(crate) fn kv_put(file: &PoolFile, ops: u64) -> Result<Measured, Error> {
    // A slot is 40 bytes (hash, key, value), at most three quarters full; the value's
    // buffer, 108 bytes, takes a 112-byte slot.
    let mut pool = create_pool(file, ops, 112 + 2 * 40 * 4 / 3)?;
    let value = "v".repeat(KV_VALUE_LEN);
    let mut random = Xorshift64::new();
    let ((), region) = timed(|| {
        (0..ops).try_for_each(|_| {
            let key = key16(random.next());
            pool.try_txn(|tx| put(tx.root_mut(), key, &value))
        })
    })?;
    let kv = &pool.root().kv;
    assert_eq!(
        kv.len() as u64,
        ops,
        "kv_put verify failed: the map's length"
    );
    let mut random = Xorshift64::new();
    for _ in 0..ops {
        let key = key16(random.next());
        let found = kv
            .get(&pool, &key)?
            .map(|value| value.as_str(&pool))
            .transpose()?;
        assert_eq!(
            found,
            Some(value.as_str()),
            "kv_put verify failed: key {key:?}"
        );
    }
    eprintln!("# verify ok (map of {ops} values)");
    report_heap(&pool);
    Ok(Measured::spanning(&[region]))
}

/// One `kv_memory` operation.
#[txn]
fn push_value(mut root: PMut<'_, Collections>, text: &str) -> Result<(), Error> {
    let value = PString::from_str_in(text)?;
    let values = &mut root.values;
    values.push(value)
}

/// The payload and one pointer: what the memory goal (at most twice this per value) is
/// measured against.
pub const PAYLOAD_PLUS_POINTER: u64 = 16 + 8;

/// What `kv_memory` measured, per value.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// The values' own bytes: the heap slot of each value's buffer, and the `PString`
    /// (length and pointer) that reaches it from the vector. The goal's figure.
    pub value_bytes: f64,
    /// Every heap byte the run added, after a collection: the values, the vector's buffer
    /// with its spare capacity, and the heap's page tables.
    pub heap_bytes: f64,
}

/// The heap's bytes in use: spans and metadata, all but its free pages.
fn heap_in_use(pool: &Pool<Collections>) -> u64 {
    let heap = pool.heap_stats();
    heap.heap_bytes - heap.free_page_bytes
}

/// `kv_memory`: `ops` 16-byte values, each a `PString` pushed onto a `PVec<PString>`, one
/// per transaction (timed, with their counts). Then, untimed, what they take in the heap
/// once a collection has freed the buffers the vector outgrew:
///
/// - the values' own bytes, for the goal (at most 2 × (16 + 8) bytes per value): each
///   value is its buffer, a heap object (its 8-byte length, then the 16 bytes), and the
///   `PString` in the vector's buffer that reaches it (16 bytes: its length and the
///   pointer). The buffers' bytes are measured as the allocated bytes that emptying every
///   string (and collecting again) frees; the `PString`s are `size_of`. The vector's spare
///   capacity is left out: it depends on where `ops` falls between two doublings, not on
///   how a value is stored;
/// - every heap byte in use that the run added (spans and metadata), spare capacity and
///   page tables included.
pub(crate) fn kv_memory(file: &PoolFile, ops: u64) -> Result<Measured, Error> {
    let mut pool = create_pool(file, ops, 48)?;
    pool.collect()?;
    let empty = heap_in_use(&pool);
    let mut random = Xorshift64::new();
    let ((), region) = timed(|| {
        (0..ops).try_for_each(|_| {
            let key = key16(random.next());
            let text = std::str::from_utf8(&key).expect("hex digits");
            pool.try_txn(|tx| push_value(tx.root_mut(), text))
        })
    })?;
    let mut random = Xorshift64::new();
    let values = pool.root().values.as_slice(&pool)?;
    assert_eq!(
        values.len() as u64,
        ops,
        "kv_memory verify failed: the length"
    );
    for value in values {
        let key = key16(random.next());
        assert_eq!(
            value.as_str(&pool)?.as_bytes(),
            key,
            "kv_memory verify failed: a value"
        );
    }
    eprintln!("# verify ok (vector of {ops} values)");
    pool.collect()?;
    report_heap(&pool);
    let (full, allocated) = (heap_in_use(&pool), pool.heap_stats().allocated_bytes);
    let mut emptied = 0;
    while emptied < ops {
        let batch = FILL_BATCH.min(ops - emptied);
        pool.try_txn(|tx| -> Result<(), Error> {
            let mut values = tx.root_mut();
            let values = &mut values.values;
            let mut values = values.as_mut_slice()?.expect("a buffer");
            for index in emptied..emptied + batch {
                values.at(index as usize).clear()?;
            }
            Ok(())
        })?;
        emptied += batch;
    }
    pool.collect()?;
    let buffers = allocated - pool.heap_stats().allocated_bytes;
    let per_value = |bytes: u64| bytes as f64 / ops as f64;
    let memory = Memory {
        value_bytes: per_value(buffers) + size_of::<PString>() as f64,
        heap_bytes: per_value(full - empty),
    };
    eprintln!(
        "# memory buffer_bytes_per_value={:.1} pstring_bytes={} heap_in_use_bytes={}",
        per_value(buffers),
        size_of::<PString>(),
        full - empty
    );
    Ok(Measured {
        memory: Some(memory),
        ..Measured::spanning(&[region])
    })
}
