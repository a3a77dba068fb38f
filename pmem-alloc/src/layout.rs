//! The heap's format: what is on disk, and which writes must be durable when.
//!
//! The heap occupies a pool from a page-aligned `start` offset (in a pool file, right after
//! the undo log) to the pool's end, in 4096-byte pages numbered from `start`. All integers
//! are little-endian. `docs/src/heap.md` is the specification; this module implements it.
//!
//! | pages | what |
//! |---|---|
//! | 0 | the heap header (bytes 0..64), then 63 named-root entries of 64 bytes |
//! | 1..3 | the type table: one record per type ever allocated, back to back |
//! | 3.. | arenas of up to 512 pages: a page-table page, then up to 511 data pages |
//!
//! **Header** (64 bytes): magic `PMEMHEAP` (0..8), version (8..12), page size (12..16),
//! metadata pages (16..20), arena pages (20..24), the root object's type index (24..28),
//! named-root entries (28..32), type-table bytes (32..36), reserved zeros (36..40), the root
//! object's pool offset (40..48), reserved zeros (48..60), CRC-32 of bytes 0..60 (60..64).
//! Written once, when the heap is formatted.
//!
//! **Named-root entry** (64 bytes, one cache line): the name, NUL-padded (0..48; an entry
//! whose first byte is 0 is unused), the type index of the object (48..52), reserved (52..56),
//! the pool offset of the object (56..64). Entries change only inside transactions, through
//! the undo log, like any other data.
//!
//! **Type record**: layout hash (0..8), size (8..16), alignment (16..20), pointer-run count
//! `r` (20..24), name length `n` (24..28), CRC-32 of the record with this field zeroed and
//! the record's index appended (28..32); then `r` runs of 32 bytes (offset, count, stride,
//! pointee layout hash: four u64s); then the name, padded with zeros to a multiple of 8. A
//! record's index is its type index. The table ends at the first record that is all zeros or
//! fails its checksum.
//!
//! **Page-table entry** (8 bytes, the `i`-th of an arena's table page describes the arena's
//! page `i`; entry 0 is the table page itself and always 0): 0 for a page that starts no
//! span, otherwise a *span* of `pages` pages starting here, holding objects of one type:
//! tag 1 (bits 0..8), type index (8..32), page count (32..48), and a 16-bit check of the rest
//! and the page number (48..64). Pages covered by a span but not its first have entry 0.
//!
//! A span holds `objects` slots of `slot` bytes from its first byte, where `slot` is the
//! type's size rounded up to its alignment and the page count is chosen per type to waste
//! little (see `Class`). A type whose slot exceeds four pages gets a span of its own per
//! object. No per-object header exists: the span says where objects start and what they
//! are, which is all the collector needs.
//!
//! **What is not on disk** is which slots hold live objects. The collector recomputes it at
//! every open by tracing from the roots, as go-pmem does; so an allocation writes no
//! allocation bit and issues no fence.
//!
//! **Ordering.** Every metadata write is one aligned 8-byte word or a checksummed record, so
//! a crash leaves it either old or new, or (a record) detectably torn:
//!
//! 1. A new type's record is written, written back and fenced when the type is first
//!    recorded, before anything names its index: one fence per type in the heap's life. So
//!    every span's type is recorded, a crash tears at most the record being appended (the
//!    last), and a span of an unrecorded type, or two records of one type, is damage. A new
//!    span's entry is written when the allocation happens and written back with the object
//!    itself: before the commit fence of the first transaction that commits a logged store
//!    after it (the allocating one, or a later one: a transaction that logs nothing cannot
//!    have linked the object in). An object becomes reachable only through a committed
//!    store, so every reachable object and its span are durable. A crash before may leave
//!    the entry durable: a span with no reachable object, which the next collection frees.
//! 2. The collector writes only when sweeping: it zeroes the entries of spans that hold no
//!    live object, then fences once. A crash in mid-sweep leaves some of those entries in
//!    place, which the next collection sweeps again. Pages are reused only after the fence.
//! 3. Growth makes the new pages part of the pool only after they read as zero, so a new
//!    arena's table page describes no span.

/// The unit of the heap: spans are whole pages.
pub const PAGE: usize = 4096;
pub(crate) const MAGIC: [u8; 8] = *b"PMEMHEAP";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER_LEN: usize = 64;
/// Pages before the first arena: the header page and the type table.
pub(crate) const METADATA_PAGES: usize = 3;
pub(crate) const TYPE_TABLE_START: usize = PAGE;
pub(crate) const TYPE_TABLE_LEN: usize = 2 * PAGE;
pub(crate) const TYPE_RECORD_HEADER: usize = 32;
pub(crate) const POINTER_RUN_LEN: usize = 32;
/// Pages per arena, its table page included.
pub(crate) const ARENA_PAGES: usize = 512;
/// The most pages one span may have: an arena's data pages.
pub const MAX_SPAN_PAGES: usize = ARENA_PAGES - 1;
/// How many named roots a heap holds.
pub const NAMED_ROOTS: usize = 63;
pub(crate) const ROOT_ENTRY_LEN: usize = 64;
/// The longest name of a named root, in bytes.
pub const MAX_ROOT_NAME: usize = 47;
const SPAN_TAG: u64 = 1;

/// The smallest heap: its metadata, one table page and one data page.
pub const MIN_HEAP_LEN: usize = (METADATA_PAGES + 2) * PAGE;

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// Whether heap page `page` is an arena's page-table page.
pub(crate) fn is_table_page(page: usize) -> bool {
    page >= METADATA_PAGES && (page - METADATA_PAGES) % ARENA_PAGES == 0
}

/// Whether the heap's bytes `[relative, relative + len)` (offsets from its start) are all
/// data that transactions may store to, and so log: the named-root entries, or data pages
/// of arenas (a range may span several, but no page-table page). Never the header, the
/// type table or a page table, which only the allocator writes. An empty range (a
/// zero-sized object) counts as the byte it starts at.
#[must_use]
pub fn is_heap_data(relative: usize, len: usize) -> bool {
    let Some(end) = relative.checked_add(len.max(1)) else {
        return false;
    };
    if relative >= HEADER_LEN && end <= PAGE {
        return true;
    }
    let (first_page, last_page) = (relative / PAGE, (end - 1) / PAGE);
    if first_page < METADATA_PAGES {
        return false;
    }
    let next_table_page =
        (first_page - METADATA_PAGES).div_ceil(ARENA_PAGES) * ARENA_PAGES + METADATA_PAGES;
    next_table_page > last_page
}

/// The offset from the heap's start of the page-table entry for heap page `page`.
pub(crate) fn entry_offset(page: usize) -> usize {
    let in_arenas = page - METADATA_PAGES;
    let table_page = METADATA_PAGES + in_arenas / ARENA_PAGES * ARENA_PAGES;
    table_page * PAGE + in_arenas % ARENA_PAGES * 8
}

/// A decoded page-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanEntry {
    pub(crate) type_index: u32,
    pub(crate) pages: usize,
}

fn entry_check(low: u64, page: usize) -> u64 {
    let mixed = (low ^ (page as u64).rotate_left(48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 48) & 0xffff
}

impl SpanEntry {
    pub(crate) fn encode(self, page: usize) -> u64 {
        let low = SPAN_TAG | u64::from(self.type_index) << 8 | (self.pages as u64) << 32;
        low | entry_check(low, page) << 48
    }

    /// The entry `word` found for heap page `page`: `Ok(None)` for no span, `Err` for a
    /// word no writer produced.
    pub(crate) fn decode(word: u64, page: usize) -> Result<Option<Self>, ()> {
        if word == 0 {
            return Ok(None);
        }
        let low = word & 0xffff_ffff_ffff;
        if word & 0xff != SPAN_TAG || word >> 48 != entry_check(low, page) {
            return Err(());
        }
        let pages = ((word >> 32) & 0xffff) as usize;
        if pages == 0 {
            return Err(());
        }
        Ok(Some(Self {
            type_index: ((word >> 8) & 0xff_ffff) as u32,
            pages,
        }))
    }
}

/// The heap header's fields that vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) root_type: u32,
    pub(crate) root_offset: u64,
}

impl Header {
    pub(crate) fn encode(self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..8].copy_from_slice(&MAGIC);
        bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
        bytes[12..16].copy_from_slice(&(PAGE as u32).to_le_bytes());
        bytes[16..20].copy_from_slice(&(METADATA_PAGES as u32).to_le_bytes());
        bytes[20..24].copy_from_slice(&(ARENA_PAGES as u32).to_le_bytes());
        bytes[24..28].copy_from_slice(&self.root_type.to_le_bytes());
        bytes[28..32].copy_from_slice(&(NAMED_ROOTS as u32).to_le_bytes());
        bytes[32..36].copy_from_slice(&(TYPE_TABLE_LEN as u32).to_le_bytes());
        bytes[40..48].copy_from_slice(&self.root_offset.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..60]);
        bytes[60..64].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// The header in `bytes`, or what is wrong with it.
    pub(crate) fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, &'static str> {
        if bytes[0..8] != MAGIC {
            return Err("the heap header has no magic");
        }
        if crc32fast::hash(&bytes[..60]) != u32_at(bytes, 60) {
            return Err("the heap header fails its checksum");
        }
        let header = Self {
            root_type: u32_at(bytes, 24),
            root_offset: u64_at(bytes, 40),
        };
        if bytes != &header.encode() {
            return Err("the heap header describes another heap format");
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_reject_noise() {
        let entry = SpanEntry {
            type_index: 77,
            pages: 3,
        };
        let word = entry.encode(1234);
        assert_eq!(SpanEntry::decode(word, 1234), Ok(Some(entry)));
        assert_eq!(SpanEntry::decode(0, 5), Ok(None));
        assert!(
            SpanEntry::decode(word, 1235).is_err(),
            "an entry moved to another page"
        );
        for bit in 0..64 {
            assert!(
                SpanEntry::decode(word ^ 1 << bit, 1234) != Ok(Some(entry)),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn table_pages_start_every_arena() {
        assert!(!is_table_page(0) && !is_table_page(2));
        assert!(is_table_page(3) && is_table_page(3 + 512));
        assert!(!is_table_page(4));
        assert_eq!(entry_offset(4), 3 * PAGE + 8);
        assert_eq!(entry_offset(3 + 512 + 2), (3 + 512) * PAGE + 16);
    }

    #[test]
    fn heap_data_is_named_roots_and_data_pages() {
        assert!(!is_heap_data(0, 64), "the header");
        assert!(
            is_heap_data(64, 64) && is_heap_data(4032, 64),
            "named roots"
        );
        assert!(!is_heap_data(4032, 65), "named roots into the type table");
        assert!(
            !is_heap_data(PAGE, 8) && !is_heap_data(3 * PAGE - 8, 8),
            "type table"
        );
        assert!(!is_heap_data(3 * PAGE, 8), "the first page table");
        assert!(is_heap_data(4 * PAGE, 3 * PAGE), "data pages");
        assert!(
            is_heap_data((3 + 511) * PAGE, PAGE),
            "an arena's last data page"
        );
        assert!(
            !is_heap_data((3 + 511) * PAGE, PAGE + 1),
            "into the next page table"
        );
        assert!(!is_heap_data((3 + 512) * PAGE, 8), "the second page table");
        assert!(is_heap_data((3 + 513) * PAGE, 8));
        assert!(!is_heap_data(usize::MAX - 4, 8));
        assert!(
            is_heap_data(4 * PAGE, 0) && !is_heap_data(3 * PAGE, 0),
            "empty ranges"
        );
    }

    #[test]
    fn the_header_checks_itself() {
        let header = Header {
            root_type: 0,
            root_offset: 4096,
        };
        let bytes = header.encode();
        assert_eq!(Header::decode(&bytes), Ok(header));
        let mut damaged = bytes;
        damaged[41] ^= 1;
        assert!(Header::decode(&damaged).is_err());
    }
}
