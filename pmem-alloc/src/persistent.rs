use crate::pointer_map::PointerMap;
use crate::type_hash::{SEED, hash_str, hash_u64};

/// A type whose values may live in persistent memory.
///
/// A value in a pool outlives the process that wrote it and is read back by another, maybe
/// from a file that was damaged on the way. So a persistent type is plain data:
///
/// - it holds no volatile pointer (`&T`, `Box<T>`, `Vec<T>`, `String`, `Rc<T>`, raw or function
///   pointers): an address is meaningless in the next process. Point into the pool with
///   [`PPtr`](crate::PPtr), an offset that stays valid wherever the pool is mapped;
/// - every bit pattern of its size is a valid value, so reading a pool never creates an invalid
///   value, whatever the file holds. This is why `bool`, `char`, references and most enums are
///   not `Persistent`;
/// - it has no padding bytes, so every byte the program writes is a defined byte that undo
///   logging and checksums may read;
/// - it has no interior mutability (`Cell`, atomics), so a shared reference into a pool
///   cannot change persistent memory behind the transaction system's back. The one
///   exception is the runtime's `PMutex`, whose value changes only under its lock inside a
///   transaction, which logs it;
/// - its layout is fixed by its definition (`#[repr(C)]` or `#[repr(transparent)]`), and
///   [`LAYOUT_HASH`](Persistent::LAYOUT_HASH) changes whenever that layout does.
///
/// Implement it with `#[derive(Persistent)]`, which checks all of the above at compile time.
///
/// For a generic type, the derive's padding and `Drop` checks are constant assertions inside
/// [`LAYOUT_HASH`](Persistent::LAYOUT_HASH), which run when it is evaluated for an
/// instantiation. Code that reads or writes a `T: Persistent` as bytes must therefore
/// evaluate `T::LAYOUT_HASH` first (`const { T::LAYOUT_HASH }`); the runtime does, on every
/// path that touches a pool object.
///
/// # Safety
///
/// An implementation must uphold every rule in the list above: reading any
/// `size_of::<Self>()` bytes as `Self` must be sound, the type must contain no `UnsafeCell`
/// (but inside the runtime's `PMutex`, and then [`CONTAINS_LOCK`](Persistent::CONTAINS_LOCK)
/// must be `true`) and no pointer into volatile memory, no byte may be padding, the hashes must follow
/// [`type_hash`](crate::type_hash), and [`describe_pointers`](Persistent::describe_pointers)
/// must name every [`PPtr`](crate::PPtr) the type holds: the collector frees what no
/// described pointer reaches. [`POINTER_FREE`](Persistent::POINTER_FREE) may be `true` only
/// if `describe_pointers` adds nothing, for any offset.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in persistent memory",
    label = "`{Self}` is not `Persistent`",
    note = "a type stored in a pool must be plain data: derive `Persistent` on a `#[repr(C)]` struct whose fields are all `Persistent`",
    note = "volatile pointers (`&T`, `Box<T>`, `Vec<T>`, `String`, `Rc<T>`, raw and function pointers) are meaningless after a restart: point into the pool with `pmem::PPtr<T>`, and grow data in it with `pmem::PVec<T>`, `pmem::PString` and the persistent maps",
    note = "every bit pattern must be a valid value, so `bool`, `char`, `Option` and enums are refused: store a `u8`, a `u32` or an integer tag instead; for `Option<PPtr<T>>`, store the `PPtr<T>`, whose `PPtr::null()` is `None`",
    note = "interior mutability (`Cell`, `RefCell`, atomics) would change a pool behind the undo log: use a plain field, written inside a transaction, or a `pmem::PMutex` for data that threads share"
)]
pub unsafe trait Persistent: Sized {
    /// Hash of the type's path (defining module and name) and its generic arguments (a type
    /// argument's name hash, a const argument's value); see [`type_hash`](crate::type_hash).
    const NAME_HASH: u64;
    /// Hash of the type's name and complete layout; see [`type_hash`](crate::type_hash).
    const LAYOUT_HASH: u64;

    /// Whether a value holds a lock (the runtime's `PMutex`) anywhere inside: the pool then
    /// refuses pointers into the middle of such a root, which could read bytes the lock
    /// guards.
    const CONTAINS_LOCK: bool = false;

    /// Whether a value holds no persistent pointer: [`describe_pointers`] adds nothing.
    /// Bytes of such a type that nothing reads (a collection's slot past its length) may
    /// keep any value, a stale one included, since the collector, which traces whole
    /// objects, finds nothing to follow in them: `PVec::push` stores into such a slot
    /// without an undo entry. `false` unless an implementation says otherwise (the derive
    /// computes it from the fields), which only costs that store its entry.
    ///
    /// [`describe_pointers`]: Persistent::describe_pointers
    const POINTER_FREE: bool = false;

    /// Adds to `map` every persistent pointer of a value that starts `offset` bytes into the
    /// object being described (see [`PointerMap`]).
    fn describe_pointers(map: &mut PointerMap, offset: usize);
}

macro_rules! primitive {
    ($($ty:ty),* $(,)?) => {$(
        // SAFETY: a primitive number has no pointer, no padding, no interior mutability, and
        // every bit pattern of its size is a valid value.
        unsafe impl Persistent for $ty {
            const NAME_HASH: u64 = hash_str(SEED, stringify!($ty));
            const LAYOUT_HASH: u64 =
                hash_u64(Self::NAME_HASH, core::mem::size_of::<$ty>() as u64);
            const POINTER_FREE: bool = true;

            fn describe_pointers(_map: &mut PointerMap, _offset: usize) {}
        }
    )*};
}

primitive!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    ()
);

// SAFETY: an array of persistent elements is as plain as its element: arrays have no padding
// between elements, and any bit pattern is valid for each element.
unsafe impl<T: Persistent, const N: usize> Persistent for [T; N] {
    const NAME_HASH: u64 = hash_u64(hash_str(T::NAME_HASH, "[;]"), N as u64);
    const LAYOUT_HASH: u64 = hash_u64(hash_str(T::LAYOUT_HASH, "[;]"), N as u64);
    const CONTAINS_LOCK: bool = T::CONTAINS_LOCK;
    const POINTER_FREE: bool = T::POINTER_FREE;

    fn describe_pointers(map: &mut PointerMap, offset: usize) {
        map.push_array::<T>(offset, N);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_have_distinct_identities() {
        let hashes = [
            u8::LAYOUT_HASH,
            u16::LAYOUT_HASH,
            u32::LAYOUT_HASH,
            u64::LAYOUT_HASH,
            i64::LAYOUT_HASH,
            f64::LAYOUT_HASH,
            <[u64; 2]>::LAYOUT_HASH,
            <[u64; 3]>::LAYOUT_HASH,
            <[u32; 2]>::LAYOUT_HASH,
        ];
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
