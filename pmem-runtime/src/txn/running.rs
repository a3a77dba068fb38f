//! The state of the transaction running on a thread ([`RunningTxn`]): its log slot, the
//! lines it logged, the objects it allocated and the heap metadata it wrote, and the commit
//! and rollback that carry out `log.rs`'s rules 2 and 3.

use core::ptr::NonNull;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::data::DataRanges;
use crate::hw::flush::{CACHE_LINE, Event, Flusher};
use crate::hw::mapping::Mapping;
use crate::hw::mutation::PersistenceCall;
use crate::log;
use crate::stats;

use super::RECYCLED;

/// What a transaction needs from its pool. The mapping is borrowed for the whole
/// transaction: `Pool::txn` holds `&mut Pool` until the transaction has ended.
pub(crate) struct PoolAccess {
    pub(crate) mapping: NonNull<Mapping>,
    pub(crate) flusher: Flusher,
    pub(crate) data: DataRanges,
    pub(crate) slot_offset: usize,
    pub(crate) slot_len: usize,
    /// Lines of objects allocated by earlier transactions that committed without a fence,
    /// not yet written back (see `RunningTxn::defer_unlogged_lines`). The pool keeps them
    /// between transactions.
    pub(crate) deferred_lines: Vec<usize>,
}

/// How many deferred lines a pool keeps before it writes them back and fences, so that a
/// long run of fence-free transactions keeps a bounded list.
const DEFERRED_LINES_LIMIT: usize = 1024;

pub(super) struct RunningTxn {
    pub(super) pool: PoolAccess,
    pub(super) generation: u64,
    /// Offset in the slot of the next entry.
    pub(super) next_entry: usize,
    /// Set when the transaction must be rolled back when it ends, whatever its body returns.
    pub(super) doomed: bool,
    /// Boxed, so that beginning and ending a transaction moves a pointer, not the buffers.
    pub(super) buffers: Box<Buffers>,
}

/// A transaction's growable state, kept per thread from one transaction to the next so that
/// a transaction allocates nothing once the thread has run one of its size.
#[derive(Default)]
pub(super) struct Buffers {
    /// The entries written so far: (pool offset, length, offset of the data in the pool).
    pub(super) entries: Vec<(usize, usize, usize)>,
    /// Every cache line logged so far, as a line index from the start of the pool.
    pub(super) logged_lines: HashSet<usize, BuildHasherDefault<LineHasher>>,
    /// The logged lines in order, when they are flushed.
    pub(super) sorted_lines: Vec<usize>,
    /// Pool offsets and lengths of the objects allocated by this transaction. Their bytes
    /// need no undo entry: if the transaction does not commit, nothing reaches them.
    pub(super) fresh_objects: HashMap<usize, usize, BuildHasherDefault<LineHasher>>,
    /// Every line holding a byte of a fresh object: written back at commit. Lines the
    /// object shares with other data are logged like any other line if something else in
    /// them is stored to.
    pub(super) fresh_lines: Vec<usize>,
    /// Lines of heap metadata the allocator wrote in this transaction: written back at
    /// commit, or before a fence the heap asks for (see `flush_metadata`).
    pub(super) metadata_lines: Vec<usize>,
}

impl Buffers {
    pub(super) fn recycle(mut self: Box<Self>) {
        self.entries.clear();
        self.logged_lines.clear();
        self.sorted_lines.clear();
        self.fresh_objects.clear();
        self.fresh_lines.clear();
        self.metadata_lines.clear();
        RECYCLED.set(Some(self));
    }
}

/// Hashes line numbers with one multiplication: they are small distinct integers, and no
/// adversary chooses them.
#[derive(Default)]
pub(super) struct LineHasher(u64);

impl Hasher for LineHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_usize(&mut self, line: usize) {
        self.0 = (line as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl RunningTxn {
    pub(super) fn mapping(&self) -> &Mapping {
        // SAFETY: `PoolAccess::mapping` points at the mapping of the pool that `Pool::txn`
        // holds mutably borrowed for as long as this transaction is active.
        unsafe { self.pool.mapping.as_ref() }
    }

    pub(super) fn log(&mut self, address: usize, len: usize) {
        let base = self.mapping().address_of(0) as usize;
        let mapped = self.mapping().mapped_len();
        if address < base || address >= base + mapped {
            return;
        }
        let offset = address - base;
        self.pool.flusher.tell(Event::BeforeStore);
        assert!(
            self.pool.data.contains(offset, len),
            "pmem: a store of {len} bytes at pool offset {offset:#x} would write outside the pool's data"
        );
        let first_line = offset / CACHE_LINE;
        let last_line = (offset + len - 1) / CACHE_LINE;
        let mut run_start = None;
        for line in first_line..=last_line + 1 {
            let new = line <= last_line && self.buffers.logged_lines.insert(line);
            match (new, run_start) {
                (true, None) => run_start = Some(line),
                (false, Some(start)) => {
                    self.append_entry(start * CACHE_LINE, (line - start) * CACHE_LINE);
                    run_start = None;
                }
                _ => {}
            }
        }
    }

    /// Logs `pool[offset .. offset + len]` and makes the entry durable: rule 1 of `log.rs`.
    pub(super) fn append_entry(&mut self, offset: usize, len: usize) {
        let needed = log::entry_len(len);
        assert!(
            self.next_entry + needed <= self.pool.slot_len,
            "pmem: the transaction log is full ({} bytes): this transaction is rolled back; give the pool a larger log with PoolOptions::log_size",
            self.pool.slot_len
        );
        let entry = self.pool.slot_offset + self.next_entry;
        let data = log::write_entry(
            self.mapping(),
            &self.pool.flusher,
            entry,
            self.generation,
            offset,
            len,
        );
        self.buffers.entries.push((offset, len, data));
        self.next_entry += needed;
        stats::count_logged(len as u64);
    }

    /// Flushes every line the transaction changed (logged, fresh or heap metadata) and the
    /// deferred lines of earlier transactions, coalesced into runs of adjacent lines.
    pub(super) fn flush_changed_lines(&mut self, call: PersistenceCall) {
        let mut lines = std::mem::take(&mut self.buffers.sorted_lines);
        lines.extend(self.buffers.logged_lines.iter().copied());
        lines.extend_from_slice(&self.buffers.fresh_lines);
        lines.extend_from_slice(&self.buffers.metadata_lines);
        lines.append(&mut self.pool.deferred_lines);
        self.flush_lines(call, &mut lines);
        self.buffers.sorted_lines = lines;
    }

    /// Flushes `lines` (sorted and deduplicated first) in runs of adjacent lines.
    pub(super) fn flush_lines(&self, call: PersistenceCall, lines: &mut Vec<usize>) {
        lines.sort_unstable();
        lines.dedup();
        for run in lines.chunk_by(|a, b| a + 1 == *b) {
            let (first, count) = (run[0], run.len());
            let (offset, len) = (first * CACHE_LINE, count * CACHE_LINE);
            self.pool
                .flusher
                .flush_for(call, self.mapping(), offset, len);
        }
    }

    /// Ends a transaction that logged nothing. It changed nothing the pool reached when it
    /// began (every such store is logged), so the objects it allocated are unreachable
    /// from the pool, and only a later transaction's logged store can link them in. Their
    /// lines, and the heap metadata describing them, need not be durable now: the pool
    /// keeps them, and the next transaction that commits a logged store writes them back
    /// before its commit fence, from whatever thread it runs on. An allocation that is
    /// never linked in (dropped, or kept only by a pin) so costs no fence at all.
    pub(super) fn defer_unlogged_lines(&mut self) {
        let deferred = &mut self.pool.deferred_lines;
        deferred.extend_from_slice(&self.buffers.fresh_lines);
        deferred.extend_from_slice(&self.buffers.metadata_lines);
        if deferred.len() > DEFERRED_LINES_LIMIT {
            let mut lines = std::mem::take(deferred);
            self.flush_lines(PersistenceCall::DeferredFlush, &mut lines);
            // A plain fence: a later commit's fence may run on another thread, and a fence
            // orders only its own thread's write-backs.
            self.pool.flusher.fence();
        }
    }

    /// Writes back the heap metadata written so far in this transaction, ahead of a fence
    /// the heap issues itself (a collection's sweep).
    pub(super) fn flush_metadata(&mut self) {
        let mut lines = std::mem::take(&mut self.buffers.metadata_lines);
        self.flush_lines(PersistenceCall::HeapMetadataFlush, &mut lines);
        lines.clear();
        self.buffers.metadata_lines = lines;
    }

    /// Records that the object at pool offset `offset`, `len` bytes, was allocated by this
    /// transaction: its whole lines count as logged (flushed at commit, never logged
    /// again), and the lines it shares with other data are flushed at commit.
    pub(super) fn note_fresh(&mut self, offset: usize, len: usize) {
        self.buffers.fresh_objects.insert(offset, len);
        self.pool.flusher.tell(Event::Unlogged { offset, len });
        if len == 0 {
            return;
        }
        let first_line = offset / CACHE_LINE;
        let last_line = (offset + len - 1) / CACHE_LINE;
        for line in first_line..=last_line {
            let whole = line * CACHE_LINE >= offset && (line + 1) * CACHE_LINE <= offset + len;
            if whole {
                self.buffers.logged_lines.insert(line);
            }
            self.buffers.fresh_lines.push(line);
        }
    }

    /// Lets a simulated domain check that every changed line was logged.
    pub(super) fn report_ending(&self) {
        let data = self.pool.data;
        let logged = &self.buffers.logged_lines;
        self.pool.flusher.tell(Event::TransactionEnding {
            in_data: &|offset| data.contains(offset, CACHE_LINE),
            logged: &|line| logged.contains(&line),
        });
    }

    /// Rule 2 of `log.rs`.
    pub(super) fn commit(mut self) -> Vec<usize> {
        self.report_ending();
        stats::count_commit();
        if self.buffers.entries.is_empty() {
            self.defer_unlogged_lines();
        } else {
            self.flush_changed_lines(PersistenceCall::CommitFlush);
            self.pool.flusher.fence_for(PersistenceCall::CommitFence);
            self.advance_generation();
        }
        self.pool.flusher.tell(Event::Committed {
            deferred: &self.pool.deferred_lines,
        });
        self.pool.flusher.tell(Event::Settled);
        self.buffers.recycle();
        self.pool.deferred_lines
    }

    /// Rule 3 of `log.rs`.
    pub(super) fn roll_back(mut self) -> Vec<usize> {
        self.report_ending();
        if self.buffers.entries.is_empty() {
            self.defer_unlogged_lines();
        } else {
            self.pool.flusher.tell(Event::Observe);
            self.restore_logged_bytes();
            self.flush_changed_lines(PersistenceCall::RollbackFlush);
            self.pool.flusher.fence_for(PersistenceCall::RollbackFence);
            self.advance_generation();
        }
        stats::count_rollback();
        self.pool.flusher.tell(Event::Settled);
        self.buffers.recycle();
        self.pool.deferred_lines
    }

    /// Writes back the logged old bytes, latest entry first, except where this
    /// transaction's fresh objects lie: an entry logs whole lines, and an object allocated
    /// into a line after it was logged was free when the line was, so its logged bytes are
    /// another slot's leftovers. Restoring them would hand a pinned fresh object (which
    /// outlives the rollback) bytes it never held.
    pub(super) fn restore_logged_bytes(&self) {
        let mut fresh: Vec<(usize, usize)> = self
            .buffers
            .fresh_objects
            .iter()
            .map(|(&offset, &len)| (offset, offset + len))
            .collect();
        fresh.sort_unstable();
        let mapping = self.mapping();
        for &(offset, len, data) in self.buffers.entries.iter().rev() {
            let end = offset + len;
            let mut at = offset;
            let overlapping = fresh.partition_point(|&(_, fresh_end)| fresh_end <= offset);
            for &(fresh_start, fresh_end) in &fresh[overlapping..] {
                if fresh_start >= end {
                    break;
                }
                if fresh_start > at {
                    // SAFETY: every reference user code held into the pool has ended with
                    // the transaction's closure; the range is inside the logged range.
                    unsafe { mapping.copy_within(data + (at - offset), at, fresh_start - at) };
                }
                at = at.max(fresh_end);
            }
            if at < end {
                // SAFETY: as above.
                unsafe { mapping.copy_within(data + (at - offset), at, end - at) };
            }
        }
    }

    pub(super) fn advance_generation(&self) {
        log::write_generation(
            self.mapping(),
            &self.pool.flusher,
            self.pool.slot_offset,
            self.generation + 1,
        );
    }
}
