//! [`PString`]: a growable UTF-8 string in a pool.

use crate::{Error, PVec, Persistent, Reader, txn};

/// A growable UTF-8 string in a pool, the persistent `String`: a [`PVec<u8>`] of its bytes.
///
/// It changes as a [`PVec`] does (inside a transaction, through a `&mut` into the
/// pool), and appending logs only the length and the bytes appended. Reading checks the
/// bytes: a string read from a damaged file that is not UTF-8 is refused with
/// [`Error::CollectionDamaged`], never handed out as a `&str`.
#[derive(Persistent, Debug, Default)]
#[repr(C)]
#[persistent(name = "pmem::PString")]
pub struct PString {
    bytes: PVec<u8>,
}

impl PString {
    /// An empty string, which owns no buffer yet.
    #[must_use]
    pub const fn new() -> Self {
        Self { bytes: PVec::new() }
    }

    /// Its length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The string.
    ///
    /// # Errors
    ///
    /// As [`PVec::as_slice`], and [`Error::CollectionDamaged`] if the bytes are not UTF-8.
    pub fn as_str<'r>(&self, reader: &'r impl Reader) -> Result<&'r str, Error> {
        let bytes = self.bytes.as_slice(reader)?;
        core::str::from_utf8(bytes).map_err(|_| self.not_utf8())
    }

    /// Runs `body` on the string, read through the transaction running on this thread
    /// ([`with_owned_slice`](crate::with_owned_slice)): for code that holds no [`Reader`],
    /// such as a string behind a lock in a shared transaction
    /// (`tx.lock(&root.name).with_str(str::len)`), or a map reading its stored keys with
    /// only `&mut self`.
    ///
    /// # Errors
    ///
    /// As [`with_owned_slice`](crate::with_owned_slice), and [`Error::CollectionDamaged`]
    /// if the bytes are not UTF-8.
    pub fn with_str<U>(&self, body: impl FnOnce(&str) -> U) -> Result<U, Error> {
        self.bytes.with_elements(|bytes| {
            core::str::from_utf8(bytes)
                .map(body)
                .map_err(|_| self.not_utf8())
        })?
    }

    fn not_utf8(&self) -> Error {
        Error::CollectionDamaged {
            offset: self.bytes.buffer_offset(),
            what: "a PString's bytes are not UTF-8",
        }
    }
}

#[txn]
impl PString {
    /// A string holding `text`, allocated in the transaction running on this thread.
    ///
    /// # Errors
    ///
    /// As [`PVec::from_elements`].
    pub fn from_str_in(text: &str) -> Result<Self, Error> {
        Ok(Self {
            bytes: PVec::from_elements(text.bytes())?,
        })
    }

    /// Appends `text`: logs the length; the bytes appended, past the length, need no log
    /// (see [`PVec`](crate::PVec)), only their write-back at commit. Grows first if needed.
    ///
    /// # Errors
    ///
    /// As [`PVec::push`].
    pub fn push_str(&mut self, text: &str) -> Result<(), Error> {
        self.bytes.extend_from_slice(text.as_bytes())
    }

    /// Appends `character`, UTF-8 encoded.
    ///
    /// # Errors
    ///
    /// As [`PVec::push`].
    pub fn push(&mut self, character: char) -> Result<(), Error> {
        self.push_str(character.encode_utf8(&mut [0; 4]))
    }

    /// Empties the string and lets its buffer go (to the collector).
    ///
    /// # Errors
    ///
    /// As [`PVec::clear`].
    pub fn clear(&mut self) -> Result<(), Error> {
        self.bytes.clear()
    }
}
