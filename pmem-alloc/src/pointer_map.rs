//! Pointer maps: where a type keeps its persistent pointers.
//!
//! The collector traces the heap without the application's code, so every type stored in a
//! pool has its pointer map persisted next to it (see `layout.rs`). A map is a list of
//! [`PointerRun`]s, each `count` pointers `stride` bytes apart, so that an array of a
//! million pointers costs one run, not a million entries. `#[derive(Persistent)]` builds the
//! map from the fields' own maps ([`Persistent::describe_pointers`]).

use crate::persistent::Persistent;

/// `count` persistent pointers, the first `offset` bytes into the object and each next one
/// `stride` bytes further, all pointing at objects whose layout hash is `pointee`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PointerRun {
    /// Byte offset of the first pointer in the object.
    pub offset: u64,
    /// How many pointers the run holds (at least 1).
    pub count: u64,
    /// Distance in bytes between consecutive pointers of the run.
    pub stride: u64,
    /// [`Persistent::LAYOUT_HASH`] of the type the pointers point at.
    pub pointee: u64,
}

/// Where a type keeps its persistent pointers: a list of [`PointerRun`]s, persisted with the
/// type so that the collector can trace objects without the type's code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PointerMap {
    runs: Vec<PointerRun>,
}

impl PointerMap {
    /// An empty map: a type without pointers.
    #[must_use]
    pub const fn new() -> Self {
        Self { runs: Vec::new() }
    }

    /// The map of `T`.
    #[must_use]
    pub fn of<T: Persistent>() -> Self {
        let mut map = Self::new();
        T::describe_pointers(&mut map, 0);
        map
    }

    /// Adds `count` pointers to objects of layout hash `pointee`, the first at `offset`,
    /// `stride` bytes apart. A run with no pointers adds nothing.
    pub fn push(&mut self, offset: usize, count: usize, stride: usize, pointee: u64) {
        if count == 0 {
            return;
        }
        self.runs.push(PointerRun {
            offset: offset as u64,
            count: count as u64,
            stride: stride as u64,
            pointee,
        });
    }

    /// Adds the pointers of `count` consecutive `T`s, the first at `offset`: what an array
    /// of `T` contributes to the map of the type that holds it.
    pub fn push_array<T: Persistent>(&mut self, offset: usize, count: usize) {
        let element = Self::of::<T>();
        let size = size_of::<T>();
        for run in &element.runs {
            let run_offset = run.offset as usize;
            if run.count == 1 {
                self.push(offset + run_offset, count, size, run.pointee);
            } else {
                for index in 0..count {
                    self.runs.push(PointerRun {
                        offset: (offset + index * size + run_offset) as u64,
                        ..*run
                    });
                }
            }
        }
    }

    /// The runs, in the order they were added.
    #[must_use]
    pub fn runs(&self) -> &[PointerRun] {
        &self.runs
    }

    /// Whether the type has no pointers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Every pointer's offset in the object, with its pointee's layout hash.
    pub fn pointers(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.runs.iter().flat_map(|run| {
            (0..run.count).map(move |index| (run.offset + index * run.stride, run.pointee))
        })
    }

    pub(crate) fn from_runs(runs: Vec<PointerRun>) -> Self {
        Self { runs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PPtr;

    #[test]
    fn primitives_have_no_pointers_and_pointers_have_one() {
        assert!(PointerMap::of::<u64>().is_empty());
        assert!(PointerMap::of::<[u64; 16]>().is_empty());
        let map = PointerMap::of::<PPtr<u32>>();
        assert_eq!(
            map.runs(),
            [PointerRun {
                offset: 0,
                count: 1,
                stride: 8,
                pointee: u32::LAYOUT_HASH
            }]
        );
    }

    #[test]
    fn an_array_of_pointers_is_one_run() {
        let map = PointerMap::of::<[PPtr<u64>; 1_000_000]>();
        assert_eq!(map.runs().len(), 1);
        assert_eq!(map.runs()[0].count, 1_000_000);
        assert_eq!(map.pointers().nth(3), Some((24, u64::LAYOUT_HASH)));
    }

    #[test]
    fn nested_arrays_expand_the_inner_runs() {
        let map = PointerMap::of::<[[PPtr<u8>; 3]; 2]>();
        let offsets: Vec<u64> = map.pointers().map(|(offset, _)| offset).collect();
        assert_eq!(offsets, [0, 8, 16, 24, 32, 40]);
    }
}
