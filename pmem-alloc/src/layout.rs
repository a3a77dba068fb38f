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
//! **Huge spans.** An object larger than an arena's 511 data pages gets a *huge span*: `n`
//! whole arenas (2 to 32,767), from the first arena's first data page to the last arena's
//! end, `512 n − 1` pages. The first arena's table holds its entry (tag 2, see
//! [`SpanEntry`](crate::format::SpanEntry)); the page-table pages of the `n − 1` arenas
//! after it lie inside the object and hold its bytes, not entries. So which table pages are
//! data depends on the heap: [`DataTablePages`] is the heap's list of them, which
//! [`is_heap_data`] consults, and loading skips those pages.
//!
//! **What is not on disk** is which slots hold live objects. The collector recomputes it
//! by tracing from the roots, as go-pmem does at every open; so an allocation writes no
//! allocation bit and issues no fence. Until the first collection after a load, every slot
//! of the spans loaded counts as allocated, and new objects go to free pages: the open
//! need not trace the heap first.
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
//! 4. A huge span is made only of arenas whose pages are all free and whose table pages
//!    are all zero (rule 2 makes a freed arena's table read as zero, rule 3 a new one's).
//!    Its entry is written, written back and **fenced before the allocation returns**
//!    (`FenceFor::HugeSpan`): the object's bytes include table pages, and a store there
//!    that reached the medium before the entry would leave, after a crash, a table page of
//!    garbage with no huge span covering it, which no load accepts. After the fence a
//!    crash leaves at worst a huge span that nothing reaches, which the next collection
//!    frees. One fence per huge object, whose bytes cost far more to write.
//! 5. Freeing a huge span, the collector first zeroes the table pages inside it, writes
//!    them back and **fences** (`FenceFor::HugeTables`), and only then zeroes its entry
//!    (with the other entries of the sweep, fenced by rule 2's fence). A crash between the
//!    two leaves the huge span in place over zeroed bytes of an object nothing reaches
//!    (the next collection frees it again); a crash after the entry's zero is durable
//!    finds every covered table page zero, arenas with no span. Only after both fences are
//!    the pages reused, or the table pages read as tables.

use std::collections::BTreeSet;
use std::sync::RwLock;

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
/// The most pages a span within one arena may have: its data pages. Larger objects get
/// huge spans.
pub const MAX_SPAN_PAGES: usize = ARENA_PAGES - 1;
/// The most arenas one huge span may cover: its entry's 15-bit arena count.
pub(crate) const MAX_HUGE_ARENAS: usize = (1 << 15) - 1;
/// The most pages one object may have (a slice's header included): a huge span of
/// 32,767 arenas (the most its entry counts), 64 GiB less 4 KiB.
pub const MAX_OBJECT_PAGES: usize = MAX_HUGE_ARENAS * ARENA_PAGES - 1;
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

/// The page-table pages that lie inside huge spans and so hold object bytes (`layout.rs`,
/// "Huge spans"), as heap page numbers. The heap keeps it as it makes and frees huge spans;
/// whoever checks stores against [`is_heap_data`] shares it, since threads may allocate
/// huge objects while others store.
#[derive(Debug, Default)]
pub struct DataTablePages {
    pages: RwLock<BTreeSet<usize>>,
}

impl DataTablePages {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeSet<usize>> {
        self.pages
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, pages: impl IntoIterator<Item = usize>) {
        self.write().extend(pages);
    }

    pub(crate) fn remove(&self, pages: impl IntoIterator<Item = usize>) {
        let mut set = self.write();
        for page in pages {
            set.remove(&page);
        }
    }

    /// How many table pages hold data.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no table page holds data: no huge span exists.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every table page among heap pages `first..=last` holds data.
    fn cover(&self, first: usize, last: usize) -> bool {
        let pages = self
            .pages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (first..=last)
            .step_by(ARENA_PAGES)
            .all(|table_page| pages.contains(&table_page))
    }
}

/// The page-table pages of arenas after the first that a huge span from `first_page` of
/// `pages` pages covers.
pub(crate) fn covered_table_pages(first_page: usize, pages: usize) -> impl Iterator<Item = usize> {
    (first_page - 1 + ARENA_PAGES..first_page + pages).step_by(ARENA_PAGES)
}

/// Whether the heap's bytes `[relative, relative + len)` (offsets from its start) are all
/// data that transactions may store to, and so log: the named-root entries, or data pages
/// of arenas (a range may span several), and page-table pages only where `data_tables`,
/// the heap's list, says they lie inside a huge object. Never the header, the type table
/// or a page table, which only the allocator writes. An empty range (a zero-sized object)
/// counts as the byte it starts at.
#[must_use]
pub fn is_heap_data(relative: usize, len: usize, data_tables: &DataTablePages) -> bool {
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
    next_table_page > last_page || data_tables.cover(next_table_page, last_page)
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
    fn a_table_page_is_data_only_inside_a_huge_span() {
        let tables = DataTablePages::default();
        let second_table = (3 + 512) * PAGE;
        assert!(!is_heap_data(second_table, 8, &tables));
        assert!(!is_heap_data(4 * PAGE, 2 * 512 * PAGE, &tables));
        tables.insert(covered_table_pages(4, 3 * 512 - 1));
        assert_eq!(tables.len(), 2, "the second and third arenas' tables");
        assert!(is_heap_data(second_table, 8, &tables));
        assert!(is_heap_data(4 * PAGE, (3 * 512 - 1) * PAGE, &tables));
        assert!(
            !is_heap_data(3 * PAGE, 8, &tables),
            "the first arena's own table"
        );
        assert!(
            !is_heap_data(4 * PAGE, 3 * 512 * PAGE, &tables),
            "into the fourth arena's table"
        );
        tables.remove(covered_table_pages(4, 3 * 512 - 1));
        assert!(tables.is_empty() && !is_heap_data(second_table, 8, &tables));
    }

    #[test]
    fn heap_data_is_named_roots_and_data_pages() {
        let none = DataTablePages::default();
        let is_heap_data = |relative, len| is_heap_data(relative, len, &none);
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
