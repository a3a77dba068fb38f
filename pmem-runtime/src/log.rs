//! The undo log: what is on disk, and the ordering rules that make it crash-safe.
//!
//! A pool has `slot_count` log slots of `slot_len` bytes each, right after the root object
//! (the header's identity block records where). A transaction writes its entries into one
//! slot. A slot starts with a [`SlotHeader`] (its generation: the number of transactions
//! it has finished), in a cache line of its own; entries follow from offset
//! [`ENTRIES_START`], back to back, each 8-byte aligned: an [`EntryHeader`], then the
//! logged bytes as they were before the transaction changed them, then padding
//! (unspecified) to a multiple of 8. All integers are little-endian.
//!
//! **Valid entries.** There is no persisted log tail. The entries of the unfinished
//! transaction in a slot are the longest run of entries from offset 64 that carry the
//! slot's current generation, a length that fits the slot, and a correct checksum. Entries
//! of earlier transactions carry an older generation; an entry torn by a crash fails its
//! checksum. Either ends the run.
//!
//! **Extension blocks.** A transaction may log more than its slot holds: when the next
//! entry does not fit, the writer moves on to the slot's first *extension block*, then to
//! that block's next, and so on, attaching a new block at the end of the chain when there
//! is none. A block is a heap object of an internal type ([`block_type`]: [`block_len`]
//! bytes, page-aligned, no pointers), starting with a [`BlockHeader`] (the next block's
//! pool offset, the magic [`BLOCK_MAGIC`]) in a cache line of its own; its entries follow
//! from offset [`ENTRIES_START`], written exactly as in a slot. The slot names its first
//! block in [`SlotHeader::first_block`] (zero in old pools: no chain, so they read the
//! same). A range that does not fit is split into several entries. Blocks stay attached
//! after the transaction, for later ones (PMDK keeps its log extensions the same way);
//! every collection (at open, `Pool::collect`, and inside a transaction) takes every
//! chained block as a root, so a block is never freed while it is named.
//!
//! The run of valid entries continues through the chain: the entries of the unfinished
//! transaction are the run in the slot, then the run in each block in chain order. No
//! "jump" record is needed, because a block belongs to one slot for good and the slot's
//! generation names one transaction: an entry of the current generation in a block can
//! only have been written by the unfinished transaction, after every entry before it in
//! the chain was durable (rule 1), and stale entries (in the slot's tail, or in blocks of
//! older transactions) carry older generations. A block is zeroed when it is attached, so
//! whatever its pages held before cannot read as an entry (an all-zero header fails its
//! checksum).
//!
//! Recovery refuses (`Error::LogCorrupted`, before anything is written) a chain word that
//! names a block outside the heap's data pages, not page-aligned, overlapping another
//! chained block, looping, without the magic, or that is not an allocated object of the
//! block type in the heap; and a valid entry that aims at a block.
//!
//! **What may be logged.** A transaction logs only bytes it may store to, the pool's
//! *data*: the root object's pages (from the root to the log area), the heap's named-root
//! entries (bytes 64..4096 of its first page), and the heap's data pages (every page of an
//! arena but its page-table page, and the page-table pages inside huge objects, which hold
//! the objects' bytes). Never the header, the log area, the heap header, the type table or
//! a page table: the allocator writes those itself, unlogged (`pmem-alloc`'s `layout.rs`).
//! Which table pages lie inside huge objects the page tables say, and they are never
//! logged, so `open` loads the heap before it checks the log. An entry of the current generation that is whole and checksum-valid but
//! aims elsewhere was not written by this library: recovery refuses the pool (a typed
//! error, before anything is written) rather than apply it, since applying it would change
//! the heap's metadata after the heap was checked.
//!
//! **Ordering.** Every rule below is a fence between two groups of stores:
//!
//! 1. *Log before store.* An entry is written, its lines flushed, and a fence issued before
//!    the first store to the bytes it protects: one fence per entry. So no changed byte can
//!    reach persistent memory before its old value has.
//! 2. *Commit.* The lines of every logged range, and of every store the transaction made
//!    without an entry on purpose (see "Stores without an entry" below), are flushed, then
//!    a fence: the transaction's data is durable. Then the slot's generation is incremented (one aligned 8-byte store),
//!    flushed and fenced: this store is the commit point, after which every entry of the
//!    transaction is stale. Two fences. A transaction that logged nothing has no commit
//!    point and issues no fence; the objects it allocated are unreachable from the pool, so
//!    their lines (and the heap metadata describing them) are deferred: written back with
//!    the lines of the next transaction that commits a logged store (see `txn/running.rs`).
//! 3. *Rollback* (abort, panic, or recovery after a crash): the entries are applied in
//!    reverse order, which leaves every byte with the value logged by its *earliest* entry,
//!    i.e. its value before the transaction. The restored lines are flushed and fenced, then
//!    the generation is incremented, flushed and fenced. A crash before that last fence
//!    leaves the entries valid, so recovery simply rolls back again: rollback is idempotent.
//! 4. *Growth.* A new block is allocated (its page-table entry, and the block type's record
//!    the first time, are written and flushed by the heap; a new type record has its own
//!    fence), its header written and its non-zero lines zeroed and flushed, then **one
//!    fence**: block, header and page-table entry are durable before anything names the
//!    block, so a chain word never names bytes the heap does not hold as a block. Then
//!    the link word (the slot's `first_block` or the last block's `next`) is stored and
//!    flushed, and the block's first entry is written and flushed: that entry's own fence
//!    (rule 1) makes the link durable before the store it protects, so nothing relies on
//!    an entry in the block before the link to it is durable. A growth step costs one
//!    fence beyond its entries' (and pool growth's own, if the heap grew the file); moving
//!    on into a block already attached costs none.
//!
//! **Granularity.** An entry logs an exact byte range, and recovery restores exactly those
//! bytes. A store is widened, but only within the bytes its transaction *owns*, and a
//! transaction logs each owned byte at most once: a store into bytes already logged costs
//! no entry and no fence, and a run of new adjacent bytes costs one entry. An exclusive
//! transaction (`Pool::txn`, which borrows the pool mutably) owns the whole pool; a shared
//! transaction (`Pool::shared_txn`) owns the values of the `PMutex`es it holds (`lock.rs`)
//! and its fresh objects. The first time a transaction stores into a line, its entry logs
//! the 40 bytes of the line from the store on (the last 40 if the store is near the line's
//! end; more if the store is larger), on 8-byte boundaries and within what it owns: with
//! its 24-byte header, a 64-byte entry that one write-back makes durable, where a whole
//! line's entry (88 bytes) takes two. A later store into the line outside those bytes logs
//! the rest of the line (of what it owns), so a line costs at most two entries; nearby
//! fields of one object (a list's head and length) share the first. A line that follows
//! one the transaction has logged is logged whole, so that a run of stores through an
//! array or an object costs one entry per line, as a store spanning lines does. A shared
//! transaction's entries so stay inside the values of its locks and its fresh objects. Two
//! running transactions
//! therefore never log the same byte, and rolling one back (or recovering it after a
//! crash, in any order of slots) never restores a byte another one committed, even in a
//! shared line.
//! The data area starts and the log area starts and ends on page boundaries, and heap
//! metadata fills whole pages (the heap header its line), so a line never straddles the
//! data and anything else.
//!
//! A whole line can also hold bytes the entry did not mean: an object the transaction
//! allocates into a line after logging it was free when the line was logged. A rollback
//! in the running process skips the bytes of the transaction's fresh objects (`txn/running.rs`),
//! since a pinned one outlives the rollback; recovery after a crash restores them too, which
//! is harmless, as nothing committed reaches them and no pin survives a restart.
//!
//! **Stores without an entry.** Two kinds of store take no entry, since no rollback has to
//! restore what they overwrite: into an object the transaction allocated (nothing reaches
//! it unless the transaction commits), and, through the `unsafe` `PMut::set_unlogged`,
//! into bytes whose caller promises that nothing depends on them unless the transaction
//! commits: a `PVec`'s spare slots past its length, for elements without pointers
//! (`collections/vec.rs` has the argument). Either may reach persistent memory at any
//! moment, before or after a crash's rollback, which is harmless for the same reason. Their
//! lines are written back with the logged lines (rule 2), so they are durable when the
//! transaction commits; a transaction that logged nothing defers them to the next commit,
//! as it defers its fresh objects.

use core::mem::offset_of;
use core::ops::Range;

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::hw::flush::{CACHE_LINE, Event, Flusher};
use crate::hw::mapping::Mapping;
use crate::hw::mutation::PersistenceCall;

/// The start of a log slot.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct SlotHeader {
    /// How many transactions this slot has finished. Incrementing it is the commit point
    /// (and the end of a rollback): every entry written before then is stale.
    pub generation: U64,
    /// The pool offset of the slot's first extension block ([`BlockHeader`]), or 0 if the
    /// slot has none. Written once, when the block is attached; zero in a new pool.
    pub first_block: U64,
    /// Zero.
    pub reserved: [u8; 48],
}

/// The start of an extension block of a slot's log: a heap object of the runtime's
/// log-block type (the slot length, at most 1 MiB, page-aligned, no pointers), whose
/// entries follow from offset [`ENTRIES_START`] as in a slot.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct BlockHeader {
    /// The pool offset of the next block of the same chain, or 0 if this one is the last.
    pub next: U64,
    /// [`BLOCK_MAGIC`].
    pub magic: U64,
    /// Zero.
    pub reserved: [u8; 48],
}

/// The magic word of an extension block: `"PMEMLOGX"`.
pub const BLOCK_MAGIC: u64 = u64::from_le_bytes(*b"PMEMLOGX");

/// Where a slot names its first block.
pub(crate) const SLOT_LINK: usize = offset_of!(SlotHeader, first_block);
/// Where a block names the next one.
pub(crate) const BLOCK_LINK: usize = offset_of!(BlockHeader, next);

/// The largest extension block: large enough that a growth step (one fence) is rare next
/// to the entries it makes room for, and well within the heap's largest object.
const MAX_BLOCK_LEN: usize = 1 << 20;

/// The length of the extension blocks of a pool whose slots are `slot_len` bytes: a slot's
/// length, up to 1 MiB. Fixed per pool, since the slot length is.
#[must_use]
pub(crate) fn block_len(slot_len: usize) -> usize {
    slot_len.min(MAX_BLOCK_LEN)
}

/// The heap type of the extension blocks of `block_len` bytes: page-aligned, no pointers
/// (the collector keeps blocks because the runtime names every chained block as a root),
/// and a layout hash no `#[derive(Persistent)]` type computes, so no program type shares
/// it and `Pool::get` never hands a block out.
pub(crate) fn block_type(block_len: usize) -> pmem_alloc::TypeInfo {
    pmem_alloc::TypeInfo {
        layout_hash: BLOCK_MAGIC.rotate_left(17) ^ (block_len as u64),
        size: block_len as u64,
        align: pmem_alloc::PAGE as u64,
        name: "pmem::LogBlock".to_owned(),
        pointers: pmem_alloc::PointerMap::new(),
        kind: pmem_alloc::TypeKind::Sized,
    }
}

/// The fixed part of a log entry; `len` logged bytes and their padding follow.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EntryHeader {
    /// The generation of the transaction that wrote it.
    pub generation: U64,
    /// The pool offset of the logged bytes.
    pub offset: U64,
    /// How many bytes are logged: at least 1.
    pub len: U32,
    /// The entry checksum of the fields before it and the logged bytes (see
    /// [`checksum_matches`](Self::checksum_matches)).
    pub checksum: U32,
}

impl EntryHeader {
    /// Whether `logged`, the bytes that follow this header (`len` of them), and the header
    /// pass the entry checksum: a multiply-rotate hash over little-endian 8-byte words (the
    /// 20 bytes before the checksum, zero-extended to 24, then the logged bytes,
    /// zero-extended to a multiple of 8), folded to 32 bits. It is word-wise so that a torn
    /// entry (any mix of old and new words) is caught, and several times faster than CRC-32
    /// on entries this small.
    #[must_use]
    pub fn checksum_matches(&self, logged: &[u8]) -> bool {
        self.computed_checksum(logged) == self.checksum.get()
    }

    fn computed_checksum(&self, logged: &[u8]) -> u32 {
        const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut hash: u64 = 0x243f_6a88_85a3_08d3;
        for part in [&self.as_bytes()[..offset_of!(Self, checksum)], logged] {
            for chunk in part.chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                hash = (hash ^ u64::from_le_bytes(word))
                    .wrapping_mul(MULTIPLIER)
                    .rotate_left(31);
            }
        }
        hash ^= hash >> 32;
        (hash.wrapping_mul(MULTIPLIER) >> 32) as u32
    }
}

/// Where entries start in a slot: right after its header.
pub const ENTRIES_START: usize = size_of::<SlotHeader>();
/// The fixed part of an entry, before the logged bytes.
pub(crate) const ENTRY_HEADER_LEN: usize = size_of::<EntryHeader>();

/// The space an entry logging `len` bytes takes in a slot: where the next entry starts.
#[must_use]
pub fn entry_len(len: usize) -> usize {
    ENTRY_HEADER_LEN + len.next_multiple_of(8)
}

/// The fixed part of an entry that logs `old_bytes`, found at pool offset `offset`.
pub(crate) fn entry_header(
    generation: u64,
    offset: u64,
    old_bytes: &[u8],
) -> [u8; ENTRY_HEADER_LEN] {
    let len =
        u32::try_from(old_bytes.len()).expect("an entry fits in a slot, whose length is a u32");
    let mut header = EntryHeader {
        generation: U64::new(generation),
        offset: U64::new(offset),
        len: U32::new(len),
        checksum: U32::new(0),
    };
    header.checksum = U32::new(header.computed_checksum(old_bytes));
    zerocopy::transmute!(header)
}

/// One valid entry found in a slot or block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Where the logged bytes belong in the pool.
    pub(crate) pool_offset: usize,
    /// Where the logged bytes are in the pool (in the slot or block).
    pub(crate) data: Range<usize>,
}

/// Writes an entry at pool offset `entry` (in a log slot) that logs the current bytes of
/// `mapping[offset .. offset + len]` for `generation`, then writes it back and fences: rule
/// 1, one fence per entry. Returns the pool offset of the logged copy.
pub(crate) fn write_entry(
    mapping: &Mapping,
    flusher: &Flusher,
    entry: usize,
    generation: u64,
    offset: usize,
    len: usize,
) -> usize {
    let data = entry + ENTRY_HEADER_LEN;
    // SAFETY: the destination is the running transaction's own log slot, which nothing
    // references.
    unsafe { mapping.copy_within(offset, data, len) };
    // SAFETY: the entry's data range is inside the running transaction's own log slot,
    // which nothing but the transaction references.
    let old_bytes = unsafe { core::slice::from_raw_parts(mapping.address_of(data), len) };
    let header = entry_header(generation, offset as u64, old_bytes);
    // SAFETY: the log slot is only accessed through raw pointers.
    unsafe { mapping.write(entry, &header) };
    flusher.flush_for(PersistenceCall::EntryFlush, mapping, entry, entry_len(len));
    flusher.fence_for(PersistenceCall::EntryFence);
    data
}

/// Stores a slot's generation word as one aligned 8-byte write (the commit point, or the
/// end of a rollback or recovery), then flushes and fences it.
pub(crate) fn write_generation(
    mapping: &Mapping,
    flusher: &Flusher,
    slot_offset: usize,
    generation: u64,
) {
    // SAFETY: the log area is only accessed through raw pointers.
    unsafe { mapping.store_word(slot_offset, generation.to_le_bytes()) };
    flusher.flush_for(PersistenceCall::GenerationFlush, mapping, slot_offset, 8);
    flusher.fence_for(PersistenceCall::GenerationFence);
}

/// A whole, checksum-valid entry that no transaction could have written: at pool offset
/// `at`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LogDamage {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// Appends to `entries` the valid entries of `space` (the whole bytes of a slot or block,
/// which starts at pool offset `base`) for `generation`, in the order they were written.
/// `loggable` says whether a pool range may be the target of an entry.
///
/// # Errors
///
/// [`LogDamage`] for a valid entry whose target `loggable` refuses.
pub(crate) fn valid_entries(
    space: &[u8],
    base: usize,
    generation: u64,
    loggable: impl Fn(usize, usize) -> bool,
    entries: &mut Vec<Entry>,
) -> Result<(), LogDamage> {
    let mut at = ENTRIES_START;
    while let Some(Ok((header, rest))) = space.get(at..).map(EntryHeader::ref_from_prefix) {
        let len = header.len.get() as usize;
        let fits = len > 0
            && at
                .checked_add(entry_len(len))
                .is_some_and(|end| end <= space.len());
        if header.generation.get() != generation || !fits {
            break;
        }
        if !header.checksum_matches(&rest[..len]) {
            break;
        }
        let target = usize::try_from(header.offset.get()).ok();
        let Some(pool_offset) = target.filter(|&offset| loggable(offset, len)) else {
            return Err(LogDamage {
                at: base + at,
                what: "a valid log entry aims at bytes that no transaction logs",
            });
        };
        let data = base + at + ENTRY_HEADER_LEN..base + at + ENTRY_HEADER_LEN + len;
        at += entry_len(len);
        entries.push(Entry { pool_offset, data });
    }
    Ok(())
}

/// Reads the header of a slot (a whole slot: at least a page, as the header's checks make
/// every slot).
pub(crate) fn slot_header(slot: &[u8]) -> SlotHeader {
    SlotHeader::read_from_prefix(slot)
        .expect("a slot starts with its header")
        .0
}

/// Reads the aligned 8-byte word at pool offset `at` (a link word or a generation).
pub(crate) fn read_word(mapping: &Mapping, at: usize) -> u64 {
    // SAFETY: callers pass the offset of a word in a slot header or a block header, inside
    // the mapping and 8-byte aligned (slots and blocks start on page boundaries); those
    // bytes are only accessed through raw pointers.
    let word = unsafe { mapping.address_of(at).cast::<u64>().read_volatile() };
    u64::from_le(word)
}

/// Prepares the block of `len` bytes at pool offset `block` (just allocated from the heap)
/// to be attached to a chain: its header ([`BlockHeader`], `next` 0) is written and every
/// other line that is not zero is zeroed, so that nothing the pages held before (another
/// object's bytes) can read as an entry; the written lines are flushed, and one fence makes
/// them durable, together with the heap metadata the allocation wrote (flushed by the
/// heap as it wrote it). Rule 4 of the ordering: this fence comes before the link to the
/// block is stored.
pub(crate) fn init_block(mapping: &Mapping, flusher: &Flusher, block: usize, len: usize) {
    let header = BlockHeader {
        next: U64::new(0),
        magic: U64::new(BLOCK_MAGIC),
        reserved: [0; 48],
    };
    flusher.tell(Event::Unlogged { offset: block, len });
    // SAFETY: the block is a heap object nothing else references: the heap just gave it to
    // this transaction's log, and no pointer in the pool reaches it.
    unsafe { mapping.write(block, header.as_bytes()) };
    flusher.flush_for(
        PersistenceCall::LogBlockFlush,
        mapping,
        block,
        ENTRIES_START,
    );
    for line in (block + ENTRIES_START..block + len).step_by(CACHE_LINE) {
        // SAFETY: as above; the line lies inside the block.
        let bytes = unsafe { core::slice::from_raw_parts(mapping.address_of(line), CACHE_LINE) };
        if bytes.iter().any(|&byte| byte != 0) {
            // SAFETY: as above.
            unsafe { mapping.write(line, &[0; CACHE_LINE]) };
            flusher.flush_for(PersistenceCall::LogBlockFlush, mapping, line, CACHE_LINE);
        }
    }
    flusher.fence_for(PersistenceCall::LogBlockFence);
}

/// Stores the link word at pool offset `at` (a slot's `first_block` or a block's `next`)
/// to name `block`, one aligned 8-byte store, and flushes it. No fence: the first entry
/// written into the block fences before anything relies on it (rule 4).
pub(crate) fn write_link(mapping: &Mapping, flusher: &Flusher, at: usize, block: usize) {
    // SAFETY: the link word is in a slot header or block header, accessed only through raw
    // pointers, aligned and inside the mapping.
    unsafe { mapping.store_word(at, (block as u64).to_le_bytes()) };
    flusher.flush_for(PersistenceCall::LogLinkFlush, mapping, at, 8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn slot_with(generation: u64, entries: &[(u64, &[u8])]) -> Vec<u8> {
        let mut slot = vec![0u8; 4096];
        slot[0..8].copy_from_slice(&generation.to_le_bytes());
        let mut at = ENTRIES_START;
        for &(offset, bytes) in entries {
            slot[at..at + ENTRY_HEADER_LEN]
                .copy_from_slice(&entry_header(generation, offset, bytes));
            slot[at + ENTRY_HEADER_LEN..at + ENTRY_HEADER_LEN + bytes.len()].copy_from_slice(bytes);
            at += entry_len(bytes.len());
        }
        slot
    }

    fn entries_of(
        slot: &[u8],
        generation: u64,
        loggable: impl Fn(usize, usize) -> bool,
    ) -> Result<Vec<Entry>, LogDamage> {
        let mut entries = Vec::new();
        valid_entries(slot, 0, generation, loggable, &mut entries).map(|()| entries)
    }

    #[test]
    fn an_all_zero_entry_header_is_not_valid() {
        // A block's lines are zeroed when it is attached (`init_block`), so that a zero
        // header, at any generation, ends the run.
        let zero = EntryHeader::new_zeroed();
        assert!(!zero.checksum_matches(&[]));
    }

    const ANYWHERE: fn(usize, usize) -> bool = |_, _| true;

    #[test]
    fn finds_the_entries_of_the_current_generation() {
        let slot = slot_with(7, &[(4096, &[1, 2, 3]), (8200, &[9; 17])]);
        let entries = entries_of(&slot, 7, ANYWHERE).expect("valid");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].pool_offset, 4096);
        assert_eq!(&slot[entries[0].data.clone()], &[1, 2, 3]);
        assert_eq!(&slot[entries[1].data.clone()], &[9; 17]);
        assert_eq!(
            entries_of(&slot, 8, ANYWHERE),
            Ok(Vec::new()),
            "stale after the generation moves on"
        );
    }

    #[test]
    fn a_torn_entry_ends_the_run() {
        let mut slot = slot_with(3, &[(4096, &[1; 8]), (4160, &[2; 8]), (4224, &[3; 8])]);
        let second = ENTRIES_START + entry_len(8);
        slot[second + ENTRY_HEADER_LEN + 5] ^= 1;
        assert_eq!(entries_of(&slot, 3, ANYWHERE).map(|run| run.len()), Ok(1));
    }

    #[test]
    fn every_byte_of_an_entry_is_checked() {
        let slot = slot_with(3, &[(4096, &[0xab; 8])]);
        for byte in ENTRIES_START..ENTRIES_START + entry_len(8) {
            let mut damaged = slot.clone();
            damaged[byte] ^= 0x40;
            assert_eq!(
                entries_of(&damaged, 3, ANYWHERE),
                Ok(Vec::new()),
                "damage at {byte} unnoticed"
            );
        }
    }

    #[test]
    fn valid_entries_aimed_outside_the_data_are_damage() {
        let slot = slot_with(1, &[(4096, &[1; 8]), (64, &[1; 8])]);
        assert_eq!(
            entries_of(&slot, 1, |offset, _| offset >= 4096),
            Err(LogDamage {
                at: ENTRIES_START + entry_len(8),
                what: "a valid log entry aims at bytes that no transaction logs",
            })
        );
    }

    #[test]
    fn a_torn_entry_aimed_anywhere_just_ends_the_run() {
        let mut slot = slot_with(1, &[(64, &[1; 8])]);
        slot[ENTRIES_START + ENTRY_HEADER_LEN] ^= 1;
        assert_eq!(
            entries_of(&slot, 1, |offset, _| offset >= 4096),
            Ok(Vec::new())
        );
    }

    #[test]
    fn an_empty_slot_has_no_entries() {
        assert_eq!(entries_of(&[0u8; 4096], 0, ANYWHERE), Ok(Vec::new()));
    }
}
