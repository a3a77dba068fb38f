//! Recovery at open: rolling back the transactions a crash interrupted.
//!
//! Every log slot is scanned for the valid entries of its current generation, in the slot
//! and then in each extension block of its chain (see `log.rs` for what makes an entry
//! valid, and "Extension blocks" for the chain). A slot with valid entries holds a transaction that never
//! committed. Its entries are applied in reverse order, the restored lines are flushed and
//! fenced, and then the slot's generation is advanced, flushed and fenced, which retires
//! the entries.
//!
//! **Nothing is written before everything is checked.** Scanning ([`scan`]) only reads, and
//! refuses a log no writer could have left: a generation past [`MAX_GENERATION`], an
//! entry that is whole and checksum-valid but aims at bytes no transaction logs (the
//! header, the log area, heap metadata, a log block; `log.rs` lists what may be logged; a
//! page-table page is data only inside a huge object, which the heap, loaded from the file
//! before the scan, says),
//! or a chain word naming bytes outside the heap's data pages, a misaligned, overlapping or
//! looping block, or one without the block magic. Once the heap is loaded, `open` checks
//! that every chained block is an object of the log-block type, and marks the blocks as
//! roots. Before
//! recovery writes, `open` checks the heap *as recovery will leave it*: it applies the
//! entries to a private, copy-on-write mapping of the file ([`restore`] without flushes),
//! loads and marks the heap there, and only if all of that passes rolls back the real
//! mapping ([`roll_back`]). So a pool that open refuses is left byte for byte as it was,
//! dirty or clean.
//!
//! Recovery is idempotent. Until the generation store is durable, the entries stay valid
//! and restore the same bytes again, so a crash during recovery is recovered by the next
//! open. Recovery runs before the pool is handed to the program, so nothing else references
//! the pool while it writes.

use crate::data::DataRanges;
use crate::header::LogArea;
use crate::hw::flush::Flusher;
use crate::hw::mapping::Mapping;
use crate::hw::mutation::PersistenceCall;
use zerocopy::FromBytes;

use crate::log::{self, Entry, LogDamage};

/// The largest generation a slot may hold at open: 2^62 transactions are more than any pool
/// runs (at 10^8 a second, 1,400 years), so a larger one is damage, and one below leaves
/// room for every transaction of the session without the counter wrapping (a wrapped
/// generation would bring stale entries back to life).
pub(crate) const MAX_GENERATION: u64 = 1 << 62;

/// The unfinished transaction of one log slot.
pub(crate) struct Unfinished {
    slot_offset: usize,
    generation: u64,
    entries: Vec<Entry>,
}

/// What [`scan`] found: the unfinished transactions, and every block chained from a slot
/// (the heap must hold each as a log block, which `open` checks once the heap is loaded,
/// and the collection keeps them).
pub(crate) struct Scan {
    pub(crate) unfinished: Vec<Unfinished>,
    pub(crate) blocks: Vec<u64>,
}

/// Why a log cannot be recovered: where (a pool offset) and what.
#[derive(Debug)]
pub(crate) struct Damage {
    pub(crate) offset: u64,
    pub(crate) what: &'static str,
}

/// Finds the unfinished transaction of every slot, following each slot's chain of
/// extension blocks, reading and writing nothing else.
pub(crate) fn scan(
    mapping: &Mapping,
    log_area: LogArea,
    data: &DataRanges,
) -> Result<Scan, Damage> {
    let block_len = log::block_len(log_area.slot_len as usize);
    let loggable = |offset, len| data.contains(offset, len);
    let mut unfinished = Vec::new();
    let mut chained = Chained::default();
    for index in 0..log_area.slot_count {
        let slot_offset = log_area.slot_offset(index) as usize;
        // SAFETY: the header check at open guarantees the log area lies inside the mapping;
        // nothing references the pool yet.
        let slot = unsafe {
            core::slice::from_raw_parts(mapping.address_of(slot_offset), log_area.slot_len as usize)
        };
        let header = log::slot_header(slot);
        let generation = header.generation.get();
        if generation > MAX_GENERATION {
            return Err(Damage {
                offset: slot_offset as u64,
                what: "a log slot's generation is larger than any pool reaches",
            });
        }
        let damage = |LogDamage { at, what }| Damage {
            offset: at as u64,
            what,
        };
        let mut entries = Vec::new();
        log::valid_entries(slot, slot_offset, generation, loggable, &mut entries)
            .map_err(damage)?;
        let mut link_at = slot_offset + log::SLOT_LINK;
        let mut link = header.first_block.get();
        let chain_start = chained.blocks.len();
        while link != 0 {
            let block = chained.check(link, link_at, chain_start, block_len, data)?;
            // SAFETY: `check` found the block inside the pool's data, which is mapped.
            let bytes =
                unsafe { core::slice::from_raw_parts(mapping.address_of(block), block_len) };
            let (block_header, _) =
                log::BlockHeader::read_from_prefix(bytes).expect("a block is at least a page");
            if block_header.magic.get() != log::BLOCK_MAGIC {
                return Err(Damage {
                    offset: link_at as u64,
                    what: "a log chain names a block that does not start with the log block magic",
                });
            }
            // Entries of the current generation in a block were written by this slot's
            // unfinished transaction after every entry before them in the chain (`log.rs`,
            // "Extension blocks"); stale ones carry an older generation.
            log::valid_entries(bytes, block, generation, loggable, &mut entries).map_err(damage)?;
            link_at = block + log::BLOCK_LINK;
            link = block_header.next.get();
        }
        if !entries.is_empty() {
            unfinished.push(Unfinished {
                slot_offset,
                generation,
                entries,
            });
        }
    }
    // A rollback must not change a chain that was checked: no transaction stores into a
    // block, so no valid entry aims at one.
    for entry in unfinished.iter().flat_map(|slot| &slot.entries) {
        if chained.overlapping(entry.pool_offset, entry.data.len(), block_len) {
            return Err(Damage {
                offset: (entry.data.start - log::ENTRY_HEADER_LEN) as u64,
                what: "a valid log entry aims at a log extension block",
            });
        }
    }
    Ok(Scan {
        unfinished,
        blocks: chained.blocks.iter().map(|&block| block as u64).collect(),
    })
}

/// The blocks of the chains scanned so far, in chain order, and by offset.
#[derive(Default)]
struct Chained {
    blocks: Vec<usize>,
    sorted: std::collections::BTreeSet<usize>,
}

impl Chained {
    /// Checks the block that the link word at `link_at` names (`link`), in the chain whose
    /// blocks start at index `chain_start`, and records it: page-aligned, inside the heap's
    /// data, and overlapping no block seen before (which would make the chain loop if it
    /// is one of its own).
    fn check(
        &mut self,
        link: u64,
        link_at: usize,
        chain_start: usize,
        block_len: usize,
        data: &DataRanges,
    ) -> Result<usize, Damage> {
        let damage = |what| Damage {
            offset: link_at as u64,
            what,
        };
        let block = usize::try_from(link).unwrap_or(usize::MAX);
        if block % pmem_alloc::PAGE != 0 {
            return Err(damage("a log chain names a block that is not page-aligned"));
        }
        if block < data.heap_start || !data.contains(block, block_len) {
            return Err(damage(
                "a log chain names a block outside the heap's data pages",
            ));
        }
        if self.blocks[chain_start..].contains(&block) {
            return Err(damage("a log chain loops"));
        }
        if self.overlapping(block, block_len, block_len) {
            return Err(damage(
                "a log chain names a block that overlaps another chained block",
            ));
        }
        self.blocks.push(block);
        self.sorted.insert(block);
        Ok(block)
    }

    /// Whether `[offset, offset + len)` overlaps a recorded block of `block_len` bytes.
    fn overlapping(&self, offset: usize, len: usize, block_len: usize) -> bool {
        let end = offset.saturating_add(len);
        self.sorted
            .range(..end)
            .next_back()
            .is_some_and(|&start| start + block_len > offset)
    }
}

/// Writes the old bytes of `slot`'s entries back into `mapping`, latest entry first, so that
/// each byte ends with the value its earliest entry logged; `restored` is told of each.
pub(crate) fn restore(mapping: &Mapping, slot: &Unfinished, mut restored: impl FnMut(&Entry)) {
    for entry in slot.entries.iter().rev() {
        // SAFETY: `scan` checked that the entry lies in its slot or block and its target in
        // the pool's data, both inside the mapping; nothing references the pool during
        // recovery.
        unsafe {
            mapping.copy_within(entry.data.start, entry.pool_offset, entry.data.len());
        }
        restored(entry);
    }
}

/// Rolls back every unfinished transaction `scan` found in `mapping`, durably; returns how
/// many there were.
pub(crate) fn roll_back(mapping: &Mapping, flusher: &Flusher, unfinished: &[Unfinished]) -> u32 {
    for slot in unfinished {
        restore(mapping, slot, |entry| {
            flusher.flush_for(
                PersistenceCall::RecoveryFlush,
                mapping,
                entry.pool_offset,
                entry.data.len(),
            );
        });
        flusher.fence_for(PersistenceCall::RecoveryFence);
        log::write_generation(mapping, flusher, slot.slot_offset, slot.generation + 1);
    }
    u32::try_from(unfinished.len()).expect("a pool has at most u32::MAX log slots")
}
