//! Recovery at open: rolling back the transactions a crash interrupted.
//!
//! Every log slot is scanned for the valid entries of its current generation (see `log.rs`
//! for what makes an entry valid). A slot with valid entries holds a transaction that never
//! committed. Its entries are applied in reverse order, the restored lines are flushed and
//! fenced, and then the slot's generation is advanced, flushed and fenced, which retires
//! the entries.
//!
//! **Nothing is written before everything is checked.** Scanning ([`scan`]) only reads, and
//! refuses a log no writer could have left: a generation past [`MAX_GENERATION`], or an
//! entry that is whole and checksum-valid but aims at bytes no transaction logs (the
//! header, the log area, heap metadata; `log.rs` lists what may be logged). Before
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

/// Why a log cannot be recovered: where (a pool offset) and what.
#[derive(Debug)]
pub(crate) struct Damage {
    pub(crate) offset: u64,
    pub(crate) what: &'static str,
}

/// Finds the unfinished transaction of every slot, reading and writing nothing else.
pub(crate) fn scan(
    mapping: &Mapping,
    log_area: LogArea,
    data: DataRanges,
) -> Result<Vec<Unfinished>, Damage> {
    let mut unfinished = Vec::new();
    for index in 0..log_area.slot_count {
        let slot_offset = log_area.slot_offset(index) as usize;
        // SAFETY: the header check at open guarantees the log area lies inside the mapping;
        // nothing references the pool yet.
        let slot = unsafe {
            core::slice::from_raw_parts(mapping.address_of(slot_offset), log_area.slot_len as usize)
        };
        let generation = log::generation(slot);
        if generation > MAX_GENERATION {
            return Err(Damage {
                offset: slot_offset as u64,
                what: "a log slot's generation is larger than any pool reaches",
            });
        }
        let entries =
            log::valid_entries(slot, generation, |offset, len| data.contains(offset, len))
                .map_err(|LogDamage { at, what }| Damage {
                    offset: (slot_offset + at) as u64,
                    what,
                })?;
        if !entries.is_empty() {
            unfinished.push(Unfinished {
                slot_offset,
                generation,
                entries,
            });
        }
    }
    Ok(unfinished)
}

/// Writes the old bytes of `slot`'s entries back into `mapping`, latest entry first, so that
/// each byte ends with the value its earliest entry logged; `restored` is told of each.
pub(crate) fn restore(mapping: &Mapping, slot: &Unfinished, mut restored: impl FnMut(&Entry)) {
    for entry in slot.entries.iter().rev() {
        // SAFETY: `scan` checked that the entry lies in its slot and its target in the
        // pool's data, both inside the mapping; nothing references the pool during recovery.
        unsafe {
            mapping.copy_within(
                slot.slot_offset + entry.data.start,
                entry.pool_offset,
                entry.data.len(),
            );
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
