#[diagnostic::do_not_recommend]
unsafe impl ::pmem::__private::Persistent for Account {
    const NAME_HASH: u64 = {
        let hash = ::pmem::__private::hash_str(::pmem::__private::SEED, "bank::Account");
        hash
    };
    const LAYOUT_HASH: u64 = {
        if ::core::mem::offset_of!(Self, balance) != 0 {
            ::core::panic!("`Account` has padding before its first field `balance`");
        }
        if ::core::mem::size_of::<Self>()
            != ::core::mem::offset_of!(Self, balance) + ::core::mem::size_of::<u64>()
        {
            ::core::panic!(
                "`Account` has padding after its last field, which a `Persistent` type may not have\nadd an explicit `[u8; N]` field at the end to fill it"
            );
        }
        if ::core::mem::needs_drop::<Self>() {
            ::core::panic!(
                "`Account` implements `Drop`, which a `Persistent` type may not: objects in a pool are reclaimed by the collector and never dropped\nremove the `Drop` implementation of `Account`"
            );
        }
        let mut hash = ::pmem::__private::hash_u64(
            Self::NAME_HASH,
            ::core::mem::align_of::<Self>() as u64,
        );
        hash = ::pmem::__private::hash_str(hash, "balance");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, balance) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <u64 as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        ::pmem::__private::hash_u64(hash, ::core::mem::size_of::<Self>() as u64)
    };
    const CONTAINS_LOCK: bool = false
        || <u64 as ::pmem::__private::Persistent>::CONTAINS_LOCK;
    const POINTER_FREE: bool = true
        && <u64 as ::pmem::__private::Persistent>::POINTER_FREE;
    #[allow(unused_variables)]
    fn describe_pointers(map: &mut ::pmem::__private::PointerMap, offset: usize) {
        <u64 as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, balance),
        );
    }
}
impl Account {
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_balance(&self) -> ::pmem::__private::Field<Self, u64> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, balance))
    }
}
const _: u64 = <Account as ::pmem::__private::Persistent>::LAYOUT_HASH;
