//! Reading and forging pool bytes as a hostile file would: fields changed and their
//! checksums fixed, so that only the library's consistency checks stand between the bytes
//! and the heap.
//!
//! Every offset and checksum here mirrors the specification (`docs/src/file-format.md`,
//! `docs/src/heap.md`, and the undo-log entry format of `pmem-runtime/src/log.rs`), not the
//! library's private code, so a test that forges with it also checks that the two agree.
//!
//! The fix-ups are applied to arbitrary mutants by the fuzz test (`tests/tests/fuzz.rs`): a
//! record or entry whose forged length runs past its bounds is left as it is, with its old
//! checksum, instead of making the fix-up panic.

/// A pool file is a sequence of pages of this size, and so is its heap.
pub const PAGE: usize = 4096;
/// How many bytes of the identity block its CRC-32 covers; the CRC follows them.
pub const IDENTITY_CHECKED: usize = 248;
/// Where the identity block keeps the log area's offset (a `u64`), its slot count and its
/// slot length (`u32`s).
pub const LOG_OFFSET_AT: usize = 80;
/// See [`LOG_OFFSET_AT`].
pub const SLOT_COUNT_AT: usize = 88;
/// See [`LOG_OFFSET_AT`].
pub const SLOT_LEN_AT: usize = 92;
/// The two state records.
pub const STATE_SLOTS: [usize; 2] = [256, 320];
/// How many bytes of a state record its CRC-32 covers; the CRC follows them.
pub const STATE_CHECKED: usize = 56;
/// The fixed part of a log entry, before the logged bytes: generation, target, length and
/// checksum.
pub const LOG_ENTRY_HEADER: usize = 24;
/// The type table's offset in the heap (heap pages 1 and 2).
pub const TYPE_TABLE: usize = PAGE;
const TYPE_TABLE_LEN: usize = 2 * PAGE;
/// The heap page of the first arena's page-table page.
pub const FIRST_TABLE_PAGE: usize = 3;
/// The pages of an arena: its page-table page, then its data pages.
pub const ARENA_PAGES: usize = 512;

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
pub fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
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
        let log_offset = u64_at(bytes, LOG_OFFSET_AT) as usize;
        let slot_count = u32_at(bytes, SLOT_COUNT_AT) as usize;
        let slot_len = u32_at(bytes, SLOT_LEN_AT) as usize;
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
        let mut at = self.heap_start + TYPE_TABLE;
        for _ in 0..index {
            at += type_record_len(bytes, at);
        }
        at
    }

    /// Recomputes the checksum of type record `index`, at `at`, if its length fits in the
    /// type table.
    pub fn fix_type_record(&self, bytes: &mut [u8], at: usize, index: u32) {
        let table_end = self.heap_start + TYPE_TABLE + TYPE_TABLE_LEN;
        if at.saturating_add(type_record_len(bytes, at)) <= table_end {
            let checksum = type_record_checksum(bytes, at, index);
            put_u32(bytes, at + 28, checksum);
        }
    }

    /// The offset of the page-table entry of heap page `page`.
    #[must_use]
    pub fn page_table_entry(&self, page: usize) -> usize {
        let in_arenas = page - FIRST_TABLE_PAGE;
        let table_page = FIRST_TABLE_PAGE + in_arenas / ARENA_PAGES * ARENA_PAGES;
        self.heap_start + table_page * PAGE + in_arenas % ARENA_PAGES * 8
    }
}

/// The CRC-32 of the identity block.
#[must_use]
pub fn identity_checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(&bytes[..IDENTITY_CHECKED])
}

/// Recomputes the CRC-32 of the identity block.
pub fn fix_identity(bytes: &mut [u8]) {
    put_u32(bytes, IDENTITY_CHECKED, identity_checksum(bytes));
}

/// The CRC-32 of the state record at `at` (one of [`STATE_SLOTS`]).
#[must_use]
pub fn state_record_checksum(bytes: &[u8], at: usize) -> u32 {
    crc32fast::hash(&bytes[at..at + STATE_CHECKED])
}

/// Recomputes the CRC-32 of the state record at `at` (one of [`STATE_SLOTS`]).
pub fn fix_state_record(bytes: &mut [u8], at: usize) {
    put_u32(bytes, at + STATE_CHECKED, state_record_checksum(bytes, at));
}

/// The state record with the highest sequence number: the current one.
#[must_use]
pub fn current_state_record(bytes: &[u8]) -> usize {
    let [first, second] = STATE_SLOTS;
    if u64_at(bytes, first) > u64_at(bytes, second) {
        first
    } else {
        second
    }
}

/// The room an entry logging `len` bytes takes in a log slot.
#[must_use]
pub fn log_entry_room(len: usize) -> usize {
    LOG_ENTRY_HEADER + len.next_multiple_of(8)
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

/// Recomputes the checksum of the log entry at `at`, if its length fits in the file.
pub fn fix_log_entry(bytes: &mut [u8], at: usize) {
    let len = u32_at(bytes, at + 16) as usize;
    let Some(end) = (at + LOG_ENTRY_HEADER).checked_add(len) else {
        return;
    };
    if end <= bytes.len() {
        let checksum = log_entry_checksum(&bytes[at..at + 20], &bytes[at + LOG_ENTRY_HEADER..end]);
        put_u32(bytes, at + 20, checksum);
    }
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
    put_u32(bytes, entry + 16, len);
    bytes[entry + LOG_ENTRY_HEADER..entry + LOG_ENTRY_HEADER + logged.len()]
        .copy_from_slice(logged);
    fix_log_entry(bytes, entry);
    entry + log_entry_room(logged.len())
}

/// The length of the type record at `at`, as its header says: saturated rather than
/// overflowing, so that a forged count or name length gives a length past the table.
#[must_use]
pub fn type_record_len(bytes: &[u8], at: usize) -> usize {
    let runs = u32_at(bytes, at + 20) as usize;
    let name_len = u32_at(bytes, at + 24) as usize;
    32usize
        .saturating_add(runs.saturating_mul(32))
        .saturating_add(name_len.next_multiple_of(8))
}

/// The checksum of type record `index`, at `at`: the CRC-32 of the record with its checksum
/// field zeroed, then of the index.
#[must_use]
pub fn type_record_checksum(bytes: &[u8], at: usize, index: u32) -> u32 {
    let len = type_record_len(bytes, at);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[at..at + 28]);
    hasher.update(&[0; 4]);
    hasher.update(&bytes[at + 32..at + len]);
    hasher.update(&index.to_le_bytes());
    hasher.finalize()
}

/// A page-table entry for a span of `pages` pages of type `type_index` starting at heap
/// page `page`, with its check. The type index and page count are cut to their fields'
/// widths (24 and 16 bits), so that a forged one cannot spill into the check.
#[must_use]
pub fn page_table_word(page: usize, type_index: u64, pages: u64) -> u64 {
    let low = 1 | (type_index & 0xff_ffff) << 8 | (pages & 0xffff) << 32;
    let mixed = (low ^ (page as u64).rotate_left(48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    low | ((mixed >> 48) & 0xffff) << 48
}

/// A page-table entry for a huge span of `arenas` whole arenas of type `type_index`
/// starting at heap page `page` (an arena's first data page), with its check; `slice` sets
/// bit 47. The type index and arena count are cut to their fields' widths (24 and 15 bits).
#[must_use]
pub fn huge_page_table_word(page: usize, type_index: u64, arenas: u64, slice: bool) -> u64 {
    let low = 2 | (type_index & 0xff_ffff) << 8 | (arenas & 0x7fff) << 32 | u64::from(slice) << 47;
    let mixed = (low ^ (page as u64).rotate_left(48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    low | ((mixed >> 48) & 0xffff) << 48
}
