//! The pool file format: the header page.
//!
//! A pool file starts with one 4096-byte header page; the root object follows at offset
//! 4096, and the rest of the file belongs to the heap. All integers are little-endian.
//! `docs/src/file-format.md` is the specification; this module is its implementation.
//!
//! The header has two parts with different update rules, each a struct whose fields are
//! the specification's table:
//!
//! - The **identity block** ([`IdentityBlock`], bytes 0..256) is written once, when the
//!   pool is created, and never changes. A CRC-32 over its first 248 bytes detects damage.
//! - The **state records** ([`StateRecord`], two 64-byte records at 256 and 320, each in a
//!   cache line of its own) hold what changes while the pool lives: its size and the
//!   clean-shutdown flag. An update writes the record that is *not* current, with the next
//!   sequence number and its own CRC-32, then flushes and fences it. A crash in mid-update
//!   leaves a torn record that fails its checksum, and the other record, still intact,
//!   stays current. So every update is atomic, at the cost of one flush and one fence.
//!
//! Bytes 0..8 (the magic) and 8..12 (the format version) keep their meaning in every
//! future version, so a newer pool is reported as such instead of as damaged.
//!
//! Creating a pool writes the magic last: until that final 8-byte store is durable, the file
//! is "not a pool", never a half-initialised one.

use core::mem::offset_of;

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::HeaderPart;
use crate::hw::flush::Flusher;
use crate::hw::mapping::Mapping;

/// The first eight bytes of every pool file.
pub const MAGIC: [u8; 8] = *b"PMEM-RS\0";
/// The format version this library reads and writes.
pub const FORMAT_VERSION: u32 = 2;
/// The length of the header page; the root object starts here.
pub const HEADER_LEN: usize = 4096;
/// Where the root object starts.
pub(crate) const ROOT_OFFSET: u64 = HEADER_LEN as u64;

const IDENTITY_LEN: usize = size_of::<IdentityBlock>();
/// The most log slots (lanes) a pool may have: `PoolOptions::lanes` refuses more, and open
/// refuses a header that records more.
pub(crate) const MAX_LANES: u32 = 1024;

/// The smallest log slot: one page.
pub(crate) const MIN_LOG_SLOT_LEN: usize = HEADER_LEN;
/// The longest layout name: the field's length less its terminating zero byte.
pub(crate) const MAX_LAYOUT_LEN: usize =
    offset_of!(IdentityBlock, root_type) - offset_of!(IdentityBlock, layout) - 1;

/// Where the two state record slots are in the header page: slot 0 holds the records of
/// even sequence numbers, slot 1 those of odd ones.
pub const STATE_OFFSETS: [usize; 2] = [256, 320];
/// The largest sequence number a valid state record carries. A pool writes a record at
/// open, at close and when it grows, so no pool comes near it; a larger one is damage.
const MAX_SEQUENCE: u64 = 1 << 63;
/// The largest sequence number a pool may be opened with: far below [`MAX_SEQUENCE`], so
/// that the records a session writes stay valid and `State::next` never overflows.
const MAX_OPEN_SEQUENCE: u64 = 1 << 62;
pub(crate) const STATE_LEN: usize = size_of::<StateRecord>();

/// The identity block, bytes 0..256 of the header page: what the pool is, written once
/// when it is created. The magic and the version keep their meaning in every future
/// version, so that a newer pool is reported as such instead of as damaged.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct IdentityBlock {
    /// [`MAGIC`], written last when the pool is created.
    pub magic: [u8; 8],
    /// [`FORMAT_VERSION`].
    pub version: U32,
    /// This block's length: 256.
    pub identity_len: U32,
    /// A random version-4 UUID; not checked when read.
    pub uuid: [u8; 16],
    /// The creation time in nanoseconds since the Unix epoch; not checked when read.
    pub created_unix_nanos: U64,
    /// The root type's `Persistent::LAYOUT_HASH`.
    pub root_layout_hash: U64,
    /// `size_of` the root type.
    pub root_size: U64,
    /// `align_of` the root type: a power of two that divides the root offset.
    pub root_align: U64,
    /// Where the root object starts: 4096.
    pub root_offset: U64,
    /// The header page's length: 4096.
    pub header_len: U64,
    /// Where the log area starts: the first page boundary at or after the root's end.
    pub log_offset: U64,
    /// How many log slots there are: at least 1.
    pub log_slot_count: U32,
    /// Each log slot's length: a multiple of 4096, at least 4096.
    pub log_slot_len: U32,
    /// The layout name: UTF-8 text, then zero bytes to the end of the field.
    pub layout: [u8; 64],
    /// The root type's `core::any::type_name`, cut at a character boundary to leave a zero
    /// byte, then zero bytes to the end of the field.
    pub root_type: [u8; 88],
    /// CRC-32 of the bytes before it, the magic and version included.
    pub checksum: U32,
    /// Zero.
    pub reserved: [u8; 4],
}

impl IdentityBlock {
    fn computed_checksum(&self) -> u32 {
        crc32fast::hash(&self.as_bytes()[..offset_of!(Self, checksum)])
    }

    /// Whether the block passes the checks the header page alone allows (step 6e of the
    /// specification's order of checks): its checksum matches, its reserved bytes are
    /// zero, the identity and header lengths are the only ones this version has, and both
    /// text fields are well formed. The magic and version are checked before, by the
    /// caller; the consistency of the root and log fields with each other and with the pool
    /// size after, with the current state record.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.computed_checksum() == self.checksum.get()
            && self.reserved == [0; 4]
            && self.identity_len.get() as usize == IDENTITY_LEN
            && self.header_len.get() == HEADER_LEN as u64
            && self.layout_name().is_some()
            && self.root_type_name().is_some()
    }

    /// The layout name, if the field is well formed.
    #[must_use]
    pub fn layout_name(&self) -> Option<&str> {
        text_in(&self.layout)
    }

    /// The root type's name, if the field is well formed.
    #[must_use]
    pub fn root_type_name(&self) -> Option<&str> {
        text_in(&self.root_type)
    }
}

/// A state record, one of two in the header page (at [`STATE_OFFSETS`]), each in a cache
/// line of its own: what changes while the pool lives. An update writes the slot that
/// does not hold the current record, so a torn update leaves the current one intact.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct StateRecord {
    /// One more than the record it superseded; its parity selects the record's slot.
    pub sequence: U64,
    /// The pool's size in bytes: a multiple of 4096, at least 4096.
    pub pool_size: U64,
    /// 1 if the pool was closed cleanly, 0 while it is in use or after a crash.
    pub clean_shutdown: U64,
    /// Zero.
    pub reserved: [u8; 32],
    /// CRC-32 of the bytes before it.
    pub checksum: U32,
    /// Zero.
    pub reserved_end: [u8; 4],
}

impl StateRecord {
    fn computed_checksum(&self) -> u32 {
        crc32fast::hash(&self.as_bytes()[..offset_of!(Self, checksum)])
    }

    /// Whether the record is valid wherever it lies: its checksum matches, its sequence
    /// number is at most 2^63, its reserved bytes are zero, its pool size is a positive
    /// multiple of 4096 and its flag is 0 or 1. (It must also lie in the slot its sequence
    /// number selects: [`current_state`] checks that.)
    #[must_use]
    pub fn is_valid(&self) -> bool {
        let pool_size = self.pool_size.get();
        self.computed_checksum() == self.checksum.get()
            && self.sequence.get() <= MAX_SEQUENCE
            && self.reserved == [0; 32]
            && self.reserved_end == [0; 4]
            && pool_size % HEADER_LEN as u64 == 0
            && pool_size >= HEADER_LEN as u64
            && self.clean_shutdown.get() <= 1
    }
}

/// The current state record of a header page (`header_page` holds at least its first
/// 384 bytes): of the valid records that lie in the slot their sequence number selects,
/// the one with the larger sequence number. `None` if neither slot holds one.
#[must_use]
pub fn current_state(header_page: &[u8]) -> Option<StateRecord> {
    STATE_OFFSETS
        .iter()
        .enumerate()
        .filter_map(|(slot, &offset)| {
            let (record, _) = StateRecord::read_from_prefix(header_page.get(offset..)?).ok()?;
            (record.is_valid() && record.sequence.get() % 2 == slot as u64).then_some(record)
        })
        .max_by_key(|record| record.sequence.get())
}

/// The identity block: what the pool is, fixed at creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) uuid: [u8; 16],
    pub(crate) created_unix_nanos: u64,
    pub(crate) root_layout_hash: u64,
    pub(crate) root_size: u64,
    pub(crate) root_align: u64,
    pub(crate) root_offset: u64,
    pub(crate) log: LogArea,
    pub(crate) layout: String,
    pub(crate) root_type: String,
}

/// Where the undo logs live: `slot_count` slots of `slot_len` bytes from `offset`, right
/// after the root object (see `log.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogArea {
    pub(crate) offset: u64,
    pub(crate) slot_count: u32,
    pub(crate) slot_len: u32,
}

impl LogArea {
    /// The log area of a pool whose root is `root_size` bytes: it starts at the first page
    /// boundary after the root.
    pub(crate) fn after_root(root_size: u64, slot_count: u32, slot_len: u32) -> Option<Self> {
        let offset = ROOT_OFFSET
            .checked_add(root_size)?
            .checked_next_multiple_of(HEADER_LEN as u64)?;
        Some(Self {
            offset,
            slot_count,
            slot_len,
        })
    }

    /// The first byte after the log area.
    pub(crate) fn end(&self) -> Option<u64> {
        u64::from(self.slot_count)
            .checked_mul(u64::from(self.slot_len))
            .and_then(|len| self.offset.checked_add(len))
    }

    /// The offset of slot `index`.
    pub(crate) fn slot_offset(&self, index: u32) -> u64 {
        self.offset + u64::from(index) * u64::from(self.slot_len)
    }
}

/// One state record: what changes while the pool lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) sequence: u64,
    pub(crate) pool_size: u64,
    pub(crate) clean_shutdown: bool,
}

/// Why a header could not be read, before the caller adds the path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    NotAPool,
    Truncated { expected: u64, found: u64 },
    UnsupportedVersion { found: u32 },
    Corrupted(HeaderPart),
}

/// Writes `text` into `field`, zero-padded, cut at a character boundary so that at least
/// one zero byte ends it.
fn put_text(field: &mut [u8], text: &str) {
    let mut end = text.len().min(field.len() - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&text.as_bytes()[..end]);
}

fn text_in(field: &[u8]) -> Option<&str> {
    let end = field.iter().position(|&byte| byte == 0)?;
    if field[end..].iter().any(|&byte| byte != 0) {
        return None;
    }
    core::str::from_utf8(&field[..end]).ok()
}

/// Cuts `root_type` as the header will store it, so that names can be compared with what
/// a pool recorded.
pub(crate) fn stored_root_type_name(root_type: &str) -> String {
    let mut block = IdentityBlock::new_zeroed();
    put_text(&mut block.root_type, root_type);
    block
        .root_type_name()
        .expect("put_text writes valid text")
        .to_owned()
}

impl Identity {
    /// The identity block's bytes, magic included.
    pub(crate) fn encode(&self) -> [u8; IDENTITY_LEN] {
        debug_assert!(
            self.layout.len() <= MAX_LAYOUT_LEN,
            "layout length checked by options"
        );
        let mut block = IdentityBlock {
            magic: MAGIC,
            version: U32::new(FORMAT_VERSION),
            identity_len: U32::new(IDENTITY_LEN as u32),
            uuid: self.uuid,
            created_unix_nanos: U64::new(self.created_unix_nanos),
            root_layout_hash: U64::new(self.root_layout_hash),
            root_size: U64::new(self.root_size),
            root_align: U64::new(self.root_align),
            root_offset: U64::new(self.root_offset),
            header_len: U64::new(HEADER_LEN as u64),
            log_offset: U64::new(self.log.offset),
            log_slot_count: U32::new(self.log.slot_count),
            log_slot_len: U32::new(self.log.slot_len),
            layout: [0; 64],
            root_type: [0; 88],
            checksum: U32::new(0),
            reserved: [0; 4],
        };
        put_text(&mut block.layout, &self.layout);
        put_text(&mut block.root_type, &self.root_type);
        block.checksum = U32::new(block.computed_checksum());
        zerocopy::transmute!(block)
    }

    fn decode(block: &IdentityBlock) -> Result<Self, HeaderError> {
        let corrupted = HeaderError::Corrupted(HeaderPart::Identity);
        let (true, Some(layout), Some(root_type)) = (
            block.is_valid(),
            block.layout_name(),
            block.root_type_name(),
        ) else {
            return Err(corrupted);
        };
        Ok(Self {
            uuid: block.uuid,
            created_unix_nanos: block.created_unix_nanos.get(),
            root_layout_hash: block.root_layout_hash.get(),
            root_size: block.root_size.get(),
            root_align: block.root_align.get(),
            root_offset: block.root_offset.get(),
            log: LogArea {
                offset: block.log_offset.get(),
                slot_count: block.log_slot_count.get(),
                slot_len: block.log_slot_len.get(),
            },
            layout: layout.to_owned(),
            root_type: root_type.to_owned(),
        })
    }
}

impl State {
    /// The offset in the file of the record slot that holds this record.
    pub(crate) fn slot_offset(&self) -> usize {
        STATE_OFFSETS[(self.sequence % 2) as usize]
    }

    /// The record that supersedes this one, in the other slot.
    pub(crate) fn superseded(&self, pool_size: u64, clean_shutdown: bool) -> Self {
        Self {
            sequence: self.sequence + 1,
            pool_size,
            clean_shutdown,
        }
    }

    /// Writes the record that supersedes this one, with `pool_size` and `clean_shutdown`,
    /// into the other slot, makes it durable (one flush, one fence), and becomes it.
    pub(crate) fn persist(
        &mut self,
        mapping: &Mapping,
        flusher: &Flusher,
        pool_size: u64,
        clean_shutdown: bool,
    ) {
        let next = self.superseded(pool_size, clean_shutdown);
        let offset = next.slot_offset();
        // SAFETY: header bytes are never referenced as Rust values.
        unsafe { mapping.write(offset, &next.encode()) };
        flusher.flush(mapping, offset, STATE_LEN);
        flusher.fence();
        *self = next;
    }

    pub(crate) fn encode(&self) -> [u8; STATE_LEN] {
        let mut record = StateRecord {
            sequence: U64::new(self.sequence),
            pool_size: U64::new(self.pool_size),
            clean_shutdown: U64::new(u64::from(self.clean_shutdown)),
            reserved: [0; 32],
            checksum: U32::new(0),
            reserved_end: [0; 4],
        };
        record.checksum = U32::new(record.computed_checksum());
        zerocopy::transmute!(record)
    }

    /// The state a record holds, which the caller has found valid.
    fn of(record: &StateRecord) -> Self {
        Self {
            sequence: record.sequence.get(),
            pool_size: record.pool_size.get(),
            clean_shutdown: record.clean_shutdown.get() == 1,
        }
    }
}

/// Reads the header from the first bytes of a pool file (`head`, at most [`HEADER_LEN`]
/// bytes) whose total length is `file_len`, and checks everything the header alone can
/// tell.
pub(crate) fn decode(head: &[u8], file_len: u64) -> Result<(Identity, State), HeaderError> {
    if !head.starts_with(&MAGIC) {
        return Err(HeaderError::NotAPool);
    }
    let Ok((version, _)) = U32::read_from_prefix(&head[offset_of!(IdentityBlock, version)..])
    else {
        return Err(HeaderError::Truncated {
            expected: HEADER_LEN as u64,
            found: file_len,
        });
    };
    let version = version.get();
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion { found: version });
    }
    if head.len() < HEADER_LEN {
        return Err(HeaderError::Truncated {
            expected: HEADER_LEN as u64,
            found: file_len,
        });
    }
    let (block, _) = IdentityBlock::ref_from_prefix(head)
        .map_err(|_| HeaderError::Corrupted(HeaderPart::Identity))?;
    let identity = Identity::decode(block)?;
    let state = current_state(head)
        .filter(|record| record.sequence.get() <= MAX_OPEN_SEQUENCE)
        .map(|record| State::of(&record))
        .ok_or(HeaderError::Corrupted(HeaderPart::State))?;
    if state.pool_size > file_len {
        return Err(HeaderError::Truncated {
            expected: state.pool_size,
            found: file_len,
        });
    }
    let root_end = identity.root_offset.checked_add(identity.root_size);
    let log = identity.log;
    let consistent = identity.root_offset == ROOT_OFFSET
        && identity.root_align.is_power_of_two()
        && identity.root_offset % identity.root_align == 0
        && root_end.is_some_and(|end| end <= state.pool_size)
        && LogArea::after_root(identity.root_size, log.slot_count, log.slot_len) == Some(log)
        && (1..=MAX_LANES).contains(&log.slot_count)
        && log.slot_len as usize >= MIN_LOG_SLOT_LEN
        && log.slot_len as usize % HEADER_LEN == 0
        && log.end().is_some_and(|end| end <= state.pool_size);
    if !consistent {
        return Err(HeaderError::Corrupted(HeaderPart::Identity));
    }
    Ok((identity, state))
}

#[cfg(test)]
mod tests;
