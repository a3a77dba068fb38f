//! Named persistence calls of the transaction protocol, and (with the `simulation`
//! feature) a switch that skips one of them on the current thread.
//!
//! This is how the crash tests test themselves. Each call named here is needed for crash
//! consistency, so with any one of them skipped, some crash image must fail an oracle. A
//! call whose removal no test notices is either redundant or untested. Without the feature,
//! every call is always made, and the check compiles to nothing.

/// A flush or fence of the transaction protocol (see `log.rs` and `recovery.rs`) or of the
/// heap (`heap.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(
    not(feature = "simulation"),
    expect(unreachable_pub, reason = "exported by the simulation feature only")
)]
pub enum PersistenceCall {
    /// Writing back a new log entry.
    EntryFlush,
    /// The fence that makes a log entry durable before the store it protects.
    EntryFence,
    /// Writing back the logged data lines at commit.
    CommitFlush,
    /// The fence between the committed data and the commit point.
    CommitFence,
    /// Writing back the restored lines when a transaction is rolled back.
    RollbackFlush,
    /// The fence between the restored lines and the retiring of the entries.
    RollbackFence,
    /// Writing back a slot's new generation (the commit point, or the end of a rollback or
    /// recovery).
    GenerationFlush,
    /// The fence after a slot's new generation.
    GenerationFence,
    /// Writing back the lines recovery restores.
    RecoveryFlush,
    /// The fence between the restored lines and the retiring of the entries, in recovery.
    RecoveryFence,
    /// Writing back the lines of unreachable fresh objects when the pool has deferred too
    /// many (see `txn/running.rs`).
    DeferredFlush,
    /// Writing back heap metadata outside a transaction, or before a fence the heap asks
    /// for inside one (a collection's sweep).
    HeapMetadataFlush,
    /// The fence after a collection's sweep, before freed pages are reused.
    SweepFence,
    /// The fence after a new type's record, before any span names the type.
    TypeRecordFence,
    /// The fence after a huge span's entry, before any byte of its object (some lie on
    /// page-table pages) is stored.
    HugeSpanFence,
    /// The fence after a sweep zeroes the table pages inside huge spans it frees, before
    /// it zeroes their entries.
    HugeTablesFence,
    /// Writing back a new log extension block's header and zeroed lines.
    LogBlockFlush,
    /// The fence between a new log block (and its heap metadata) and the link to it.
    LogBlockFence,
    /// Writing back the link to a new log block, before the first entry in it is fenced.
    LogLinkFlush,
}

#[cfg(feature = "simulation")]
impl PersistenceCall {
    /// Every named call.
    pub const ALL: [Self; 19] = [
        Self::EntryFlush,
        Self::EntryFence,
        Self::CommitFlush,
        Self::CommitFence,
        Self::RollbackFlush,
        Self::RollbackFence,
        Self::GenerationFlush,
        Self::GenerationFence,
        Self::RecoveryFlush,
        Self::RecoveryFence,
        Self::DeferredFlush,
        Self::HeapMetadataFlush,
        Self::SweepFence,
        Self::TypeRecordFence,
        Self::HugeSpanFence,
        Self::HugeTablesFence,
        Self::LogBlockFlush,
        Self::LogBlockFence,
        Self::LogLinkFlush,
    ];
}

#[cfg(feature = "simulation")]
thread_local! {
    static SKIPPED: std::cell::Cell<Option<PersistenceCall>> = const { std::cell::Cell::new(None) };
}

/// Runs `body` with `call` skipped on this thread: a deliberately broken protocol, for
/// checking that crash tests notice.
#[cfg(feature = "simulation")]
pub fn with_call_skipped<T>(call: PersistenceCall, body: impl FnOnce() -> T) -> T {
    struct Restore(Option<PersistenceCall>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SKIPPED.set(self.0);
        }
    }
    let _restore = Restore(SKIPPED.replace(Some(call)));
    body()
}

/// Whether `call` is to be made (always, unless a test skips it).
#[inline(always)]
pub(crate) fn performs(call: PersistenceCall) -> bool {
    #[cfg(feature = "simulation")]
    {
        SKIPPED.get() != Some(call)
    }
    #[cfg(not(feature = "simulation"))]
    {
        let _ = call;
        true
    }
}
