//! [`PSlice`]: a pointer to a run of elements whose length is stored with them.

use core::marker::PhantomData;

use crate::persistent::Persistent;
use crate::pointer_map::PointerMap;
use crate::type_hash::{hash_str, hash_u64};

/// The layout hash of slices of `T`, as their type record and the pointer maps of
/// [`PSlice<T>`] name them.
#[must_use]
pub const fn slice_layout_hash<T: Persistent>() -> u64 {
    hash_str(T::LAYOUT_HASH, "[]")
}

/// A pointer into a pool to a slice of `T`: the byte offset of a heap object that holds its
/// length and then its elements. The length is fixed when the slice is allocated (a growing
/// collection allocates a larger slice and leaves the old one to the collector), so the
/// pointer is 8 bytes, like [`PPtr`](crate::PPtr), and a store of one is failure-atomic.
///
/// Reading through it goes through the pool (`Pool::get_slice`), which checks that a slice
/// of `T` starts there and that its length fits the slot the heap gave it.
#[repr(transparent)]
pub struct PSlice<T> {
    offset: u64,
    target: PhantomData<fn() -> T>,
}

offset_pointer!(PSlice, "the slice");

// SAFETY: a `PSlice` is a `u64` with a zero-sized marker: no padding, no interior
// mutability, every bit pattern valid (offsets and lengths are checked on use), and it
// points into the pool, never into volatile memory. `describe_pointers` names it, with the
// slice type's layout hash as its pointee.
unsafe impl<T: Persistent> Persistent for PSlice<T> {
    const NAME_HASH: u64 = hash_str(T::NAME_HASH, "PSlice");
    const LAYOUT_HASH: u64 = hash_u64(hash_str(slice_layout_hash::<T>(), "PSlice"), 8);

    fn describe_pointers(map: &mut PointerMap, offset: usize) {
        map.push(offset, 1, size_of::<Self>(), slice_layout_hash::<T>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PPtr;

    #[test]
    fn is_eight_bytes_and_distinct_from_a_pointer() {
        assert_eq!(size_of::<PSlice<[u64; 4]>>(), 8);
        assert!(PSlice::<u8>::null().is_null());
        assert_eq!(PSlice::<u8>::from_offset(64).offset(), 64);
        assert_ne!(PSlice::<u64>::LAYOUT_HASH, PPtr::<u64>::LAYOUT_HASH);
        assert_ne!(PSlice::<u64>::LAYOUT_HASH, PSlice::<u32>::LAYOUT_HASH);
        assert_ne!(slice_layout_hash::<u64>(), u64::LAYOUT_HASH);
        assert_eq!(
            format!("{:?}", PSlice::<u8>::from_offset(0x40)),
            "PSlice(0x40)"
        );
    }
}
