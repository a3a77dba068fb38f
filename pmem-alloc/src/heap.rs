//! The allocator: spans of one type each, carved from arenas of pages.
//!
//! `layout.rs` says what is on disk; `load.rs` reads and checks it, `class.rs` sizes a
//! type's slots and spans; this module keeps the volatile picture that makes
//! allocation fast: per type, the spans with free slots; per span, a bitmap of allocated
//! slots; per page, the span covering it. The runtime keeps it behind a reader-writer lock:
//! lookups take it shared, everything else exclusive, and [`HiddenSlot::reveal`] needs
//! neither. Threads that allocate often keep the free slots of a span each, taken with
//! [`Heap::alloc_rest_of_span`], so that most allocations need no lock and no two threads
//! write one page.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use zerocopy::{FromZeros, IntoBytes};

use crate::class::Class;
use crate::error::HeapError;
use crate::format::{HeapHeader, NamedRootEntry, SpanEntry};
use crate::layout::{
    self, ARENA_PAGES, DataTablePages, HEADER_LEN, MAX_ROOT_NAME, METADATA_PAGES, NAMED_ROOTS,
    PAGE, ROOT_ENTRY_LEN, TYPE_TABLE_LEN, TYPE_TABLE_START,
};
use crate::region::{FenceFor, Region};
use crate::types::{TypeInfo, TypeKind};

/// A run of pages holding slots of one type.
///
/// A heap of a few million small objects has tens of thousands of spans, all made when it
/// is loaded: so a span is small (48 bytes), and its bitmaps are made only when it is
/// allocated from or swept, or one of its slots is hidden or read.
#[derive(Debug)]
pub(crate) struct Span {
    /// Its slots' size (the type's class, or for slices the slot size its entry records),
    /// or 0 for a huge span, whose one slot is all of its pages.
    slot: u32,
    /// Never 0, since the metadata pages come first: `Option<Span>` needs no more room.
    first_page: NonZeroU32,
    pages: u32,
    objects: u32,
    live: u32,
    pub(crate) type_index: u32,
    /// `None` for a span loaded from the file that no collection has swept and whose slots
    /// no one hid or read: every slot counts as allocated, none as hidden or read.
    bits: OnceLock<SlotBits>,
}

/// A span's bitmaps, one bit per slot each, in one allocation shared with the
/// [`HiddenSlot`]s, which reveal their slot without the heap: a hint (no free slot lies in
/// an allocation word before it), then the words of three bitmaps.
///
/// - *allocated*: changed only through `&mut Heap`, so its atomics are relaxed;
/// - *hidden*: allocated, but not found by lookups yet (see [`Heap::hide`]);
/// - *read* since the last collection (see [`Heap::object_type_for_reader`]).
///
/// A claim ([`Heap::claim`]) and a read ([`Heap::object_type_for_reader`]) of one slot on
/// two threads exclude each other as Dekker's protocol does: each sets its own bit, then
/// loads the other's, all `SeqCst`, so at least one of the two sees the other's bit.
#[derive(Clone, Debug)]
pub(crate) struct SlotBits(Arc<[AtomicU64]>);

impl SlotBits {
    /// The bitmaps of `objects` slots, all allocated (a span read from the file) or none.
    fn new(objects: usize, allocated: bool) -> Self {
        let words = objects.div_ceil(64);
        let allocation = if allocated { u64::MAX } else { 0 };
        Self(
            (0..1 + 3 * words)
                .map(|index| {
                    let in_allocation = (1..=words).contains(&index);
                    AtomicU64::new(if in_allocation { allocation } else { 0 })
                })
                .collect(),
        )
    }

    fn words(&self) -> usize {
        (self.0.len() - 1) / 3
    }

    fn free_word_hint(&self) -> &AtomicU64 {
        &self.0[0]
    }

    fn allocated(&self, word: usize) -> &AtomicU64 {
        &self.0[1 + word]
    }

    fn hidden(&self, slot: usize) -> &AtomicU64 {
        &self.0[1 + self.words() + slot / 64]
    }

    fn read(&self, slot: usize) -> &AtomicU64 {
        &self.0[1 + 2 * self.words() + slot / 64]
    }

    /// Hides the slot; whether it was hidden already.
    fn hide(&self, slot: usize) -> bool {
        self.hidden(slot).fetch_or(bit(slot), Ordering::SeqCst) & bit(slot) != 0
    }

    /// Release: a reader that finds the slot revealed (Acquire) sees what the revealing
    /// thread wrote before.
    fn reveal(&self, slot: usize) {
        self.hidden(slot).fetch_and(!bit(slot), Ordering::Release);
    }

    fn is_hidden(&self, slot: usize) -> bool {
        self.hidden(slot).load(Ordering::SeqCst) & bit(slot) != 0
    }

    /// Marks the slot read. A load first, so that threads reading one slot again and
    /// again keep its line shared.
    fn mark_read(&self, slot: usize) {
        let word = self.read(slot);
        if word.load(Ordering::SeqCst) & bit(slot) == 0 {
            word.fetch_or(bit(slot), Ordering::SeqCst);
        }
    }

    fn was_read(&self, slot: usize) -> bool {
        self.read(slot).load(Ordering::SeqCst) & bit(slot) != 0
    }

    fn forget_read(&self, slot: usize) {
        let word = self.read(slot);
        if word.load(Ordering::Relaxed) & bit(slot) != 0 {
            word.fetch_and(!bit(slot), Ordering::Relaxed);
        }
    }

    /// Forgets which slots are hidden or read.
    fn clear(&self) {
        for word in &self.0[1 + self.words()..] {
            word.store(0, Ordering::Relaxed);
        }
    }
}

/// Slot `slot`'s bit in its word of a bitmap.
const fn bit(slot: usize) -> u64 {
    1 << (slot % 64)
}

/// Why [`Heap::claim`] refused a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimRefused {
    /// It is hidden: a transaction allocated or claimed it and has not ended.
    Hidden,
    /// It was read since the last collection, and the reference may still be alive.
    Read,
}

/// An allocated slot that [`Heap::hide`] hid: lookups ([`Heap::object_type`]) do not find
/// it until it is [`reveal`](HiddenSlot::reveal)ed, or until a collection. Dropped
/// unrevealed, the slot stays hidden until the next collection.
#[must_use = "the slot stays hidden until it is revealed"]
#[derive(Debug)]
pub struct HiddenSlot {
    span: SlotBits,
    slot: usize,
}

impl HiddenSlot {
    /// Lets lookups find the slot again. It needs no access to the heap, so threads that
    /// each reveal their own new objects wait for nothing.
    pub fn reveal(self) {
        self.span.reveal(self.slot);
    }
}

impl Span {
    /// A new span of `class` for type `type_index` from page `first_page`, every slot free.
    fn new(first_page: usize, type_index: u32, class: Class) -> Self {
        let span = Self {
            live: 0,
            ..Self::loaded(first_page, type_index, class)
        };
        span.bits
            .set(SlotBits::new(class.objects, false))
            .expect("a new span has no bitmaps yet");
        span
    }

    /// A span read from the file: until it is swept, every slot counts as allocated.
    pub(crate) fn loaded(first_page: usize, type_index: u32, class: Class) -> Self {
        let narrow = |value: usize| u32::try_from(value).expect("a heap has fewer than 2^32 pages");
        Self {
            slot: if class.is_huge() {
                0
            } else {
                narrow(class.slot)
            },
            first_page: NonZeroU32::new(narrow(first_page)).expect("spans follow the metadata"),
            pages: narrow(class.pages),
            objects: narrow(class.objects),
            live: narrow(class.objects),
            type_index,
            bits: OnceLock::new(),
        }
    }

    pub(crate) fn first_page(&self) -> usize {
        self.first_page.get() as usize
    }

    pub(crate) fn pages(&self) -> usize {
        self.pages as usize
    }

    /// Its slots: the type's class, or for slices the slot size its entry records.
    pub(crate) fn class(&self) -> Class {
        let pages = self.pages as usize;
        Class {
            slot: match self.slot {
                0 => pages * PAGE,
                slot => slot as usize,
            },
            objects: self.objects as usize,
            pages,
        }
    }

    /// How many of its slots are allocated.
    pub(crate) fn live(&self) -> usize {
        self.live as usize
    }

    fn take_free_slot(&mut self) -> Option<usize> {
        let objects = self.objects as usize;
        if self.live as usize == objects {
            return None;
        }
        let bits = self.bits.get()?;
        let hint = bits.free_word_hint().load(Ordering::Relaxed) as usize;
        for word in hint..bits.words() {
            let allocated = bits.allocated(word).load(Ordering::Relaxed);
            if allocated != u64::MAX {
                let bit = allocated.trailing_ones() as usize;
                let slot = word * 64 + bit;
                if slot >= objects {
                    break;
                }
                bits.allocated(word)
                    .store(allocated | 1 << bit, Ordering::Relaxed);
                bits.free_word_hint().store(word as u64, Ordering::Relaxed);
                self.live += 1;
                return Some(slot);
            }
        }
        None
    }

    pub(crate) fn is_allocated(&self, slot: usize) -> bool {
        self.bits
            .get()
            .is_none_or(|bits| bits.allocated(slot / 64).load(Ordering::Relaxed) & bit(slot) != 0)
    }

    /// The words of a bitmap of one bit per slot.
    pub(crate) fn bitmap_words(&self) -> usize {
        (self.objects as usize).div_ceil(64)
    }

    /// Its bitmaps, made (every slot allocated, as a loaded span's) if it had none.
    fn slot_bits(&self) -> &SlotBits {
        self.bits
            .get_or_init(|| SlotBits::new(self.objects as usize, true))
    }

    fn is_hidden(&self, slot: usize) -> bool {
        self.bits.get().is_some_and(|bits| bits.is_hidden(slot))
    }

    /// Forgets which slots are hidden or read: after a collection.
    pub(crate) fn clear_slot_bits(&self) {
        if let Some(bits) = self.bits.get() {
            bits.clear();
        }
    }

    /// Sets which slots are allocated: one bit per slot, `live` of them.
    pub(crate) fn set_allocation(&mut self, allocated: &[u64], live: usize) {
        let bits = self.slot_bits();
        for (word, &value) in allocated.iter().enumerate() {
            bits.allocated(word).store(value, Ordering::Relaxed);
        }
        bits.free_word_hint().store(0, Ordering::Relaxed);
        self.live = u32::try_from(live).expect("at most a span's objects");
    }
}

/// A recorded type and its spans with free slots.
#[derive(Debug)]
pub(crate) struct TypeState {
    pub(crate) info: TypeInfo,
    /// `None` for a recorded type the heap cannot hold (too large, over-aligned): no span
    /// of it may exist.
    pub(crate) class: Option<Class>,
    /// Spans of this type that may have free slots; the last is allocated from first.
    pub(crate) partial: Vec<usize>,
    /// For a slice type, the same per slot size: (slot size, spans).
    pub(crate) slice_partial: Vec<(usize, Vec<usize>)>,
    /// Whether the record is known to describe the program's type of its layout hash
    /// (see [`Heap::verify_type`]). Atomic so that a reader (`Pool::get`, through `&self`)
    /// can record the check it made.
    pub(crate) verified: AtomicBool,
}

/// Whether [`Heap::alloc`] may grow the region when no free pages are left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Growth {
    /// Grow the region as needed (up to what [`Region::grow`] allows).
    Allowed,
    /// Report [`HeapError::Full`] instead: the caller would rather collect first.
    Refused,
}

/// The object at the root of the pool, outside the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootObject {
    /// Its pool offset.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// One named root (see [`Heap::named_roots`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedRoot {
    /// The entry's number, 0 to 62.
    pub slot: usize,
    /// The name.
    pub name: String,
    /// The type index of the object.
    pub type_index: u32,
    /// The object's pool offset (0 for null).
    pub pointer: u64,
}

/// A persistent heap in a [`Region`]; see the crate documentation and `layout.rs`.
#[derive(Debug)]
pub struct Heap {
    pub(crate) start: usize,
    /// Pages from `start` to the region's end, metadata included.
    pub(crate) pages: usize,
    pub(crate) root: RootObject,
    pub(crate) root_type: u32,
    pub(crate) types: Vec<TypeState>,
    pub(crate) by_hash: HashMap<u64, u32>,
    pub(crate) type_table_used: usize,
    /// Indexed by span id; `None` for an id free for reuse.
    pub(crate) spans: Vec<Option<Span>>,
    free_span_ids: Vec<usize>,
    /// Per heap page: the id of the span covering it, plus one; 0 if none does.
    pub(crate) page_span: Vec<u32>,
    /// No free data page lies below this one.
    free_page_hint: usize,
    /// The table pages inside huge spans, which hold data (shared with whoever checks
    /// stores, see [`Heap::data_tables`]).
    pub(crate) data_tables: Arc<DataTablePages>,
    pub(crate) allocation_known: bool,
    pub(crate) allocated_since_collection: u64,
    pub(crate) live_after_collection: u64,
    pub(crate) collections: u64,
    /// What the last collection counted (see [`Collection`](crate::Collection)).
    pub(crate) last_dangling_pointers: u64,
    /// The first dangling pointers the last collection found.
    pub(crate) last_dangling: Vec<crate::gc::DanglingPointer>,
}

impl Heap {
    /// Formats a heap from `start` to the region's end, recording `root_type` (the type of
    /// the pool's root object) as type 0. The writes are durable at the caller's next
    /// fence.
    ///
    /// # Errors
    ///
    /// [`HeapError::Corrupted`] if the region is too small for a heap from `start` (or
    /// `start` is not page-aligned), and the errors of recording a type.
    pub fn format(
        region: &mut impl Region,
        start: usize,
        root: RootObject,
        root_type: &TypeInfo,
    ) -> Result<Self, HeapError> {
        if start % PAGE != 0
            || region
                .len()
                .checked_sub(start)
                .is_none_or(|len| len < layout::MIN_HEAP_LEN)
        {
            return Err(HeapError::Corrupted {
                offset: start as u64,
                what: "the pool has no room for a heap here",
            });
        }
        region.write_metadata(start, HeapHeader::new(root.offset).as_bytes());
        let mut heap = Self::empty(region, start, root);
        heap.register(region, root_type)?;
        heap.root.size = root_type.size;
        heap.allocation_known = true;
        Ok(heap)
    }

    pub(crate) fn empty(region: &impl Region, start: usize, root: RootObject) -> Self {
        let pages = (region.len() - start) / PAGE;
        Self {
            start,
            pages,
            root,
            root_type: 0,
            types: Vec::new(),
            by_hash: HashMap::new(),
            type_table_used: 0,
            spans: Vec::new(),
            free_span_ids: Vec::new(),
            page_span: vec![0; pages],
            free_page_hint: METADATA_PAGES,
            data_tables: Arc::default(),
            allocation_known: false,
            allocated_since_collection: 0,
            live_after_collection: 0,
            collections: 0,
            last_dangling_pointers: 0,
            last_dangling: Vec::new(),
        }
    }

    pub(crate) fn add_type(&mut self, info: TypeInfo) -> u32 {
        let index = self.types.len() as u32;
        self.by_hash.entry(info.layout_hash).or_insert(index);
        let class = match info.kind {
            TypeKind::Sized => Class::for_type(&info).ok(),
            TypeKind::Slice => None,
        };
        self.types.push(TypeState {
            info,
            class,
            partial: Vec::new(),
            slice_partial: Vec::new(),
            verified: AtomicBool::new(false),
        });
        index
    }

    /// Checks once that the record of type `index` describes the program's type of that
    /// layout hash (which `info` makes, only the first time), before objects of it are
    /// allocated or handed out by the record: a record with another size or alignment would
    /// make slots overlap the program's objects, and one with another pointer map would be
    /// traced wrongly.
    ///
    /// # Errors
    ///
    /// [`HeapError::TypeRecordMismatch`] if the record disagrees.
    ///
    /// # Panics
    ///
    /// If `index` names no recorded type.
    pub fn verify_type(
        &self,
        index: u32,
        info: impl FnOnce() -> TypeInfo,
    ) -> Result<(), HeapError> {
        let state = &self.types[index as usize];
        if !state.verified.load(Ordering::Relaxed) {
            let info = info();
            if !state.info.describes(&info) {
                return Err(HeapError::TypeRecordMismatch {
                    type_name: info.name,
                });
            }
            state.verified.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The type index of `info`, recording it in the type table if it is new: the record is
    /// written and fenced at once, so that it is durable before any span names its type (one
    /// fence per type in the life of a heap; `layout.rs`, rule 1).
    ///
    /// # Errors
    ///
    /// [`HeapError::TypeTableFull`] if there is no room for its record.
    pub fn register(
        &mut self,
        region: &mut impl Region,
        info: &TypeInfo,
    ) -> Result<u32, HeapError> {
        if let Some(&index) = self.by_hash.get(&info.layout_hash) {
            return Ok(index);
        }
        let index = self.types.len() as u32;
        let record = info.encode(index);
        if self.type_table_used + record.len() > TYPE_TABLE_LEN || index >= 1 << 24 {
            return Err(HeapError::TypeTableFull {
                type_name: info.name.clone(),
            });
        }
        let at = self.start + TYPE_TABLE_START + self.type_table_used;
        region.write_metadata(at, &record);
        region.fence(FenceFor::TypeRecord);
        self.type_table_used += record.len();
        let index = self.add_type(info.clone());
        self.types[index as usize].verified = AtomicBool::new(true);
        Ok(index)
    }

    /// The page-table pages that lie inside huge objects and so hold data, kept up to date
    /// as the heap makes and frees them: what [`is_heap_data`](crate::is_heap_data) needs to
    /// tell data from metadata. Shared, so that a store barrier checks against it without
    /// the heap.
    #[must_use]
    pub fn data_tables(&self) -> Arc<DataTablePages> {
        Arc::clone(&self.data_tables)
    }

    /// The index of the recorded type whose layout hash is `layout_hash`, if there is one.
    #[must_use]
    pub fn type_index(&self, layout_hash: u64) -> Option<u32> {
        self.by_hash.get(&layout_hash).copied()
    }

    /// The type recorded as `index`.
    #[must_use]
    pub fn type_info(&self, index: u32) -> Option<&TypeInfo> {
        self.types.get(index as usize).map(|state| &state.info)
    }

    /// The type index of the pool's root object.
    #[must_use]
    pub fn root_type(&self) -> u32 {
        self.root_type
    }

    /// Allocates a slot for an object of type `type_index` and returns its pool offset. The
    /// slot's bytes are whatever they were: the caller writes the whole object. A new span's
    /// page-table entry is written and flushed, durable at the next fence.
    ///
    /// # Errors
    ///
    /// [`HeapError::Full`] if no span has room and the region cannot (or, with
    /// [`Growth::Refused`], may not) grow enough, and
    /// [`HeapError::ObjectTooLarge`] or [`HeapError::OverAligned`] for a type the heap
    /// cannot hold.
    ///
    /// # Panics
    ///
    /// If `type_index` was not returned by [`register`](Heap::register).
    pub fn alloc(
        &mut self,
        region: &mut impl Region,
        type_index: u32,
        growth: Growth,
    ) -> Result<u64, HeapError> {
        let state = &self.types[type_index as usize];
        assert_eq!(
            state.info.kind,
            TypeKind::Sized,
            "slices are allocated with alloc_slice"
        );
        let class = match state.class {
            Some(class) => class,
            None => return Err(Class::for_type(&state.info).expect_err("no class, no span")),
        };
        if let Some(offset) = self.take_from_partial_spans(type_index, class) {
            return Ok(offset);
        }
        let (id, offset) = self.new_span(region, type_index, class, 0, growth)?;
        if class.objects > 1 {
            self.types[type_index as usize].partial.push(id);
        }
        Ok(offset)
    }

    /// Allocates a slot for a slice of `len` elements of the slice type `type_index` and
    /// returns its pool offset, as [`alloc`](Heap::alloc) does for single values. The slot
    /// holds at least [`slice_header_len`](crate::slice_header_len) + `len` elements'
    /// bytes; the caller writes the length at its start, then the elements.
    ///
    /// # Errors
    ///
    /// As [`alloc`](Heap::alloc); [`HeapError::ObjectTooLarge`] if the slice, header
    /// included, exceeds [`MAX_OBJECT_PAGES`](crate::MAX_OBJECT_PAGES) pages.
    ///
    /// # Panics
    ///
    /// If `type_index` was not returned by [`register`](Heap::register) for a slice type.
    pub fn alloc_slice(
        &mut self,
        region: &mut impl Region,
        type_index: u32,
        len: u64,
        growth: Growth,
    ) -> Result<u64, HeapError> {
        let state = &self.types[type_index as usize];
        assert_eq!(
            state.info.kind,
            TypeKind::Slice,
            "single values are allocated with alloc"
        );
        let (class, slot_class) = Class::for_slice(&state.info, len)?;
        if class.objects > 1 {
            let spans = state
                .slice_partial
                .iter()
                .position(|(slot, _)| *slot == class.slot);
            if let Some(at) = spans {
                while let Some(&id) = self.types[type_index as usize].slice_partial[at].1.last() {
                    let span = self.spans[id].as_mut().expect("partial spans exist");
                    if let Some(slot) = span.take_free_slot() {
                        let first_page = span.first_page();
                        self.allocated_since_collection += class.slot as u64;
                        return Ok(self.slot_offset(first_page, class.slot, slot));
                    }
                    self.types[type_index as usize].slice_partial[at].1.pop();
                }
            }
        }
        let (id, offset) = self.new_span(region, type_index, class, slot_class, growth)?;
        if class.objects > 1 {
            self.note_partial_slice_span(type_index, class.slot, id);
        }
        Ok(offset)
    }

    /// Records that span `id`, of slots of `slot` bytes of slice type `type_index`, may
    /// have free slots.
    pub(crate) fn note_partial_slice_span(&mut self, type_index: u32, slot: usize, id: usize) {
        let partial = &mut self.types[type_index as usize].slice_partial;
        match partial.iter_mut().find(|(size, _)| *size == slot) {
            Some((_, spans)) => spans.push(id),
            None => partial.push((slot, vec![id])),
        }
    }

    /// Makes a span of `class` for type `type_index`, its entry recording `slot_class`,
    /// and allocates its first slot: the span's id and the slot's pool offset. The entry
    /// is written and flushed, durable at the next fence; a huge span's is fenced at once
    /// (`layout.rs`, rule 4).
    fn new_span(
        &mut self,
        region: &mut impl Region,
        type_index: u32,
        class: Class,
        slot_class: u8,
        growth: Growth,
    ) -> Result<(usize, u64), HeapError> {
        let first_page = if class.is_huge() {
            self.find_free_arenas(region, class.pages.div_ceil(ARENA_PAGES), growth)?
        } else {
            self.find_free_pages(region, class.pages, class.slot as u64, growth)?
        };
        self.allocated_since_collection += class.slot as u64;
        let entry = SpanEntry {
            type_index,
            pages: class.pages,
            slot_class,
        };
        region.write_metadata(
            self.start + layout::entry_offset(first_page),
            &entry.encode(first_page).to_le_bytes(),
        );
        if class.is_huge() {
            region.fence(FenceFor::HugeSpan);
            self.data_tables
                .insert(layout::covered_table_pages(first_page, class.pages));
        }
        let mut span = Span::new(first_page, type_index, class);
        let slot = span.take_free_slot().expect("a new span has free slots");
        let id = self.insert_span(span);
        Ok((id, self.slot_offset(first_page, class.slot, slot)))
    }

    /// The size of the slot of the object that starts at pool offset `offset`, if one
    /// does: for a slice, what bounds its length.
    #[must_use]
    pub fn slot_len(&self, offset: u64) -> Option<usize> {
        let (id, _) = self.locate(offset)?;
        self.spans[id].as_ref().map(|span| span.class().slot)
    }

    /// Takes up to `max` more free slots from the span of the slot at pool offset `offset`
    /// (one that [`alloc`](Heap::alloc) just returned), writing nothing: for a lane's cache
    /// of slots, which hands them out later without the heap. Taking the rest of one span
    /// keeps each lane's new objects on pages of its own, so that threads do not
    /// first-touch (page-fault) the same pages together. Fewer, or none, if the span is
    /// full; none if no allocated slot starts at `offset`.
    pub fn alloc_rest_of_span(&mut self, offset: u64, max: usize) -> Vec<u64> {
        let Some((id, _)) = self.locate(offset) else {
            return Vec::new();
        };
        let span = self.spans[id].as_mut().expect("located spans exist");
        let class = span.class();
        let first_page = span.first_page();
        let slots: Vec<usize> = (0..max).map_while(|_| span.take_free_slot()).collect();
        self.allocated_since_collection += (slots.len() * class.slot) as u64;
        slots
            .into_iter()
            .map(|slot| self.slot_offset(first_page, class.slot, slot))
            .collect()
    }

    fn take_from_partial_spans(&mut self, type_index: u32, class: Class) -> Option<u64> {
        while let Some(&id) = self.types[type_index as usize].partial.last() {
            let span = self.spans[id].as_mut().expect("partial spans exist");
            if let Some(slot) = span.take_free_slot() {
                let first_page = span.first_page();
                self.allocated_since_collection += class.slot as u64;
                return Some(self.slot_offset(first_page, class.slot, slot));
            }
            self.types[type_index as usize].partial.pop();
        }
        None
    }

    fn slot_offset(&self, first_page: usize, slot_len: usize, slot: usize) -> u64 {
        (self.start + first_page * PAGE + slot * slot_len) as u64
    }

    pub(crate) fn insert_span(&mut self, span: Span) -> usize {
        let (first, pages) = (span.first_page(), span.pages());
        let id = match self.free_span_ids.pop() {
            Some(id) => {
                self.spans[id] = Some(span);
                id
            }
            None => {
                self.spans.push(Some(span));
                self.spans.len() - 1
            }
        };
        for page in first..first + pages {
            self.page_span[page] = id as u32 + 1;
        }
        id
    }

    /// Forgets span `id`, whose entry is zeroed (and, for a huge span, whose covered
    /// table pages are: `layout.rs`, rule 5): from now on its table pages are tables.
    pub(crate) fn remove_span(&mut self, id: usize) -> Span {
        let span = self.spans[id].take().expect("a span to remove");
        if span.class().is_huge() {
            self.data_tables
                .remove(layout::covered_table_pages(span.first_page(), span.pages()));
        }
        for page in span.first_page()..span.first_page() + span.pages() {
            self.page_span[page] = 0;
        }
        self.free_span_ids.push(id);
        self.free_page_hint = self.free_page_hint.min(span.first_page());
        span
    }

    /// The first data page of the first run of `arenas` whole free arenas (every page free,
    /// the table page not inside a huge span, so all zero by `layout.rs` rules 2, 3 and 5),
    /// growing the region if none exists: enough to complete the free arenas at its end.
    fn find_free_arenas(
        &mut self,
        region: &mut impl Region,
        arenas: usize,
        growth: Growth,
    ) -> Result<usize, HeapError> {
        let requested = ((arenas * ARENA_PAGES - 1) * PAGE) as u64;
        loop {
            // The free arenas from `run_start` to the end of the scan, `run` of them whole.
            let (mut run_start, mut run) = (None, 0);
            let mut table_page = METADATA_PAGES;
            while table_page < self.pages {
                let arena_end = table_page + ARENA_PAGES;
                let free = self.page_span[table_page..arena_end.min(self.pages)]
                    .iter()
                    .all(|&span| span == 0);
                if !free {
                    (run_start, run) = (None, 0);
                } else {
                    let first = *run_start.get_or_insert(table_page);
                    if arena_end <= self.pages {
                        run += 1;
                        if run == arenas {
                            return Ok(first + 1);
                        }
                    }
                }
                table_page = arena_end;
            }
            if growth == Growth::Refused {
                let cause = crate::region::GrowError {
                    max_len: region.len(),
                    io: None,
                };
                return Err(HeapError::Full { requested, cause });
            }
            let grown_from = run_start.unwrap_or(table_page);
            let min_len = self.start + (grown_from + arenas * ARENA_PAGES) * PAGE;
            region
                .grow(min_len)
                .map_err(|cause| HeapError::Full { requested, cause })?;
            let pages = (region.len() - self.start) / PAGE;
            self.page_span.resize(pages, 0);
            self.pages = pages;
        }
    }

    /// The first run of `count` free pages inside one arena, growing the region if none
    /// exists.
    fn find_free_pages(
        &mut self,
        region: &mut impl Region,
        count: usize,
        requested: u64,
        growth: Growth,
    ) -> Result<usize, HeapError> {
        loop {
            if let Some(first) = self.scan_free_pages(count) {
                return Ok(first);
            }
            if growth == Growth::Refused {
                let cause = crate::region::GrowError {
                    max_len: region.len(),
                    io: None,
                };
                return Err(HeapError::Full { requested, cause });
            }
            let min_len = self.start + (self.pages + count + 1) * PAGE;
            region
                .grow(min_len)
                .map_err(|cause| HeapError::Full { requested, cause })?;
            let pages = (region.len() - self.start) / PAGE;
            self.page_span.resize(pages, 0);
            self.pages = pages;
        }
    }

    fn scan_free_pages(&mut self, count: usize) -> Option<usize> {
        let mut run_start = None;
        let mut first_free = None;
        for page in self.free_page_hint..self.pages {
            if layout::is_table_page(page) || self.page_span[page] != 0 {
                run_start = None;
                continue;
            }
            first_free.get_or_insert(page);
            let start = *run_start.get_or_insert(page);
            if page + 1 - start == count {
                self.free_page_hint = if first_free == Some(start) {
                    start + count
                } else {
                    first_free.unwrap_or(start)
                };
                return Some(start);
            }
        }
        self.free_page_hint = first_free.unwrap_or(self.pages).max(METADATA_PAGES);
        None
    }

    /// The span and slot of the object starting at pool offset `offset`, if one does.
    pub(crate) fn locate(&self, offset: u64) -> Option<(usize, usize)> {
        let relative = usize::try_from(offset).ok()?.checked_sub(self.start)?;
        let page = relative / PAGE;
        if page < METADATA_PAGES || page >= self.pages {
            return None;
        }
        let id = self.page_span[page].checked_sub(1)? as usize;
        let span = self.spans[id].as_ref()?;
        let class = span.class();
        let within = relative - span.first_page() * PAGE;
        if within % class.slot != 0 || within / class.slot >= class.objects {
            return None;
        }
        Some((id, within / class.slot))
    }

    /// Hides the allocated slot at pool offset `offset` from [`object_type`](Heap::object_type)
    /// until the returned handle reveals it, or until a collection, which keeps it if
    /// something reaches it and frees it if not: while one thread writes a new object, no
    /// other may find it. The collector traces hidden objects like any other. `None` if no
    /// slot starts at `offset`.
    pub fn hide(&mut self, offset: u64) -> Option<HiddenSlot> {
        let (id, slot) = self.locate(offset)?;
        let span = self.spans[id]
            .as_ref()
            .expect("located spans exist")
            .slot_bits();
        span.hide(slot);
        Some(HiddenSlot {
            span: span.clone(),
            slot,
        })
    }

    /// Hides the allocated slot at pool offset `offset`, as [`hide`](Heap::hide) does, for a
    /// transaction that is to change an object it did not allocate and that no reader may
    /// reach meanwhile: refused if the slot is hidden already (another transaction has it),
    /// or was read since the last collection ([`object_type_for_reader`](Heap::object_type_for_reader)), since the
    /// reader may still hold a reference. `None` if no slot starts at `offset`.
    ///
    /// It takes the heap shared: a claim and a read exclude each other through the slot's
    /// bits alone.
    pub fn claim(&self, offset: u64) -> Option<Result<HiddenSlot, ClaimRefused>> {
        let (id, slot) = self.locate(offset)?;
        let span = self.spans[id]
            .as_ref()
            .expect("located spans exist")
            .slot_bits();
        if span.hide(slot) {
            return Some(Err(ClaimRefused::Hidden));
        }
        if span.was_read(slot) {
            span.reveal(slot);
            return Some(Err(ClaimRefused::Read));
        }
        Some(Ok(HiddenSlot {
            span: span.clone(),
            slot,
        }))
    }

    /// Forgets the reads of the slot at pool offset `offset`: for a caller that knows no
    /// reference from them is alive any more (it holds the pool to itself).
    pub fn forget_read(&self, offset: u64) {
        if let Some((id, slot)) = self.locate(offset)
            && let Some(bits) = self.spans[id]
                .as_ref()
                .expect("located spans exist")
                .bits
                .get()
        {
            bits.forget_read(slot);
        }
    }

    /// Whether the slot at pool offset `offset` is [`hide`](Heap::hide)n.
    #[must_use]
    pub fn is_hidden(&self, offset: u64) -> bool {
        self.locate(offset).is_some_and(|(id, slot)| {
            self.spans[id]
                .as_ref()
                .is_some_and(|span| span.is_hidden(slot))
        })
    }

    /// The type index of the allocated object that starts at pool offset `offset`, if one
    /// does and it is not hidden.
    #[must_use]
    pub fn object_type(&self, offset: u64) -> Option<u32> {
        let (id, slot) = self.locate(offset)?;
        let span = self.spans[id].as_ref()?;
        (span.is_allocated(slot) && !span.is_hidden(slot)).then_some(span.type_index)
    }

    /// As [`object_type`](Heap::object_type), for a reader that takes a reference to the
    /// object, which may outlive what the caller can see: marks the slot read first, so that
    /// no [`claim`](Heap::claim) succeeds on it until the next collection, or until
    /// [`forget_read`](Heap::forget_read); and a claim racing with the read is seen by one
    /// of them.
    #[must_use]
    pub fn object_type_for_reader(&self, offset: u64) -> Option<u32> {
        let (id, slot) = self.locate(offset)?;
        let span = self.spans[id].as_ref()?;
        span.slot_bits().mark_read(slot);
        (span.is_allocated(slot) && !span.is_hidden(slot)).then_some(span.type_index)
    }

    /// As [`object_type`](Heap::object_type), but finding hidden objects too: for the
    /// transaction writing them.
    #[must_use]
    pub fn object_type_even_hidden(&self, offset: u64) -> Option<u32> {
        let (id, slot) = self.locate(offset)?;
        let span = self.spans[id].as_ref()?;
        span.is_allocated(slot).then_some(span.type_index)
    }

    /// The region offset just past the last page a span uses (the heap's metadata pages
    /// if none does): how long the region must stay to keep every object.
    #[must_use]
    pub fn used_end(&self) -> usize {
        let pages = self
            .spans
            .iter()
            .flatten()
            .map(|span| span.first_page() + span.pages())
            .max()
            .unwrap_or(METADATA_PAGES);
        self.start + pages * PAGE
    }

    /// The first [`MAX_LISTED_DANGLING`](crate::MAX_LISTED_DANGLING) dangling pointers the
    /// last collection found (it counted them all).
    #[must_use]
    pub fn last_dangling(&self) -> &[crate::gc::DanglingPointer] {
        &self.last_dangling
    }

    /// The pool's root object.
    #[must_use]
    pub fn root(&self) -> RootObject {
        self.root
    }

    /// The named roots in use.
    #[must_use]
    pub fn named_roots(&self, region: &impl Region) -> Vec<NamedRoot> {
        (0..NAMED_ROOTS)
            .filter_map(|slot| {
                let mut entry = NamedRootEntry::new_zeroed();
                region.read(self.named_root_offset(slot), entry.as_mut_bytes());
                entry.decode(slot)
            })
            .collect()
    }

    /// The pool offset of named-root entry `slot`, where the caller writes (through its
    /// undo log) what [`encode_named_root`](Heap::encode_named_root) returns.
    #[must_use]
    pub fn named_root_offset(&self, slot: usize) -> usize {
        self.start + HEADER_LEN + slot * ROOT_ENTRY_LEN
    }

    /// The bytes of a named-root entry.
    ///
    /// # Errors
    ///
    /// [`HeapError::InvalidRootName`] if `name` is empty, longer than
    /// [`MAX_ROOT_NAME`] bytes or holds a NUL.
    pub fn encode_named_root(
        name: &str,
        type_index: u32,
        pointer: u64,
    ) -> Result<[u8; ROOT_ENTRY_LEN], HeapError> {
        if name.is_empty() || name.len() > MAX_ROOT_NAME || name.contains('\0') {
            return Err(HeapError::InvalidRootName {
                name: name.to_owned(),
            });
        }
        Ok(zerocopy::transmute!(NamedRootEntry::new(
            name, type_index, pointer
        )))
    }

    /// Whether a collection should run before the heap grows: always before the first
    /// collection after a load (the spans loaded may hold free slots and garbage that only
    /// a collection finds), and after that once as much has been allocated since the last
    /// collection as survived it, and at least a quarter of the heap (the policy of Go's
    /// `GOGC=100`, with a floor for small heaps).
    #[must_use]
    pub fn collection_due(&self) -> bool {
        let floor = (self.pages * PAGE / 4) as u64;
        !self.allocation_known
            || self.allocated_since_collection >= self.live_after_collection.max(floor)
    }
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn a_span_takes_48_bytes_in_the_heap_s_table() {
        assert_eq!(size_of::<Option<Span>>(), 48);
    }
}
