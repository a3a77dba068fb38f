fn policy(mut list: PMut<'_, List>) -> impl Sized {
    #[allow(unused_imports)]
    use ::pmem::__private::{
        Base as _, NeverFails as _, PlainDeref as _, PlainField as _, PlainIndex as _,
    };
    #[allow(non_camel_case_types, non_snake_case)]
    trait __pmem_field_len {
        #[inline(always)]
        fn __pmem_field_len(&self) -> ::pmem::__private::NoField {
            ::pmem::__private::NoField
        }
    }
    impl<T: ?::core::marker::Sized> __pmem_field_len for T {}
    let __pmem_frame = ::pmem::__private::Frame::enter();
    #[allow(clippy::let_unit_value)]
    let __pmem_result = ::pmem::__private::call_once(move || {
        list.keys.swap(0, 1);
        println!("{}", list.len);
        unsafe { (*raw()).len = 0 };
        fn nested(mut other: PMut<'_, List>) {
            other.len = 0;
        }
        let mut bump = |mut list: PMut<'_, List>| {
            let __pmem_value = 1;
            *::pmem::__private::finish(
                ::pmem::__private::Probe((list).__pmem_base())
                    .__pmem_field(|list| list.__pmem_field_len(), |list| &mut list.len),
            ) += __pmem_value;
        };
        bump(list.reborrow());
    });
    __pmem_frame.exit(::pmem::__private::Outcome(&__pmem_result).failed());
    __pmem_result
}
