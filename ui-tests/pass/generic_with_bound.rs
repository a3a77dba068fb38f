// Correct: a generic struct whose parameters are declared `Persistent`, in the list and in a where clause.
use pmem::{PPtr, Persistent};

#[derive(Persistent)]
#[repr(C)]
struct Slot<T: Persistent> {
    value: T,
    next: PPtr<Slot<T>>,
}

#[derive(Persistent)]
#[repr(C)]
struct Pair<A, B>
where
    A: Persistent,
    B: Persistent,
{
    first: A,
    second: B,
}

fn main() {
    let slot = Slot {
        value: 5u64,
        next: PPtr::null(),
    };
    assert_eq!(slot.value, 5);
    assert!(slot.next.is_null());
    let pair = Pair {
        first: 1u32,
        second: 2u32,
    };
    assert_eq!(pair.first + pair.second, 3);
    let _ = <Slot<u64> as Persistent>::LAYOUT_HASH;
    let _ = <Pair<u32, u32> as Persistent>::LAYOUT_HASH;
    assert_ne!(
        <Slot<u64> as Persistent>::NAME_HASH,
        <Slot<u32> as Persistent>::NAME_HASH
    );
}
