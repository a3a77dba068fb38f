//! The pool fuzz test: damaged pool files may be refused, but must never crash, hang or
//! change the file they refuse.
//!
//! Two base images are made by the child binary `fuzz_child` ([`pmem_tests::fuzz`]): a
//! *clean* pool (closed) and a *dirty* one (its process exited in the middle of a
//! transaction, so its undo log holds valid entries). Each mutant is a copy of one of them,
//! damaged in one way chosen by a seeded xorshift: a truncation, a bit flip, a byte
//! overwrite in any region (identity block, state records, root, log slot generation and
//! entries, heap header, named roots, type table, page table, data pages), or a *forgery*:
//! a field set to a chosen value with its checksum recomputed from the specifications
//! (`docs/src/file-format.md`, `docs/src/heap.md`, and the undo-log entry checksum of
//! `pmem-runtime/src/log.rs`, mirrored in [`pmem_tests::forge`]), so that the damage passes
//! the checksums and reaches the code behind them.
//!
//! `fuzz_child check` opens each mutant (collecting at open, or, for odd seeds, leaving
//! the collection for later: `check-lazy`), walks it, collects, commits, reopens, walks and
//! collects again, and prints its outcome. A mutant fails when the child panics, dies by a
//! signal or runs longer than 20 seconds (a hang); when the first open refuses it but the
//! file is not byte-for-byte the mutant any more; or when the first open accepts it but a
//! later step (collection, commit, reopen) refuses, but for the one damage that only
//! tracing finds, which an open that did not collect leaves to the first collection. The test prints a table of outcome
//! classes and every failure with the seed that reproduces it, and fails if there is any.
//!
//! Knobs, read from the environment:
//!
//! - `PMEM_FUZZ_MUTANTS=<n>`: how many mutants (default 20,000: about a minute on two cores
//!   in a debug build);
//! - `PMEM_FUZZ_SEED=<n>` (decimal or `0x` hex): the first mutant's seed; each next one is
//!   the xorshift of the previous. A failure prints its mutant's seed:
//!   `PMEM_FUZZ_SEED=<seed> PMEM_FUZZ_MUTANTS=1` makes that mutant again (the base images
//!   differ only in their UUID and creation time, which no mutation depends on).
//! - `PMEM_FUZZ_THREADS=<n>`: children run at once (default 2).
//!
//! `cargo test` builds the child in the test profile, with overflow checks on, so an
//! arithmetic overflow on damaged input is a panic and a failure; `cargo test --release`
//! runs the same mutants against a release child (`CARGO_BIN_EXE_fuzz_child` is built with
//! the test's profile), where overflows wrap instead: about 25 seconds for the default
//! count.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use pmem::simulation::ScratchFile;
use pmem_tests::forge::{
    ARENA_PAGES, FIRST_TABLE_PAGE, IDENTITY_CHECKED, LOG_ENTRY_HEADER, LOG_OFFSET_AT, PAGE,
    PoolLayout, SLOT_COUNT_AT, SLOT_LEN_AT, STATE_CHECKED, STATE_SLOTS, TYPE_TABLE, fix_identity,
    fix_log_entry, fix_state_record, identity_checksum, log_entry_checksum, log_entry_room,
    page_table_word, put_u32, put_u64, state_record_checksum, type_record_checksum,
    type_record_len, u32_at, u64_at,
};
use pmem_tests::fuzz::FuzzRoot;
use pmem_tests::xorshift;

const CHILD: &str = env!("CARGO_BIN_EXE_fuzz_child");
const DEFAULT_MUTANTS: usize = 20_000;
const DEFAULT_SEED: u64 = 0x5eed_f022_2025_0001;
const TIMEOUT: Duration = Duration::from_secs(20);
/// The most failures listed one by one; the table of classes counts them all.
const LISTED: usize = 500;

/// Offsets from `docs/src/file-format.md` that only this test needs; [`pmem_tests::forge`]
/// has the rest.
const ROOT: usize = 4096;
const ROOT_SIZE_AT: usize = 48;
const ROOT_ALIGN_AT: usize = 56;
const ROOT_OFFSET_AT: usize = 64;
/// Offsets from `docs/src/heap.md` and `pmem-runtime/src/log.rs`, likewise.
const HEAP_HEADER: usize = 64;
const NAMED_ROOTS: usize = 63;
const LOG_ENTRIES: usize = 64;

#[derive(Clone, Debug)]
struct TypeRecord {
    at: usize,
    len: usize,
    size: u64,
    align: u64,
    hash: u64,
    runs: Vec<[u64; 4]>,
}

#[derive(Clone, Debug)]
struct Span {
    page: usize,
    type_index: u64,
    pages: usize,
}

/// A base image and where its parts are, found by reading it as the specifications say.
/// Reading it also checks [`pmem_tests::forge`]'s checksums against the runtime's: a base
/// image whose records fail them would make every forgery a plain corruption.
struct Base {
    name: &'static str,
    bytes: Vec<u8>,
    pool_size: usize,
    current_state: usize,
    layout: PoolLayout,
    types: Vec<TypeRecord>,
    spans: Vec<Span>,
    named: Vec<usize>,
    /// The valid entries of the unfinished transactions: (entry offset, logged length).
    entries: Vec<(usize, usize)>,
}

impl Base {
    fn read(name: &'static str, bytes: Vec<u8>) -> Self {
        let current_state = STATE_SLOTS
            .into_iter()
            .filter(|&at| state_record_checksum(&bytes, at) == u32_at(&bytes, at + STATE_CHECKED))
            .max_by_key(|&at| u64_at(&bytes, at))
            .expect("a valid state record");
        let pool_size = u64_at(&bytes, current_state + 8) as usize;
        assert_eq!(pool_size, bytes.len(), "{name}: the pool did not grow");
        assert_eq!(identity_checksum(&bytes), u32_at(&bytes, IDENTITY_CHECKED));
        let layout = PoolLayout::of(&bytes);
        let PoolLayout {
            log_offset,
            slot_count: slots,
            slot_len,
            heap_start: heap,
        } = layout;
        let mut entries = Vec::new();
        for slot in 0..slots {
            let slot_at = log_offset + slot * slot_len;
            let generation = u64_at(&bytes, slot_at);
            let mut at = slot_at + LOG_ENTRIES;
            while at + LOG_ENTRY_HEADER <= slot_at + slot_len && u64_at(&bytes, at) == generation {
                let len = u32_at(&bytes, at + 16) as usize;
                let logged = &bytes[at + LOG_ENTRY_HEADER..at + LOG_ENTRY_HEADER + len];
                if len == 0
                    || log_entry_checksum(&bytes[at..at + 20], logged) != u32_at(&bytes, at + 20)
                {
                    break;
                }
                entries.push((at, len));
                at += log_entry_room(len);
            }
        }
        let mut types = Vec::new();
        let mut at = heap + TYPE_TABLE;
        while bytes[at..at + 32].iter().any(|&byte| byte != 0) {
            let len = type_record_len(&bytes, at);
            let index = types.len() as u32;
            assert_eq!(
                type_record_checksum(&bytes, at, index),
                u32_at(&bytes, at + 28),
                "{name}: type record {index}"
            );
            let runs = (0..u32_at(&bytes, at + 20) as usize)
                .map(|run| {
                    core::array::from_fn(|word| u64_at(&bytes, at + 32 + run * 32 + word * 8))
                })
                .collect();
            types.push(TypeRecord {
                at,
                len,
                size: u64_at(&bytes, at + 8),
                align: u64::from(u32_at(&bytes, at + 16)),
                hash: u64_at(&bytes, at),
                runs,
            });
            at += len;
        }
        let mut spans = Vec::new();
        for page in FIRST_TABLE_PAGE + 1..(pool_size - heap) / PAGE {
            let word = u64_at(&bytes, layout.page_table_entry(page));
            if word != 0 {
                let (type_index, pages) = ((word >> 8) & 0xff_ffff, (word >> 32) & 0xffff);
                assert_eq!(
                    word,
                    page_table_word(page, type_index, pages),
                    "{name}: page {page}"
                );
                spans.push(Span {
                    page,
                    type_index,
                    pages: pages as usize,
                });
            }
        }
        let named = (0..NAMED_ROOTS)
            .map(|slot| heap + HEAP_HEADER + slot * 64)
            .filter(|&at| bytes[at] != 0)
            .collect();
        let base = Self {
            name,
            bytes,
            pool_size,
            current_state,
            layout,
            types,
            spans,
            named,
            entries,
        };
        assert!(base.types.len() >= 5, "{name}: {} types", base.types.len());
        assert!(base.spans.len() >= 4, "{name}: {} spans", base.spans.len());
        assert!(
            base.named.len() >= 4,
            "{name}: {} named roots",
            base.named.len()
        );
        base
    }

    fn type_name(&self, index: usize) -> String {
        let record = &self.types[index];
        let name_len = u32_at(&self.bytes, record.at + 24) as usize;
        let name_at = record.at + record.len - name_len.next_multiple_of(8);
        let name = String::from_utf8_lossy(&self.bytes[name_at..name_at + name_len]);
        name.rsplit("::").next().unwrap_or_default().to_owned()
    }

    fn slot_of(&self, span: &Span) -> usize {
        let record = &self.types[span.type_index as usize];
        (record.size as usize)
            .max(1)
            .next_multiple_of(record.align.max(1) as usize)
    }

    /// The named regions of the image, for the untargeted damage.
    fn regions(&self) -> Vec<(String, usize, usize)> {
        let mut regions = vec![
            ("identity block".to_owned(), 0, 256),
            ("state record 0".to_owned(), 256, 320),
            ("state record 1".to_owned(), 320, 384),
            ("unused header".to_owned(), 384, PAGE),
            ("root".to_owned(), ROOT, ROOT + size_of::<FuzzRoot>()),
            (
                "heap header".to_owned(),
                self.layout.heap_start,
                self.layout.heap_start + HEAP_HEADER,
            ),
            (
                "named roots".to_owned(),
                self.layout.heap_start + HEAP_HEADER,
                self.layout.heap_start + PAGE,
            ),
            (
                "type table".to_owned(),
                self.layout.heap_start + TYPE_TABLE,
                self.types
                    .last()
                    .map_or(self.layout.heap_start + TYPE_TABLE + 64, |record| {
                        record.at + record.len + 32
                    }),
            ),
            (
                "page table".to_owned(),
                self.layout.heap_start + FIRST_TABLE_PAGE * PAGE,
                self.layout.heap_start
                    + FIRST_TABLE_PAGE * PAGE
                    + (self.pool_size - self.layout.heap_start) / PAGE * 8,
            ),
        ];
        for slot in 0..self.layout.slot_count {
            let at = self.layout.log_offset + slot * self.layout.slot_len;
            regions.push((format!("log slot {slot} generation"), at, at + 8));
            let end = self
                .entries
                .iter()
                .filter(|&&(entry, _)| entry < at + self.layout.slot_len)
                .map(|&(entry, len)| entry + log_entry_room(len))
                .max()
                .unwrap_or(at + 256);
            regions.push((format!("log slot {slot} entries"), at + LOG_ENTRIES, end));
        }
        for span in &self.spans {
            let start = self.layout.heap_start + span.page * PAGE;
            let name = format!(
                "data of a {} span",
                self.type_name(span.type_index as usize)
            );
            regions.push((name, start, start + span.pages * PAGE));
        }
        regions
    }
}

/// A seeded source of choices. A `Cell`, so that a choice among values can itself hold
/// random values: `dice.pick(&[0, dice.next()])`.
struct Dice(Cell<u64>);

impl Dice {
    fn new(seed: u64) -> Self {
        Self(Cell::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1))
    }

    fn next(&self) -> u64 {
        let mut state = self.0.get();
        let value = xorshift(&mut state);
        self.0.set(state);
        value
    }

    fn below(&self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    fn pick<'a, T>(&self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct Mutant {
    base: usize,
    bytes: Vec<u8>,
    description: String,
}

/// An offset for a forged pointer, and what it is.
fn forged_pointer(base: &Base, dice: &Dice) -> (u64, String) {
    let span = dice.pick(&base.spans);
    let span_start = (base.layout.heap_start + span.page * PAGE) as u64;
    let slot = base.slot_of(span) as u64;
    let choices: [(u64, &str); 16] = [
        (dice.next(), "a random word"),
        (
            dice.below(base.pool_size) as u64 & !7,
            "a random offset in the pool",
        ),
        (u64::MAX, "u64::MAX"),
        (u64::MAX - 7, "u64::MAX - 7"),
        (base.pool_size as u64, "the pool size"),
        (base.pool_size as u64 - 8, "the pool's last word"),
        (base.layout.heap_start as u64, "the heap header"),
        (
            (base.layout.heap_start + HEAP_HEADER) as u64,
            "the first named root",
        ),
        (
            (base.layout.heap_start + TYPE_TABLE) as u64,
            "the type table",
        ),
        (
            (base.layout.heap_start + FIRST_TABLE_PAGE * PAGE) as u64,
            "the page table",
        ),
        (base.layout.log_offset as u64, "the log"),
        (256, "a state record"),
        (ROOT as u64 + 8, "inside the root"),
        (span_start, "the first object of a span"),
        (span_start + 8, "inside an object"),
        (span_start + slot * dice.below(8) as u64, "a slot of a span"),
    ];
    let (value, what) = *dice.pick(&choices);
    (value, format!("{what} ({value:#x})"))
}

/// A truncated file, or one longer than its pool: a page of garbage after the pool (which
/// must be ignored), or a pool grown by a page of zeros (as a growth interrupted before its
/// first use leaves it).
fn resize(base: &Base, bytes: &mut Vec<u8>, dice: &Dice) -> String {
    match dice.below(10) {
        0 => {
            bytes.resize(base.pool_size + PAGE, 0xff);
            return "a page of 0xff appended after the pool's end".to_owned();
        }
        1 => {
            bytes.resize(base.pool_size + PAGE, 0);
            let at = base.current_state;
            let sequence = u64_at(bytes, at) + 2;
            put_u64(bytes, at, sequence);
            put_u64(bytes, at + 8, (base.pool_size + PAGE) as u64);
            fix_state_record(bytes, at);
            return "grown by a page of zeros, pool size and sequence raised, CRC fixed".to_owned();
        }
        _ => {}
    }
    let choices = [
        (0, "to 0 bytes"),
        (dice.below(8), "inside the magic"),
        (8 + dice.below(PAGE - 8), "inside the header"),
        (ROOT + dice.below(PAGE), "inside the root page"),
        (
            base.layout.log_offset + dice.below(base.layout.slot_len * base.layout.slot_count),
            "inside the log",
        ),
        (
            base.layout.heap_start + dice.below(base.pool_size - base.layout.heap_start),
            "inside the heap",
        ),
        (base.pool_size - PAGE, "one page short"),
        (base.pool_size - 1, "one byte short"),
    ];
    let (len, what) = *dice.pick(&choices);
    bytes.truncate(len);
    format!("truncated {what}, to {len} bytes")
}

fn damage(base: &Base, bytes: &mut [u8], dice: &Dice) -> String {
    let regions = base.regions();
    let (region, start, end) = dice.pick(&regions);
    let at = start + dice.below(end - start);
    let old = bytes[at];
    let (new, what) = match dice.below(5) {
        0 | 1 => {
            let bit = dice.below(8);
            (old ^ 1 << bit, format!("bit {bit} flipped"))
        }
        2 => (0, "set to 0x00".to_owned()),
        3 => (0xff, "set to 0xff".to_owned()),
        _ => {
            let value = dice.next() as u8;
            (value, format!("set to {value:#04x}"))
        }
    };
    bytes[at] = new;
    format!("{region}: byte {at:#x} ({old:#04x}) {what}")
}

fn forge_state(base: &Base, bytes: &mut [u8], dice: &Dice) -> String {
    const SEQUENCE: usize = 0;
    const SIZE: usize = 8;
    const FLAG: usize = 16;
    let current = base.current_state;
    let sequence = u64_at(bytes, current);
    let size = base.pool_size as u64;
    let page = PAGE as u64;
    let choices: [(&str, usize, u64); 12] = [
        ("sequence := u64::MAX", SEQUENCE, u64::MAX),
        ("sequence := u64::MAX - 1", SEQUENCE, u64::MAX - 1),
        ("sequence + 2, same slot", SEQUENCE, sequence + 2),
        ("pool size + 1 page", SIZE, size + page),
        ("pool size - 1 page", SIZE, size - page),
        (
            "pool size := the log's end",
            SIZE,
            base.layout.heap_start as u64,
        ),
        (
            "pool size := the log's end + 4 pages",
            SIZE,
            base.layout.heap_start as u64 + 4 * page,
        ),
        ("pool size := 4096", SIZE, page),
        (
            "pool size := the largest multiple of 4096",
            SIZE,
            !(page - 1),
        ),
        ("pool size := 2^40", SIZE, 1 << 40),
        (
            "pool size := a random page count below it",
            SIZE,
            dice.below(base.pool_size / PAGE) as u64 * page,
        ),
        (
            "clean flag toggled",
            FLAG,
            u64::from(u64_at(bytes, current + FLAG) == 0),
        ),
    ];
    let &(what, field, value) = dice.pick(&choices);
    let mut record = bytes[current..current + 64].to_vec();
    put_u64(&mut record, field, value);
    let slot = STATE_SLOTS[(u64_at(&record, SEQUENCE) % 2) as usize];
    bytes[slot..slot + 64].copy_from_slice(&record);
    fix_state_record(bytes, slot);
    format!("current state record forged at {slot}: {what}, CRC fixed")
}

fn forge_identity(bytes: &mut [u8], dice: &Dice) -> String {
    let choices: [(&str, usize, u64, bool); 12] = [
        ("log slot count := 0", SLOT_COUNT_AT, 0, false),
        ("log slot count := 2", SLOT_COUNT_AT, 2, false),
        (
            "log slot count := u32::MAX",
            SLOT_COUNT_AT,
            u64::from(u32::MAX),
            false,
        ),
        ("log slot length := 0", SLOT_LEN_AT, 0, false),
        ("log slot length := 4096", SLOT_LEN_AT, 4096, false),
        ("log slot length := 4097", SLOT_LEN_AT, 4097, false),
        (
            "log slot length := u32::MAX rounded to a page",
            SLOT_LEN_AT,
            u64::from(!4095u32),
            false,
        ),
        ("log offset := 4096", LOG_OFFSET_AT, 4096, true),
        (
            "log offset + 1 page",
            LOG_OFFSET_AT,
            u64_at(bytes, LOG_OFFSET_AT) + 4096,
            true,
        ),
        ("root size := u64::MAX", ROOT_SIZE_AT, u64::MAX, true),
        ("root alignment := 8192", ROOT_ALIGN_AT, 8192, true),
        ("root offset := 0", ROOT_OFFSET_AT, 0, true),
    ];
    let &(what, at, value, wide) = dice.pick(&choices);
    if wide {
        put_u64(bytes, at, value);
    } else {
        put_u32(bytes, at, value as u32);
    }
    fix_identity(bytes);
    format!("identity block: {what}, CRC fixed")
}

fn forge_log(base: &Base, bytes: &mut [u8], dice: &Dice) -> String {
    let slot_at =
        base.layout.log_offset + dice.below(base.layout.slot_count) * base.layout.slot_len;
    let generation = u64_at(bytes, slot_at);
    let in_slot: Vec<(usize, usize)> = base
        .entries
        .iter()
        .copied()
        .filter(|&(at, _)| at >= slot_at && at < slot_at + base.layout.slot_len)
        .collect();
    match dice.below(4) {
        0 => {
            let value = *dice.pick(&[u64::MAX, u64::MAX - 1, 0, generation + 1]);
            put_u64(bytes, slot_at, value);
            for &(at, _) in &in_slot {
                put_u64(bytes, at, value);
                fix_log_entry(bytes, at);
            }
            format!(
                "log slot at {slot_at:#x}: generation := {value:#x}, its {} entries too, checksums fixed",
                in_slot.len()
            )
        }
        1 if !in_slot.is_empty() => {
            let &(at, len) = dice.pick(&in_slot);
            let (target, what) = forged_target(base, dice, len);
            put_u64(bytes, at + 8, target);
            fix_log_entry(bytes, at);
            format!("log entry at {at:#x} ({len} bytes) retargeted at {what}, checksum fixed")
        }
        2 if !in_slot.is_empty() => {
            let &(at, len) = dice.pick(&in_slot);
            let room = slot_at + base.layout.slot_len - at - LOG_ENTRY_HEADER;
            let new_len = *dice.pick(&[0, 1, len + 8, room, room + 1, u32::MAX as usize]);
            put_u32(bytes, at + 16, new_len as u32);
            fix_log_entry(bytes, at);
            format!("log entry at {at:#x}: length {len} := {new_len}, checksum fixed")
        }
        _ => {
            let at = in_slot
                .last()
                .map_or(slot_at + LOG_ENTRIES, |&(at, len)| at + log_entry_room(len));
            let len = *dice.pick(&[8, 64, 128, 4096]);
            let (target, what) = forged_target(base, dice, len);
            let fill = *dice.pick(&[0x00, 0xff, dice.next() as u8]);
            put_u64(bytes, at, generation);
            put_u64(bytes, at + 8, target);
            put_u32(bytes, at + 16, len as u32);
            bytes[at + LOG_ENTRY_HEADER..at + LOG_ENTRY_HEADER + len].fill(fill);
            fix_log_entry(bytes, at);
            format!(
                "log entry added at {at:#x}: {len} bytes of {fill:#04x} aimed at {what}, checksum fixed"
            )
        }
    }
}

/// A target for a forged log entry of `len` bytes.
fn forged_target(base: &Base, dice: &Dice, len: usize) -> (u64, String) {
    let span = dice.pick(&base.spans);
    let choices: [(usize, &str); 12] = [
        (base.layout.heap_start, "the heap header"),
        (base.layout.heap_start + HEAP_HEADER, "the first named root"),
        (base.layout.heap_start + TYPE_TABLE, "the type table"),
        (
            base.layout.heap_start + FIRST_TABLE_PAGE * PAGE,
            "the page table",
        ),
        (
            base.layout.page_table_entry(span.page),
            "a span's page-table entry",
        ),
        (
            base.layout.heap_start + span.page * PAGE,
            "a span's first object",
        ),
        (ROOT, "the root"),
        (0, "the header"),
        (base.layout.log_offset, "the log"),
        (base.pool_size - len, "the pool's last bytes"),
        (base.pool_size - 8, "across the pool's end"),
        (usize::MAX - 8, "usize::MAX - 8"),
    ];
    let (target, what) = *dice.pick(&choices);
    (target as u64, format!("{what} ({target:#x})"))
}

fn forge_type(base: &Base, bytes: &mut [u8], dice: &Dice) -> String {
    let index = dice.below(base.types.len());
    let record = base.types[index].clone();
    let other = dice.pick(&base.types).clone();
    let type_name = base.type_name(index);
    let what = match dice.below(4) {
        0 => {
            let value = *dice.pick(&[
                u64::MAX,
                0,
                1,
                other.size,
                record.size + 8,
                record.size * 2,
                1 << 40,
                4096 * 600,
            ]);
            put_u64(bytes, record.at + 8, value);
            format!("size {} := {value:#x}", record.size)
        }
        1 => {
            let value = *dice.pick(&[0, 3, 4096, 8192, 1 << 31, u32::MAX, other.align as u32]);
            put_u32(bytes, record.at + 16, value);
            format!("alignment {} := {value:#x}", record.align)
        }
        2 if !record.runs.is_empty() => {
            let run = dice.below(record.runs.len());
            let [offset, count, stride, _] = record.runs[run];
            let (word, value, name) = *dice.pick(&[
                (0, u64::MAX - 7, "offset"),
                (0, record.size, "offset"),
                (0, record.size - 4, "offset"),
                (0, offset + 4, "offset"),
                (1, u64::MAX, "count"),
                (1, 0, "count"),
                (1, count + 1, "count"),
                (1, 1 << 32, "count"),
                (2, u64::MAX, "stride"),
                (2, 0, "stride"),
                (2, stride + record.size, "stride"),
                (3, other.hash, "pointee"),
                (3, dice.next(), "pointee"),
            ]);
            put_u64(bytes, record.at + 32 + run * 32 + word * 8, value);
            format!("pointer run {run} {name} := {value:#x}")
        }
        _ => {
            let (at, value, name) = *dice.pick(&[
                (0, other.hash, "layout hash (another type's)"),
                (0, dice.next(), "layout hash (random)"),
                (20, record.runs.len() as u64 + 1, "pointer-run count + 1"),
                (20, u64::from(u32::MAX), "pointer-run count u32::MAX"),
                (24, 255, "name length 255"),
            ]);
            if at == 0 {
                put_u64(bytes, record.at, value);
            } else {
                put_u32(bytes, record.at + at, value as u32);
            }
            format!("{name} := {value:#x}")
        }
    };
    base.layout.fix_type_record(bytes, record.at, index as u32);
    format!("type record {index} ({type_name}): {what}, CRC fixed")
}

fn forge_page_entry(base: &Base, bytes: &mut [u8], dice: &Dice) -> String {
    let heap_pages = (base.pool_size - base.layout.heap_start) / PAGE;
    let span = dice.pick(&base.spans).clone();
    let types = base.types.len() as u64;
    let (page, type_index, pages, what) = match dice.below(3) {
        0 => {
            let type_index =
                *dice.pick(&[0, types, 200, 0xff_ffff, dice.below(types as usize) as u64]);
            (
                span.page,
                type_index,
                span.pages as u64,
                format!("type index {} := {type_index}", span.type_index),
            )
        }
        1 => {
            let pages = *dice.pick(&[
                span.pages as u64 + 1,
                span.pages as u64 - 1,
                (heap_pages - span.page + 1) as u64,
                511,
                512,
                0xffff,
            ]);
            (
                span.page,
                span.type_index,
                pages,
                format!("page count {} := {pages}", span.pages),
            )
        }
        _ => {
            let page = *dice.pick(&[
                FIRST_TABLE_PAGE,
                FIRST_TABLE_PAGE + 1 + dice.below(heap_pages - FIRST_TABLE_PAGE - 1),
                span.page + 1,
                heap_pages,
                heap_pages + dice.below(ARENA_PAGES - heap_pages),
            ]);
            let type_index = dice.below(types as usize) as u64;
            let pages = 1 + dice.below(8) as u64;
            (
                page,
                type_index,
                pages,
                format!("new span of type {type_index}, {pages} pages"),
            )
        }
    };
    let at = base.layout.page_table_entry(page);
    put_u64(bytes, at, page_table_word(page, type_index, pages));
    format!("page-table entry of heap page {page} ({at:#x}): {what}, check fixed")
}

fn forge_named_root(base: &Base, bytes: &mut [u8], dice: &Dice) -> String {
    let used = dice.below(4) != 0;
    let at = if used {
        *dice.pick(&base.named)
    } else {
        base.layout.heap_start + HEAP_HEADER + 64 * (NAMED_ROOTS - 1 - dice.below(8))
    };
    if !used {
        bytes[at..at + 4].copy_from_slice(b"zzz\0");
        put_u32(bytes, at + 48, dice.below(base.types.len()) as u32);
    }
    let what = match dice.below(3) {
        0 => {
            let (value, what) = forged_pointer(base, dice);
            put_u64(bytes, at + 56, value);
            format!("pointer := {what}")
        }
        1 => {
            let value = *dice.pick(&[
                0,
                base.types.len() as u32,
                u32::MAX,
                dice.below(base.types.len()) as u32,
            ]);
            put_u32(bytes, at + 48, value);
            format!("type index := {value}")
        }
        _ => {
            let (what, name): (&str, Vec<u8>) = match dice.below(3) {
                0 => ("invalid UTF-8", vec![0xff, 0xfe, 0x80, 0]),
                1 => ("no terminating NUL", vec![b'n'; 48]),
                _ => {
                    let other = *dice.pick(&base.named);
                    ("another entry's name", bytes[other..other + 48].to_vec())
                }
            };
            bytes[at..at + name.len()].copy_from_slice(&name);
            format!("name := {what}")
        }
    };
    let which = if used { "used" } else { "unused" };
    format!("{which} named root at {at:#x}: {what}")
}

/// A pointer field of the root or of a heap object set to a forged value.
fn forge_pointer(base: &Base, bytes: &mut [u8], dice: &Dice) -> String {
    let (at, whose) = if dice.below(2) == 0 {
        let field = *dice.pick(&[0, 8, 16, 24, 32, 40]);
        (ROOT + field, format!("root field at {field}"))
    } else {
        let span = dice.pick(&base.spans).clone();
        let record = &base.types[span.type_index as usize];
        let Some(&[offset, count, stride, _]) = record.runs.get(dice.below(record.runs.len()))
        else {
            return damage(base, bytes, dice);
        };
        let slot = base.slot_of(&span);
        let object = dice.below((span.pages * PAGE / slot).min(4));
        let element = dice.below(count as usize);
        let at = base.layout.heap_start
            + span.page * PAGE
            + object * slot
            + (offset + element as u64 * stride) as usize;
        (
            at,
            format!(
                "pointer {element} of a {} object at {at:#x}",
                base.type_name(span.type_index as usize)
            ),
        )
    };
    let (value, what) = forged_pointer(base, dice);
    put_u64(bytes, at, value);
    format!("{whose} := {what}")
}

fn mutant(bases: &[Base], seed: u64) -> Mutant {
    let dice = Dice::new(seed);
    let index = dice.below(bases.len());
    let base = &bases[index];
    let mut bytes = base.bytes.clone();
    let description = match dice.below(12) {
        0 => resize(base, &mut bytes, &dice),
        1..=3 => damage(base, &mut bytes, &dice),
        4 => forge_state(base, &mut bytes, &dice),
        5 => forge_identity(&mut bytes, &dice),
        6 => forge_log(base, &mut bytes, &dice),
        7 | 8 => forge_type(base, &mut bytes, &dice),
        9 => forge_page_entry(base, &mut bytes, &dice),
        10 => forge_named_root(base, &mut bytes, &dice),
        _ => forge_pointer(base, &mut bytes, &dice),
    };
    Mutant {
        base: index,
        bytes,
        description: format!("{} pool: {description}", base.name),
    }
}

/// How a child run ended.
struct Run {
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `fuzz_child <command> <path>`, killing it after [`TIMEOUT`]. With `backtrace`, a
/// panic prints a backtrace, which a debug build takes a tenth of a second to symbolise: so
/// only the runs that locate a panic inside the standard library ask for one.
fn run_child(command: &str, path: &ScratchFile, backtrace: bool) -> Run {
    let mut child = Command::new(CHILD)
        .args([command, path.path().to_str().expect("utf-8 path")])
        .env("RUST_BACKTRACE", if backtrace { "1" } else { "0" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fuzz_child");
    let (mut stdout, mut stderr) = (
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let (sender, receiver) = mpsc::channel();
    // The pipes close when the child ends; reading them on another thread lets this one
    // give up on a child that hangs.
    std::thread::spawn(move || {
        let mut out = String::new();
        let mut err = String::new();
        let errors = std::thread::spawn(move || {
            stderr.read_to_string(&mut err).ok();
            err
        });
        stdout.read_to_string(&mut out).ok();
        let err = errors.join().unwrap_or_default();
        sender.send((out, err)).ok();
    });
    match receiver.recv_timeout(TIMEOUT) {
        Ok((stdout, stderr)) => Run {
            status: Some(child.wait().expect("wait for fuzz_child")),
            stdout,
            stderr,
        },
        Err(_) => {
            child.kill().ok();
            child.wait().ok();
            Run {
                status: None,
                stdout: String::new(),
                stderr: String::new(),
            }
        }
    }
}

/// The panic's location and message, from the child's stderr. A panic inside the standard
/// library (an overflow in `next_multiple_of`, say) is located at the first frame of the
/// backtrace outside it.
fn panic_summary(stderr: &str) -> Option<(String, String)> {
    let mut lines = stderr.lines();
    let header = lines.find(|line| line.contains("panicked at "))?;
    let mut location = header
        .split("panicked at ")
        .nth(1)?
        .trim_end_matches(':')
        .to_owned();
    let message = lines.next().unwrap_or_default().to_owned();
    if location.starts_with("/rustc/") {
        let caller = lines
            .filter_map(|line| line.trim().strip_prefix("at "))
            .find(|frame| !frame.starts_with("/rustc/"));
        if let Some(caller) = caller {
            let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
            let workspace = std::path::Path::new(workspace)
                .canonicalize()
                .map(|path| format!("{}/", path.display()))
                .unwrap_or_default();
            let caller = caller
                .trim_start_matches(workspace.as_str())
                .trim_start_matches("./");
            location = format!("{caller}, inside the standard library");
        }
    }
    Some((location, message))
}

/// The outcome class of a run, and `Some(why)` if it is a failure.
fn judge(run: &Run, mutant: &[u8], after: &[u8]) -> (String, Option<String>) {
    let Some(status) = run.status else {
        return (
            "FAIL hang".to_owned(),
            Some(format!("no exit within {TIMEOUT:?}")),
        );
    };
    let line = run.stdout.lines().last().unwrap_or_default().to_owned();
    if !status.success() {
        if let Some((location, message)) = panic_summary(&run.stderr) {
            let class = format!("FAIL panic at {location}");
            return (class, Some(message));
        }
        let stderr = run.stderr.lines().last().unwrap_or_default();
        return (
            format!("FAIL {status}"),
            Some(format!("stdout {line:?}, stderr {stderr:?}")),
        );
    }
    if line.starts_with("refused: ") {
        if after != mutant {
            let changed = after.len().min(mutant.len());
            let first = (0..changed)
                .find(|&at| after[at] != mutant[at])
                .unwrap_or(changed);
            let bytes = (0..changed).filter(|&at| after[at] != mutant[at]).count();
            return (
                format!("FAIL {line}, but the file changed"),
                Some(format!(
                    "{bytes} bytes differ from {first:#x}, length {} -> {}",
                    mutant.len(),
                    after.len()
                )),
            );
        }
        return (line, None);
    }
    if line.starts_with("opened-ok") {
        return (line, None);
    }
    let why = "the first open accepted the pool, so every later step must succeed";
    (format!("FAIL opened, then {line}"), Some(why.to_owned()))
}

fn knob(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => {
            let value = value.trim();
            let parsed = match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => value.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={value} is not a number"))
        }
        Err(_) => default,
    }
}

fn make_base(name: &'static str, command: &str) -> Base {
    let path = ScratchFile::new(&format!("fuzz-{name}"));
    let run = run_child(command, &path, false);
    assert!(
        run.status.is_some_and(|status| status.success()),
        "fuzz_child {command}: {}",
        run.stderr
    );
    Base::read(name, path.contents())
}

fn bases() -> Vec<Base> {
    vec![
        make_base("clean", "create-clean"),
        make_base("dirty", "create-dirty"),
    ]
}

#[test]
fn every_base_image_opens_walks_collects_and_reopens() {
    let bases = bases();
    assert!(
        bases[0].entries.is_empty(),
        "a closed pool has no unfinished transaction"
    );
    assert!(
        !bases[1].entries.is_empty(),
        "the dirty pool's log holds its transaction"
    );
    for base in &bases {
        let path = ScratchFile::new(&format!("fuzz-{}-copy", base.name));
        std::fs::write(path.path(), &base.bytes).expect("write");
        let run = run_child("check", &path, false);
        let (class, failure) = judge(&run, &base.bytes, &path.contents());
        assert!(
            failure.is_none() && class == "opened-ok",
            "{} pool: {class}: {failure:?} {}",
            base.name,
            run.stderr
        );
    }
}

#[test]
fn damaged_pools_are_refused_or_opened_never_crash() {
    let started = Instant::now();
    let count = knob("PMEM_FUZZ_MUTANTS", DEFAULT_MUTANTS as u64) as usize;
    let first_seed = knob("PMEM_FUZZ_SEED", DEFAULT_SEED);
    let threads = knob("PMEM_FUZZ_THREADS", 2).max(1) as usize;
    let bases = bases();
    let mut seeds = vec![first_seed];
    while seeds.len() < count {
        let mut next = *seeds.last().expect("a seed");
        seeds.push(xorshift(&mut next));
    }
    let next = AtomicUsize::new(0);
    let classes: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let failures: Mutex<Vec<(String, u64, String, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..threads {
            let (bases, seeds, next, classes, failures) =
                (&bases, &seeds, &next, &classes, &failures);
            scope.spawn(move || {
                let path = ScratchFile::new(&format!("fuzz-mutant-{worker}"));
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(index) else {
                        return;
                    };
                    let mutant = mutant(bases, seed);
                    std::fs::write(path.path(), &mutant.bytes).expect("write the mutant");
                    // By the seed, so that a seed alone reproduces a failure.
                    let check = if seed % 2 == 0 { "check" } else { "check-lazy" };
                    let mut run = run_child(check, &path, false);
                    let after = std::fs::read(path.path()).unwrap_or_default();
                    if panic_summary(&run.stderr).is_some_and(|(at, _)| at.starts_with("/rustc/")) {
                        std::fs::write(path.path(), &mutant.bytes).expect("write the mutant");
                        run.stderr = run_child(check, &path, true).stderr;
                    }
                    let (class, failure) = judge(&run, &mutant.bytes, &after);
                    let class = format!("{} pool, {check}: {class}", bases[mutant.base].name);
                    *classes
                        .lock()
                        .expect("classes")
                        .entry(class.clone())
                        .or_default() += 1;
                    if let Some(why) = failure {
                        failures.lock().expect("failures").push((
                            class,
                            seed,
                            mutant.description,
                            why,
                        ));
                    }
                }
            });
        }
    });
    let classes = classes.into_inner().expect("classes");
    let mut failures = failures.into_inner().expect("failures");
    failures.sort();
    println!(
        "pool fuzz: {count} mutants from seed {first_seed:#x}, {threads} threads, {:.1?}",
        started.elapsed()
    );
    println!("{:>7}  outcome", "mutants");
    for (class, mutants) in &classes {
        println!("{mutants:>7}  {class}");
    }
    if !failures.is_empty() {
        let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, failure) in failures.iter().enumerate() {
            by_class.entry(&failure.0).or_default().push(index);
        }
        println!(
            "\n{} failures in {} classes:",
            failures.len(),
            by_class.len()
        );
        for (class, members) in &by_class {
            let (_, seed, description, why) = &failures[members[0]];
            println!(
                "{:>7}  {class}\n         e.g. seed {seed:#x}: {description}: {why}",
                members.len()
            );
        }
        println!(
            "\nEvery failure (the first {LISTED}; reproduce one with PMEM_FUZZ_SEED=<seed> \
             PMEM_FUZZ_MUTANTS=1):"
        );
        for (class, seed, description, why) in failures.iter().take(LISTED) {
            println!("- seed {seed:#x}: {description}\n    {class}: {why}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} mutants failed; see the table above",
        failures.len()
    );
}
