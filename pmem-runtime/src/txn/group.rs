//! Groups: transactions that commit without being made durable one by one
//! (`Durability::Deferred`), whose commits become durable together.
//!
//! **What is promised.** After a crash, the pool holds a prefix of the committed
//! transactions, each whole: every transaction up to some point, and none after it. What is
//! lost is at most the group that was not yet durable: the transactions since the last
//! `Pool::sync`, up to a group's size. Immediate (the default) transactions are durable
//! when they return, as always.
//!
//! **How.** A group is one undo-logged transaction in one log slot, which several of the
//! program's transactions (its *members*) run in turn. The first member begins it as any
//! transaction begins. When a member commits, nothing is written back or fenced: the state
//! of the running transaction (its entries, the lines it logged, the lines of its fresh
//! objects and heap metadata) is kept by the pool, and the next member goes on with it, in
//! the same slot and generation. A member logs only the bytes the group has not logged
//! yet: the entries of the whole group hold each byte's value from before the group, which
//! is what recovery restores. So a line a group changes again and again costs at most two
//! entries and their write-backs for the whole group (one, if the changes stay within the
//! 40 bytes its first entry logs). The group is made durable (`log.rs`'s rule 2:
//! every changed line written back, a fence, the generation advanced, a fence) by
//! `Pool::sync`, when it has [`GROUP_LIMIT`] members or has used half its slot, before a
//! collection, a shared transaction or a change of durability, and when the pool is
//! closed. A crash before then leaves the group's entries valid, so recovery rolls back the
//! whole group: the pool is as the last durable group left it.
//!
//! **One member's rollback.** A member that is rolled back (an error, `abort`, a panic)
//! must undo its own changes and keep the earlier members'. The group's entries do not
//! hold what a line held when the member began, if an earlier member changed it, so every
//! member after the first keeps a volatile copy of each line before its first store to it
//! (`Buffers::member_undo`), and its rollback writes those back: in memory only, since the
//! group is not durable yet and its lines are written back when it is. The entries it wrote
//! for lines the group had not logged stay, and hold what the lines held before the group.
//! A first member (one that began alone) is rolled back as any transaction is, in the log.
//!
//! **Allocation.** A member's fresh objects are fresh for that member alone: the next one
//! logs (and copies) their lines before it changes them, since a rollback of the next member
//! must not undo the commit of the one that allocated them. A collection inside a member
//! keeps what the group's entries reach (as in any transaction) and what the member's
//! volatile copies reach.

use super::running::RunningTxn;

/// How many members a group takes before it is made durable: each member then costs its
/// entries' fences and a share of two.
pub(crate) const GROUP_LIMIT: u32 = 64;

/// A group whose members have committed, not yet durable (see the module documentation).
///
/// Dropped without [`commit`](Group::commit), it is made durable then, unless the thread is
/// unwinding (the pool being dropped by a panic is left as a crash leaves it, and the next
/// open rolls the group back): a group's state must never be lost while its pool stays
/// open, or the next transaction would write its entries over the group's, in the same
/// generation.
pub(crate) struct Group(Option<Box<RunningTxn>>);

// SAFETY: a group's state names its pool's mapping, which outlives it (the pool holds the
// group and makes it durable before it unmaps), and is used only by the thread that holds
// the pool mutably (`Pool::txn`) or its group lock; nothing in it is tied to a thread.
unsafe impl Send for Group {}

impl Group {
    pub(super) fn new(running: Box<RunningTxn>) -> Self {
        Self(Some(running))
    }

    pub(super) fn into_running(mut self) -> Box<RunningTxn> {
        self.0
            .take()
            .expect("a group holds its state until it is taken")
    }

    /// Makes every member durable (`log.rs`'s rule 2); returns the pool's deferred lines
    /// (none: the group wrote them back).
    pub(crate) fn commit(mut self) -> Vec<usize> {
        self.0.take().map(RunningTxn::commit).unwrap_or_default()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(running) = self.0.take()
            && !std::thread::panicking()
        {
            drop(running.commit());
        }
    }
}

/// How a transaction whose commit may be deferred ended.
pub(crate) enum Ending {
    /// Durable (or rolled back) now; the pool's deferred lines.
    Durable(Vec<usize>),
    /// Committed or rolled back in a group that is not durable yet.
    Pending(Group),
}
