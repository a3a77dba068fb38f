//! Runtime-sized objects: slices in the heap, reached through [`PSlice`].
//!
//! A slice object is its length (a little-endian `u64`), padding up to the elements'
//! alignment (`pmem_alloc::slice_header_len`), then the elements. Its type record is the
//! element's, marked as a slice, so the collector traces each element's pointers. The length
//! is written once, when the slice is allocated, and never changes: no safe code reaches
//! it. A reader checks it against the slot the heap gave the object, so a damaged length
//! is refused rather than read past.
//!
//! A slice larger than an arena's 511 data pages is a *huge* object: whole arenas of its
//! own, up to 64 GiB (`pmem-alloc`'s `layout.rs`, "Huge spans"), the pool growing to make
//! them. Nothing here differs for it: its slot is all its arenas, the page-table pages
//! inside it are data to the store barrier (the pool's `DataRanges` shares the heap's
//! list of them), and its allocation's one fence is the heap's own.

use core::ptr::NonNull;

use pmem_alloc::{
    Growth, HiddenSlot, PSlice, Persistent, TypeInfo, slice_header_len, slice_layout_hash,
};

use crate::error::Error;
use crate::txn;

use super::heap::{SharedAllocation, TypeKey};
use super::{Pool, Visibility};

impl TypeKey {
    pub(super) fn slice_of<T: Persistent>() -> Self {
        Self {
            layout_hash: slice_layout_hash::<T>(),
            info: TypeInfo::slice_of::<T>,
        }
    }
}

impl<R: Persistent> Pool<R> {
    /// The slice `slice` points at.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPointer`] if the pointer is null, or no allocated slice of `T`
    /// starts where it points, or the pool's record of `T` disagrees with `T` (as for
    /// [`get`](Pool::get)), or the slice's stored length does not fit the space the heap
    /// gave it (a damaged pool).
    pub fn get_slice<T: Persistent + Sync>(&self, slice: PSlice<T>) -> Result<&[T], Error> {
        let elements = self.checked_slice(slice, Visibility::Published)?;
        // SAFETY: `checked_slice` checked that the elements lie inside one heap object in
        // the pool's data, which is mapped, aligned for `T` (slots start 16-aligned or on a
        // page, and the header keeps `T`'s alignment). `T: Persistent` makes every bit
        // pattern a valid `T`. As in `get`, no transaction writes them while `&self` is
        // borrowed, except one that allocated them, and the heap hides those.
        Ok(unsafe { elements.as_ref() })
    }

    /// Checks `slice` as [`get_slice`](Pool::get_slice) documents and returns its
    /// elements; `visibility` as in `checked_address`.
    pub(super) fn checked_slice<T: Persistent>(
        &self,
        slice: PSlice<T>,
        visibility: Visibility,
    ) -> Result<NonNull<[T]>, Error> {
        let _layout_checked: u64 = const { T::LAYOUT_HASH };
        let (elements, len) = self
            .checked_slice_raw(
                slice.offset(),
                &TypeKey::slice_of::<T>(),
                align_of::<T>(),
                size_of::<T>(),
                visibility,
            )
            .map_err(|error| match error {
                Error::InvalidPointer { offset, reason, .. } => Error::InvalidPointer {
                    offset,
                    type_name: core::any::type_name::<[T]>(),
                    reason,
                },
                other => other,
            })?;
        Ok(NonNull::slice_from_raw_parts(elements.cast::<T>(), len))
    }

    /// [`checked_slice`](Pool::checked_slice) for the slice type `key` of elements of
    /// `size` bytes aligned to `align`: where the elements start, and how many there are.
    pub(super) fn checked_slice_raw(
        &self,
        offset: u64,
        key: &TypeKey,
        align: usize,
        size: usize,
        visibility: Visibility,
    ) -> Result<(NonNull<u8>, usize), Error> {
        let invalid = |reason| Error::InvalidPointer {
            offset,
            type_name: "a slice",
            reason,
        };
        if offset == 0 {
            return Err(invalid("the pointer is null"));
        }
        let heap = &self.inner_read().heap;
        let index = visibility.slice_type(heap, offset).map_err(invalid)?;
        if heap
            .type_info(index)
            .is_none_or(|info| info.layout_hash != key.layout_hash)
        {
            return Err(invalid("the object there is not a slice of the type"));
        }
        if heap.verify_type(index, key.info).is_err() {
            return Err(invalid(
                "the pool's record of the type disagrees with the program's type (size, alignment or pointers)",
            ));
        }
        let slot = heap
            .slot_len(offset)
            .expect("an allocated object has a slot");
        let header = slice_header_len(align as u64);
        let start = offset as usize;
        // SAFETY: an allocated slot starts there, inside the mapping, aligned to 16 bytes
        // or a page, and at least `header` (8 or more) bytes long; the length word is
        // written once, when the slice is allocated, and only read after.
        let len = u64::from_le(unsafe { self.mapping.address_of(start).cast::<u64>().read() });
        let fits = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_mul(size))
            .and_then(|bytes| bytes.checked_add(header))
            .is_some_and(|bytes| bytes <= slot);
        if !fits {
            return Err(invalid(
                "the slice's stored length exceeds the space the heap gave it: the pool is damaged",
            ));
        }
        // A damaged span entry could put slots of elements aligned to more than 16 bytes at
        // 16-byte boundaries; the heap refuses such entries at load, and this refuses them
        // again where a misaligned reference would be made.
        if (start + header) % align != 0 {
            return Err(invalid(
                "the slice's elements are not aligned for their type",
            ));
        }
        let elements = self.mapping.address_of(start + header).cast_mut();
        let elements = NonNull::new(elements).expect("a mapped address is not null");
        Ok((elements, len as usize))
    }

    /// Allocates a slice of `len` elements, element `i` set to `element(i)`, inside the
    /// running transaction; `shared` as in `allocate_slot`.
    pub(super) fn alloc_slice_in_transaction<T: Persistent>(
        &self,
        len: usize,
        element: impl FnMut(usize) -> T,
        shared: Option<SharedAllocation<'_>>,
    ) -> Result<PSlice<T>, Error> {
        let _layout_checked: u64 = const { T::LAYOUT_HASH };
        let key = TypeKey::slice_of::<T>();
        let offset = match shared {
            None => self.allocate_exclusive_with(&key, |heap, region, type_index, growth| {
                heap.alloc_slice(region, type_index, len as u64, growth)
            })?,
            Some(SharedAllocation { hidden, .. }) => {
                let (offset, slot) = self.allocate_shared_slice(&key, len)?;
                hidden.push(slot);
                offset
            }
        };
        // SAFETY: the heap just returned this free slot for `len` elements of `T`.
        unsafe {
            fill_new_slice(
                self.mapping.address_of(offset as usize).cast_mut(),
                offset,
                len,
                element,
            )
        };
        Ok(PSlice::from_offset(offset))
    }

    /// A shared transaction's slice allocation: under the heap's lock, since slices are not
    /// cached per lane, and hidden until the transaction's body has returned. A new span's
    /// entry is durable before the lock is released, as other lanes may allocate from it.
    pub(super) fn allocate_shared_slice(
        &self,
        key: &TypeKey,
        len: usize,
    ) -> Result<(u64, HiddenSlot), Error> {
        let type_index = self.type_index_for(key)?;
        let mut inner = self.inner();
        let size = self.mapping.mapped_len();
        let (heap, mut region) = self.heap_and_region(&mut inner);
        let offset = heap
            .alloc_slice(&mut region, type_index, len as u64, Growth::Allowed)
            .map_err(Error::Heap)?;
        let slot = heap.hide(offset).expect("the heap just allocated the slot");
        txn::persist_shared_metadata(&self.mapping);
        drop(inner);
        self.note_growth(size);
        Ok((offset, slot))
    }
}

/// Writes a new slice of `len` elements, element `i` set to `element(i)`, into the slot at
/// pool offset `offset`, mapped at `slot`, and records it as the running transaction's.
///
/// It is recorded first, with a length of 0, and gets its length only once every element
/// is written: `element` may allocate, and an allocation may collect, which keeps what the
/// transaction allocated (this slice among them) and traces it, reading its length.
///
/// # Safety
///
/// The heap must have just handed out the slot, free, for a slice of `len` `T`s: at least
/// the header and `len` elements long, aligned for the length word and for `T`, inside the
/// pool's mapping and referenced by nothing.
pub(super) unsafe fn fill_new_slice<T: Persistent>(
    slot: *mut u8,
    offset: u64,
    len: usize,
    mut element: impl FnMut(usize) -> T,
) {
    let header = slice_header_len(align_of::<T>() as u64);
    let length = slot.cast::<u64>();
    // SAFETY: the slot's first 8 bytes, which the caller gives to this slice alone.
    unsafe { length.write(0) };
    txn::note_fresh(offset as usize, header + len * size_of::<T>());
    // SAFETY: the elements start `header` bytes into the slot, inside it.
    let elements = unsafe { slot.add(header) }.cast::<T>();
    for index in 0..len {
        // SAFETY: element `index < len` lies inside the slot.
        let at = unsafe { elements.add(index) };
        // SAFETY: as above; aligned for `T`, and referenced by nothing.
        unsafe { at.write(element(index)) };
    }
    // SAFETY: the length word, as above.
    unsafe { length.write((len as u64).to_le()) };
}
