//! What the heap needs from the memory it manages.

use core::fmt;

/// The memory a [`Heap`](crate::Heap) manages: a pool's bytes, addressed by offset from the
/// pool's start.
///
/// The heap knows nothing of files or transactions. It reads through this trait, and writes
/// only its own metadata (page-table entries, type records, its header) through
/// [`write_metadata`](Region::write_metadata). The runtime implements it on a mapped pool;
/// the heap's own tests implement it on a vector.
pub trait Region {
    /// The region's length in bytes.
    fn len(&self) -> usize;

    /// Whether the region is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `buffer.len()` bytes from `offset` into `buffer`.
    ///
    /// # Panics
    ///
    /// If the range is not inside the region.
    fn read(&self, offset: usize, buffer: &mut [u8]);

    /// The little-endian 8-byte word at `offset`.
    fn read_word(&self, offset: usize) -> u64 {
        let mut word = [0u8; 8];
        self.read(offset, &mut word);
        u64::from_le_bytes(word)
    }

    /// Stores `bytes` at `offset` and starts writing them back: the next
    /// [`fence`](Region::fence) (the heap's own, or the commit's of the transaction it runs
    /// in) makes them durable. Aligned 8-byte words must be stored whole, so that a crash
    /// leaves each either old or new.
    fn write_metadata(&mut self, offset: usize, bytes: &[u8]);

    /// Makes every write started so far durable; `reason` names the rule that needs it.
    fn fence(&mut self, reason: FenceFor);

    /// Grows the region to at least `min_len` bytes, in place: existing bytes keep their
    /// offsets, and new bytes read as zero.
    ///
    /// # Errors
    ///
    /// [`GrowError`] if the region cannot grow that far.
    fn grow(&mut self, min_len: usize) -> Result<(), GrowError>;
}

/// Why the heap asks its [`Region`] for a fence (see `layout.rs`, the ordering rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceFor {
    /// A new type's record, durable before any span names its type (rule 1).
    TypeRecord,
    /// A collection's sweep, durable before any freed page is reused (rule 2).
    Sweep,
    /// A huge span's entry, durable before any byte of the object, some of which lie on
    /// page-table pages (rule 4).
    HugeSpan,
    /// The zeroed table pages inside huge spans being freed, durable before their entries
    /// are zeroed (rule 5).
    HugeTables,
}

/// Why a [`Region`] could not grow.
#[derive(Debug)]
pub struct GrowError {
    /// The largest the region may be.
    pub max_len: usize,
    /// The I/O error that stopped it, if it was not the maximum.
    pub io: Option<std::io::Error>,
}

impl fmt::Display for GrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.io {
            Some(error) => write!(f, "the pool could not grow: {error}"),
            None => write!(
                f,
                "the pool is at its maximum size of {} bytes",
                self.max_len
            ),
        }
    }
}
