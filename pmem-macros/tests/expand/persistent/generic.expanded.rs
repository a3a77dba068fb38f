#[diagnostic::do_not_recommend]
unsafe impl<T: Persistent> ::pmem::__private::Persistent for Versioned<T> {
    const NAME_HASH: u64 = {
        let hash = ::pmem::__private::hash_str(
            ::pmem::__private::SEED,
            ::core::concat!(::core::module_path!(), "::", "Versioned"),
        );
        let hash = ::pmem::__private::hash_u64(
            hash,
            <T as ::pmem::__private::Persistent>::NAME_HASH,
        );
        hash
    };
    const LAYOUT_HASH: u64 = {
        if ::core::mem::offset_of!(Self, version) != 0 {
            ::core::panic!("`Versioned` has padding before its first field `version`");
        }
        if ::core::mem::offset_of!(Self, value)
            != ::core::mem::offset_of!(Self, version) + ::core::mem::size_of::<u64>()
        {
            ::core::panic!(
                "`Versioned` has padding between fields `version` and `value`, which a `Persistent` type may not have\nfill the gap with an explicit `[u8; N]` field, or order the fields from the largest alignment to the smallest"
            );
        }
        if ::core::mem::size_of::<Self>()
            != ::core::mem::offset_of!(Self, value) + ::core::mem::size_of::<T>()
        {
            ::core::panic!(
                "`Versioned` has padding after its last field, which a `Persistent` type may not have\nadd an explicit `[u8; N]` field at the end to fill it"
            );
        }
        if ::core::mem::needs_drop::<Self>() {
            ::core::panic!(
                "`Versioned` implements `Drop`, which a `Persistent` type may not: objects in a pool are reclaimed by the collector and never dropped\nremove the `Drop` implementation of `Versioned`"
            );
        }
        let mut hash = ::pmem::__private::hash_u64(
            Self::NAME_HASH,
            ::core::mem::align_of::<Self>() as u64,
        );
        hash = ::pmem::__private::hash_str(hash, "version");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, version) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <u64 as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        hash = ::pmem::__private::hash_str(hash, "value");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, value) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <T as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        ::pmem::__private::hash_u64(hash, ::core::mem::size_of::<Self>() as u64)
    };
    const CONTAINS_LOCK: bool = false
        || <u64 as ::pmem::__private::Persistent>::CONTAINS_LOCK
        || <T as ::pmem::__private::Persistent>::CONTAINS_LOCK;
    const POINTER_FREE: bool = true
        && <u64 as ::pmem::__private::Persistent>::POINTER_FREE
        && <T as ::pmem::__private::Persistent>::POINTER_FREE;
    #[allow(unused_variables)]
    fn describe_pointers(map: &mut ::pmem::__private::PointerMap, offset: usize) {
        <u64 as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, version),
        );
        <T as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, value),
        );
    }
}
impl<T: Persistent> Versioned<T> {
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_version(&self) -> ::pmem::__private::Field<Self, u64> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, version))
    }
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_value(&self) -> ::pmem::__private::Field<Self, T> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, value))
    }
}
