//! Const-generic persistent types: each const argument is part of the type's identity, in
//! its hashes, in the pool's root record and in the heap's type table.

use pmem::simulation::ScratchFile;
use pmem::{Error, PPtr, Persistent, Pool, PoolOptions};

/// `N` bytes and a pointer at a 64-byte blob. `N` must be a multiple of 8, or the padding
/// check refuses the instantiation.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Blob<const N: usize> {
    len: u64,
    next: PPtr<Blob<64>>,
    bytes: [u8; N],
}

impl<const N: usize> Blob<N> {
    fn filled(len: u64, byte: u8) -> Self {
        Self {
            len,
            next: PPtr::null(),
            bytes: [byte; N],
        }
    }
}

/// Const parameters of the other kinds the language allows, and a default.
#[derive(Persistent)]
#[repr(C)]
struct Tagged<const WIDE: bool, const MARK: char, const LOW: i64, const HIGH: u128 = 0> {
    value: u64,
}

#[test]
fn each_const_argument_is_a_distinct_identity() {
    assert_ne!(Blob::<16>::NAME_HASH, Blob::<32>::NAME_HASH);
    assert_ne!(Blob::<16>::LAYOUT_HASH, Blob::<32>::LAYOUT_HASH);
    assert_eq!(
        Tagged::<true, 'a', -1>::LAYOUT_HASH,
        Tagged::<true, 'a', -1, 0>::LAYOUT_HASH
    );
    let hashes = [
        Tagged::<true, 'a', -1>::NAME_HASH,
        Tagged::<false, 'a', -1>::NAME_HASH,
        Tagged::<true, 'b', -1>::NAME_HASH,
        Tagged::<true, 'a', 1>::NAME_HASH,
        // `-1` as a `u64` would be `u64::MAX`: the value is hashed sign-extended to 128 bits.
        Tagged::<true, 'a', { i64::MAX }>::NAME_HASH,
        Tagged::<true, 'a', -1, { u64::MAX as u128 }>::NAME_HASH,
        Tagged::<true, 'a', -1, { u128::MAX }>::NAME_HASH,
        Tagged::<true, 'a', -1, { 1 << 64 }>::NAME_HASH,
    ];
    for (index, hash) in hashes.iter().enumerate() {
        assert!(!hashes[..index].contains(hash), "instantiation {index}");
    }
}

/// FNV-1a over `bytes`, as `pmem::type_hash` defines it.
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The name hash of the guide's formula: the path with its terminator, then each const
/// argument's value as 16 little-endian bytes. A change here changes the identity of every
/// stored const-generic type, and its pools would no longer open.
#[test]
fn name_hashes_follow_the_documented_formula() {
    let path = fnv(fnv(0xcbf2_9ce4_8422_2325, b"const_generics::Blob"), &[0xff]);
    assert_eq!(
        Blob::<16>::NAME_HASH,
        fnv(path, &16u128.to_le_bytes()),
        "Blob<16>"
    );
    let path = fnv(
        fnv(0xcbf2_9ce4_8422_2325, b"const_generics::Tagged"),
        &[0xff],
    );
    let arguments = [
        u128::from(true),
        u128::from('a'),
        (-1i64) as u128,
        u128::MAX,
    ];
    assert_eq!(
        Tagged::<true, 'a', -1, { u128::MAX }>::NAME_HASH,
        arguments
            .iter()
            .fold(path, |hash, argument| fnv(hash, &argument.to_le_bytes())),
        "Tagged<true, 'a', -1, u128::MAX>"
    );
}

#[test]
fn a_blob_pool_reopens_with_its_own_length_only() {
    let path = ScratchFile::new("const-generic-blobs");
    let mut pool = PoolOptions::new()
        .size(1 << 20)
        .log_size(1 << 14)
        .create(path.path(), Blob::<16>::filled(16, 0xa1))
        .expect("create");
    pool.txn(|tx| {
        let mut big = Blob::<64>::filled(64, 0xb2);
        big.bytes[63] = 0xee;
        let big = tx.alloc(big)?;
        let mut root = tx.root_mut();
        root.next = big;
        root.bytes[0] = 0x01;
        Ok::<(), Error>(())
    })
    .expect("allocate the big blob");
    drop(pool);

    match Pool::<Blob<32>>::open(path.path()) {
        Err(Error::RootTypeMismatch {
            expected, found, ..
        }) => {
            assert!(expected.contains("Blob<32>"), "{expected}");
            assert!(found.contains("Blob<16>"), "{found}");
        }
        other => panic!("expected RootTypeMismatch, got {:?}", other.map(|_| ())),
    }

    let pool = pmem_tests::open_collecting::<Blob<16>>(path.path()).expect("open as Blob<16>");
    assert_eq!(pmem_tests::collected_at_open(&pool).live_objects, 1);
    let root = pool.root();
    assert_eq!(root.len, 16);
    assert_eq!(root.bytes[0], 0x01);
    assert!(root.bytes[1..].iter().all(|&byte| byte == 0xa1));
    let big = pool.get(root.next).expect("the big blob");
    assert_eq!(big.len, 64);
    assert!(big.next.is_null());
    assert!(big.bytes[..63].iter().all(|&byte| byte == 0xb2));
    assert_eq!(big.bytes[63], 0xee);
    // The heap recorded the object as a `Blob<64>`: read as another length, it is refused.
    let as_32 = PPtr::<Blob<32>>::from_offset(root.next.offset());
    assert!(
        matches!(pool.get(as_32), Err(Error::InvalidPointer { .. })),
        "a Blob<64> read as a Blob<32>"
    );
}
