//! How a type's objects lie in its spans: the slot size (the size rounded up to the
//! alignment) and the span's page count, chosen per type to waste little.

use crate::error::HeapError;
use crate::layout::{MAX_SPAN_PAGES, PAGE};
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
    /// gets a span of its own.
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
            let pages = slot.div_ceil(PAGE);
            if pages > MAX_SPAN_PAGES {
                return Err(too_large());
            }
            return Ok(Self {
                slot,
                objects: 1,
                pages,
            });
        }
        let waste = |pages: usize| (pages * PAGE) % slot;
        let pages = (1..=8)
            .find(|&pages| pages * PAGE >= slot && waste(pages) * 8 <= pages * PAGE)
            .unwrap_or_else(|| {
                (1..=8)
                    .filter(|&pages| pages * PAGE >= slot)
                    .min_by_key(|&pages| waste(pages) * 1000 / (pages * PAGE))
                    .expect("8 pages hold a slot of at most 4")
            });
        Ok(Self {
            slot,
            objects: pages * PAGE / slot,
            pages,
        })
    }
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
        };
        assert!(matches!(
            Class::for_type(&info(600 * PAGE as u64, 8)),
            Err(HeapError::ObjectTooLarge { .. })
        ));
        assert!(matches!(
            Class::for_type(&info(8192, 8192)),
            Err(HeapError::OverAligned { .. })
        ));
    }
}
