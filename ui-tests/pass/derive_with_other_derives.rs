// Correct: `Persistent` derived next to the usual std derives and a doc comment.
use pmem::Persistent;

/// An account in the bank.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Account {
    /// Balance in cents.
    pub balance: u64,
}

fn main() {
    assert_eq!(Account::default(), Account { balance: 0 });
}
