//! Forging pool bytes as a hostile file would: fields changed and their checksums fixed, so
//! that only the library's consistency checks stand between the bytes and the heap.
//!
//! Every offset and checksum here mirrors the specification (`docs/src/file-format.md`,
//! `docs/src/heap.md`, and the log format in `docs/src/transactions.md`), not the library's
//! private code, so a test that forges with it also checks that the two agree.

/// Reads the little-endian `u64` at `at`.
#[must_use]
pub fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// Reads the little-endian `u32` at `at`.
#[must_use]
pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

/// Writes `value` little-endian at `at`.
pub fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Where a pool file's parts are, read from its identity block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolLayout {
    /// The first log slot.
    pub log_offset: usize,
    /// How many log slots there are.
    pub slot_count: usize,
    /// The length of each.
    pub slot_len: usize,
    /// Where the heap starts: right after the log area.
    pub heap_start: usize,
}

impl PoolLayout {
    /// The layout of the pool file `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        let log_offset = u64_at(bytes, 80) as usize;
        let slot_count = u32_at(bytes, 88) as usize;
        let slot_len = u32_at(bytes, 92) as usize;
        Self {
            log_offset,
            slot_count,
            slot_len,
            heap_start: log_offset + slot_count * slot_len,
        }
    }

    /// The offset of type record `index` in the heap's type table.
    #[must_use]
    pub fn type_record(&self, bytes: &[u8], index: usize) -> usize {
        let mut at = self.heap_start + 4096;
        for _ in 0..index {
            at += type_record_len(bytes, at);
        }
        at
    }

    /// The offset of the page-table entry of heap page `page`.
    #[must_use]
    pub fn page_table_entry(&self, page: usize) -> usize {
        let in_arenas = page - 3;
        let table_page = 3 + in_arenas / 512 * 512;
        self.heap_start + table_page * 4096 + in_arenas % 512 * 8
    }
}

/// The length of the type record at `at`.
#[must_use]
pub fn type_record_len(bytes: &[u8], at: usize) -> usize {
    let runs = u32_at(bytes, at + 20) as usize;
    let name_len = u32_at(bytes, at + 24) as usize;
    32 + runs * 32 + name_len.next_multiple_of(8)
}

/// Recomputes the CRC-32 of type record `index`, at `at`.
pub fn fix_type_record(bytes: &mut [u8], at: usize, index: u32) {
    let len = type_record_len(bytes, at);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[at..at + 28]);
    hasher.update(&[0; 4]);
    hasher.update(&bytes[at + 32..at + len]);
    hasher.update(&index.to_le_bytes());
    bytes[at + 28..at + 32].copy_from_slice(&hasher.finalize().to_le_bytes());
}

/// Recomputes the CRC-32 of the state record at `at` (256 or 320).
pub fn fix_state_record(bytes: &mut [u8], at: usize) {
    let checksum = crc32fast::hash(&bytes[at..at + 56]);
    bytes[at + 56..at + 60].copy_from_slice(&checksum.to_le_bytes());
}

/// The state record with the highest sequence number: the current one.
#[must_use]
pub fn current_state_record(bytes: &[u8]) -> usize {
    if u64_at(bytes, 256) > u64_at(bytes, 320) {
        256
    } else {
        320
    }
}

/// A page-table entry for a span of `pages` pages of type `type_index` starting at heap
/// page `page`, with its check.
#[must_use]
pub fn page_table_word(page: usize, type_index: u32, pages: u64) -> u64 {
    let low = 1 | u64::from(type_index) << 8 | pages << 32;
    let mixed = (low ^ (page as u64).rotate_left(48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    low | ((mixed >> 48) & 0xffff) << 48
}

/// The log entry checksum: a multiply-rotate hash over little-endian 8-byte words of the
/// entry's first 20 bytes (zero-extended to 24) and then its logged bytes (zero-extended to
/// a multiple of 8), folded to 32 bits.
#[must_use]
pub fn log_entry_checksum(fixed: &[u8], logged: &[u8]) -> u32 {
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut hash: u64 = 0x243f_6a88_85a3_08d3;
    for part in [fixed, logged] {
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

/// Writes a valid log entry of the slot's current generation at `entry` (an offset in the
/// file, inside a slot starting at `slot`), saying that `logged` was the old content of
/// pool offset `target`. Returns the offset after it.
pub fn write_log_entry(
    bytes: &mut [u8],
    slot: usize,
    entry: usize,
    target: u64,
    logged: &[u8],
) -> usize {
    let generation = u64_at(bytes, slot);
    put_u64(bytes, entry, generation);
    put_u64(bytes, entry + 8, target);
    let len = u32::try_from(logged.len()).expect("a short entry");
    bytes[entry + 16..entry + 20].copy_from_slice(&len.to_le_bytes());
    bytes[entry + 24..entry + 24 + logged.len()].copy_from_slice(logged);
    let checksum = log_entry_checksum(&bytes[entry..entry + 20], logged);
    bytes[entry + 20..entry + 24].copy_from_slice(&checksum.to_le_bytes());
    entry + 24 + logged.len().next_multiple_of(8)
}
