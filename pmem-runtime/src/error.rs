//! The errors of the runtime.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::hw::flush::{FlushMode, FlushModeError};

/// Everything that can go wrong with a pool.
///
/// Errors about a pool file name the file. Whenever opening or creating a pool fails, the
/// file is left exactly as it was, byte for byte, even when it held a transaction to roll
/// back: every check runs before recovery writes (a pool that `create` made itself is
/// removed again).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call on the pool file failed.
    Io {
        /// The pool file.
        path: PathBuf,
        /// What was being done, e.g. "open" or "map".
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// `create` was asked to make a pool where a file already exists.
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The file does not start with a pool header.
    NotAPool {
        /// The file.
        path: PathBuf,
    },
    /// The file is shorter than its header says the pool is.
    Truncated {
        /// The pool file.
        path: PathBuf,
        /// The length the pool needs, in bytes.
        expected: u64,
        /// The file's actual length, in bytes.
        found: u64,
    },
    /// The header is damaged: a checksum does not match, or fields that the checksum
    /// covers contradict each other or the format.
    Corrupted {
        /// The pool file.
        path: PathBuf,
        /// Which part of the header is damaged.
        part: HeaderPart,
    },
    /// The undo log holds what no transaction could have written: a generation counter
    /// beyond any a pool reaches, or an entry that is whole and checksum-valid but aims at
    /// bytes transactions never log (the header, the log, heap metadata). Found before
    /// recovery writes anything.
    LogCorrupted {
        /// The pool file.
        path: PathBuf,
        /// Where, as a pool offset.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The pool was written in a file format this version of the library does not read.
    UnsupportedVersion {
        /// The pool file.
        path: PathBuf,
        /// The format version in the file.
        found: u32,
        /// The format version this library reads and writes.
        supported: u32,
    },
    /// The pool's root object is of another type than the one it was opened with.
    RootTypeMismatch {
        /// The pool file.
        path: PathBuf,
        /// The type the pool was opened with.
        expected: String,
        /// The type recorded when the pool was created.
        found: String,
    },
    /// The pool's layout name differs from the one it was opened with.
    LayoutMismatch {
        /// The pool file.
        path: PathBuf,
        /// The layout name the pool was opened with.
        expected: String,
        /// The layout name recorded when the pool was created.
        found: String,
    },
    /// The heap refused a request inside a transaction: it is full even after a
    /// collection, the type cannot live in it, or the named roots are full. Return the error
    /// from the transaction to roll it back.
    Heap(pmem_alloc::HeapError),
    /// The pool's heap is damaged: its metadata does not check, or its type records disagree
    /// with each other, with the page table or with the program's types. (A pointer that
    /// leads nowhere is not damage: the collector counts it as dangling.)
    HeapCorrupted {
        /// The pool file.
        path: PathBuf,
        /// What is damaged, and where.
        source: pmem_alloc::HeapError,
    },
    /// A named root holds an object of another type than the one asked for.
    NamedRootTypeMismatch {
        /// The root's name.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The type recorded with the root.
        found: String,
    },
    /// Another open pool handle, in this process or another, holds the file's lock.
    ///
    /// The lock is an `flock(2)` on the open file. A child process spawned while a pool is
    /// open shares that open file until it calls `exec` (the descriptor is close-on-exec),
    /// so in a program that spawns processes, a pool just closed on one thread may look
    /// locked to another for that instant.
    Locked {
        /// The pool file.
        path: PathBuf,
    },
    /// A compaction refused the pool before writing anything: moving its objects would
    /// change what some of its pointers mean.
    CannotCompact {
        /// The pool file.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// A pool option is out of range.
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why the value was refused.
        reason: &'static str,
    },
    /// `PMEM_FLUSH` names no flush mode.
    UnknownFlushMode {
        /// The value found.
        value: String,
    },
    /// A flush mode was forced that this CPU cannot execute.
    UnsupportedFlushMode {
        /// The mode asked for.
        mode: FlushMode,
    },
    /// A persistent pointer was followed that does not point at a valid object of its type.
    InvalidPointer {
        /// The pointer's offset.
        offset: u64,
        /// The pointee type.
        type_name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// [`SharedTxn::try_lock`](crate::SharedTxn::try_lock) found the lock held by another
    /// transaction. Return it from the transaction to roll back and release its locks.
    LockBusy {
        /// The type the lock guards.
        type_name: &'static str,
    },
    /// A persistent collection was changed with no transaction ([`Pool::txn`](crate::Pool::txn),
    /// or [`Pool::shared_txn`](crate::Pool::shared_txn) holding the lock the collection lies
    /// behind) running on this thread, or through a value that does not lie in that
    /// transaction's pool.
    NoTransaction,
    /// A persistent collection read from the pool is inconsistent (a damaged file): its
    /// length exceeds its buffer, or a string's bytes are not UTF-8.
    CollectionDamaged {
        /// The pool offset of the collection's buffer.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
}

impl From<FlushModeError> for Error {
    fn from(error: FlushModeError) -> Self {
        match error {
            FlushModeError::Unknown { value } => Self::UnknownFlushMode { value },
            FlushModeError::Unsupported { mode } => Self::UnsupportedFlushMode { mode },
        }
    }
}

/// The parts of a pool header, as named by [`Error::Corrupted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderPart {
    /// The part written once when the pool is created (identity, layout, root type).
    Identity,
    /// Both copies of the state record (size, clean-shutdown flag).
    State,
}

impl fmt::Display for HeaderPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Identity => "identity block",
            Self::State => "state records",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                path,
                operation,
                source,
            } => {
                write!(
                    f,
                    "cannot {operation} pool file {}: {source}",
                    path.display()
                )
            }
            Self::AlreadyExists { path } => write!(
                f,
                "cannot create a pool at {}: a file already exists there (open it, or remove it first)",
                path.display()
            ),
            Self::NotAPool { path } => {
                write!(f, "{} is not a pmem pool (no pool header)", path.display())
            }
            Self::Truncated {
                path,
                expected,
                found,
            } => write!(
                f,
                "pool file {} is truncated: the pool needs {expected} bytes, the file has {found}",
                path.display()
            ),
            Self::Corrupted { path, part } => write!(
                f,
                "pool file {} is corrupted: its header's {part} failed its checksum or consistency check",
                path.display()
            ),
            Self::LogCorrupted { path, offset, what } => write!(
                f,
                "pool file {} is corrupted: its undo log is damaged at pool offset {offset:#x}: {what}",
                path.display()
            ),
            Self::UnsupportedVersion {
                path,
                found,
                supported,
            } => write!(
                f,
                "pool file {} has format version {found}; this library reads version {supported}",
                path.display()
            ),
            Self::RootTypeMismatch {
                path,
                expected,
                found,
            } => write!(
                f,
                "pool file {} holds a root of type `{found}` (or of another layout), not `{expected}`",
                path.display()
            ),
            Self::LayoutMismatch {
                path,
                expected,
                found,
            } => write!(
                f,
                "pool file {} has layout \"{found}\", not \"{expected}\"",
                path.display()
            ),
            Self::Locked { path } => write!(
                f,
                "pool file {} is already open (by this or another process)",
                path.display()
            ),
            Self::CannotCompact { path, reason } => {
                write!(f, "pool file {} cannot be compacted: {reason}", path.display())
            }
            Self::InvalidOption { option, reason } => {
                write!(f, "invalid pool option `{option}`: {reason}")
            }
            Self::UnknownFlushMode { value } => FlushModeError::Unknown {
                value: value.clone(),
            }
            .fmt(f),
            Self::UnsupportedFlushMode { mode } => {
                FlushModeError::Unsupported { mode: *mode }.fmt(f)
            }
            Self::Heap(error) => write!(f, "{error}"),
            Self::HeapCorrupted { path, source } => {
                write!(f, "pool file {}: {source}", path.display())
            }
            Self::NamedRootTypeMismatch {
                name,
                expected,
                found,
            } => write!(
                f,
                "the named root {name:?} holds a `{found}`, not a `{expected}`"
            ),
            Self::InvalidPointer {
                offset,
                type_name,
                reason,
            } => {
                write!(
                    f,
                    "invalid persistent pointer {offset:#x} to `{type_name}`: {reason}"
                )
            }
            Self::LockBusy { type_name } => write!(
                f,
                "a PMutex<{type_name}> is held by another transaction: roll back (return this error) and retry"
            ),
            Self::CollectionDamaged { offset, what } => write!(
                f,
                "the persistent collection whose buffer is at {offset:#x} is damaged: {what}"
            ),
            Self::NoTransaction => f.write_str(
                "a persistent collection changes only inside a transaction on its own pool, running on this thread (Pool::txn, or Pool::shared_txn holding the lock the collection lies behind)",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Heap(source) | Self::HeapCorrupted { source, .. } => Some(source),
            _ => None,
        }
    }
}
