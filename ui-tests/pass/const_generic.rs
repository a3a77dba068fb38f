// Correct: const parameters of every type the language allows, mixed with a type parameter and with defaults; each value is part of the type's identity.
use pmem::{PPtr, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Blob<const N: usize> {
    len: u64,
    bytes: [u8; N],
}

#[derive(Persistent)]
#[repr(C)]
struct Pair<T: Persistent, const N: usize = 4> {
    values: [T; N],
    next: PPtr<Pair<T, N>>,
}

#[derive(Persistent)]
#[repr(C)]
struct Tagged<const WIDE: bool, const MARK: char, const LOW: i8, const HIGH: u128> {
    value: u64,
}

fn main() {
    let blob = Blob::<16> {
        len: 3,
        bytes: [7; 16],
    };
    assert_eq!(blob.len + u64::from(blob.bytes[15]), 10);
    let pair: Pair<u64> = Pair {
        values: [1, 2, 3, 4],
        next: PPtr::null(),
    };
    assert!(pair.next.is_null());
    assert_eq!(pair.values.iter().sum::<u64>(), 10);
    let _ = <Blob<16> as Persistent>::LAYOUT_HASH;
    let _ = <Pair<u32> as Persistent>::LAYOUT_HASH;
    let _ = <Pair<u64, 3> as Persistent>::LAYOUT_HASH;
    assert_ne!(
        <Blob<16> as Persistent>::NAME_HASH,
        <Blob<32> as Persistent>::NAME_HASH
    );
    assert_eq!(
        <Pair<u64> as Persistent>::NAME_HASH,
        <Pair<u64, 4> as Persistent>::NAME_HASH
    );
    assert_ne!(
        <Pair<u64, 4> as Persistent>::NAME_HASH,
        <Pair<u32, 4> as Persistent>::NAME_HASH
    );
    let tagged = Tagged::<true, 'x', -1, { u128::MAX }> { value: 9 };
    assert_eq!(tagged.value, 9);
    let hashes = [
        <Tagged<true, 'x', -1, 0> as Persistent>::LAYOUT_HASH,
        <Tagged<false, 'x', -1, 0> as Persistent>::LAYOUT_HASH,
        <Tagged<true, 'y', -1, 0> as Persistent>::LAYOUT_HASH,
        <Tagged<true, 'x', 1, 0> as Persistent>::LAYOUT_HASH,
        <Tagged<true, 'x', -1, { 1 << 64 }> as Persistent>::LAYOUT_HASH,
        <Tagged<true, 'x', -1, { u128::MAX }> as Persistent>::LAYOUT_HASH,
    ];
    for (index, hash) in hashes.iter().enumerate() {
        assert!(!hashes[..index].contains(hash), "argument {index}");
    }
}
