//! The heap's on-disk records, for reading a pool without the application.
//!
//! Each fixed-size record is a `#[repr(C)]` struct of little-endian fields with alignment
//! 1: the struct is the layout, its field order and sizes the offsets of
//! `docs/src/heap.md` (a test in `tests/tests/format.rs` holds the two together). Read one
//! from bytes of any alignment with the [`zerocopy::FromBytes`] methods, such as
//! `HeapHeader::read_from_prefix(bytes)`, which fail rather than panic on short input;
//! then check it with the record's own `decode` or `parse`. Nothing here writes: the heap
//! builds its records itself, since a record it writes must also satisfy the rules of
//! `layout.rs` that no single record can check.
//!
//! The variable-length type record is a [`TypeRecordHeader`], then
//! [`TypeRecordHeader::pointer_runs`] [`PointerRunRecord`]s, then the name;
//! [`TypeInfo::decode_record`](crate::TypeInfo::decode_record) reads a whole one. A
//! page-table entry is one 64-bit word whose fields are bits, not bytes:
//! [`SpanEntry::decode`] reads it.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::class::OWN_SPAN_CLASS;
use crate::heap::NamedRoot;
use crate::layout::{ARENA_PAGES, METADATA_PAGES, NAMED_ROOTS, PAGE, TYPE_TABLE_LEN};

/// The heap header's magic, its first eight bytes.
pub const HEAP_MAGIC: [u8; 8] = *b"PMEMHEAP";
/// The heap format version this library reads and writes.
pub const HEAP_VERSION: u32 = 1;

/// The heap header: the first 64 bytes of the heap's first page, written once when the
/// heap is formatted. Every field but the root's type index and offset has one valid value.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct HeapHeader {
    /// [`HEAP_MAGIC`].
    pub magic: [u8; 8],
    /// [`HEAP_VERSION`].
    pub version: U32,
    /// The page size: 4096.
    pub page_size: U32,
    /// Pages before the first arena (the header page and the type table): 3.
    pub metadata_pages: U32,
    /// Pages per arena, its page-table page included: 512.
    pub arena_pages: U32,
    /// The type index of the root object: 0, the first record of the type table.
    pub root_type: U32,
    /// How many named-root entries follow the header: 63.
    pub named_roots: U32,
    /// The type table's length in bytes: 8192.
    pub type_table_len: U32,
    /// Zero.
    pub reserved: [u8; 4],
    /// The pool offset of the root object.
    pub root_offset: U64,
    /// Zero.
    pub reserved_end: [u8; 12],
    /// CRC-32 of the bytes before it.
    pub checksum: U32,
}

impl HeapHeader {
    /// The header of a heap whose root object is at pool offset `root_offset`.
    pub(crate) fn new(root_offset: u64) -> Self {
        let mut header = Self {
            magic: HEAP_MAGIC,
            version: U32::new(HEAP_VERSION),
            page_size: U32::new(PAGE as u32),
            metadata_pages: U32::new(METADATA_PAGES as u32),
            arena_pages: U32::new(ARENA_PAGES as u32),
            root_type: U32::new(0),
            named_roots: U32::new(NAMED_ROOTS as u32),
            type_table_len: U32::new(TYPE_TABLE_LEN as u32),
            reserved: [0; 4],
            root_offset: U64::new(root_offset),
            reserved_end: [0; 12],
            checksum: U32::new(0),
        };
        header.checksum = U32::new(header.computed_checksum());
        header
    }

    fn computed_checksum(&self) -> u32 {
        crc32fast::hash(&self.as_bytes()[..core::mem::offset_of!(Self, checksum)])
    }

    /// The header at the start of `bytes` (a heap's first page, or its first 64 bytes),
    /// or what is wrong with it: it is short, has no magic, fails its checksum, or
    /// describes a heap format other than this library's.
    ///
    /// # Errors
    ///
    /// The reason, as [`HeapError::Corrupted`](crate::HeapError::Corrupted) states it.
    pub fn parse(bytes: &[u8]) -> Result<Self, &'static str> {
        let (header, _) =
            Self::read_from_prefix(bytes).map_err(|_| "the heap header is incomplete")?;
        if header.magic != HEAP_MAGIC {
            return Err("the heap header has no magic");
        }
        if header.computed_checksum() != header.checksum.get() {
            return Err("the heap header fails its checksum");
        }
        let mut expected = Self::new(header.root_offset.get());
        expected.root_type = header.root_type;
        expected.checksum = U32::new(expected.computed_checksum());
        if header != expected {
            return Err("the heap header describes another heap format");
        }
        Ok(header)
    }
}

/// One of the [`NAMED_ROOTS`] named-root entries that follow the heap header, one cache
/// line each. Entries change only inside transactions, through the undo log.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct NamedRootEntry {
    /// The name, NUL-padded; an entry whose first byte is 0 is unused.
    pub name: [u8; 48],
    /// The type index of the object.
    pub type_index: U32,
    /// Zero.
    pub reserved: [u8; 4],
    /// The pool offset of the object.
    pub pointer: U64,
}

impl NamedRootEntry {
    /// The entry for a root named `name` (checked by the caller) that holds the object of
    /// type `type_index` at `pointer`.
    pub(crate) fn new(name: &str, type_index: u32, pointer: u64) -> Self {
        let mut entry = Self {
            name: [0; 48],
            type_index: U32::new(type_index),
            reserved: [0; 4],
            pointer: U64::new(pointer),
        };
        entry.name[..name.len()].copy_from_slice(name.as_bytes());
        entry
    }

    /// The named root this entry holds as entry `slot`, or `None` if it is unused. A name
    /// that is not UTF-8 is read lossily, as messages show it.
    #[must_use]
    pub fn decode(&self, slot: usize) -> Option<NamedRoot> {
        if self.name[0] == 0 {
            return None;
        }
        let name_len = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name.len());
        Some(NamedRoot {
            slot,
            name: String::from_utf8_lossy(&self.name[..name_len]).into_owned(),
            type_index: self.type_index.get(),
            pointer: self.pointer.get(),
        })
    }
}

/// The fixed part of a type record. Records lie back to back from the type table's start;
/// a record's position is its type index. Its [`pointer_runs`](Self::pointer_runs)
/// [`PointerRunRecord`]s follow, then the name, zero-padded to a multiple of 8 bytes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TypeRecordHeader {
    /// The type's [`Persistent::LAYOUT_HASH`](crate::Persistent::LAYOUT_HASH).
    pub layout_hash: U64,
    /// `size_of` the type.
    pub size: U64,
    /// `align_of` the type.
    pub align: U32,
    /// How many pointer runs follow.
    pub pointer_runs: U32,
    /// The name's length in bytes (at most 255).
    pub name_len: U16,
    /// What the type's objects are: 0 for single values, 1 for slices of them (see
    /// [`TypeKind`](crate::TypeKind)). Records written before slices existed hold 0 here,
    /// the high half of what was a 32-bit name length.
    pub kind: U16,
    /// CRC-32 of the whole record with this field zeroed, followed by the type index as a
    /// little-endian `u32`: a record moved to another index fails it.
    pub checksum: U32,
}

/// One pointer run of a type record: `count` persistent pointers, the first `offset`
/// bytes into the object and each next `stride` bytes further, pointing at objects whose
/// layout hash is `pointee`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct PointerRunRecord {
    /// The first pointer's offset in the object.
    pub offset: U64,
    /// How many pointers.
    pub count: U64,
    /// The distance from one pointer to the next.
    pub stride: U64,
    /// The layout hash of the objects they point at.
    pub pointee: U64,
}

/// A page-table entry's tag, bits 0..8 of an entry that starts a span within one arena.
const SPAN_TAG: u64 = 1;
/// The tag of an entry that starts a huge span: one object over whole arenas.
const HUGE_SPAN_TAG: u64 = 2;
/// Bit 47 of a huge span's entry: its object is a slice.
const HUGE_SLICE_BIT: u64 = 1 << 47;

/// A decoded page-table entry: the span that starts at its page. The `i`-th 8-byte word of
/// an arena's page-table page describes the arena's page `i`: 0 if no span starts there;
/// otherwise one of two encodings, both ending in a 16-bit check of bits 0..48 and the
/// page number (48..64):
///
/// - a span within the arena: the tag 1 (bits 0..8), the type index (8..32), the page
///   count (32..41), the slot class (41..48);
/// - a *huge* span, one object over `n` ≥ 2 whole arenas from the arena's first data page
///   (`512 n − 1` pages: the following arenas' page-table pages are part of the object):
///   the tag 2 (bits 0..8), the type index (8..32), `n` (32..47), and bit 47 set if the
///   object is a slice (its slot class is then 127) and clear for a single value (0).
///
/// Entries of tag 2 are new with huge spans; a heap without them reads as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanEntry {
    /// The type index of the span's objects.
    pub type_index: u32,
    /// The span's length in pages: 1 to 511, or `512 n − 1` for a huge span of `n`
    /// arenas (2 to 32,767).
    pub pages: usize,
    /// For a span of slices, the size of its slots (see `Class::slice_slot` in
    /// `class.rs`: 0 to 39 for sizes from 16 bytes to 16 KiB, 127 for one slice that fills
    /// the span); 0 for a span of single values, whose type gives the slot size.
    pub slot_class: u8,
}

fn entry_check(low: u64, page: usize) -> u64 {
    let mixed = (low ^ (page as u64).rotate_left(48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 48) & 0xffff
}

impl SpanEntry {
    pub(crate) fn encode(self, page: usize) -> u64 {
        let low = match self.huge_arenas() {
            None => {
                SPAN_TAG
                    | u64::from(self.type_index) << 8
                    | (self.pages as u64) << 32
                    | u64::from(self.slot_class) << 41
            }
            Some(arenas) => {
                let slice = if self.slot_class == 0 {
                    0
                } else {
                    HUGE_SLICE_BIT
                };
                HUGE_SPAN_TAG | u64::from(self.type_index) << 8 | (arenas as u64) << 32 | slice
            }
        };
        low | entry_check(low, page) << 48
    }

    /// How many arenas the span covers if it is huge (more pages than one arena's data
    /// pages), `None` if it lies within one arena.
    #[must_use]
    pub fn huge_arenas(&self) -> Option<usize> {
        (self.pages >= ARENA_PAGES).then(|| (self.pages + 1) / ARENA_PAGES)
    }

    /// The entry `word` found for heap page `page` (numbered from the heap's start):
    /// `Ok(None)` for no span, `Err` for a word no writer produced.
    ///
    /// # Errors
    ///
    /// [`InvalidEntry`] if the tag, the check or the page count is wrong.
    pub fn decode(word: u64, page: usize) -> Result<Option<Self>, InvalidEntry> {
        if word == 0 {
            return Ok(None);
        }
        let low = word & 0xffff_ffff_ffff;
        if word >> 48 != entry_check(low, page) {
            return Err(InvalidEntry);
        }
        let type_index = ((word >> 8) & 0xff_ffff) as u32;
        match word & 0xff {
            SPAN_TAG => {
                let pages = ((word >> 32) & 0x1ff) as usize;
                if pages == 0 {
                    return Err(InvalidEntry);
                }
                Ok(Some(Self {
                    type_index,
                    pages,
                    slot_class: ((word >> 41) & 0x7f) as u8,
                }))
            }
            HUGE_SPAN_TAG => {
                let arenas = ((word >> 32) & 0x7fff) as usize;
                if arenas < 2 {
                    return Err(InvalidEntry);
                }
                Ok(Some(Self {
                    type_index,
                    pages: arenas * ARENA_PAGES - 1,
                    slot_class: if word & HUGE_SLICE_BIT == 0 {
                        0
                    } else {
                        OWN_SPAN_CLASS
                    },
                }))
            }
            _ => Err(InvalidEntry),
        }
    }
}

/// A page-table word that no writer produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidEntry;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::MAX_HUGE_ARENAS;

    #[test]
    fn entries_round_trip_and_reject_noise() {
        let entry = SpanEntry {
            type_index: 77,
            pages: 3,
            slot_class: 0,
        };
        let word = entry.encode(1234);
        assert_eq!(SpanEntry::decode(word, 1234), Ok(Some(entry)));
        let slices = SpanEntry {
            type_index: 5,
            pages: 511,
            slot_class: 127,
        };
        assert_eq!(
            SpanEntry::decode(slices.encode(9), 9),
            Ok(Some(slices)),
            "the widest page count and class"
        );
        let huge = SpanEntry {
            type_index: 6,
            pages: 3 * ARENA_PAGES - 1,
            slot_class: OWN_SPAN_CLASS,
        };
        assert_eq!(huge.huge_arenas(), Some(3));
        assert_eq!(
            SpanEntry::decode(huge.encode(4), 4),
            Ok(Some(huge)),
            "a huge slice"
        );
        let huge_value = SpanEntry {
            slot_class: 0,
            pages: MAX_HUGE_ARENAS * ARENA_PAGES - 1,
            ..huge
        };
        assert_eq!(
            SpanEntry::decode(huge_value.encode(4), 4),
            Ok(Some(huge_value)),
            "the most arenas, one value"
        );
        let one_arena = (huge.encode(4) & !(0x7fff << 32)) | 1 << 32;
        let one_arena =
            one_arena & 0xffff_ffff_ffff | entry_check(one_arena & 0xffff_ffff_ffff, 4) << 48;
        assert!(
            SpanEntry::decode(one_arena, 4).is_err(),
            "a huge span of one arena is no writer's"
        );
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
    fn the_header_checks_itself() {
        let header = HeapHeader::new(4096);
        let bytes = header.as_bytes();
        assert_eq!(HeapHeader::parse(bytes), Ok(header));
        assert!(HeapHeader::parse(&bytes[..63]).is_err(), "short");
        for byte in 0..bytes.len() {
            let mut damaged = bytes.to_vec();
            damaged[byte] ^= 0x10;
            assert!(HeapHeader::parse(&damaged).is_err(), "byte {byte}");
        }
    }
}
