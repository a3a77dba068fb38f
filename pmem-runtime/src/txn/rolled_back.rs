//! The pool offsets that transactions rolled back in this open of a pool had changed words
//! to point away from, or had allocated: where a collection carried out of such a
//! transaction may still point.
//!
//! A rollback restores the pool's bytes, but not the values its body moved out of the pool
//! into the program's variables: a `PVec` taken out (`mem::take`) by a transaction that is
//! then rolled back is a second copy of the one the rollback puts back, naming the same
//! buffer, and one allocated by it names a buffer the rollback freed, which the heap may
//! hand out again. A collection that writes its buffer without an undo entry (a `PVec`'s
//! spare slots, `src/collections/vec.rs`) relies on being the buffer's only collection, so
//! it asks here first, and logs if the buffer is one of these. The set is volatile: a crash
//! ends every program variable with the process, and with them every such copy.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};

/// The offsets, and whether there are any (so that a pool that never rolled back a change
/// takes no lock to find out).
#[derive(Debug, Default)]
pub(crate) struct RolledBack {
    any: AtomicBool,
    offsets: Mutex<HashSet<u64>>,
}

impl RolledBack {
    /// Records `offsets`.
    pub(crate) fn extend(&self, offsets: impl IntoIterator<Item = u64>) {
        let mut recorded = self.offsets.lock().unwrap_or_else(PoisonError::into_inner);
        recorded.extend(offsets);
        if !recorded.is_empty() {
            self.any.store(true, Ordering::Release);
        }
    }

    /// Whether `offset` was recorded.
    pub(crate) fn contains(&self, offset: u64) -> bool {
        self.any.load(Ordering::Acquire)
            && self
                .offsets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_found_once_recorded() {
        let rolled_back = RolledBack::default();
        assert!(!rolled_back.contains(4096));
        rolled_back.extend([]);
        assert!(!rolled_back.contains(4096));
        rolled_back.extend([4096, 8192]);
        assert!(rolled_back.contains(4096) && rolled_back.contains(8192));
        assert!(!rolled_back.contains(4104));
    }
}
