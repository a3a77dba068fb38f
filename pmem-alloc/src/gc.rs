//! The collector: precise mark-sweep from the roots.
//!
//! **Roots** are the pool's root object, the named roots, and whatever the caller adds
//! (the runtime adds its pinned objects). **Marking** follows every pointer that the
//! persisted pointer maps name, with an explicit stack, so a long list cannot overflow the
//! thread's stack. Each pointer is checked before it is followed: it must be null, point
//! into the root object, or point at the first byte of an allocated slot of a span whose
//! type is the pointer's pointee type. Anything else is a [`HeapError::CorruptPointer`],
//! found before anything is written: the collector never follows a pointer it has not
//! checked, so a damaged pool gives an error, not undefined behaviour.
//!
//! **Sweeping** rebuilds the allocation bitmaps from the marks. A span with no live object
//! is released: its page-table entry is zeroed, and one fence at the end makes those writes
//! durable before any of the pages is reused (see `layout.rs`, rule 2).
//!
//! Collection needs the pool to itself: the runtime calls it at open, after undo recovery,
//! and from `Pool::collect`, which borrows the pool mutably, so no reference into the heap
//! can be alive.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::error::HeapError;
use crate::heap::Heap;
use crate::layout;
use crate::region::Region;

/// What one collection found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Collection {
    /// Objects reachable from the roots.
    pub live_objects: u64,
    /// Their bytes (slot sizes).
    pub live_bytes: u64,
    /// Objects allocated before the collection and not reachable. After a load the heap
    /// does not know which slots were allocated, so the first collection counts none.
    pub freed_objects: u64,
    /// Their bytes.
    pub freed_bytes: u64,
    /// Pages of spans released because nothing in them was live.
    pub released_pages: u64,
    /// Objects kept alive by the caller's extra roots (pins).
    pub pinned: u64,
    /// How long it took.
    pub duration: Duration,
}

impl Heap {
    /// Collects garbage: marks everything reachable from the roots and `extra_roots`
    /// (pool offsets of objects, such as pinned ones), and frees the rest.
    ///
    /// `previous` lets a collection run inside a transaction: it maps the pool offset of
    /// each 8-byte word the transaction changed to the value the word had before. Wherever
    /// the collector reads a pointer (or a named root's type) it also follows the previous
    /// value, so everything reachable before the transaction stays allocated and a
    /// rollback cannot bring back a pointer to a freed object. Outside a transaction it is
    /// empty.
    ///
    /// # Errors
    ///
    /// [`HeapError::CorruptPointer`] if a traced pointer or an extra root points at no
    /// object of its type, and [`HeapError::Corrupted`] if a named root names an unknown
    /// type. Nothing has been written then.
    pub fn collect(
        &mut self,
        region: &mut impl Region,
        extra_roots: &[u64],
        previous: &HashMap<u64, u64>,
    ) -> Result<Collection, HeapError> {
        let began = Instant::now();
        let mut marker = Marker {
            heap: self,
            region: &*region,
            previous,
            marks: Vec::new(),
            stack: Vec::new(),
        };
        marker.marks = marker
            .heap
            .spans
            .iter()
            .map(|span| {
                span.as_ref()
                    .map_or_else(Vec::new, |span| vec![0; span.allocated.len()])
            })
            .collect();
        let root = marker.heap.root;
        marker.trace(root.offset, marker.heap.root_type)?;
        for slot in 0..crate::layout::NAMED_ROOTS {
            marker.mark_named_root(slot)?;
        }
        let mut pinned = 0;
        for &offset in extra_roots {
            if marker.mark(0, offset, None)? {
                pinned += 1;
            }
        }
        marker.drain()?;
        let marks = marker.marks;
        let mut report = self.sweep(region, marks);
        report.pinned = pinned;
        report.duration = began.elapsed();
        Ok(report)
    }

    fn sweep(&mut self, region: &mut impl Region, marks: Vec<Vec<u64>>) -> Collection {
        let mut report = Collection::default();
        let mut released = false;
        for (id, marks) in marks.into_iter().enumerate() {
            let Some(span) = self.spans[id].as_ref() else {
                continue;
            };
            let slot = self
                .types
                .get(span.type_index as usize)
                .and_then(|state| state.class)
                .map_or(0, |class| class.slot as u64);
            let live = marks
                .iter()
                .map(|word| word.count_ones() as usize)
                .sum::<usize>();
            if self.allocation_known {
                let freed = (span.live - live) as u64;
                report.freed_objects += freed;
                report.freed_bytes += freed * slot;
            }
            report.live_objects += live as u64;
            report.live_bytes += live as u64 * slot;
            if live == 0 {
                let first_page = span.first_page;
                region.write_metadata(
                    self.start + layout::entry_offset(first_page),
                    &0u64.to_le_bytes(),
                );
                let span = self.remove_span(id);
                report.released_pages += span.pages as u64;
                released = true;
            } else {
                self.spans[id]
                    .as_mut()
                    .expect("checked above")
                    .set_allocation(marks, live);
            }
        }
        if released {
            region.fence();
        }
        for state in &mut self.types {
            state.partial.clear();
        }
        for (id, span) in self.spans.iter().enumerate() {
            let Some(span) = span else { continue };
            let objects = self.types[span.type_index as usize]
                .class
                .map_or(1, |class| class.objects);
            if span.live < objects {
                self.types[span.type_index as usize].partial.push(id);
            }
        }
        self.allocation_known = true;
        self.allocated_since_collection = 0;
        self.live_after_collection = report.live_bytes;
        self.collections += 1;
        report
    }
}

struct Marker<'h, R> {
    heap: &'h Heap,
    region: &'h R,
    previous: &'h HashMap<u64, u64>,
    marks: Vec<Vec<u64>>,
    /// Marked objects whose pointers are not yet traced: (pool offset, type index).
    stack: Vec<(u64, u32)>,
}

impl<R: Region> Marker<'_, R> {
    /// Marks the object `value` points at (read from pool offset `at`; 0 for a root held
    /// elsewhere), checking it against `pointee`, the expected layout hash, if given.
    /// Returns whether it was newly marked.
    fn mark(&mut self, at: u64, value: u64, pointee: Option<u64>) -> Result<bool, HeapError> {
        let corrupt = |reason| HeapError::CorruptPointer { at, value, reason };
        if value == 0 {
            return Ok(false);
        }
        let root = self.heap.root;
        if value >= root.offset && value < root.offset + root.size.max(1) {
            let root_hash = self.heap.types[self.heap.root_type as usize]
                .info
                .layout_hash;
            if value == root.offset && pointee.is_some_and(|hash| hash != root_hash) {
                return Err(corrupt(
                    "points at the root object, which is of another type",
                ));
            }
            return Ok(false);
        }
        let Some((id, slot)) = self.heap.locate(value) else {
            return Err(corrupt("is not the start of an object in the heap"));
        };
        let span = self.heap.spans[id].as_ref().expect("located");
        let info = &self.heap.types[span.type_index as usize].info;
        if pointee.is_some_and(|hash| hash != info.layout_hash) {
            return Err(corrupt("points at an object of another type"));
        }
        if self.heap.allocation_known && !span.is_allocated(slot) {
            return Err(corrupt("points at a free slot"));
        }
        let word = &mut self.marks[id][slot / 64];
        let bit = 1 << (slot % 64);
        if *word & bit != 0 {
            return Ok(false);
        }
        *word |= bit;
        if !info.pointers.is_empty() {
            self.stack.push((value, span.type_index));
        }
        Ok(true)
    }

    /// Marks what named-root entry `slot` points at, now and before the transaction.
    fn mark_named_root(&mut self, slot: usize) -> Result<(), HeapError> {
        let entry = self.heap.named_root_offset(slot) as u64;
        let (type_at, pointer_at) = (entry + 48, entry + 56);
        let current = (
            self.region.read_word(entry as usize),
            self.region.read_word(type_at as usize),
            self.region.read_word(pointer_at as usize),
        );
        let before = (
            self.previous.get(&entry).copied().unwrap_or(current.0),
            self.previous.get(&type_at).copied().unwrap_or(current.1),
            self.previous.get(&pointer_at).copied().unwrap_or(current.2),
        );
        for (name_word, type_word, pointer) in [current, before] {
            if name_word & 0xff == 0 || pointer == 0 {
                continue;
            }
            let type_index = (type_word & 0xffff_ffff) as u32;
            let info = self
                .heap
                .type_info(type_index)
                .ok_or(HeapError::Corrupted {
                    offset: entry,
                    what: "a named root names a type that is not in the type table",
                })?;
            let pointee = info.layout_hash;
            self.mark(pointer_at, pointer, Some(pointee))?;
        }
        Ok(())
    }

    fn trace(&mut self, object: u64, type_index: u32) -> Result<(), HeapError> {
        let heap = self.heap;
        let info = &heap.types[type_index as usize].info;
        for run in info.pointers.runs() {
            for index in 0..run.count {
                let at = object + run.offset + index * run.stride;
                let in_region = usize::try_from(at)
                    .ok()
                    .and_then(|at| at.checked_add(8))
                    .is_some_and(|end| end <= self.region.len());
                if !in_region {
                    return Err(HeapError::Corrupted {
                        offset: object,
                        what: "a pointer map reaches past the pool's end",
                    });
                }
                let value = self.region.read_word(at as usize);
                self.mark(at, value, Some(run.pointee))?;
                if let Some(&before) = self.previous.get(&at) {
                    self.mark(at, before, Some(run.pointee))?;
                }
            }
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), HeapError> {
        while let Some((object, type_index)) = self.stack.pop() {
            self.trace(object, type_index)?;
        }
        Ok(())
    }
}
