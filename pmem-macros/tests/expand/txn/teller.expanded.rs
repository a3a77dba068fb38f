impl Teller {
    fn deposit(&mut self, mut account: PMut<'_, Account>, amount: u64) {
        #[allow(unused_imports)]
        use ::pmem::__private::{
            Base as _, NeverFails as _, PlainDeref as _, PlainField as _, PlainIndex as _,
        };
        #[allow(non_camel_case_types, non_snake_case)]
        trait __pmem_field_balance {
            #[inline(always)]
            fn __pmem_field_balance(&self) -> ::pmem::__private::NoField {
                ::pmem::__private::NoField
            }
        }
        impl<T: ?::core::marker::Sized> __pmem_field_balance for T {}
        let __pmem_frame = ::pmem::__private::Frame::enter();
        #[allow(clippy::let_unit_value)]
        let __pmem_result = ::pmem::__private::call_once(move || -> () {
            {
                let __pmem_value = amount;
                *::pmem::__private::finish(
                    ::pmem::__private::Probe((account).__pmem_base())
                        .__pmem_field(
                            |account| account.__pmem_field_balance(),
                            |account| &mut account.balance,
                        ),
                ) += __pmem_value;
            };
            self.served += 1;
        });
        __pmem_frame.exit(::pmem::__private::Outcome(&__pmem_result).failed());
        __pmem_result
    }
}
