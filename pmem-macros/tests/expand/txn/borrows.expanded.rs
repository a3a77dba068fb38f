fn borrows(
    mut node: PMut<'_, Node>,
    keys: &mut [u64],
    mut slot: PMut<'_, u64>,
    rr: &mut PMut<'_, Node>,
) {
    #[allow(unused_imports)]
    use ::pmem::__private::{
        Base as _, NeverFails as _, PlainDeref as _, PlainField as _, PlainIndex as _,
    };
    #[allow(non_camel_case_types, non_snake_case)]
    trait __pmem_field_count {
        #[inline(always)]
        fn __pmem_field_count(&self) -> ::pmem::__private::NoField {
            ::pmem::__private::NoField
        }
    }
    impl<T: ?::core::marker::Sized> __pmem_field_count for T {}
    #[allow(non_camel_case_types, non_snake_case)]
    trait __pmem_field_keys {
        #[inline(always)]
        fn __pmem_field_keys(&self) -> ::pmem::__private::NoField {
            ::pmem::__private::NoField
        }
    }
    impl<T: ?::core::marker::Sized> __pmem_field_keys for T {}
    let __pmem_frame = ::pmem::__private::Frame::enter();
    #[allow(clippy::let_unit_value)]
    let __pmem_result = ::pmem::__private::call_once(move || -> () {
        let mut pair: (u64, u64) = (0, 0);
        core::mem::swap(&mut pair.0, &mut pair.1);
        reset({
            let __pmem_index_0 = keys.len() - 1;
            ::pmem::__private::finish(
                ::pmem::__private::Probe(
                        ::pmem::__private::Probe((node).__pmem_base())
                            .__pmem_field(
                                |node| node.__pmem_field_keys(),
                                |node| &mut node.keys,
                            ),
                    )
                    .__pmem_index(__pmem_index_0, |keys, index| &mut keys[index]),
            )
        });
        keys[0] = 1;
        *slot = 5;
        let mut local = node.reborrow();
        {
            let __pmem_value = 1;
            *::pmem::__private::finish(
                ::pmem::__private::Probe(
                        ::pmem::__private::Probe(&mut local)
                            .__pmem_deref(|local| &mut **local),
                    )
                    .__pmem_field(
                        |local| local.__pmem_field_count(),
                        |local| &mut local.count,
                    ),
            ) += __pmem_value;
        };
        {
            let __pmem_value = 1;
            *::pmem::__private::finish(
                ::pmem::__private::Probe(
                        ::pmem::__private::Probe(&mut *(rr)).__pmem_deref(|rr| &mut **rr),
                    )
                    .__pmem_field(|rr| rr.__pmem_field_count(), |rr| &mut rr.count),
            ) += __pmem_value;
        };
    });
    __pmem_frame.exit(::pmem::__private::Outcome(&__pmem_result).failed());
    __pmem_result
}
