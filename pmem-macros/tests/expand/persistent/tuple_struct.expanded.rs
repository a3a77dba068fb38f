#[diagnostic::do_not_recommend]
unsafe impl ::pmem::__private::Persistent for Extent {
    const NAME_HASH: u64 = {
        let hash = ::pmem::__private::hash_str(
            ::pmem::__private::SEED,
            ::core::concat!(::core::module_path!(), "::", "Extent"),
        );
        hash
    };
    const LAYOUT_HASH: u64 = {
        if ::core::mem::offset_of!(Self, 0) != 0 {
            ::core::panic!("`Extent` has padding before its first field `0`");
        }
        if ::core::mem::offset_of!(Self, 1)
            != ::core::mem::offset_of!(Self, 0) + ::core::mem::size_of::<u64>()
        {
            ::core::panic!(
                "`Extent` has padding between fields `0` and `1`, which a `Persistent` type may not have\nfill the gap with an explicit `[u8; N]` field, or order the fields from the largest alignment to the smallest"
            );
        }
        if ::core::mem::offset_of!(Self, 2)
            != ::core::mem::offset_of!(Self, 1) + ::core::mem::size_of::<u32>()
        {
            ::core::panic!(
                "`Extent` has padding between fields `1` and `2`, which a `Persistent` type may not have\nfill the gap with an explicit `[u8; N]` field, or order the fields from the largest alignment to the smallest"
            );
        }
        if ::core::mem::size_of::<Self>()
            != ::core::mem::offset_of!(Self, 2) + ::core::mem::size_of::<u32>()
        {
            ::core::panic!(
                "`Extent` has padding after its last field, which a `Persistent` type may not have\nadd an explicit `[u8; N]` field at the end to fill it"
            );
        }
        if ::core::mem::needs_drop::<Self>() {
            ::core::panic!(
                "`Extent` implements `Drop`, which a `Persistent` type may not: objects in a pool are reclaimed by the collector and never dropped\nremove the `Drop` implementation of `Extent`"
            );
        }
        let mut hash = ::pmem::__private::hash_u64(
            Self::NAME_HASH,
            ::core::mem::align_of::<Self>() as u64,
        );
        hash = ::pmem::__private::hash_str(hash, "0");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, 0) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <u64 as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        hash = ::pmem::__private::hash_str(hash, "1");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, 1) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <u32 as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        hash = ::pmem::__private::hash_str(hash, "2");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, 2) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <u32 as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        ::pmem::__private::hash_u64(hash, ::core::mem::size_of::<Self>() as u64)
    };
    const CONTAINS_LOCK: bool = false
        || <u64 as ::pmem::__private::Persistent>::CONTAINS_LOCK
        || <u32 as ::pmem::__private::Persistent>::CONTAINS_LOCK
        || <u32 as ::pmem::__private::Persistent>::CONTAINS_LOCK;
    const POINTER_FREE: bool = true
        && <u64 as ::pmem::__private::Persistent>::POINTER_FREE
        && <u32 as ::pmem::__private::Persistent>::POINTER_FREE
        && <u32 as ::pmem::__private::Persistent>::POINTER_FREE;
    #[allow(unused_variables)]
    fn describe_pointers(map: &mut ::pmem::__private::PointerMap, offset: usize) {
        <u64 as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, 0),
        );
        <u32 as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, 1),
        );
        <u32 as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, 2),
        );
    }
}
impl Extent {
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_0(&self) -> ::pmem::__private::Field<Self, u64> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, 0))
    }
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    fn __pmem_field_1(&self) -> ::pmem::__private::Field<Self, u32> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, 1))
    }
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    fn __pmem_field_2(&self) -> ::pmem::__private::Field<Self, u32> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, 2))
    }
}
const _: u64 = <Extent as ::pmem::__private::Persistent>::LAYOUT_HASH;
