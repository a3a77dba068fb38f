//! [`Frame`]: one running call of a `#[txn]` function, and how nested calls join the
//! thread's transaction.

use core::marker::PhantomData;

use super::{FRAMES, ThreadBound, doom};

/// One running call of a `#[txn]` function (or `txn!` block), created by generated code.
///
/// Nested calls join the thread's transaction. The outermost call is the transaction's
/// unit of failure: if it returns `Err` the transaction is doomed. A panic unwinding through
/// any call dooms it too, so a panic caught inside the transaction cannot leave half of a
/// `#[txn]` function's stores to be committed.
#[doc(hidden)]
pub struct Frame {
    outermost: bool,
    not_send: ThreadBound,
}

impl Frame {
    /// Enters a `#[txn]` call.
    #[must_use]
    pub fn enter() -> Self {
        let depth = FRAMES.get();
        FRAMES.set(depth + 1);
        Self {
            outermost: depth == 0,
            not_send: PhantomData,
        }
    }

    /// Leaves the call normally; `failed` says whether it returned `Err`.
    pub fn exit(self, failed: bool) {
        if failed && self.outermost {
            doom();
        }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        FRAMES.set(FRAMES.get().saturating_sub(1));
        if std::thread::panicking() {
            doom();
        }
    }
}
