//! The state of the transaction running on a thread ([`RunningTxn`]): its log slot, the
//! lines it logged, the objects it allocated and the heap metadata it wrote, and the commit
//! and rollback that carry out `log.rs`'s rules 2 and 3.

use core::ptr::NonNull;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pmem_alloc::HiddenSlot;

use crate::data::DataRanges;
use crate::hw::flush::{CACHE_LINE, Event, Flusher};
use crate::hw::mapping::Mapping;
use crate::hw::mode::FlushMode;
use crate::hw::mutation::PersistenceCall;
use crate::log;

use super::RolledBack;
use crate::stats;

use super::SPARE;
use super::growth::LogGrowth;
use super::owned::{HeldLocks, OwnedRanges};

/// What a transaction needs from its pool. The mapping is borrowed for the whole
/// transaction: `Pool::txn` holds `&mut Pool` until the transaction has ended.
pub(crate) struct PoolAccess {
    pub(crate) mapping: NonNull<Mapping>,
    pub(crate) flusher: Flusher,
    pub(crate) data: DataRanges,
    pub(crate) slot_offset: usize,
    pub(crate) slot_len: usize,
    /// The length of the pool's log extension blocks (`log::block_len`).
    pub(crate) block_len: usize,
    /// Where the log's new blocks come from.
    pub(crate) growth: LogGrowth,
    /// Lines of objects allocated by earlier transactions that committed without a fence,
    /// not yet written back (see `RunningTxn::defer_unlogged_lines`). The pool keeps them
    /// between transactions.
    pub(crate) deferred_lines: Vec<usize>,
    /// Whether other transactions may run on the pool at the same time (`Pool::shared_txn`).
    /// A shared transaction owns only the bytes of the locks it holds and of the objects it
    /// allocated, so its entries widen a store to whole lines only within those; and it
    /// defers no lines, since the transaction that would write them back could run on
    /// another thread, whose fence does not order this one's write-backs.
    pub(crate) shared: bool,
    /// Where the offsets a rollback may leave in program variables go (`rolled_back.rs`);
    /// the pool's, which outlives the transaction.
    pub(crate) rolled_back: NonNull<RolledBack>,
}

/// How many bytes of a line an exclusive transaction's first entry for it logs: with the
/// entry's header, one cache line.
const NARROW_ENTRY: usize = CACHE_LINE - log::ENTRY_HEADER_LEN;

/// How many deferred lines a pool keeps before it writes them back and fences, so that a
/// long run of fence-free transactions keeps a bounded list.
const DEFERRED_LINES_LIMIT: usize = 1024;

/// A transaction's state. Its box outlives the transaction: when one ends, the box (its
/// buffers emptied, its pool let go) becomes the thread's spare (`SPARE` in `mod.rs`),
/// which the next transaction on the thread restarts, so that beginning and ending one
/// allocates and frees nothing. A spare's `pool.mapping` names a mapping that may be gone:
/// nothing reads it until [`restart`](RunningTxn::restart) sets it anew.
pub(super) struct RunningTxn {
    pub(super) pool: PoolAccess,
    pub(super) generation: u64,
    /// Pool offset of the next entry, in the slot or in a block of its chain.
    pub(super) next_entry: usize,
    /// Pool offset of the end of the slot or block that `next_entry` is in.
    pub(super) space_end: usize,
    /// Pool offset of the link word that names the block after that one (0 if none).
    pub(super) link_at: usize,
    /// Whether the writer has moved on from the slot into its blocks, which lie in the
    /// heap's data: the simulated domain is told of what it writes there.
    pub(super) in_block: bool,
    /// Set when the transaction must be rolled back when it ends, whatever its body returns.
    pub(super) doomed: bool,
    /// How many transactions of a group (`Durability::Deferred`, `group.rs`) have
    /// committed in this state without being made durable: 0 for a transaction that
    /// began alone. While it is not 0, the running transaction is the group's next
    /// member, and keeps a volatile copy of each line before its first store to it there
    /// (`Buffers::member_undo`), from which it alone is rolled back.
    pub(super) members: u32,
    pub(super) buffers: Buffers,
}

/// A transaction's growable state, kept per thread from one transaction to the next so that
/// a transaction allocates nothing once the thread has run one of its size.
#[derive(Default)]
pub(super) struct Buffers {
    /// The entries written so far: (pool offset, length, offset of the data in the pool).
    pub(super) entries: Vec<(usize, usize, usize)>,
    /// Per cache line touched so far (a line index from the start of the pool), which of
    /// its bytes are logged (bit `i` for byte `i`) or belong to a fresh object.
    pub(super) logged_lines: HashMap<usize, u64, BuildHasherDefault<LineHasher>>,
    /// In a shared transaction, the pool ranges `[start, end)` it owns: the values of the
    /// locks it holds.
    pub(super) owned: OwnedRanges,
    /// The lock words of the `PMutex`es a shared transaction holds, released when it has
    /// ended (see `lock.rs`).
    pub(super) held_locks: HeldLocks,
    /// The heap slots a shared transaction allocated or claimed, hidden from every other
    /// thread: revealed once its commit or rollback has written its bytes (a rollback
    /// restores a claimed buffer's), just before its locks are released.
    pub(super) hidden_until_end: Vec<HiddenSlot>,
    /// The heap objects an exclusive transaction's `Txn` handed out references to (`get`,
    /// `get_mut` and their slice forms): a collection inside the transaction keeps them, as
    /// a reference to one may still be alive (across `alloc_slice_with`, which borrows no
    /// `Txn`), and nothing else may keep an object the pool did not reach.
    pub(super) lent: Vec<u64>,
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
    /// In a group's member (see `RunningTxn::members`): each line it stored to, as it was
    /// before the member's first store to it, in the order they were taken.
    pub(super) member_undo: Vec<(usize, [u8; CACHE_LINE])>,
    /// The lines `member_undo` holds.
    pub(super) member_lines: HashMap<usize, (), BuildHasherDefault<LineHasher>>,
}

impl Buffers {
    /// Empties the buffers for the next transaction. After a large transaction (a growing
    /// collection writes thousands of fresh lines) they shrink back to what small ones use:
    /// see [`empty_table`] for the hash tables, whose every clear and walk costs their
    /// capacity.
    fn clear(&mut self) {
        const KEEP: usize = 1024;
        self.entries.clear();
        empty_table(&mut self.logged_lines);
        self.owned.clear();
        self.held_locks.clear();
        self.hidden_until_end.clear();
        self.lent.clear();
        if self.lent.capacity() > KEEP {
            self.lent.shrink_to(KEEP);
        }
        self.sorted_lines.clear();
        empty_table(&mut self.fresh_objects);
        self.fresh_lines.clear();
        self.metadata_lines.clear();
        self.clear_member();
        // Checked first: shrinking a vector costs time even when it is small already.
        for lines in [&mut self.sorted_lines, &mut self.fresh_lines] {
            if lines.capacity() > KEEP {
                lines.shrink_to(KEEP);
            }
        }
        if self.entries.capacity() > KEEP {
            self.entries.shrink_to(KEEP);
        }
    }
}

impl Buffers {
    /// Empties what one member of a group keeps for itself alone, for the next member.
    pub(super) fn clear_member(&mut self) {
        const KEEP: usize = 64;
        self.member_undo.clear();
        if self.member_undo.capacity() > KEEP {
            self.member_undo.shrink_to(KEEP);
        }
        empty_table(&mut self.member_lines);
        empty_table(&mut self.fresh_objects);
        self.lent.clear();
    }
}

/// Empties `table`, a table keyed by line or offset, for the next transaction. Clearing a
/// table, like walking its keys at commit, costs time in proportion to its capacity, even
/// when it holds a few entries or none: an empty one is left as it is, and one grown past
/// twice [`KEEP_TABLE`] entries is replaced by one of `KEEP_TABLE` (whose capacity, 112
/// entries in 128 buckets, stays below that bound, so the next small transaction keeps it).
fn empty_table<V>(table: &mut HashMap<usize, V, BuildHasherDefault<LineHasher>>) {
    if table.capacity() > 2 * KEEP_TABLE {
        *table = HashMap::with_capacity_and_hasher(KEEP_TABLE, BuildHasherDefault::default());
    } else if !table.is_empty() {
        table.clear();
    }
}

/// The entries a transaction's hash table keeps room for between transactions.
const KEEP_TABLE: usize = 64;

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
    /// The state of a transaction beginning on `pool`, whose log slot holds `generation`.
    pub(super) fn new(pool: PoolAccess, generation: u64) -> Self {
        let (next_entry, space_end, link_at) = slot_start(&pool);
        Self {
            pool,
            generation,
            next_entry,
            space_end,
            link_at,
            in_block: false,
            doomed: false,
            members: 0,
            buffers: Buffers::default(),
        }
    }

    /// Readies a spare (see [`RunningTxn`]) for a transaction beginning on `pool`, as
    /// [`new`](RunningTxn::new) would make it, keeping its buffers (emptied when its last
    /// transaction ended). The pattern names every field, so that none is left stale.
    pub(super) fn restart(&mut self, pool: PoolAccess, generation: u64) {
        let Self {
            pool: pool_field,
            generation: generation_field,
            next_entry,
            space_end,
            link_at,
            in_block,
            doomed,
            members,
            buffers: _,
        } = self;
        (*next_entry, *space_end, *link_at) = slot_start(&pool);
        *pool_field = pool;
        *generation_field = generation;
        *in_block = false;
        *doomed = false;
        *members = 0;
    }

    /// Makes this ended transaction's box the thread's spare: empties its buffers and
    /// drops its flusher's hold on a simulated domain. Returns the pool's deferred lines.
    fn retire(mut self: Box<Self>) -> Vec<usize> {
        self.buffers.clear();
        let deferred = core::mem::take(&mut self.pool.deferred_lines);
        self.pool.flusher = Flusher::new(FlushMode::None);
        // Through `with`: `LocalKey::set` takes the lazy-initialisation path every time.
        SPARE.with(|spare| spare.set(Some(self)));
        deferred
    }

    pub(super) fn mapping(&self) -> &Mapping {
        // SAFETY: `PoolAccess::mapping` points at the mapping of the pool that `Pool::txn`
        // holds mutably borrowed for as long as this transaction is active.
        unsafe { self.pool.mapping.as_ref() }
    }

    /// The pool offset of a store of `len` bytes at `address` about to happen, or `None` if
    /// the address is outside the pool (volatile memory).
    ///
    /// # Panics
    ///
    /// If the store would write outside the pool's data.
    fn store_offset(&mut self, address: usize, len: usize) -> Option<usize> {
        let base = self.mapping().address_of(0) as usize;
        let mapped = self.mapping().mapped_len();
        if address < base || address >= base + mapped {
            return None;
        }
        let offset = address - base;
        self.pool.flusher.tell(Event::BeforeStore);
        if !self.pool.data.contains(offset, len) {
            // Another transaction may have grown the pool since this one began.
            self.pool.data.pool_end = mapped;
        }
        assert!(
            self.pool.data.contains(offset, len),
            "pmem: a store of {len} bytes at pool offset {offset:#x} would write outside the pool's data"
        );
        Some(offset)
    }

    pub(super) fn log(&mut self, address: usize, len: usize) {
        let Some(offset) = self.store_offset(address, len) else {
            return;
        };
        let end = offset + len;
        let first_line = offset / CACHE_LINE;
        let last_line = (end - 1) / CACHE_LINE;
        self.keep_member_undo(first_line, last_line);
        let unlogged = (first_line..=last_line).any(|line| {
            let stored = line_bits(line, offset, end);
            let logged = self.buffers.logged_lines.get(&line).copied().unwrap_or(0);
            stored & !logged != 0
        });
        if !unlogged {
            return;
        }
        let (owned_start, owned_end) = self.owned_range(offset, end);
        let widened_start = (first_line * CACHE_LINE).max(owned_start);
        let widened_end = ((last_line + 1) * CACHE_LINE).min(owned_end);
        let mut run: Option<(usize, usize)> = None;
        for line in first_line..=last_line {
            let logged = self.buffers.logged_lines.get(&line).copied().unwrap_or(0);
            let ownable = line_bits(line, widened_start, widened_end);
            // The first time a transaction stores into a line, it logs the `NARROW_ENTRY`
            // bytes from the store on (whose entry, with its header, fills one line), and
            // if a later store there falls outside them, the rest of the line: a line costs
            // one write-back per entry, and at most two entries. A line right after one the
            // transaction logged is logged whole, so that a run of stores through an array
            // or an object costs one entry per line. Always within the bytes it owns.
            let wanted = if logged != 0
                || line
                    .checked_sub(1)
                    .is_some_and(|previous| self.has_logged(previous))
            {
                ownable
            } else {
                // On 8-byte boundaries, so that the rest of the line starts on one too: a
                // collection inside the transaction reads the old values of the words it
                // changed from each entry word by word (`txn::previous_words`).
                let line_start = line * CACHE_LINE;
                let start = offset.max(line_start) / 8 * 8;
                let stop = end.min(line_start + CACHE_LINE).next_multiple_of(8);
                let window = start.min(line_start + CACHE_LINE - NARROW_ENTRY);
                (line_bits(line, window, window + NARROW_ENTRY) | line_bits(line, start, stop))
                    & ownable
            };
            let mut new = wanted & !logged;
            *self.buffers.logged_lines.entry(line).or_insert(0) |= new;
            while new != 0 {
                let first = new.trailing_zeros() as usize;
                let ones = (new >> first).trailing_ones() as usize;
                new &= !line_bits(0, first, first + ones);
                let (start, stop) = (line * CACHE_LINE + first, line * CACHE_LINE + first + ones);
                run = match run {
                    Some((run_start, run_end)) if run_end == start => Some((run_start, stop)),
                    Some((run_start, run_end)) => {
                        self.append_entry(run_start, run_end - run_start);
                        Some((start, stop))
                    }
                    None => Some((start, stop)),
                };
            }
        }
        if let Some((run_start, run_end)) = run {
            self.append_entry(run_start, run_end - run_start);
        }
    }

    /// Whether this transaction has logged any byte of `line`.
    fn has_logged(&self, line: usize) -> bool {
        self.buffers
            .logged_lines
            .get(&line)
            .is_some_and(|&bits| bits != 0)
    }

    /// The range a store to `[offset, end)` may widen its entry to: the whole pool in a
    /// transaction that has it to itself, else the value of the lock that covers the store.
    ///
    /// # Panics
    ///
    /// In a shared transaction, if no lock it holds covers the store: no safe code reaches
    /// such a store, since a shared pool hands out `&mut` only behind a lock.
    fn owned_range(&self, offset: usize, end: usize) -> (usize, usize) {
        if !self.pool.shared {
            return (0, usize::MAX);
        }
        self.buffers
            .owned
            .covering(offset, end)
            .unwrap_or_else(|| {
                panic!(
                    "pmem: a shared transaction stored {} bytes at pool offset {offset:#x}, which no lock it holds covers",
                    end - offset
                )
            })
    }

    /// Records that the transaction holds the lock whose value is `[offset, offset + len)`.
    pub(super) fn note_owned(&mut self, offset: usize, len: usize) {
        self.buffers.owned.push(offset, offset + len);
    }

    /// Logs `pool[offset .. offset + len]` and makes the entries durable: rule 1 of
    /// `log.rs`. A range that does not fit where the writer is goes on in the next block of
    /// the slot's chain, split into as many entries as it takes (`txn/growth.rs`).
    pub(super) fn append_entry(&mut self, mut offset: usize, mut len: usize) {
        while len > 0 {
            let room =
                (self.space_end - self.next_entry).saturating_sub(log::ENTRY_HEADER_LEN) / 8 * 8;
            if room == 0 {
                self.next_space();
                continue;
            }
            let piece = len.min(room);
            let entry = self.next_entry;
            if self.in_block {
                self.pool.flusher.tell(Event::Unlogged {
                    offset: entry,
                    len: log::entry_len(piece),
                });
            }
            let data = log::write_entry(
                self.mapping(),
                &self.pool.flusher,
                entry,
                self.generation,
                offset,
                piece,
            );
            self.buffers.entries.push((offset, piece, data));
            self.next_entry += log::entry_len(piece);
            stats::count_logged(piece as u64);
            offset += piece;
            len -= piece;
        }
    }

    /// Flushes every line the transaction changed (logged, fresh or heap metadata) and the
    /// deferred lines of earlier transactions, coalesced into runs of adjacent lines.
    pub(super) fn flush_changed_lines(&mut self, call: PersistenceCall) {
        let mut lines = std::mem::take(&mut self.buffers.sorted_lines);
        lines.extend(self.buffers.logged_lines.keys().copied());
        lines.extend_from_slice(&self.buffers.fresh_lines);
        lines.extend_from_slice(&self.buffers.metadata_lines);
        lines.append(&mut self.pool.deferred_lines);
        self.flush_lines(call, &mut lines);
        self.buffers.sorted_lines = lines;
    }

    /// Flushes `lines` (sorted and deduplicated first) in runs of adjacent lines.
    pub(super) fn flush_lines(&self, call: PersistenceCall, lines: &mut Vec<usize>) {
        self.pool
            .flusher
            .flush_lines_for(call, self.mapping(), lines);
    }

    /// Ends a transaction that logged nothing. A shared one writes its lines back and
    /// fences now (see `PoolAccess::shared`).
    ///
    /// An exclusive one changed nothing the pool reached when it began (every such store
    /// is logged), so the objects it allocated are unreachable from the pool, and only a
    /// later transaction's logged store can link them in. Their lines, and the heap
    /// metadata describing them, need not be durable now: the pool keeps them, and the next
    /// transaction that commits a logged store writes them back before its commit fence. An allocation that is
    /// never linked in (dropped, or kept only by a pin) so costs no fence at all.
    pub(super) fn defer_unlogged_lines(&mut self) {
        if self.pool.shared {
            let mut lines = std::mem::take(&mut self.buffers.fresh_lines);
            lines.extend_from_slice(&self.buffers.metadata_lines);
            if !lines.is_empty() {
                self.flush_lines(PersistenceCall::CommitFlush, &mut lines);
                self.pool.flusher.fence_for(PersistenceCall::CommitFence);
            }
            self.buffers.fresh_lines = lines;
            return;
        }
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

    /// In a shared transaction, makes the heap metadata written so far (a new span's
    /// page-table entry) durable at once, before any slot of the span is used: another
    /// transaction may allocate from the span and commit a pointer into it, and its commit
    /// fence, on another thread, does not order this thread's write-back.
    pub(super) fn persist_shared_metadata(&mut self) {
        if !self.pool.shared || self.buffers.metadata_lines.is_empty() {
            return;
        }
        self.flush_metadata();
        self.pool.flusher.fence();
    }

    /// Records that the object at pool offset `offset`, `len` bytes, was allocated by this
    /// transaction: its bytes count as logged (flushed at commit, never logged), and the
    /// lines it shares with other data are flushed at commit. An exclusive transaction
    /// counts only the object's whole lines, so that a store beside the object is logged
    /// as a store into any line is.
    pub(super) fn note_fresh(&mut self, offset: usize, len: usize) {
        self.buffers.fresh_objects.insert(offset, len);
        self.pool.flusher.tell(Event::Unlogged { offset, len });
        if len == 0 {
            return;
        }
        let end = offset + len;
        let first_line = offset / CACHE_LINE;
        let last_line = (end - 1) / CACHE_LINE;
        for line in first_line..=last_line {
            let bits = line_bits(line, offset, end);
            if self.pool.shared || bits == u64::MAX {
                *self.buffers.logged_lines.entry(line).or_insert(0) |= bits;
            }
            self.buffers.fresh_lines.push(line);
        }
    }

    /// Records a store of `len` bytes at `address` that takes no undo entry (see
    /// `PMut::set_unlogged`): its lines are written back with the transaction's, as a fresh
    /// object's are (so it is durable once the transaction commits), and the simulated
    /// domain is told that the bytes change unlogged on purpose. The bytes do not count as
    /// logged: a later store through a logging `PMut` logs them as it would any.
    pub(super) fn note_unlogged_store(&mut self, address: usize, len: usize) {
        if len == 0 {
            return;
        }
        let Some(offset) = self.store_offset(address, len) else {
            return;
        };
        let first_line = offset / CACHE_LINE;
        let last_line = (offset + len - 1) / CACHE_LINE;
        self.keep_member_undo(first_line, last_line);
        self.pool.flusher.tell(Event::Unlogged { offset, len });
        self.buffers.fresh_lines.extend(first_line..=last_line);
    }

    /// In a group's member, copies each of the lines `first..=last` it has not stored to
    /// yet, as they are now: what rolling back the member alone restores.
    fn keep_member_undo(&mut self, first: usize, last: usize) {
        if self.members == 0 {
            return;
        }
        for line in first..=last {
            if self.buffers.member_lines.insert(line, ()).is_none() {
                let mut contents = [0u8; CACHE_LINE];
                // SAFETY: the line lies in the pool's data (checked by `store_offset`),
                // inside the mapping, and is read through a raw pointer before the store
                // that follows; no `&mut` into it is alive while the barrier runs.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        self.mapping().address_of(line * CACHE_LINE),
                        contents.as_mut_ptr(),
                        CACHE_LINE,
                    );
                }
                self.buffers.member_undo.push((line, contents));
            }
        }
    }

    /// Lets a simulated domain check that every changed byte was logged.
    pub(super) fn report_ending(&self) {
        let data = &self.pool.data;
        let logged = &self.buffers.logged_lines;
        self.pool.flusher.tell(Event::TransactionEnding {
            in_data: &|offset| data.contains(offset, CACHE_LINE),
            logged: &|line| logged.get(&line).copied().unwrap_or(0),
        });
    }

    /// Rule 2 of `log.rs`.
    pub(super) fn commit(mut self: Box<Self>) -> Vec<usize> {
        self.report_ending();
        // A group's members counted their commits as they ended.
        if self.members == 0 {
            stats::count_commit();
        }
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
        self.release_locks();
        self.retire()
    }

    /// Ends a group's member that committed (see `group.rs`): nothing is written back or
    /// fenced, and the state stays with the group for its next member, which will log each
    /// line the group has not logged yet and keep a volatile copy of each line it stores
    /// to.
    pub(super) fn commit_member(&mut self) {
        stats::count_commit();
        self.release_locks();
        self.end_member();
    }

    /// Rolls a group's member back alone, from its volatile copies (latest first), except
    /// where its fresh objects lie (see `restore_logged_bytes`): nothing is written back
    /// or fenced, and the group's earlier members and their entries stay. The entries the
    /// member wrote, for lines the group had not logged, hold what those lines held before
    /// the group, as recovery needs them to.
    pub(super) fn roll_back_member(&mut self) {
        self.pool.flusher.tell(Event::Observe);
        self.record_rolled_back_offsets();
        let fresh = self.sorted_fresh_ranges();
        let mapping = self.mapping();
        for (line, contents) in self.buffers.member_undo.iter().rev() {
            let start = line * CACHE_LINE;
            let end = start + CACHE_LINE;
            let overlapping: Vec<(usize, usize)> = fresh
                .iter()
                .filter(|&&(fresh_start, fresh_end)| fresh_start < end && fresh_end > start)
                .copied()
                .collect();
            for (at, byte) in contents.iter().enumerate() {
                let offset = start + at;
                if overlapping.is_empty() {
                    // SAFETY: the line lies in the pool's data, inside the mapping; every
                    // reference user code held into the pool has ended with the member's
                    // closure.
                    unsafe { mapping.write(start, contents) };
                    break;
                }
                if !overlapping
                    .iter()
                    .any(|&(fresh_start, fresh_end)| (fresh_start..fresh_end).contains(&offset))
                {
                    // SAFETY: as above.
                    unsafe { mapping.write(offset, core::slice::from_ref(byte)) };
                }
            }
        }
        stats::count_rollback();
        self.release_locks();
        self.end_member();
    }

    /// Readies the group's state for its next member.
    fn end_member(&mut self) {
        self.members += 1;
        self.doomed = false;
        self.buffers.clear_member();
    }

    /// Whether the group should be made durable now rather than take another member: it
    /// holds `limit` members, or its log has used half its slot.
    pub(super) fn group_is_full(&self, limit: u32) -> bool {
        let slot_half = self.pool.slot_offset + self.pool.slot_len / 2;
        self.members >= limit || self.in_block || self.next_entry > slot_half
    }

    /// Releases the locks the transaction holds: after its commit or rollback is durable
    /// (two-phase locking, `lock.rs`).
    fn release_locks(&mut self) {
        for slot in self.buffers.hidden_until_end.drain(..) {
            slot.reveal();
        }
        for word in self.buffers.held_locks.iter() {
            // SAFETY: the lock word lies in the pool's mapping, which stays mapped while the
            // transaction runs (see `mapping`); it is only accessed atomically.
            crate::lock::release(unsafe { word.as_ref() });
        }
    }

    /// Rule 3 of `log.rs`.
    pub(super) fn roll_back(mut self: Box<Self>) -> Vec<usize> {
        self.report_ending();
        self.record_rolled_back_offsets();
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
        self.release_locks();
        self.retire()
    }

    /// Records, before the logged bytes are restored, the offsets the program may still hold
    /// after the rollback (`rolled_back.rs`): each changed word's value before the
    /// transaction, if it could be an object's offset (a multiple of 8 inside the pool), and
    /// the objects the transaction allocated.
    fn record_rolled_back_offsets(&self) {
        if self.buffers.entries.is_empty()
            && self.buffers.member_undo.is_empty()
            && self.buffers.fresh_objects.is_empty()
        {
            return;
        }
        let mapping = self.mapping();
        let pool_len = mapping.mapped_len() as u64;
        let read = |at: usize| {
            // SAFETY: `at` lies in a logged range or its copy in the log, inside the
            // mapping; words are read through raw pointers, and every reference user code
            // held into the pool has ended with the transaction's closure.
            u64::from_le(unsafe { mapping.address_of(at).cast::<u64>().read_unaligned() })
        };
        let mut offsets: Vec<u64> = self
            .buffers
            .fresh_objects
            .keys()
            .map(|&offset| offset as u64)
            .collect();
        let mut keep = |before: u64, now: u64| {
            if before != 0 && before % 8 == 0 && before < pool_len && before != now {
                offsets.push(before);
            }
        };
        if self.members == 0 {
            for &(offset, len, data) in &self.buffers.entries {
                // The pool's aligned words: a pointer field is one.
                for at in (offset.next_multiple_of(8)..(offset + len).saturating_sub(7)).step_by(8)
                {
                    keep(read(data + (at - offset)), read(at));
                }
            }
        } else {
            for (line, before) in self.member_previous_words() {
                keep(before, read(line));
            }
        }
        // SAFETY: as `mapping`: the pool, whose field this points at, outlives the
        // transaction.
        unsafe { self.pool.rolled_back.as_ref() }.extend(offsets);
    }

    /// Writes back the logged old bytes, latest entry first, except where this
    /// The byte ranges of the objects this transaction allocated, sorted.
    fn sorted_fresh_ranges(&self) -> Vec<(usize, usize)> {
        let mut fresh: Vec<(usize, usize)> = self
            .buffers
            .fresh_objects
            .iter()
            .map(|(&offset, &len)| (offset, offset + len))
            .collect();
        fresh.sort_unstable();
        fresh
    }

    /// transaction's fresh objects lie: an entry logs more than the store (up to whole
    /// lines), and an object allocated into a line after it was logged was free when the
    /// line was, so its logged bytes are another slot's leftovers. Restoring them would
    /// hand a pinned fresh object (which outlives the rollback) bytes it never held.
    pub(super) fn restore_logged_bytes(&self) {
        let fresh = self.sorted_fresh_ranges();
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

    /// In a group's member, each aligned word of the lines it stored to, as the member
    /// found it: (pool offset, value). Words are read from its volatile copies.
    pub(super) fn member_previous_words(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.buffers
            .member_undo
            .iter()
            .flat_map(|(line, contents)| {
                contents
                    .chunks_exact(8)
                    .enumerate()
                    .map(move |(word, bytes)| {
                        let value = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
                        (line * CACHE_LINE + word * 8, value)
                    })
            })
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

/// Where a transaction on `pool` starts writing entries: its first entry's offset, the end
/// of the slot, and the slot's link word.
fn slot_start(pool: &PoolAccess) -> (usize, usize, usize) {
    let slot_offset = pool.slot_offset;
    (
        slot_offset + log::ENTRIES_START,
        slot_offset + pool.slot_len,
        slot_offset + log::SLOT_LINK,
    )
}

/// The bits of the bytes of `[start, end)` that lie in cache line `line` (bit `i` for the
/// line's byte `i`).
fn line_bits(line: usize, start: usize, end: usize) -> u64 {
    let line_start = line * CACHE_LINE;
    let from = start.clamp(line_start, line_start + CACHE_LINE) - line_start;
    let to = end.clamp(line_start, line_start + CACHE_LINE) - line_start;
    if to <= from {
        return 0;
    }
    let ones = to - from;
    let run = if ones == 64 {
        u64::MAX
    } else {
        (1u64 << ones) - 1
    };
    run << from
}

#[cfg(test)]
mod tests {
    use super::line_bits;

    #[test]
    fn line_bits_covers_the_bytes_of_a_range_in_a_line() {
        assert_eq!(line_bits(0, 0, 64), u64::MAX);
        assert_eq!(line_bits(1, 64, 72), 0xff);
        assert_eq!(line_bits(1, 60, 66), 0b11);
        assert_eq!(line_bits(0, 60, 66), 0xf << 60);
        assert_eq!(line_bits(2, 60, 66), 0);
        assert_eq!(line_bits(0, 3, 5), 0b11000);
    }
}
