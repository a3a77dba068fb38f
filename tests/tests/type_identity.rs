//! Type identity across modules: two types of the same name in two modules are two types,
//! in their hashes and in the heap's type table.

use pmem::simulation::ScratchFile;
use pmem::{Error, PPtr, Persistent, Pool, PoolOptions};

mod m1 {
    use pmem::{PPtr, Persistent};

    #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub(crate) struct Leaf {
        pub(crate) x: u64,
    }

    #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub(crate) struct Holder {
        pub(crate) leaf: PPtr<Leaf>,
    }
}

mod m2 {
    use pmem::{PPtr, Persistent};

    /// Another layout than `m1::Leaf`, and a pointer at its own type.
    #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub(crate) struct Leaf {
        pub(crate) a: u64,
        pub(crate) b: PPtr<Leaf>,
    }

    /// Field for field the same definition as `m1::Holder`.
    #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub(crate) struct Holder {
        pub(crate) leaf: PPtr<Leaf>,
    }
}

mod m3 {
    use pmem::Persistent;

    /// The very definition of `m1::Leaf`, in another module.
    #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub(crate) struct Leaf {
        pub(crate) x: u64,
    }
}

#[test]
fn same_named_types_of_two_modules_have_distinct_hashes() {
    assert_ne!(m1::Leaf::NAME_HASH, m2::Leaf::NAME_HASH);
    assert_ne!(m1::Leaf::LAYOUT_HASH, m2::Leaf::LAYOUT_HASH);
    assert_ne!(m1::Holder::NAME_HASH, m2::Holder::NAME_HASH);
    assert_ne!(m1::Holder::LAYOUT_HASH, m2::Holder::LAYOUT_HASH);
    assert_ne!(m1::Leaf::LAYOUT_HASH, m3::Leaf::LAYOUT_HASH);
    assert_ne!(PPtr::<m1::Leaf>::LAYOUT_HASH, PPtr::<m2::Leaf>::LAYOUT_HASH);
}

#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
struct Roots {
    first: PPtr<m1::Holder>,
}

#[test]
fn same_named_holders_in_one_pool_keep_their_own_pointer_maps() {
    let path = ScratchFile::new("identity-holders");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 14)
        .create(path.path(), Roots::default())
        .expect("create");
    pool.txn(|tx| {
        let leaf = tx.alloc(m1::Leaf { x: 11 })?;
        let first = tx.alloc(m1::Holder { leaf })?;
        tx.root_mut().first = first;
        let tail = tx.alloc(m2::Leaf {
            a: 22,
            b: PPtr::null(),
        })?;
        let head = tx.alloc(m2::Leaf { a: 21, b: tail })?;
        let second = tx.alloc(m2::Holder { leaf: head })?;
        tx.set_named_root("second", second)
    })
    .expect("allocate both holders");
    let collection = pool.collect().expect("collect");
    assert_eq!(
        (collection.live_objects, collection.freed_objects),
        (5, 0),
        "{collection:?}"
    );
    drop(pool);

    let pool = pmem_tests::open_collecting::<Roots>(path.path()).expect("open");
    assert_eq!(pmem_tests::collected_at_open(&pool).live_objects, 5);
    let first = pool.get(pool.root().first).expect("first holder");
    assert_eq!(pool.get(first.leaf).expect("m1 leaf").x, 11);
    let second = pool
        .named_root::<m2::Holder>("second")
        .expect("typed")
        .expect("present");
    let head = pool
        .get(pool.get(second).expect("second holder").leaf)
        .expect("m2 head");
    assert_eq!(head.a, 21);
    assert_eq!(pool.get(head.b).expect("m2 tail").a, 22);
}

/// The first version of a program: `Account` lives in `bank`.
mod bank {
    use pmem::Persistent;

    #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub(crate) struct Account {
        pub(crate) balance: u64,
    }
}

/// The next version: `Account` moved to `ledger::accounts`, keeping the identity it had in
/// `bank` (this test crate's `module_path!()` is `type_identity`).
mod ledger {
    pub(crate) mod accounts {
        use pmem::Persistent;

        #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
        #[persistent(name = "type_identity::bank::Account")]
        #[repr(C)]
        pub(crate) struct Account {
            pub(crate) balance: u64,
        }
    }

    /// Moved without the attribute: another type as far as the pool can tell.
    pub(crate) mod unnamed {
        use pmem::Persistent;

        #[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(C)]
        pub(crate) struct Account {
            pub(crate) balance: u64,
        }
    }
}

#[test]
fn a_stable_name_keeps_a_moved_type_s_pools() {
    assert_eq!(
        bank::Account::LAYOUT_HASH,
        ledger::accounts::Account::LAYOUT_HASH
    );
    let path = ScratchFile::new("identity-moved");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 14)
        .create(path.path(), bank::Account { balance: 5 })
        .expect("create");
    pool.txn(|tx| {
        let savings = tx.alloc(bank::Account { balance: 7 })?;
        tx.set_named_root("savings", savings)
    })
    .expect("allocate");
    drop(pool);

    match Pool::<ledger::unnamed::Account>::open(path.path()) {
        Err(Error::RootTypeMismatch { .. }) => {}
        other => panic!("expected RootTypeMismatch, got {:?}", other.map(|_| ())),
    }
    let pool = pmem_tests::open_collecting::<ledger::accounts::Account>(path.path())
        .expect("open after the move");
    assert_eq!(pool.root().balance, 5);
    let savings = pool
        .named_root::<ledger::accounts::Account>("savings")
        .expect("typed")
        .expect("present");
    assert_eq!(pool.get(savings).expect("savings").balance, 7);
    assert_eq!(pmem_tests::collected_at_open(&pool).live_objects, 1);
}

/// The root type of the example pool in `docs/src/file-format.md`, as crate `zz_dump`
/// defines it at its top level.
mod dumped {
    use pmem::Persistent;

    #[derive(Persistent)]
    #[persistent(name = "zz_dump::Counter")]
    #[repr(C)]
    pub(crate) struct Counter {
        pub(crate) count: u64,
        pub(crate) total: u64,
    }
}

/// The same type under its bare name, as identities were hashed before module paths
/// entered them.
mod bare {
    use pmem::Persistent;

    #[derive(Persistent)]
    #[persistent(name = "Counter")]
    #[repr(C)]
    pub(crate) struct Counter {
        pub(crate) count: u64,
        pub(crate) total: u64,
    }
}

#[test]
fn layout_hashes_are_the_documented_values() {
    // The root layout hash at bytes 0x28..0x30 of the example pool's header.
    assert_eq!(dumped::Counter::LAYOUT_HASH, 0xc221_ea03_1b94_65be);
    // The hash the same pool recorded before module paths entered identities: a bare
    // `name` still opens such pools.
    assert_eq!(bare::Counter::LAYOUT_HASH, 0xa3f0_03e0_5cae_975b);
}
