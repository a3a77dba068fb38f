//! The collector: precise mark-sweep from the roots.
//!
//! **Roots** are the pool's root object, the named roots, and whatever the caller adds
//! (the runtime adds its pinned objects). **Marking** follows every pointer that the
//! persisted pointer maps name, with an explicit stack, so a long list cannot overflow the
//! thread's stack. Each pointer is checked before it is followed: it must be null, point
//! into the root object, or point at the first byte of an allocated slot of a span whose
//! type is the pointer's pointee type.
//!
//! **A pointer that fails the check is dangling**, not a sign of a damaged heap: safe code
//! can store any offset in a `PPtr` (`PPtr::from_offset`, a pointer from another pool, one
//! kept across a collection that freed its object), and reading through one is always
//! checked (`Pool::get`). So the collector does not follow it, counts it in
//! [`Collection::dangling_pointers`] and remembers the first one, and goes on: one bad
//! pointer cannot make a pool unopenable. A pointer that hits the start of an allocated
//! object of another type is counted too, but the object is kept and traced as what it is:
//! the pointer map that named the pointer may be what is wrong, and keeping an object never
//! harms. Damaged *metadata* (type records, page tables) is refused when the heap is
//! loaded, before any collection runs, so the maps the collector follows are known to stay
//! inside their objects, and every span's type is recorded (a type record is durable before
//! any span names it, `layout.rs` rule 1, so a span of an unrecorded type is damage).
//!
//! **Marking writes nothing** ([`Heap::mark`]): the runtime marks a pool *as recovery will
//! leave it* before recovery writes a byte, so that a pool it must refuse is left as it was.
//! **Sweeping** ([`Heap::sweep`]) rebuilds the allocation bitmaps from the marks. A span with
//! no live object is released: its page-table entry is zeroed, and one fence at the end
//! makes those writes durable before any of the pages is reused (see `layout.rs`, rule 2).
//! A huge span's covered table pages, which held the object's bytes, are zeroed and fenced
//! first, before any entry (rule 5): one more fence per sweep that frees huge objects, and
//! none for the others.
//!
//! Collection needs the pool to itself: the runtime calls it from an exclusive
//! transaction's allocation ([`Heap::collection_due`]), from `Pool::collect`, which borrows
//! the pool mutably, so no reference into the heap can be alive, and, if asked, at open,
//! after undo recovery. Until the first collection after a load, every slot of a loaded
//! span counts as allocated, so a pointer at one is followed, and a slot nothing reaches
//! is freed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::class::slice_header_len;
use crate::error::HeapError;
use crate::heap::Heap;
use crate::layout;
use crate::region::{FenceFor, Region};
use crate::types::TypeKind;

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
    /// Non-null pointers that lead to no object of their type (see the module
    /// documentation): not followed.
    pub dangling_pointers: u64,
    /// The first dangling pointer found, if any.
    pub first_dangling: Option<DanglingPointer>,
    /// How long it took.
    pub duration: Duration,
}

/// A persistent pointer that points at no object of its type, found while marking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DanglingPointer {
    /// The pool offset of the pointer (0 for a caller's extra root).
    pub at: u64,
    /// Its value.
    pub value: u64,
    /// Why it leads nowhere.
    pub reason: &'static str,
}

impl core::fmt::Display for DanglingPointer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "the persistent pointer at pool offset {:#x} holds {:#x}, which {}",
            self.at, self.value, self.reason
        )
    }
}

/// The marks of one collection, from [`Heap::mark`], to be passed to [`Heap::sweep`].
#[derive(Debug)]
pub struct Marks {
    /// Per span id, one bit per slot: reachable.
    spans: Vec<Vec<u64>>,
    pinned: u64,
    dangling_pointers: u64,
    /// The first [`MAX_LISTED_DANGLING`] dangling pointers found.
    dangling: Vec<DanglingPointer>,
    began: Instant,
}

/// How many dangling pointers a collection lists ([`Heap::last_dangling`]); all are counted.
pub const MAX_LISTED_DANGLING: usize = 100;

impl Marks {
    /// How many dangling pointers marking found.
    #[must_use]
    pub fn dangling_pointers(&self) -> u64 {
        self.dangling_pointers
    }

    /// The first [`MAX_LISTED_DANGLING`] of them.
    #[must_use]
    pub fn dangling(&self) -> &[DanglingPointer] {
        &self.dangling
    }
}

impl Heap {
    /// Collects garbage: marks everything reachable from the roots and `extra_roots`
    /// (pool offsets of objects, such as pinned ones), and frees the rest: [`mark`] then
    /// [`sweep`].
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
    /// As [`mark`]; nothing has been written then.
    ///
    /// [`mark`]: Heap::mark
    /// [`sweep`]: Heap::sweep
    pub fn collect(
        &mut self,
        region: &mut impl Region,
        extra_roots: &[u64],
        previous: &HashMap<u64, u64>,
    ) -> Result<Collection, HeapError> {
        let marks = self.mark(&*region, extra_roots, previous)?;
        Ok(self.sweep(region, marks))
    }

    /// Marks everything reachable from the roots and `extra_roots` (`previous` as in
    /// [`collect`](Heap::collect)), reading `region` and writing nothing. Dangling pointers
    /// are counted, not followed.
    ///
    /// # Errors
    ///
    /// [`HeapError::Corrupted`] if a pointer map reaches past the region's end, which a
    /// heap that [`load`](Heap::load) accepted never does.
    pub fn mark(
        &self,
        region: &impl Region,
        extra_roots: &[u64],
        previous: &HashMap<u64, u64>,
    ) -> Result<Marks, HeapError> {
        let began = Instant::now();
        let mut marker = Marker {
            heap: self,
            region,
            previous,
            marks: self
                .spans
                .iter()
                .map(|span| {
                    span.as_ref()
                        .map_or_else(Vec::new, |span| vec![0; span.bitmap_words()])
                })
                .collect(),
            stack: Vec::new(),
            dangling_pointers: 0,
            dangling: Vec::new(),
        };
        marker.trace(self.root.offset, self.root_type)?;
        for slot in 0..crate::layout::NAMED_ROOTS {
            marker.mark_named_root(slot);
        }
        let mut pinned = 0;
        for &offset in extra_roots {
            if marker.mark(0, offset, None) {
                pinned += 1;
            }
        }
        marker.drain()?;
        Ok(Marks {
            spans: marker.marks,
            pinned,
            dangling_pointers: marker.dangling_pointers,
            dangling: marker.dangling,
            began,
        })
    }

    /// Frees every object `marks` does not hold, and releases the spans left empty.
    ///
    /// # Panics
    ///
    /// If `marks` were not made by [`mark`](Heap::mark) on this heap since its last
    /// allocation or collection (a span is missing or has another number of slots).
    pub fn sweep(&mut self, region: &mut impl Region, marks: Marks) -> Collection {
        assert_eq!(
            marks.spans.len(),
            self.spans.len(),
            "marks from another heap, or from before an allocation"
        );
        let mut report = Collection {
            pinned: marks.pinned,
            dangling_pointers: marks.dangling_pointers,
            first_dangling: marks.dangling.first().copied(),
            ..Collection::default()
        };
        self.clear_freed_huge_tables(region, &marks.spans);
        let mut released = false;
        // What survives is reachable, and no transaction is writing it any more.
        for (id, span_marks) in marks.spans.into_iter().enumerate() {
            let Some(span) = self.spans[id].as_ref() else {
                continue;
            };
            span.clear_slot_bits();
            assert_eq!(
                span_marks.len(),
                span.bitmap_words(),
                "marks from another heap, or from before an allocation"
            );
            let slot = span.class().slot as u64;
            let live = span_marks
                .iter()
                .map(|word| word.count_ones() as usize)
                .sum::<usize>();
            if self.allocation_known {
                let freed = span.live().saturating_sub(live) as u64;
                report.freed_objects += freed;
                report.freed_bytes += freed * slot;
            }
            report.live_objects += live as u64;
            report.live_bytes += live as u64 * slot;
            if live == 0 {
                let first_page = span.first_page();
                region.write_metadata(
                    self.start + layout::entry_offset(first_page),
                    &0u64.to_le_bytes(),
                );
                let span = self.remove_span(id);
                report.released_pages += span.pages() as u64;
                released = true;
            } else {
                self.spans[id]
                    .as_mut()
                    .expect("checked above")
                    .set_allocation(&span_marks, live);
            }
        }
        if released {
            region.fence(FenceFor::Sweep);
        }
        for state in &mut self.types {
            state.partial.clear();
            state.slice_partial.clear();
        }
        for id in 0..self.spans.len() {
            let Some(span) = &self.spans[id] else {
                continue;
            };
            if span.live() == span.class().objects {
                continue;
            }
            let (type_index, slot) = (span.type_index, span.class().slot);
            match self.types[type_index as usize].info.kind {
                TypeKind::Sized => self.types[type_index as usize].partial.push(id),
                TypeKind::Slice => self.note_partial_slice_span(type_index, slot, id),
            }
        }
        self.allocation_known = true;
        self.allocated_since_collection = 0;
        self.live_after_collection = report.live_bytes;
        self.collections += 1;
        self.last_dangling_pointers = report.dangling_pointers;
        self.last_dangling = marks.dangling;
        report.duration = marks.began.elapsed();
        report
    }
}

impl Heap {
    /// Zeroes the covered table pages of the huge spans in which `marks` hold no live
    /// object, writes them back and fences, before the sweep zeroes their entries
    /// (`layout.rs`, rule 5): so an entry's zero is never durable over a table page that
    /// still holds the object's bytes. Lines that read as zero already are left alone, and
    /// no fence is issued if nothing was written.
    fn clear_freed_huge_tables(&self, region: &mut impl Region, marks: &[Vec<u64>]) {
        const LINE: usize = 64;
        let mut line = [0u8; LINE];
        let mut cleared = false;
        for (span, span_marks) in self.spans.iter().zip(marks) {
            let Some(span) = span else { continue };
            if !span.class().is_huge() || span_marks.iter().any(|&word| word != 0) {
                continue;
            }
            for table_page in layout::covered_table_pages(span.first_page(), span.pages()) {
                let page_at = self.start + table_page * layout::PAGE;
                for at in (page_at..page_at + layout::PAGE).step_by(LINE) {
                    region.read(at, &mut line);
                    if line.iter().any(|&byte| byte != 0) {
                        region.write_metadata(at, &[0; LINE]);
                        cleared = true;
                    }
                }
            }
        }
        if cleared {
            region.fence(FenceFor::HugeTables);
        }
    }
}

/// Why a pointer at the root object is dangling: the root is of another type.
pub(crate) const MISTYPED_ROOT: &str = "points at the root object, which is of another type";
/// Why a pointer at an object of another type is dangling.
pub(crate) const MISTYPED_OBJECT: &str = "points at an object of another type";

/// Where a persistent pointer leads, as the collector judges it ([`Heap::resolve`]).
pub(crate) enum Resolved {
    /// Null.
    Null,
    /// Into the root object, which is always live: not followed.
    IntoRoot,
    /// At the start of the root object, but the pointer's pointee type is another.
    MistypedRoot,
    /// At the start of an allocated object, in span `id`, slot `slot`; `mistyped` if the
    /// object is not of the pointer's pointee type.
    Object {
        id: usize,
        slot: usize,
        mistyped: bool,
    },
    /// Nowhere: why.
    Dangling(&'static str),
}

impl Heap {
    /// Where the pointer `value` leads, for a pointer to objects of layout hash `pointee`
    /// (`None` for a root held elsewhere, of any type).
    pub(crate) fn resolve(&self, value: u64, pointee: Option<u64>) -> Resolved {
        if value == 0 {
            return Resolved::Null;
        }
        let root = self.root;
        let root_end = root.offset.saturating_add(root.size.max(1));
        if value >= root.offset && value < root_end {
            let root_hash = self.types[self.root_type as usize].info.layout_hash;
            if value == root.offset && pointee.is_some_and(|hash| hash != root_hash) {
                return Resolved::MistypedRoot;
            }
            return Resolved::IntoRoot;
        }
        let Some((id, slot)) = self.locate(value) else {
            return Resolved::Dangling("is not the start of an object in the heap");
        };
        let span = self.spans[id].as_ref().expect("located");
        // A span loaded from the file and not swept yet counts every slot as allocated;
        // one made since knows its free slots, even before the first collection.
        if !span.is_allocated(slot) {
            return Resolved::Dangling("points at a free slot");
        }
        let info = &self.types[span.type_index as usize].info;
        Resolved::Object {
            id,
            slot,
            mistyped: pointee.is_some_and(|hash| hash != info.layout_hash),
        }
    }

    /// Calls `found(at, value, pointee)` for every pointer of the object of type
    /// `type_index` at pool offset `object`, as its record's pointer map names them: one
    /// value's, or each element's of a slice, whose length (read from the object) must fit
    /// its slot. `at` is the pointer's pool offset, `value` what it holds, `pointee` the
    /// layout hash of what it must point at.
    ///
    /// # Errors
    ///
    /// [`HeapError::Corrupted`] if a slice's length exceeds its slot, or a pointer map
    /// reaches past the region's end.
    pub(crate) fn for_each_pointer(
        &self,
        region: &impl Region,
        object: u64,
        type_index: u32,
        mut found: impl FnMut(u64, u64, u64),
    ) -> Result<(), HeapError> {
        let info = &self.types[type_index as usize].info;
        let (elements, first, stride) = self.elements_of(region, object, type_index)?;
        for element in 0..elements {
            let value = first + element * stride;
            for run in info.pointers.runs() {
                for index in 0..run.count {
                    let at = index
                        .checked_mul(run.stride)
                        .and_then(|step| step.checked_add(run.offset))
                        .and_then(|within| within.checked_add(value))
                        .filter(|&at| {
                            usize::try_from(at)
                                .ok()
                                .and_then(|at| at.checked_add(8))
                                .is_some_and(|end| end <= region.len())
                        })
                        .ok_or(HeapError::Corrupted {
                            offset: value,
                            what: "a pointer map reaches past the pool's end",
                        })?;
                    found(at, region.read_word(at as usize), run.pointee);
                }
            }
        }
        Ok(())
    }

    /// The values of the object of type `type_index` at `object`: how many, where the
    /// first starts, and how far apart they are (one value for a sized type; a slice's
    /// elements, its length checked against its slot).
    ///
    /// # Errors
    ///
    /// [`HeapError::Corrupted`] if a slice's length exceeds its slot.
    pub(crate) fn elements_of(
        &self,
        region: &impl Region,
        object: u64,
        type_index: u32,
    ) -> Result<(u64, u64, u64), HeapError> {
        let info = &self.types[type_index as usize].info;
        match info.kind {
            TypeKind::Sized => Ok((1, object, 0)),
            TypeKind::Slice => {
                let header = slice_header_len(info.align) as u64;
                let slot = self.slot_len(object).expect("slices are heap objects") as u64;
                let len = region.read_word(object as usize);
                let capacity = (slot - header).checked_div(info.size).unwrap_or(0);
                if info.size != 0 && len > capacity {
                    return Err(HeapError::Corrupted {
                        offset: object,
                        what: "a slice's length exceeds its slot",
                    });
                }
                Ok((len.min(capacity), object + header, info.size))
            }
        }
    }
}

struct Marker<'h, R> {
    heap: &'h Heap,
    region: &'h R,
    previous: &'h HashMap<u64, u64>,
    marks: Vec<Vec<u64>>,
    /// Marked objects whose pointers are not yet traced: (pool offset, type index).
    stack: Vec<(u64, u32)>,
    dangling_pointers: u64,
    dangling: Vec<DanglingPointer>,
}

impl<R: Region> Marker<'_, R> {
    fn dangling(&mut self, at: u64, value: u64, reason: &'static str) {
        self.dangling_pointers += 1;
        if self.dangling.len() < MAX_LISTED_DANGLING {
            self.dangling.push(DanglingPointer { at, value, reason });
        }
    }

    /// Marks the object `value` points at (read from pool offset `at`; 0 for a root held
    /// elsewhere), checking it against `pointee`, the expected layout hash, if given.
    /// Returns whether it was newly marked; a pointer that leads nowhere is counted as
    /// dangling.
    fn mark(&mut self, at: u64, value: u64, pointee: Option<u64>) -> bool {
        let (id, slot) = match self.heap.resolve(value, pointee) {
            Resolved::Null | Resolved::IntoRoot => return false,
            Resolved::Dangling(reason) => {
                self.dangling(at, value, reason);
                return false;
            }
            Resolved::MistypedRoot => {
                self.dangling(at, value, MISTYPED_ROOT);
                return false;
            }
            Resolved::Object { id, slot, mistyped } => {
                // Dangling as a pointer, but the object it hits is kept (and traced as
                // what it is): if the pointer map that named it is what is wrong, freeing
                // would lose a live object, and keeping one more never harms.
                if mistyped {
                    self.dangling(at, value, MISTYPED_OBJECT);
                }
                (id, slot)
            }
        };
        let span = self.heap.spans[id].as_ref().expect("resolved");
        let word = &mut self.marks[id][slot / 64];
        let bit = 1 << (slot % 64);
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        if !self.heap.types[span.type_index as usize]
            .info
            .pointers
            .is_empty()
        {
            self.stack.push((value, span.type_index));
        }
        true
    }

    /// Marks what named-root entry `slot` points at, now and before the transaction.
    fn mark_named_root(&mut self, slot: usize) {
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
            match self.heap.type_info(type_index) {
                Some(info) => {
                    let pointee = info.layout_hash;
                    self.mark(pointer_at, pointer, Some(pointee));
                }
                None => self.dangling(
                    pointer_at,
                    pointer,
                    "is a named root of a type that is not in the type table",
                ),
            }
        }
    }

    /// Marks what the object at `object` points at, now and before the transaction.
    fn trace(&mut self, object: u64, type_index: u32) -> Result<(), HeapError> {
        let (heap, region) = (self.heap, self.region);
        heap.for_each_pointer(region, object, type_index, |at, value, pointee| {
            self.mark(at, value, Some(pointee));
            if let Some(&before) = self.previous.get(&at) {
                self.mark(at, before, Some(pointee));
            }
        })
    }

    fn drain(&mut self) -> Result<(), HeapError> {
        while let Some((object, type_index)) = self.stack.pop() {
            self.trace(object, type_index)?;
        }
        Ok(())
    }
}
