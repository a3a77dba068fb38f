use core::fmt;

use crate::region::GrowError;

/// Why the heap refused a request, or found itself damaged.
#[derive(Debug)]
#[non_exhaustive]
pub enum HeapError {
    /// No free space is left, and the pool cannot grow.
    Full {
        /// The size of the object that did not fit.
        requested: u64,
        /// Why the pool did not grow.
        cause: GrowError,
    },
    /// The object is larger than the largest span: a huge span of 32,767 arenas
    /// ([`MAX_OBJECT_PAGES`](crate::MAX_OBJECT_PAGES), 64 GiB less 4 KiB).
    ObjectTooLarge {
        /// The type.
        type_name: String,
        /// Its size.
        size: u64,
    },
    /// The type is aligned to more than a page.
    OverAligned {
        /// The type.
        type_name: String,
        /// Its alignment.
        align: u64,
    },
    /// The type table has no room for another type.
    TypeTableFull {
        /// The type that did not fit.
        type_name: String,
    },
    /// All named-root entries are in use.
    NamedRootsFull,
    /// A named root's name is empty, too long or holds a NUL byte.
    InvalidRootName {
        /// The name.
        name: String,
    },
    /// The heap's metadata is damaged: the pool was not written by this library, or was
    /// changed behind its back.
    Corrupted {
        /// Where, as a pool offset.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The pool's record of a type disagrees with the program's type of the same layout
    /// hash (its size, alignment or pointer map): the pool was written by a program with
    /// another definition of the type, or is damaged.
    TypeRecordMismatch {
        /// The program's type.
        type_name: String,
    },
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full { requested, cause } => write!(
                f,
                "the heap is full: no room for an object of {requested} bytes even after a collection, and {cause}"
            ),
            Self::ObjectTooLarge { type_name, size } => write!(
                f,
                "`{type_name}` ({size} bytes) is larger than the largest heap object ({} bytes): split it into objects linked by `PPtr`s",
                crate::layout::MAX_OBJECT_PAGES * crate::layout::PAGE
            ),
            Self::OverAligned { type_name, align } => write!(
                f,
                "`{type_name}` is aligned to {align} bytes; heap objects are aligned to at most 4096"
            ),
            Self::TypeTableFull { type_name } => write!(
                f,
                "the heap's type table is full: no room to record `{type_name}`"
            ),
            Self::NamedRootsFull => write!(
                f,
                "all {} named roots are in use: delete one first",
                crate::layout::NAMED_ROOTS
            ),
            Self::InvalidRootName { name } => write!(
                f,
                "{name:?} is not a valid root name: 1 to {} bytes without NUL",
                crate::layout::MAX_ROOT_NAME
            ),
            Self::Corrupted { offset, what } => {
                write!(f, "the heap is damaged at pool offset {offset:#x}: {what}")
            }
            Self::TypeRecordMismatch { type_name } => write!(
                f,
                "the pool's record of `{type_name}` disagrees with the program's `{type_name}` (size, alignment or pointers): the pool was written with another definition of the type, or is damaged"
            ),
        }
    }
}

impl std::error::Error for HeapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Full { cause, .. } => cause.io.as_ref().map(|error| error as _),
            _ => None,
        }
    }
}
