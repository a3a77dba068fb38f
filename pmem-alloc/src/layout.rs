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
//! The records themselves (the heap header, the named-root entries, the type records and
//! the page-table entries) are the structs of [`format`](crate::format), one field per
//! row of the specification's tables. Entries change only inside transactions, through the
//! undo log, like any other data; everything else on this page only the allocator writes.
//! The type table ends at the first record that is all zeros or fails its checksum. Pages
//! covered by a span but not its first have page-table entry 0.
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

use crate::format::{HeapHeader, NamedRootEntry};

/// The unit of the heap: spans are whole pages.
pub const PAGE: usize = 4096;
/// Where the named-root entries start: right after the heap header.
pub(crate) const HEADER_LEN: usize = size_of::<HeapHeader>();
/// Pages before the first arena: the header page and the type table.
pub(crate) const METADATA_PAGES: usize = 3;
pub(crate) const TYPE_TABLE_START: usize = PAGE;
pub(crate) const TYPE_TABLE_LEN: usize = 2 * PAGE;
/// Pages per arena, its table page included.
pub(crate) const ARENA_PAGES: usize = 512;
/// The most pages one span may have: an arena's data pages.
pub const MAX_SPAN_PAGES: usize = ARENA_PAGES - 1;
/// How many named roots a heap holds.
pub const NAMED_ROOTS: usize = 63;
pub(crate) const ROOT_ENTRY_LEN: usize = size_of::<NamedRootEntry>();
/// The longest name of a named root, in bytes.
pub const MAX_ROOT_NAME: usize = 47;

/// The smallest heap: its metadata, one table page and one data page.
pub const MIN_HEAP_LEN: usize = (METADATA_PAGES + 2) * PAGE;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
