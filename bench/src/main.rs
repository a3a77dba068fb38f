//! `pmem-bench <workload> <ops>`: one line per run, in the format of
//! `shared/baselines/pmdk/pmdk_bench.c`, plus pmem's own counts per operation:
//!
//! ```text
//! workload=sps ops=3000000 secs=1.234567 ops_per_sec=2430002 fences_per_op=4.00 flushes_per_op=7.00 log_bytes_per_op=128.0
//! ```
//!
//! Workloads (one op = one transaction, fixed-seed xorshift64 as in the PMDK harness):
//! - `sps`: swap two random `u64` of a 1,000,000-element persistent array;
//! - `empty_txn`: a transaction that writes nothing;
//! - `barrier`: a volatile store rewritten by `#[txn]` inside a transaction, store included
//!   (what `#[txn]` costs code that does not touch a pool);
//! - `list_push`: allocate a 64-byte node (key, value, next, padding) and link it at the head
//!   of a list in the root; the list's length is verified at the end;
//! - `alloc_free`: two transactions, as PMDK's alloc transaction and free transaction: one
//!   allocates a 64-byte object and returns it without storing it in the pool, held by a
//!   pin (PMDK's harness holds the returned `PMEMoid`); the next drops the pin. There is no
//!   free: the object is garbage, and the collector, run by `alloc` when the fixed-size
//!   (8 MiB) pool is full, reclaims it. At the end a collection must find no live object;
//! - `alloc_link_free`: the same, but the first transaction stores the object's pointer in
//!   the root and the second clears it, so both log a store and commit with fences;
//! - `hashmap_insert`: insert a random key as a 64-byte node at the head of its chain in a
//!   2^20-bucket table held in the root (Fibonacci hashing, as PMDK), and count it; the count
//!   and the chains are verified at the end;
//! - `recovery`: build an `ops`-node list (untimed, 1000 pushes per transaction), close the
//!   pool, and time `open` alone: recovery plus the collection of the whole heap that `open`
//!   runs. Counts per op are per node;
//! - `gc`: build an `ops`-node list the same way and time one `Pool::collect` alone; the line
//!   ends with `gib_per_sec=`, the live bytes marked and swept per second.
//!
//! Heap pools are sized to hold their nodes without growing (they may still grow if the
//! estimate is short; stderr reports the size). The pool is a fresh file in `PMEM_BENCH_DIR`
//! (default `/dev/shm`), removed at exit. The flush mode is detected or forced with
//! `PMEM_FLUSH` (`PMEM_FLUSH=clwb` on `/dev/shm` measures the instruction cost, like
//! `PMEM_IS_PMEM_FORCE=1` for PMDK). Diagnostics go to stderr, prefixed `# `.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use pmem::{PMut, PPtr, Persistent, Pinned, Pool, PoolOptions, Stats, Txn, txn};

const SPS_ELEMENTS: usize = 1_000_000;
const USAGE: &str = "usage: pmem-bench sps|empty_txn|barrier|list_push|alloc_free|alloc_link_free|hashmap_insert|recovery|gc <ops>";

/// The PMDK harness's generator: Marsaglia's xorshift64 with its fixed seed.
struct Xorshift64(u64);

impl Xorshift64 {
    fn new() -> Self {
        Self(0x2545_f491_4f6c_dd1d)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A uniform index below `bound`, without division, as the harness does.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next()) * bound as u128) >> 64) as usize
    }
}

/// The timed region of a run: its wall time, and (from `/proc`, on stderr) the thread's CPU
/// time and involuntary context switches over it, so that a run disturbed by other processes
/// can be spotted, as the PMDK harness's `region_end` does.
struct TimedRegion {
    cpu_ns: Option<u64>,
    preempted: Option<u64>,
    start: Instant,
}

impl TimedRegion {
    fn begin() -> Self {
        let (cpu_ns, preempted) = (thread_cpu_ns(), thread_preemptions());
        Self {
            cpu_ns,
            preempted,
            start: Instant::now(),
        }
    }

    /// Ends the region and returns its wall time in seconds.
    fn end(self) -> f64 {
        let wall = self.start.elapsed().as_secs_f64();
        let cpu = thread_cpu_ns()
            .zip(self.cpu_ns)
            .map(|(now, then)| now.saturating_sub(then) as f64 * 1e-9);
        let preempted = thread_preemptions()
            .zip(self.preempted)
            .map(|(now, then)| now.saturating_sub(then));
        if let (Some(cpu), Some(preempted)) = (cpu, preempted) {
            eprintln!(
                "# timed_region wall={wall:.3} cpu={cpu:.3} cpu_util={:.3} invol_ctxsw={preempted}",
                if wall > 0.0 { cpu / wall } else { 0.0 }
            );
        }
        wall
    }
}

/// Runs `work` as the timed region: returns its value, its wall time in seconds, and the
/// persistence work it did on this thread.
fn timed<T, E>(work: impl FnOnce() -> Result<T, E>) -> Result<(T, f64, Stats), E> {
    let before = Stats::current_thread();
    let region = TimedRegion::begin();
    let value = work()?;
    let secs = region.end();
    Ok((value, secs, Stats::current_thread() - before))
}

/// The calling thread's time on a CPU, in nanoseconds (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How often the calling thread was preempted (`/proc/thread-self/status`).
fn thread_preemptions() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("nonvoluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()
}

struct PoolFile(PathBuf);

impl PoolFile {
    fn new(workload: &str) -> Self {
        let directory = std::env::var_os("PMEM_BENCH_DIR")
            .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from);
        let path = directory.join(format!("pmem-bench-{workload}-{}.pool", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for PoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

type Array = [u64; SPS_ELEMENTS];

fn sps(file: &PoolFile, ops: u64) -> Result<(f64, Stats), pmem::Error> {
    let mut pool: Pool<Array> = PoolOptions::new()
        .size(16 << 20)
        .log_size(1 << 16)
        .create_with(&file.0, |array: &mut Array| {
            for (index, value) in array.iter_mut().enumerate() {
                *value = index as u64;
            }
        })?;
    let mut random = Xorshift64::new();
    let ((), secs, cost) = timed(|| {
        for _ in 0..ops {
            let (i, j) = (random.below(SPS_ELEMENTS), random.below(SPS_ELEMENTS));
            pool.txn(|tx| swap(tx.root_mut(), i, j));
        }
        Ok::<_, pmem::Error>(())
    })?;
    let sum: u64 = pool.root().iter().sum();
    let expected = (SPS_ELEMENTS as u64) * (SPS_ELEMENTS as u64 - 1) / 2;
    assert_eq!(
        sum, expected,
        "sps verify failed: the array is no longer a permutation"
    );
    eprintln!("# verify ok (array sum)");
    Ok((secs, cost))
}

/// One `sps` operation, written as a user would.
#[txn]
fn swap(mut array: PMut<'_, Array>, i: usize, j: usize) {
    let (a, b) = (array[i], array[j]);
    array[i] = b;
    array[j] = a;
}

fn empty_txn(file: &PoolFile, ops: u64) -> Result<(f64, Stats), pmem::Error> {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 16)
        .create(&file.0, 0u64)?;
    let ((), secs, cost) = timed(|| {
        for _ in 0..ops {
            pool.txn(|tx| *std::hint::black_box(tx.root()));
        }
        Ok::<_, pmem::Error>(())
    })?;
    Ok((secs, cost))
}

fn barrier(file: &PoolFile, ops: u64) -> Result<(f64, Stats), pmem::Error> {
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 16)
        .create(&file.0, 0u64)?;
    let mut volatile = [0u64; 1024];
    let ((), secs, cost) = timed(|| {
        pool.txn(|_| fill_volatile(&mut volatile, ops));
        std::hint::black_box(&volatile);
        Ok::<_, pmem::Error>(())
    })?;
    Ok((secs, cost))
}

/// Volatile stores that `#[txn]` rewrites: the base's type is hidden from the macro, so each
/// store goes through the place steps, which resolve to plain indexing.
#[txn]
fn fill_volatile(volatile: &mut [u64; 1024], ops: u64) {
    let table = std::hint::black_box(volatile);
    for op in 0..ops {
        table[(op as usize) & 1023] = op;
    }
}

/// The shared 64-byte node of the heap workloads: PMDK's `struct node` (key, value, next,
/// padding), with an 8-byte `PPtr` where PMDK has a 16-byte `PMEMoid`.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Node {
    key: u64,
    val: u64,
    next: PPtr<Node>,
    pad: [u64; 5],
}

const _: () = assert!(size_of::<Node>() == 64, "a node is 64 bytes, as in PMDK");

/// Untimed list builds commit this many pushes per transaction.
const BUILD_BATCH: u64 = 1000;

/// A pool size that holds `nodes` nodes without growing: their pages, one page-table page
/// per 511 data pages, and 16 MiB for the header, the undo log and the heap's metadata, on
/// top of a root of `root_bytes`.
fn pool_size_for(root_bytes: u64, nodes: u64) -> u64 {
    root_bytes + nodes * 64 + nodes * 64 / 511 + (16 << 20)
}

/// The root of `list_push`, `recovery` and `gc`.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct List {
    head: PPtr<Node>,
    len: u64,
}

/// One `list_push` operation: the node is new (no log entry); the root's line is logged.
#[txn]
fn push(tx: &mut Txn<'_, List>, key: u64, val: u64) -> Result<PPtr<Node>, pmem::Error> {
    let next = tx.root().head;
    let node = tx.alloc(Node {
        key,
        val,
        next,
        pad: [0; 5],
    })?;
    let mut list = tx.root_mut();
    list.head = node;
    list.len += 1;
    Ok(node)
}

fn create_list_pool(file: &PoolFile, nodes: u64) -> Result<Pool<List>, pmem::Error> {
    let pool = PoolOptions::new()
        .size(pool_size_for(0, nodes))
        .log_size(1 << 16)
        .create(
            &file.0,
            List {
                head: PPtr::null(),
                len: 0,
            },
        )?;
    eprintln!(
        "# pool={} size_mib={}",
        file.0.display(),
        pool.info().size >> 20
    );
    Ok(pool)
}

/// Pushes `nodes` nodes, `BUILD_BATCH` per transaction, with keys from `random`.
fn build_list(
    pool: &mut Pool<List>,
    nodes: u64,
    random: &mut Xorshift64,
) -> Result<(), pmem::Error> {
    let start = Instant::now();
    let mut built = 0;
    while built < nodes {
        let batch = BUILD_BATCH.min(nodes - built);
        pool.try_txn(|tx| {
            for val in built..built + batch {
                push(tx, random.next(), val)?;
            }
            Ok::<_, pmem::Error>(())
        })?;
        built += batch;
    }
    eprintln!("# build_secs={:.3}", start.elapsed().as_secs_f64());
    Ok(())
}

/// The list's length by walking it (every pointer checked by `Pool::get`).
fn list_length(pool: &Pool<List>) -> Result<u64, pmem::Error> {
    let mut length = 0;
    let mut at = pool.root().head;
    while !at.is_null() {
        at = pool.get(at)?.next;
        length += 1;
    }
    Ok(length)
}

/// Checks that the list has `nodes` nodes, by its length field and by walking it.
fn verify_list(pool: &Pool<List>, nodes: u64) -> Result<(), pmem::Error> {
    let start = Instant::now();
    let walked = list_length(pool)?;
    let walk_secs = start.elapsed().as_secs_f64();
    let recorded = pool.root().len;
    assert!(
        walked == nodes && recorded == nodes,
        "list verify failed: walked {walked} nodes, len field {recorded}, expected {nodes}"
    );
    eprintln!("# verify ok (list length {walked}, walk_secs={walk_secs:.3})");
    Ok(())
}

/// Reports the pool's size and the heap's occupancy on stderr.
fn report_heap<R: Persistent>(pool: &Pool<R>) {
    let heap = pool.heap_stats();
    eprintln!(
        "# heap pool_size_mib={} heap_mib={} allocated_objects={} allocated_mib={:.1} free_page_mib={:.1} free_slot_kib={:.1}",
        pool.info().size >> 20,
        heap.heap_bytes >> 20,
        heap.allocated_objects,
        heap.allocated_bytes as f64 / f64::from(1 << 20),
        heap.free_page_bytes as f64 / f64::from(1 << 20),
        heap.free_slot_bytes as f64 / 1024.0,
    );
}

fn describe(collection: &pmem::Collection) -> String {
    format!(
        "live_objects={} live_bytes={} freed_objects={} freed_bytes={} released_pages={} pinned={} duration_secs={:.6}",
        collection.live_objects,
        collection.live_bytes,
        collection.freed_objects,
        collection.freed_bytes,
        collection.released_pages,
        collection.pinned,
        collection.duration.as_secs_f64(),
    )
}

fn list_push(file: &PoolFile, ops: u64) -> Result<Measured, pmem::Error> {
    let mut pool = create_list_pool(file, ops)?;
    let mut random = Xorshift64::new();
    let ((), secs, cost) = timed(|| {
        for op in 0..ops {
            let key = random.next();
            pool.try_txn(|tx| push(tx, key, op))?;
        }
        Ok::<_, pmem::Error>(())
    })?;
    verify_list(&pool, ops)?;
    report_heap(&pool);
    Ok(Measured::new(secs, cost))
}

/// The object of `alloc_free`: 64 bytes, as PMDK's `pmemobj_tx_alloc(64, ...)`.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Blob {
    words: [u64; 8],
}

/// The root of `alloc_free`: where the object lives between its two transactions.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Slot {
    blob: PPtr<Blob>,
}

/// The first half of an `alloc_free` operation, as PMDK's harness defines it: a transaction
/// allocates the object and hands it out without storing it in the pool. A pin keeps it
/// alive, as PMDK's returned `PMEMoid` does (until freed).
#[txn]
fn alloc_pinned_blob(tx: &mut Txn<'_, Slot>) -> Result<Pinned<Blob>, pmem::Error> {
    let blob = tx.alloc(Blob { words: [0; 8] })?;
    tx.pin(blob)
}

/// The first half of an `alloc_link_free` operation: the new object is stored in the root.
#[txn]
fn alloc_blob(tx: &mut Txn<'_, Slot>) -> Result<PPtr<Blob>, pmem::Error> {
    let blob = tx.alloc(Blob { words: [0; 8] })?;
    let mut slot = tx.root_mut();
    slot.blob = blob;
    Ok(blob)
}

/// The second half of `alloc_link_free`: the object becomes garbage.
#[txn]
fn drop_blob(mut slot: PMut<'_, Slot>) {
    slot.blob = PPtr::null();
}

/// The fixed size of the `alloc_free` pool: small, so that the run shows memory reclaimed.
const ALLOC_FREE_POOL: u64 = 8 << 20;

/// `alloc_free`: one op allocates a 64-byte object in one transaction and frees it in a
/// second, as PMDK's harness does. The object never becomes reachable from the pool: in
/// between, the program holds it by a pin (PMDK's harness holds its `PMEMoid`), and the
/// second transaction drops the pin, which makes the object garbage for the next collection.
fn alloc_free(file: &PoolFile, ops: u64) -> Result<Measured, pmem::Error> {
    alloc_free_with(file, ops, "alloc_free", |pool| {
        let pinned = pool.try_txn(alloc_pinned_blob)?;
        pool.txn(|_| drop(pinned));
        Ok(())
    })
}

/// `alloc_link_free`: like `alloc_free`, but the object is stored in the root by the first
/// transaction and unlinked by the second, so both transactions log and commit a store.
fn alloc_link_free(file: &PoolFile, ops: u64) -> Result<Measured, pmem::Error> {
    alloc_free_with(file, ops, "alloc_link_free", |pool| {
        pool.try_txn(alloc_blob)?;
        pool.txn(|tx| drop_blob(tx.root_mut()));
        Ok(())
    })
}

/// Runs `op` `ops` times on a fixed-size pool, then checks that no 64-byte object is left.
fn alloc_free_with(
    file: &PoolFile,
    ops: u64,
    name: &str,
    mut op: impl FnMut(&mut Pool<Slot>) -> Result<(), pmem::Error>,
) -> Result<Measured, pmem::Error> {
    let mut pool = PoolOptions::new()
        .size(ALLOC_FREE_POOL)
        .max_size(ALLOC_FREE_POOL)
        .log_size(1 << 16)
        .create(&file.0, Slot { blob: PPtr::null() })?;
    eprintln!(
        "# pool={} size_mib={} max_size_mib={}",
        file.0.display(),
        pool.info().size >> 20,
        ALLOC_FREE_POOL >> 20
    );
    let collections_before = pool.heap_stats().collections;
    let ((), secs, cost) = timed(|| {
        for _ in 0..ops {
            op(&mut pool)?;
        }
        Ok::<_, pmem::Error>(())
    })?;
    let collections = pool.heap_stats().collections - collections_before;
    eprintln!("# collections_during_run={collections}");
    report_heap(&pool);
    let collection = pool.collect()?;
    eprintln!("# final collect {}", describe(&collection));
    let heap = pool.heap_stats();
    let live_blobs: u64 = heap
        .types
        .iter()
        .filter(|entry| entry.object_size == 64)
        .map(|entry| entry.objects)
        .sum();
    assert!(
        pool.root().blob.is_null() && collection.live_objects == 0 && live_blobs == 0,
        "{name} verify failed: {} live objects, {live_blobs} allocated 64-byte objects",
        collection.live_objects
    );
    assert_eq!(
        pool.info().size,
        ALLOC_FREE_POOL,
        "{name} verify failed: the pool grew"
    );
    eprintln!("# verify ok (no live blobs)");
    report_heap(&pool);
    Ok(Measured::new(secs, cost))
}

const HASHMAP_BITS: u32 = 20;
const HASHMAP_BUCKETS: usize = 1 << HASHMAP_BITS;

/// The root of `hashmap_insert`: 2^20 chain heads (8 MiB, more than the largest heap object,
/// so the table is the root) and the count.
#[derive(Persistent)]
#[repr(C)]
struct Map {
    buckets: [PPtr<Node>; HASHMAP_BUCKETS],
    count: u64,
}

/// PMDK's bucket: Fibonacci hashing onto 2^20 buckets.
fn bucket_of(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - HASHMAP_BITS)) as usize
}

/// One `hashmap_insert` operation: the bucket's line and the count's line are logged.
#[txn]
fn insert(tx: &mut Txn<'_, Map>, key: u64, val: u64) -> Result<(), pmem::Error> {
    let bucket = bucket_of(key);
    let next = tx.root().buckets[bucket];
    let node = tx.alloc(Node {
        key,
        val,
        next,
        pad: [0; 5],
    })?;
    let mut map = tx.root_mut();
    map.buckets[bucket] = node;
    map.count += 1;
    Ok(())
}

fn hashmap_insert(file: &PoolFile, ops: u64) -> Result<Measured, pmem::Error> {
    let setup = Instant::now();
    // The root starts all zeros: every bucket null, the count 0.
    let mut pool: Pool<Map> = PoolOptions::new()
        .size(pool_size_for(size_of::<Map>() as u64, ops))
        .log_size(1 << 16)
        .create_with(&file.0, |_: &mut Map| {})?;
    eprintln!(
        "# pool={} size_mib={} setup_secs={:.3}",
        file.0.display(),
        pool.info().size >> 20,
        setup.elapsed().as_secs_f64()
    );
    let mut random = Xorshift64::new();
    let ((), secs, cost) = timed(|| {
        for op in 0..ops {
            let key = random.next();
            pool.try_txn(|tx| insert(tx, key, op))?;
        }
        Ok::<_, pmem::Error>(())
    })?;
    let mut seen = 0u64;
    for &head in &pool.root().buckets {
        let mut at = head;
        while !at.is_null() {
            let node = pool.get(at)?;
            assert_eq!(
                bucket_of(node.key),
                bucket_of(pool.get(head)?.key),
                "hashmap verify failed: a node in the wrong bucket"
            );
            at = node.next;
            seen += 1;
        }
    }
    let count = pool.root().count;
    assert!(
        count == ops && seen == ops,
        "hashmap verify failed: count {count}, {seen} nodes in the chains, expected {ops}"
    );
    eprintln!("# verify ok (count {seen})");
    report_heap(&pool);
    Ok(Measured::new(secs, cost))
}

fn recovery(file: &PoolFile, nodes: u64) -> Result<Measured, pmem::Error> {
    let mut pool = create_list_pool(file, nodes)?;
    build_list(&mut pool, nodes, &mut Xorshift64::new())?;
    pool.close();

    let (mut pool, secs, cost) = timed(|| PoolOptions::new().open::<List>(&file.0))?;
    eprintln!(
        "# open cost fences={} flushes={} log_bytes={}",
        cost.fences, cost.lines_flushed, cost.logged_bytes
    );

    let info = pool.info();
    eprintln!(
        "# opened previous_shutdown_clean={} transactions_rolled_back={} flush_mode={}",
        info.previous_shutdown_clean, info.transactions_rolled_back, info.flush_mode
    );
    let collection = info.collection_at_open;
    eprintln!(
        "# collection_at_open {} gib_per_sec={:.2}",
        describe(&collection),
        gib_per_sec(collection.live_bytes, collection.duration.as_secs_f64())
    );
    assert_eq!(
        collection.live_objects, nodes,
        "recovery verify failed: the collection at open found the wrong number of nodes"
    );
    // As PMDK: the first allocating transaction after open (its object is left as garbage).
    let first = Instant::now();
    pool.try_txn(|tx| {
        tx.alloc(Node {
            key: 0,
            val: 0,
            next: PPtr::null(),
            pad: [0; 5],
        })
    })?;
    eprintln!(
        "# first_alloc_tx_after_open_secs={:.6}",
        first.elapsed().as_secs_f64()
    );
    verify_list(&pool, nodes)?;
    report_heap(&pool);
    Ok(Measured::new(secs, cost))
}

fn gc(file: &PoolFile, nodes: u64) -> Result<Measured, pmem::Error> {
    let mut pool = create_list_pool(file, nodes)?;
    build_list(&mut pool, nodes, &mut Xorshift64::new())?;
    report_heap(&pool);

    let (collection, secs, cost) = timed(|| pool.collect())?;

    eprintln!(
        "# collect {} fences={} flushes={}",
        describe(&collection),
        cost.fences,
        cost.lines_flushed
    );
    assert!(
        collection.live_objects == nodes && collection.freed_objects == 0,
        "gc verify failed: {} live and {} freed objects, expected {nodes} live",
        collection.live_objects,
        collection.freed_objects
    );
    verify_list(&pool, nodes)?;
    Ok(Measured {
        secs,
        cost,
        gib_per_sec: Some(gib_per_sec(collection.live_bytes, secs)),
    })
}

fn gib_per_sec(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / f64::from(1 << 30) / secs
}

/// What one run measured.
struct Measured {
    secs: f64,
    cost: Stats,
    /// For `gc`: live bytes marked and swept per second, in GiB.
    gib_per_sec: Option<f64>,
}

impl Measured {
    fn new(secs: f64, cost: Stats) -> Self {
        Self {
            secs,
            cost,
            gib_per_sec: None,
        }
    }
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (workload, ops) = match arguments.as_slice() {
        [workload, ops] => match ops.parse::<u64>() {
            Ok(ops) if ops > 0 => (workload.as_str(), ops),
            _ => {
                eprintln!("pmem-bench: <ops> must be a positive integer, not {ops:?}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let timed = |(secs, cost)| Measured::new(secs, cost);
    let file = PoolFile::new(workload);
    let run = match workload {
        "sps" => sps(&file, ops).map(timed),
        "empty_txn" => empty_txn(&file, ops).map(timed),
        "barrier" => barrier(&file, ops).map(timed),
        "list_push" => list_push(&file, ops),
        "alloc_free" => alloc_free(&file, ops),
        "alloc_link_free" => alloc_link_free(&file, ops),
        "hashmap_insert" => hashmap_insert(&file, ops),
        "recovery" => recovery(&file, ops),
        "gc" => gc(&file, ops),
        other => {
            eprintln!("pmem-bench: unknown workload {other:?}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    match run {
        Ok(Measured {
            secs,
            cost,
            gib_per_sec,
        }) => {
            let per_op = |count: u64| count as f64 / ops as f64;
            let extra =
                gib_per_sec.map_or_else(String::new, |rate| format!(" gib_per_sec={rate:.2}"));
            println!(
                "workload={workload} ops={ops} secs={secs:.6} ops_per_sec={:.0} fences_per_op={:.2} flushes_per_op={:.2} log_bytes_per_op={:.1}{extra}",
                ops as f64 / secs,
                per_op(cost.fences),
                per_op(cost.lines_flushed),
                per_op(cost.logged_bytes),
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pmem-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
