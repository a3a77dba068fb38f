// Correct: a `#[repr(transparent)]` newtype around a persistent type.
use pmem::Persistent;

#[derive(Persistent)]
#[repr(transparent)]
struct AccountId(u64);

fn main() {
    assert_eq!(AccountId(3).0, 3);
    assert_ne!(
        <AccountId as Persistent>::NAME_HASH,
        <u64 as Persistent>::NAME_HASH
    );
}
