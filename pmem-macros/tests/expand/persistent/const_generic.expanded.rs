#[diagnostic::do_not_recommend]
unsafe impl<
    T: Persistent,
    const N: usize,
    const SEALED: bool,
> ::pmem::__private::Persistent for Frame<T, N, SEALED> {
    #[allow(clippy::unnecessary_cast)]
    const NAME_HASH: u64 = {
        let hash = ::pmem::__private::hash_str(
            ::pmem::__private::SEED,
            ::core::concat!(::core::module_path!(), "::", "Frame"),
        );
        let hash = ::pmem::__private::hash_u64(
            hash,
            <T as ::pmem::__private::Persistent>::NAME_HASH,
        );
        let hash = ::pmem::__private::hash_u128(hash, N as u128);
        let hash = ::pmem::__private::hash_u128(hash, SEALED as u128);
        hash
    };
    const LAYOUT_HASH: u64 = {
        if ::core::mem::offset_of!(Self, header) != 0 {
            ::core::panic!("`Frame` has padding before its first field `header`");
        }
        if ::core::mem::offset_of!(Self, bytes)
            != ::core::mem::offset_of!(Self, header) + ::core::mem::size_of::<T>()
        {
            ::core::panic!(
                "`Frame` has padding between fields `header` and `bytes`, which a `Persistent` type may not have\nfill the gap with an explicit `[u8; N]` field, or order the fields from the largest alignment to the smallest"
            );
        }
        if ::core::mem::size_of::<Self>()
            != ::core::mem::offset_of!(Self, bytes) + ::core::mem::size_of::<[u8; N]>()
        {
            ::core::panic!(
                "`Frame` has padding after its last field, which a `Persistent` type may not have\nadd an explicit `[u8; N]` field at the end to fill it"
            );
        }
        if ::core::mem::needs_drop::<Self>() {
            ::core::panic!(
                "`Frame` implements `Drop`, which a `Persistent` type may not: objects in a pool are reclaimed by the collector and never dropped\nremove the `Drop` implementation of `Frame`"
            );
        }
        let mut hash = ::pmem::__private::hash_u64(
            Self::NAME_HASH,
            ::core::mem::align_of::<Self>() as u64,
        );
        hash = ::pmem::__private::hash_str(hash, "header");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, header) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <T as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        hash = ::pmem::__private::hash_str(hash, "bytes");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, bytes) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <[u8; N] as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        ::pmem::__private::hash_u64(hash, ::core::mem::size_of::<Self>() as u64)
    };
    const CONTAINS_LOCK: bool = false
        || <T as ::pmem::__private::Persistent>::CONTAINS_LOCK
        || <[u8; N] as ::pmem::__private::Persistent>::CONTAINS_LOCK;
    const POINTER_FREE: bool = true && <T as ::pmem::__private::Persistent>::POINTER_FREE
        && <[u8; N] as ::pmem::__private::Persistent>::POINTER_FREE;
    #[allow(unused_variables)]
    fn describe_pointers(map: &mut ::pmem::__private::PointerMap, offset: usize) {
        <T as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, header),
        );
        <[u8; N] as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, bytes),
        );
    }
}
impl<T: Persistent, const N: usize, const SEALED: bool> Frame<T, N, SEALED> {
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_header(&self) -> ::pmem::__private::Field<Self, T> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, header))
    }
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_bytes(&self) -> ::pmem::__private::Field<Self, [u8; N]> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, bytes))
    }
}
