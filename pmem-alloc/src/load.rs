//! Loading a heap from a region: reading its metadata and checking every record against
//! the others, the page table and the root type before anything uses it.

use std::sync::atomic::AtomicBool;

use crate::class::Class;
use crate::error::HeapError;
use crate::format::{HeapHeader, SpanEntry};
use crate::heap::{Heap, RootObject, Span};
use crate::layout::{
    self, ARENA_PAGES, HEADER_LEN, METADATA_PAGES, PAGE, TYPE_TABLE_LEN, TYPE_TABLE_START,
};
use crate::region::Region;
use crate::types::{TypeInfo, TypeKind};

impl Heap {
    /// Reads the heap at `start`, without writing anything, and checks its metadata against
    /// itself and against `root_type`, the type the caller knows the root object to have.
    /// Which slots are allocated is not on disk: until [`collect`](Heap::collect) has run,
    /// every slot counts as allocated.
    ///
    /// Every record is checked before it is used: a type's alignment is a power of two, its
    /// size a multiple of it, and its pointer runs lie inside its objects; no two records
    /// share a layout hash; the root's record is `root_type` (hash, size, alignment and
    /// pointer map); and every span names a recorded type and has the page count that the
    /// type's size gives. (A record is durable before any span names it, `layout.rs` rule
    /// 1, so a span of a type the table does not hold is damage.) A huge span starts at its
    /// arena's first data page and ends inside the pool, and the rest of its first arena's
    /// table is empty; the table pages of the arenas it covers are its object's bytes, not
    /// read as tables (every other table page is: no span overlaps another).
    ///
    /// # Errors
    ///
    /// [`HeapError::Corrupted`] if the header, the type table or a page table is damaged or
    /// disagrees with itself or with `root_type`.
    pub fn load(
        region: &impl Region,
        start: usize,
        root_type: &TypeInfo,
    ) -> Result<Self, HeapError> {
        Self::load_checking_root(region, start, Some(root_type))
    }

    /// As [`load`](Heap::load), for a caller that does not know the root's type (a pool
    /// tool): the root's record is taken as the heap holds it, which must be of a sized
    /// type. Every other check is made.
    ///
    /// # Errors
    ///
    /// As [`load`](Heap::load).
    pub fn load_as_recorded(region: &impl Region, start: usize) -> Result<Self, HeapError> {
        Self::load_checking_root(region, start, None)
    }

    fn load_checking_root(
        region: &impl Region,
        start: usize,
        root_type: Option<&TypeInfo>,
    ) -> Result<Self, HeapError> {
        let corrupted = |offset: usize, what| HeapError::Corrupted {
            offset: offset as u64,
            what,
        };
        if start % PAGE != 0
            || region
                .len()
                .checked_sub(start)
                .is_none_or(|len| len < layout::MIN_HEAP_LEN)
        {
            return Err(corrupted(start, "the pool is too small to hold its heap"));
        }
        let mut header_bytes = [0u8; HEADER_LEN];
        region.read(start, &mut header_bytes);
        let header = HeapHeader::parse(&header_bytes).map_err(|what| corrupted(start, what))?;
        let root = RootObject {
            offset: header.root_offset.get(),
            size: 0,
        };
        let mut heap = Self::empty(region, start, root);

        let mut table = vec![0u8; TYPE_TABLE_LEN];
        region.read(start + TYPE_TABLE_START, &mut table);
        while let Some((info, len)) =
            TypeInfo::decode_record(&table[heap.type_table_used..], heap.types.len() as u32)
        {
            let record_at = start + TYPE_TABLE_START + heap.type_table_used;
            info.check().map_err(|what| corrupted(record_at, what))?;
            if heap.by_hash.contains_key(&info.layout_hash) {
                return Err(corrupted(
                    record_at,
                    "two type records have the same layout hash",
                ));
            }
            heap.add_type(info);
            heap.type_table_used += len;
        }
        let root_state = heap
            .types
            .get_mut(header.root_type.get() as usize)
            .ok_or_else(|| corrupted(start, "the root's type is not in the type table"))?;
        let root_matches = match root_type {
            Some(root_type) => root_state.info.describes(root_type),
            None => root_state.info.kind == TypeKind::Sized,
        };
        if !root_matches {
            return Err(corrupted(
                start + TYPE_TABLE_START,
                "the root's type record disagrees with the root's type",
            ));
        }
        root_state.verified = AtomicBool::new(true);
        heap.root.size = root_state.info.size;
        heap.root_type = header.root_type.get();

        let mut page = METADATA_PAGES;
        while page < heap.pages {
            if layout::is_table_page(page) {
                page += 1;
                continue;
            }
            let entry_at = start + layout::entry_offset(page);
            let entry = SpanEntry::decode(region.read_word(entry_at), page)
                .map_err(|_| corrupted(entry_at, "a page-table entry is not valid"))?;
            let Some(entry) = entry else {
                page += 1;
                continue;
            };
            let arena_end = page - (page - METADATA_PAGES) % ARENA_PAGES + ARENA_PAGES;
            let huge = entry.huge_arenas().is_some();
            if huge && (page - METADATA_PAGES) % ARENA_PAGES != 1 {
                return Err(corrupted(
                    entry_at,
                    "a huge span does not start at its arena's first data page",
                ));
            }
            let span_end = if huge { page + entry.pages } else { arena_end };
            if page + entry.pages > span_end.min(heap.pages) {
                return Err(corrupted(
                    entry_at,
                    "a span runs past its arena or the pool",
                ));
            }
            let Some(state) = heap.types.get(entry.type_index as usize) else {
                return Err(corrupted(
                    entry_at,
                    "a span names a type the type table does not hold",
                ));
            };
            let class = match state.info.kind {
                TypeKind::Sized => state
                    .class
                    .filter(|class| class.pages == entry.pages && entry.slot_class == 0),
                TypeKind::Slice => {
                    Class::of_slice_span(entry.slot_class, entry.pages, state.info.align)
                }
            };
            let Some(class) = class else {
                return Err(corrupted(
                    entry_at,
                    "a span's page count or slot class disagrees with its type's record",
                ));
            };
            heap.insert_span(Span::loaded(page, entry.type_index, class));
            // A huge span's later arenas have no table: theirs hold the object's bytes.
            for covered in page + 1..(page + entry.pages).min(arena_end) {
                let covered_at = start + layout::entry_offset(covered);
                if region.read_word(covered_at) != 0 {
                    return Err(corrupted(covered_at, "two spans overlap"));
                }
            }
            if huge {
                heap.data_tables
                    .insert(layout::covered_table_pages(page, entry.pages));
            }
            page += entry.pages;
        }
        Ok(heap)
    }
}
