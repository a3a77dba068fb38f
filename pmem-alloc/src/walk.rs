//! The object graph without the application's code: every object reachable from the roots,
//! with where each of its pointers leads, for a pool tool to dump and check
//! ([`Heap::walk`]).
//!
//! The walk follows exactly what the collector follows (`gc.rs`): the same pointer maps,
//! the same judgement of each pointer ([`Heap::resolve`]), and the same checks of a slice's
//! length against its slot. It reads the region and writes nothing.

use std::collections::VecDeque;

use crate::error::HeapError;
use crate::gc::{MISTYPED_OBJECT, MISTYPED_ROOT, Resolved};
use crate::heap::Heap;
use crate::region::Region;
use crate::types::TypeKind;

/// Where a pointer of a reachable object leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointerTarget {
    /// Nowhere: the pointer is null.
    Null,
    /// Into the root object (which is always live).
    Root,
    /// To the start of an allocated object of the pointer's type.
    Object,
    /// Nowhere the pointer's type allows: why. The collector counts it as dangling (and,
    /// for an object of another type, keeps that object and traces it as what it is).
    Dangling(&'static str),
}

/// A pointer found in a reachable object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointerField {
    /// The pointer's own pool offset.
    pub at: u64,
    /// What it holds: the pool offset it points at, or 0.
    pub value: u64,
    /// The layout hash of the type it must point at.
    pub pointee: u64,
    /// Where it leads.
    pub target: PointerTarget,
}

/// A reachable object, as [`Heap::walk`] visits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectVisit {
    /// Its pool offset.
    pub offset: u64,
    /// Its type's index in the heap's type table ([`Heap::type_info`]).
    pub type_index: u32,
    /// The bytes it occupies: its slot, or for the root object its type's size.
    pub size: u64,
    /// For a slice, how many elements it holds; `None` for a single value.
    pub elements: Option<u64>,
    /// Its pointers, in the order of its type's pointer map (element by element).
    pub pointers: Vec<PointerField>,
}

impl Heap {
    /// Visits every object reachable from the root object and the named roots, each once,
    /// breadth first: the root first, then what the named roots point at, then what those
    /// objects point at, in the order of their pointers. A pointer that leads nowhere is
    /// visited as a field and not followed; one that hits an object of another type is
    /// followed, as the collector does. Reads `region`, writes nothing.
    ///
    /// # Errors
    ///
    /// [`HeapError::Corrupted`] if a slice's length exceeds its slot or a pointer map
    /// reaches past the region's end, which a heap that [`load`](Heap::load) accepted and
    /// whose collection succeeded never has.
    pub fn walk(
        &self,
        region: &impl Region,
        mut visit: impl FnMut(&ObjectVisit),
    ) -> Result<(), HeapError> {
        let mut seen: Vec<Vec<u64>> = self
            .spans
            .iter()
            .map(|span| {
                span.as_ref()
                    .map_or_else(Vec::new, |span| vec![0; span.bitmap_words()])
            })
            .collect();
        let mut queue = VecDeque::new();
        let mut enqueue = |queue: &mut VecDeque<(u64, u32, u64)>, value, pointee| {
            if let Resolved::Object { id, slot, .. } = self.resolve(value, pointee) {
                let word = &mut seen[id][slot / 64];
                let bit = 1 << (slot % 64);
                if *word & bit == 0 {
                    *word |= bit;
                    let span = self.spans[id].as_ref().expect("resolved");
                    queue.push_back((value, span.type_index, span.class().slot as u64));
                }
            }
        };
        for named in self.named_roots(region) {
            if let Some(info) = self.type_info(named.type_index) {
                enqueue(&mut queue, named.pointer, Some(info.layout_hash));
            }
        }
        let mut next = Some((self.root.offset, self.root_type, self.root.size));
        while let Some((offset, type_index, size)) = next.take().or_else(|| queue.pop_front()) {
            let mut pointers = Vec::new();
            self.for_each_pointer(region, offset, type_index, |at, value, pointee| {
                pointers.push(PointerField {
                    at,
                    value,
                    pointee,
                    target: match self.resolve(value, Some(pointee)) {
                        Resolved::Null => PointerTarget::Null,
                        Resolved::IntoRoot => PointerTarget::Root,
                        Resolved::MistypedRoot => PointerTarget::Dangling(MISTYPED_ROOT),
                        Resolved::Object { mistyped: true, .. } => {
                            PointerTarget::Dangling(MISTYPED_OBJECT)
                        }
                        Resolved::Object { .. } => PointerTarget::Object,
                        Resolved::Dangling(reason) => PointerTarget::Dangling(reason),
                    },
                });
            })?;
            for pointer in &pointers {
                enqueue(&mut queue, pointer.value, Some(pointer.pointee));
            }
            let is_slice = self.types[type_index as usize].info.kind == TypeKind::Slice;
            let elements = if is_slice && offset != self.root.offset {
                Some(self.elements_of(region, offset, type_index)?.0)
            } else {
                None
            };
            visit(&ObjectVisit {
                offset,
                type_index,
                size,
                elements,
                pointers,
            });
        }
        Ok(())
    }
}
