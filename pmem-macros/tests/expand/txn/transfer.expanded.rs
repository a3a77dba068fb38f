fn transfer(
    mut bank: PMut<'_, Bank>,
    from: usize,
    to: usize,
    amount: u64,
) -> Result<(), Insufficient> {
    #[allow(unused_imports)]
    use ::pmem::__private::{
        Base as _, NeverFails as _, PlainDeref as _, PlainField as _, PlainIndex as _,
    };
    #[allow(non_camel_case_types, non_snake_case)]
    trait __pmem_field_accounts {
        #[inline(always)]
        fn __pmem_field_accounts(&self) -> ::pmem::__private::NoField {
            ::pmem::__private::NoField
        }
    }
    impl<T: ?::core::marker::Sized> __pmem_field_accounts for T {}
    #[allow(non_camel_case_types, non_snake_case)]
    trait __pmem_field_balance {
        #[inline(always)]
        fn __pmem_field_balance(&self) -> ::pmem::__private::NoField {
            ::pmem::__private::NoField
        }
    }
    impl<T: ?::core::marker::Sized> __pmem_field_balance for T {}
    #[allow(non_camel_case_types, non_snake_case)]
    trait __pmem_field_transfers {
        #[inline(always)]
        fn __pmem_field_transfers(&self) -> ::pmem::__private::NoField {
            ::pmem::__private::NoField
        }
    }
    impl<T: ?::core::marker::Sized> __pmem_field_transfers for T {}
    let __pmem_frame = ::pmem::__private::Frame::enter();
    #[allow(clippy::let_unit_value)]
    let __pmem_result = ::pmem::__private::call_once(move || -> Result<(), Insufficient> {
        if bank.accounts[from].balance < amount {
            return Err(Insufficient);
        }
        {
            let __pmem_value = amount;
            *::pmem::__private::finish(
                ::pmem::__private::Probe(
                        ::pmem::__private::Probe(
                                ::pmem::__private::Probe((bank).__pmem_base())
                                    .__pmem_field(
                                        |bank| bank.__pmem_field_accounts(),
                                        |bank| &mut bank.accounts,
                                    ),
                            )
                            .__pmem_index(from, |accounts, index| &mut accounts[index]),
                    )
                    .__pmem_field(
                        |accounts| accounts.__pmem_field_balance(),
                        |accounts| &mut accounts.balance,
                    ),
            ) -= __pmem_value;
        };
        {
            let __pmem_value = amount;
            *::pmem::__private::finish(
                ::pmem::__private::Probe(
                        ::pmem::__private::Probe(
                                ::pmem::__private::Probe((bank).__pmem_base())
                                    .__pmem_field(
                                        |bank| bank.__pmem_field_accounts(),
                                        |bank| &mut bank.accounts,
                                    ),
                            )
                            .__pmem_index(to, |accounts, index| &mut accounts[index]),
                    )
                    .__pmem_field(
                        |accounts| accounts.__pmem_field_balance(),
                        |accounts| &mut accounts.balance,
                    ),
            ) += __pmem_value;
        };
        *::pmem::__private::finish(
            ::pmem::__private::Probe((bank).__pmem_base())
                .__pmem_field(
                    |bank| bank.__pmem_field_transfers(),
                    |bank| &mut bank.transfers,
                ),
        ) = bank.transfers + 1;
        Ok(())
    });
    __pmem_frame.exit(::pmem::__private::Outcome(&__pmem_result).failed());
    __pmem_result
}
