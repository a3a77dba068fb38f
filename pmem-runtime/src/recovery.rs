//! Recovery at open: rolling back the transactions a crash interrupted.
//!
//! Every log slot is scanned for the valid entries of its current generation (see `log.rs`
//! for what makes an entry valid). A slot with valid entries holds a transaction that never
//! committed. Its entries are applied in reverse order, the restored lines are flushed and
//! fenced, and then the slot's generation is advanced, flushed and fenced, which retires
//! the entries.
//!
//! Recovery is idempotent. Until the generation store is durable, the entries stay valid
//! and restore the same bytes again, so a crash during recovery is recovered by the next
//! open. Recovery runs before the pool is handed to the program, so nothing else references
//! the pool while it writes.

use crate::header::LogArea;
use crate::hw::flush::Flusher;
use crate::hw::mapping::Mapping;
use crate::hw::mutation::PersistenceCall;
use crate::log;
use crate::txn::{DataRanges, write_generation};

/// Rolls back the unfinished transaction of every slot; returns how many there were.
pub(crate) fn roll_back_unfinished(
    mapping: &Mapping,
    flusher: &Flusher,
    log_area: LogArea,
    data: DataRanges,
) -> u32 {
    let mut rolled_back = 0;
    for index in 0..log_area.slot_count {
        let slot_offset = log_area.slot_offset(index) as usize;
        // SAFETY: the header check at open guarantees the log area lies inside the mapping;
        // nothing references the pool yet.
        let slot = unsafe {
            core::slice::from_raw_parts(mapping.address_of(slot_offset), log_area.slot_len as usize)
        };
        let generation = log::generation(slot);
        let entries =
            log::valid_entries(slot, generation, |offset, len| data.contains(offset, len));
        if entries.is_empty() {
            continue;
        }
        for entry in entries.iter().rev() {
            let len = entry.data.len();
            // SAFETY: nothing references the pool during recovery.
            unsafe { mapping.copy_within(slot_offset + entry.data.start, entry.pool_offset, len) };
            flusher.flush_for(
                PersistenceCall::RecoveryFlush,
                mapping,
                entry.pool_offset,
                len,
            );
        }
        flusher.fence_for(PersistenceCall::RecoveryFence);
        write_generation(mapping, flusher, slot_offset, generation + 1);
        rolled_back += 1;
    }
    rolled_back
}
