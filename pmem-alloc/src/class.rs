//! How a type's objects lie in its spans: the slot size (the size rounded up to the
//! alignment) and the span's page count, chosen per type to waste little.

use crate::error::HeapError;
use crate::layout::{ARENA_PAGES, MAX_OBJECT_PAGES, MAX_SPAN_PAGES, PAGE};
use crate::types::TypeInfo;

/// Where slots of one type lie in its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) slot: usize,
    pub(crate) objects: usize,
    pub(crate) pages: usize,
}

impl Class {
    /// The class of objects of `size` bytes aligned to `align`: the span's page count
    /// (1 to 8) wastes at most an eighth of it where possible; beyond four pages an object
    /// gets a span of its own, beyond an arena's 511 data pages a huge one.
    pub(crate) fn for_type(info: &TypeInfo) -> Result<Self, HeapError> {
        if info.align > PAGE as u64 {
            return Err(HeapError::OverAligned {
                type_name: info.name.clone(),
                align: info.align,
            });
        }
        let too_large = || HeapError::ObjectTooLarge {
            type_name: info.name.clone(),
            size: info.size,
        };
        let slot = usize::try_from(info.size)
            .ok()
            .and_then(|size| {
                size.max(1)
                    .checked_next_multiple_of(info.align.max(1) as usize)
            })
            .ok_or_else(too_large)?;
        if slot > 4 * PAGE {
            return Self::own_span(slot, slot).ok_or_else(too_large);
        }
        Ok(Self::sharing_spans(slot))
    }

    /// A span of its own for one object of `len` bytes in a slot of `slot` bytes, if it
    /// fits one: within an arena (at most [`MAX_SPAN_PAGES`]), or else a huge span of
    /// whole arenas (at most [`MAX_OBJECT_PAGES`]), whose slot is all of it.
    fn own_span(slot: usize, len: usize) -> Option<Self> {
        let pages = len.div_ceil(PAGE);
        if pages <= MAX_SPAN_PAGES {
            return Some(Self {
                slot,
                objects: 1,
                pages,
            });
        }
        let pages = (pages + 1).div_ceil(ARENA_PAGES) * ARENA_PAGES - 1;
        (pages <= MAX_OBJECT_PAGES).then_some(Self {
            slot: pages * PAGE,
            objects: 1,
            pages,
        })
    }

    /// Whether spans of this class are huge: whole arenas, the page tables of all but the
    /// first inside the object (`layout.rs`, "Huge spans").
    pub(crate) fn is_huge(&self) -> bool {
        self.pages > MAX_SPAN_PAGES
    }

    /// Spans of slots of `slot` bytes (at most four pages): the page count (1 to 8)
    /// wastes at most an eighth of the span where possible.
    fn sharing_spans(slot: usize) -> Self {
        let waste = |pages: usize| (pages * PAGE) % slot;
        let pages = (1..=8)
            .find(|&pages| pages * PAGE >= slot && waste(pages) * 8 <= pages * PAGE)
            .unwrap_or_else(|| {
                (1..=8)
                    .filter(|&pages| pages * PAGE >= slot)
                    .min_by_key(|&pages| waste(pages) * 1000 / (pages * PAGE))
                    .expect("8 pages hold a slot of at most 4")
            });
        Self {
            slot,
            objects: pages * PAGE / slot,
            pages,
        }
    }

    /// The class of a slice of `len` elements of the type `element` describes, and the
    /// slot class its span entry records (see [`SpanEntry`](crate::format::SpanEntry)):
    /// the header and elements (`slice_object_len`), rounded up to one of
    /// [`SLICE_SLOT_CLASSES`] sizes (16 bytes to 16 KiB, 16 bytes or at most a quarter
    /// above the one before), or a span of its own, whole pages, beyond that or for elements aligned
    /// to more than 16 bytes.
    pub(crate) fn for_slice(element: &TypeInfo, len: u64) -> Result<(Self, u8), HeapError> {
        if element.align > PAGE as u64 {
            return Err(HeapError::OverAligned {
                type_name: element.name.clone(),
                align: element.align,
            });
        }
        let too_large = || HeapError::ObjectTooLarge {
            type_name: element.name.clone(),
            size: element.size.saturating_mul(len),
        };
        let bytes = slice_object_len(element.size, element.align, len).ok_or_else(too_large)?;
        if element.align <= 16 {
            if let Some(index) = (0..SLICE_SLOT_CLASSES).find(|&index| slice_slot(index) >= bytes) {
                return Ok((Self::sharing_spans(slice_slot(index)), index));
            }
        }
        let pages = bytes.div_ceil(PAGE);
        let class = Self::own_span(pages * PAGE, bytes).ok_or_else(too_large)?;
        Ok((class, OWN_SPAN_CLASS))
    }

    /// The class of a span of slices of elements aligned to `align` whose entry records
    /// `slot_class` and `pages`, if an allocation makes such spans: shared slots only for
    /// alignments up to 16 (a slot starts 16-aligned), a span of its own for any.
    pub(crate) fn of_slice_span(slot_class: u8, pages: usize, align: u64) -> Option<Self> {
        if slot_class == OWN_SPAN_CLASS {
            return Self::own_span(pages * PAGE, pages * PAGE);
        }
        if slot_class >= SLICE_SLOT_CLASSES || align > 16 {
            return None;
        }
        let class = Self::sharing_spans(slice_slot(slot_class));
        (class.pages == pages).then_some(class)
    }
}

/// How many slot sizes spans of slices share.
pub(crate) const SLICE_SLOT_CLASSES: u8 = 40;
/// The slot class of a slice that has a span to itself.
pub(crate) const OWN_SPAN_CLASS: u8 = 127;

/// The slot size of shared slot class `index`: multiples of 16 up to 256 bytes, then four
/// per doubling up to 16 KiB.
pub(crate) fn slice_slot(index: u8) -> usize {
    let index = usize::from(index);
    if index < 16 {
        return 16 * (index + 1);
    }
    let (doubling, step) = ((index - 16) / 4, (index - 16) % 4);
    let base = 256 << doubling;
    base + base / 4 * (step + 1)
}

/// The bytes of a slice object of `len` elements of `size` bytes aligned to `align`: its
/// header (the length, then padding up to the elements' alignment) and the elements.
pub(crate) fn slice_object_len(size: u64, align: u64, len: u64) -> Option<usize> {
    let bytes = size
        .checked_mul(len)?
        .checked_add(slice_header_len(align) as u64)?;
    usize::try_from(bytes).ok()
}

/// Where a slice's elements start: after its 8-byte length, at the elements' alignment.
#[must_use]
pub fn slice_header_len(align: u64) -> usize {
    align.max(8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(size: u64, align: u64) -> Class {
        Class::for_type(&TypeInfo {
            layout_hash: 1,
            size,
            align,
            name: "T".into(),
            pointers: crate::PointerMap::new(),
            kind: crate::TypeKind::Sized,
        })
        .expect("a class")
    }

    #[test]
    fn classes_waste_little() {
        assert_eq!(
            class(64, 8),
            Class {
                slot: 64,
                objects: 64,
                pages: 1
            }
        );
        assert_eq!(class(24, 8).objects, 170);
        let odd = class(1500, 4);
        assert!(
            (odd.pages * PAGE) % odd.slot * 8 <= odd.pages * PAGE,
            "{odd:?}"
        );
        assert_eq!(class(0, 1).slot, 1);
        assert_eq!(
            class(5 * PAGE as u64, 8),
            Class {
                slot: 5 * PAGE,
                objects: 1,
                pages: 5
            }
        );
    }

    #[test]
    fn refuses_types_it_cannot_hold() {
        let info = |size, align| TypeInfo {
            layout_hash: 1,
            size,
            align,
            name: "Big".into(),
            pointers: crate::PointerMap::new(),
            kind: crate::TypeKind::Sized,
        };
        let huge = Class::for_type(&info(600 * PAGE as u64, 8)).expect("a huge span");
        assert_eq!(
            (huge.pages, huge.slot),
            (1023, 1023 * PAGE),
            "two whole arenas"
        );
        assert!(huge.is_huge());
        assert!(matches!(
            Class::for_type(&info((MAX_OBJECT_PAGES * PAGE + 1) as u64, 8)),
            Err(HeapError::ObjectTooLarge { .. })
        ));
        assert!(matches!(
            Class::for_type(&info(8192, 8192)),
            Err(HeapError::OverAligned { .. })
        ));
    }

    #[test]
    fn slice_classes_grow_by_16_bytes_or_a_quarter_and_round_trip_through_entries() {
        let sizes: Vec<usize> = (0..SLICE_SLOT_CLASSES).map(slice_slot).collect();
        assert_eq!(sizes[0], 16);
        assert_eq!(sizes[15], 256);
        assert_eq!(sizes[16], 320);
        assert_eq!(*sizes.last().expect("classes"), 4 * PAGE);
        for pair in sizes.windows(2) {
            let step = pair[1] - pair[0];
            assert!(step == 16 || step * 4 <= pair[0], "{pair:?}");
            assert_eq!(pair[1] % 16, 0);
        }
        let element = |size, align| TypeInfo {
            layout_hash: 1,
            size,
            align,
            name: "[T]".into(),
            pointers: crate::PointerMap::new(),
            kind: crate::TypeKind::Slice,
        };
        for (size, align, len) in [
            (8, 8, 0),
            (8, 8, 1),
            (1, 1, 100),
            (24, 8, 1000),
            (8, 8, 200_000),
            (64, 64, 3),
        ] {
            let (class, slot_class) = Class::for_slice(&element(size, align), len).expect("fits");
            let bytes = slice_object_len(size, align, len).expect("small");
            assert!(class.slot >= bytes, "{size} x {len}: {class:?}");
            assert_eq!(
                Class::of_slice_span(slot_class, class.pages, align),
                Some(class),
                "{size} x {len}"
            );
        }
        assert_eq!(
            Class::for_slice(&element(8, 8), 2).expect("fits").0.slot,
            32,
            "8 + 16 bytes in a 32-byte slot"
        );
        let (huge, slot_class) = Class::for_slice(&element(8, 8), 1 << 20).expect("8 MiB");
        assert_eq!(
            huge.pages,
            5 * ARENA_PAGES - 1,
            "8 MiB and a header in five arenas"
        );
        assert_eq!(
            Class::of_slice_span(slot_class, huge.pages, 8),
            Some(huge),
            "a huge slice's entry"
        );
        assert!(matches!(
            Class::for_slice(&element(8, 8), 1 << 40),
            Err(HeapError::ObjectTooLarge { .. })
        ));
        assert!(matches!(
            Class::for_slice(&element(8, 8), u64::MAX),
            Err(HeapError::ObjectTooLarge { .. })
        ));
        assert_eq!(Class::of_slice_span(SLICE_SLOT_CLASSES, 1, 8), None);
        assert_eq!(Class::of_slice_span(100, 1, 8), None, "no such class");
        assert_eq!(
            Class::of_slice_span(0, 2, 8),
            None,
            "16-byte slots take one page"
        );
        assert_eq!(
            Class::of_slice_span(4, 1, 32),
            None,
            "elements aligned to 32 never share 16-aligned slots"
        );
    }
}
