#[diagnostic::do_not_recommend]
unsafe impl ::pmem::__private::Persistent for Node {
    const NAME_HASH: u64 = {
        let hash = ::pmem::__private::hash_str(
            ::pmem::__private::SEED,
            ::core::concat!(::core::module_path!(), "::", "Node"),
        );
        hash
    };
    const LAYOUT_HASH: u64 = {
        if ::core::mem::offset_of!(Self, next) != 0 {
            ::core::panic!("`Node` has padding before its first field `next`");
        }
        if ::core::mem::offset_of!(Self, children)
            != ::core::mem::offset_of!(Self, next) + ::core::mem::size_of::<PPtr<Node>>()
        {
            ::core::panic!(
                "`Node` has padding between fields `next` and `children`, which a `Persistent` type may not have\nfill the gap with an explicit `[u8; N]` field, or order the fields from the largest alignment to the smallest"
            );
        }
        if ::core::mem::offset_of!(Self, keys)
            != ::core::mem::offset_of!(Self, children)
                + ::core::mem::size_of::<[PPtr<Node>; 4]>()
        {
            ::core::panic!(
                "`Node` has padding between fields `children` and `keys`, which a `Persistent` type may not have\nfill the gap with an explicit `[u8; N]` field, or order the fields from the largest alignment to the smallest"
            );
        }
        if ::core::mem::size_of::<Self>()
            != ::core::mem::offset_of!(Self, keys) + ::core::mem::size_of::<[u64; 4]>()
        {
            ::core::panic!(
                "`Node` has padding after its last field, which a `Persistent` type may not have\nadd an explicit `[u8; N]` field at the end to fill it"
            );
        }
        if ::core::mem::needs_drop::<Self>() {
            ::core::panic!(
                "`Node` implements `Drop`, which a `Persistent` type may not: objects in a pool are reclaimed by the collector and never dropped\nremove the `Drop` implementation of `Node`"
            );
        }
        let mut hash = ::pmem::__private::hash_u64(
            Self::NAME_HASH,
            ::core::mem::align_of::<Self>() as u64,
        );
        hash = ::pmem::__private::hash_str(hash, "next");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, next) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <PPtr<Node> as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        hash = ::pmem::__private::hash_str(hash, "children");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, children) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <[PPtr<Node>; 4] as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        hash = ::pmem::__private::hash_str(hash, "keys");
        hash = ::pmem::__private::hash_u64(
            hash,
            ::core::mem::offset_of!(Self, keys) as u64,
        );
        hash = ::pmem::__private::hash_u64(
            hash,
            <[u64; 4] as ::pmem::__private::Persistent>::LAYOUT_HASH,
        );
        ::pmem::__private::hash_u64(hash, ::core::mem::size_of::<Self>() as u64)
    };
    const CONTAINS_LOCK: bool = false
        || <PPtr<Node> as ::pmem::__private::Persistent>::CONTAINS_LOCK
        || <[PPtr<Node>; 4] as ::pmem::__private::Persistent>::CONTAINS_LOCK
        || <[u64; 4] as ::pmem::__private::Persistent>::CONTAINS_LOCK;
    const POINTER_FREE: bool = true
        && <PPtr<Node> as ::pmem::__private::Persistent>::POINTER_FREE
        && <[PPtr<Node>; 4] as ::pmem::__private::Persistent>::POINTER_FREE
        && <[u64; 4] as ::pmem::__private::Persistent>::POINTER_FREE;
    #[allow(unused_variables)]
    fn describe_pointers(map: &mut ::pmem::__private::PointerMap, offset: usize) {
        <PPtr<
            Node,
        > as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, next),
        );
        <[PPtr<
            Node,
        >; 4] as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, children),
        );
        <[u64; 4] as ::pmem::__private::Persistent>::describe_pointers(
            map,
            offset + ::core::mem::offset_of!(Self, keys),
        );
    }
}
impl Node {
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_next(&self) -> ::pmem::__private::Field<Self, PPtr<Node>> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, next))
    }
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_children(
        &self,
    ) -> ::pmem::__private::Field<Self, [PPtr<Node>; 4]> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, children))
    }
    #[doc(hidden)]
    #[inline(always)]
    #[allow(dead_code, non_snake_case)]
    pub fn __pmem_field_keys(&self) -> ::pmem::__private::Field<Self, [u64; 4]> {
        ::pmem::__private::Field::new(::core::mem::offset_of!(Self, keys))
    }
}
const _: u64 = <Node as ::pmem::__private::Persistent>::LAYOUT_HASH;
