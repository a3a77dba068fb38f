use core::marker::PhantomData;

use crate::persistent::Persistent;
use crate::pointer_map::PointerMap;
use crate::type_hash::hash_str;

/// The methods and traits of a pointer type into a pool, `$name<T> { offset, target }`: an
/// offset from the pool's start, 0 for null, compared and hashed as the offset. `$what`
/// names what it points at, for the docs.
macro_rules! offset_pointer {
    ($name:ident, $what:literal) => {
        impl<T> $name<T> {
            /// The null pointer, which points at nothing.
            #[must_use]
            pub const fn null() -> Self {
                Self::from_offset(0)
            }

            #[doc = concat!("A pointer to ", $what, " at `offset` bytes from the start of its pool.")]
            ///
            /// The offset is checked when the pointer is used, not here.
            #[must_use]
            pub const fn from_offset(offset: u64) -> Self {
                Self {
                    offset,
                    target: core::marker::PhantomData,
                }
            }

            /// The byte offset from the start of the pool; 0 for null.
            #[must_use]
            pub const fn offset(self) -> u64 {
                self.offset
            }

            /// Whether this is the null pointer.
            #[must_use]
            pub const fn is_null(self) -> bool {
                self.offset == 0
            }
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<T> Copy for $name<T> {}

        impl<T> Default for $name<T> {
            fn default() -> Self {
                Self::null()
            }
        }

        impl<T> PartialEq for $name<T> {
            fn eq(&self, other: &Self) -> bool {
                self.offset == other.offset
            }
        }

        impl<T> Eq for $name<T> {}

        impl<T> core::hash::Hash for $name<T> {
            fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
                self.offset.hash(state);
            }
        }

        impl<T> core::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                if self.is_null() {
                    f.write_str(concat!(stringify!($name), "(null)"))
                } else {
                    write!(f, concat!(stringify!($name), "({:#x})"), self.offset)
                }
            }
        }
    };
}

/// A typed pointer into a pool: the byte offset of a `T` from the start of the pool.
///
/// Offsets, not addresses, are stored, so a pool can be mapped anywhere and nothing is
/// rewritten when it is opened (go-pmem swizzles raw pointers at restart, which costs time
/// proportional to the heap). Offset 0 is the pool header, never an object, so it serves as
/// null. A `PPtr` is 8 bytes, the unit the hardware writes failure-atomically.
///
/// A `PPtr` is only a number: reading through it goes through the pool
/// (`Pool::get`), which checks that the offset is in bounds and aligned for `T`. Since every
/// bit pattern of a [`Persistent`] type is a valid value, a damaged or foreign offset can give
/// a wrong value, never undefined behaviour.
#[repr(transparent)]
pub struct PPtr<T> {
    offset: u64,
    target: PhantomData<fn() -> T>,
}

offset_pointer!(PPtr, "the `T`");

// SAFETY: a `PPtr` is a `u64` with a zero-sized marker: no padding, no interior mutability,
// every bit pattern valid (offsets are checked on use), and it points into the pool, never
// into volatile memory. Only the pointee's name enters the layout hash (see `type_hash`).
unsafe impl<T: Persistent> Persistent for PPtr<T> {
    const NAME_HASH: u64 = hash_str(T::NAME_HASH, "PPtr");
    const LAYOUT_HASH: u64 = hash_str(Self::NAME_HASH, "u64");

    fn describe_pointers(map: &mut PointerMap, offset: usize) {
        map.push(offset, 1, size_of::<Self>(), T::LAYOUT_HASH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_eight_bytes_and_null_is_zero() {
        assert_eq!(core::mem::size_of::<PPtr<[u64; 100]>>(), 8);
        assert!(PPtr::<u64>::null().is_null());
        assert!(PPtr::<u64>::default().is_null());
        assert!(!PPtr::<u64>::from_offset(4096).is_null());
        assert_eq!(PPtr::<u64>::from_offset(4096).offset(), 4096);
    }

    #[test]
    fn pointee_type_is_part_of_the_identity() {
        assert_ne!(PPtr::<u64>::LAYOUT_HASH, PPtr::<u32>::LAYOUT_HASH);
        assert_ne!(PPtr::<u64>::LAYOUT_HASH, u64::LAYOUT_HASH);
    }

    #[test]
    fn debug_shows_offset_or_null() {
        assert_eq!(format!("{:?}", PPtr::<u8>::null()), "PPtr(null)");
        assert_eq!(
            format!("{:?}", PPtr::<u8>::from_offset(0x1040)),
            "PPtr(0x1040)"
        );
    }
}
