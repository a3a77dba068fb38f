//! How full the heap is, per type.

use std::collections::HashMap;

use crate::heap::Heap;
use crate::layout::{self, METADATA_PAGES, PAGE};

/// A snapshot of the heap's occupancy: what `Pool::heap_stats` returns (and, for a heap
/// managed directly, [`Heap::stats`]).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct HeapStats {
    /// Bytes from the heap's start to the pool's end.
    pub heap_bytes: u64,
    /// Bytes of the header, type table and page tables (not those inside huge objects,
    /// which hold the objects' bytes).
    pub metadata_bytes: u64,
    /// Bytes of pages that no span uses.
    pub free_page_bytes: u64,
    /// Objects allocated (live, or garbage not yet collected). Until the first collection
    /// after a load (`collections` is 0), every slot of the spans loaded counts, free or
    /// not: only a collection tells them apart.
    pub allocated_objects: u64,
    /// Their slots' bytes.
    pub allocated_bytes: u64,
    /// How many of those objects are huge, each in whole arenas of its own (larger than
    /// an arena's 511 data pages); their slots' bytes are part of `allocated_bytes`.
    pub huge_objects: u64,
    /// Bytes of free slots inside spans: free, but only for objects of the span's type.
    pub free_slot_bytes: u64,
    /// Collections since the heap was loaded (or formatted): the one at open if it ran,
    /// those run by allocation, and explicit ones.
    pub collections: u64,
    /// Dangling pointers the last collection found: non-null pointers that lead to no
    /// object of their type, which the collector does not follow.
    pub dangling_pointers: u64,
    /// Per recorded type that has spans.
    pub types: Vec<TypeStats>,
}

impl HeapStats {
    /// The share of free bytes that sit in free slots of partly used spans, usable only by
    /// their span's type: 0 when all free space is whole pages.
    #[must_use]
    pub fn fragmentation(&self) -> f64 {
        let free = self.free_slot_bytes + self.free_page_bytes;
        if free == 0 {
            0.0
        } else {
            self.free_slot_bytes as f64 / free as f64
        }
    }
}

/// One type's share of the heap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypeStats {
    /// The type's name.
    pub name: String,
    /// `size_of` the type.
    pub object_size: u64,
    /// The slot each object takes.
    pub slot_size: u64,
    /// Spans of this type.
    pub spans: u64,
    /// Objects allocated.
    pub objects: u64,
    /// Free slots in its spans.
    pub free_slots: u64,
}

impl Heap {
    /// How the heap is used now.
    #[must_use]
    pub fn stats(&self) -> HeapStats {
        self.stats_with_reserved(&[])
    }

    /// As [`stats`](Heap::stats), counting the allocated slots at the pool offsets in
    /// `reserved` as free: slots taken for later allocations (a thread's cache), which hold
    /// no object yet. Offsets where no allocated slot starts are ignored.
    #[must_use]
    pub fn stats_with_reserved(&self, reserved: &[u64]) -> HeapStats {
        let mut reserved_in_span: HashMap<usize, u64> = HashMap::new();
        for &offset in reserved {
            if let Some((id, slot)) = self.locate(offset) {
                if self.spans[id]
                    .as_ref()
                    .is_some_and(|span| span.is_allocated(slot))
                {
                    *reserved_in_span.entry(id).or_default() += 1;
                }
            }
        }
        let arenas = (self.pages.saturating_sub(METADATA_PAGES)).div_ceil(layout::ARENA_PAGES);
        let mut stats = HeapStats {
            heap_bytes: (self.pages * PAGE) as u64,
            metadata_bytes: ((METADATA_PAGES + arenas - self.data_tables.len()) * PAGE) as u64,
            collections: self.collections,
            dangling_pointers: self.last_dangling_pointers,
            ..HeapStats::default()
        };
        let mut per_type: Vec<TypeStats> = self
            .types
            .iter()
            .map(|state| TypeStats {
                name: state.info.name.clone(),
                object_size: state.info.size,
                slot_size: state.class.map_or(0, |class| class.slot as u64),
                ..TypeStats::default()
            })
            .collect();
        let mut used_pages = 0;
        for (id, span) in self.spans.iter().enumerate() {
            let Some(span) = span else { continue };
            used_pages += span.pages();
            let live = span.live() as u64 - reserved_in_span.get(&id).copied().unwrap_or(0);
            let (objects, slot) = (span.class().objects as u64, span.class().slot as u64);
            let entry = &mut per_type[span.type_index as usize];
            entry.spans += 1;
            entry.objects += live;
            entry.free_slots += objects - live;
            stats.allocated_objects += live;
            if span.class().is_huge() {
                stats.huge_objects += live;
            }
            stats.allocated_bytes += live * slot;
            stats.free_slot_bytes += (objects - live) * slot;
        }
        stats.free_page_bytes =
            stats.heap_bytes - stats.metadata_bytes - (used_pages * PAGE) as u64;
        stats.types = per_type
            .into_iter()
            .filter(|entry| entry.spans > 0)
            .collect();
        stats
    }
}
