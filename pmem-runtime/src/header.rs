//! The pool file format: the header page.
//!
//! A pool file starts with one 4096-byte header page; the root object follows at offset
//! 4096, and the rest of the file belongs to the heap. All integers are little-endian.
//! `docs/src/file-format.md` is the specification; this module is its implementation.
//!
//! The header has two parts with different update rules:
//!
//! - The **identity block** (bytes 0..256) is written once, when the pool is created, and
//!   never changes. A CRC-32 over its first 248 bytes detects damage.
//! - The **state records** (two 64-byte records at 256 and 320, each in a cache line of its
//!   own) hold what changes while the pool lives: its size and the clean-shutdown flag. An
//!   update writes the record that is *not* current, with the next sequence number and its
//!   own CRC-32, then flushes and fences it. A crash in mid-update leaves a torn record
//!   that fails its checksum, and the other record, still intact, stays current. So every
//!   update is atomic, at the cost of one flush and one fence.
//!
//! Bytes 0..8 (the magic) and 8..12 (the format version) keep their meaning in every
//! future version, so a newer pool is reported as such instead of as damaged.
//!
//! Creating a pool writes the magic last: until that final 8-byte store is durable, the file
//! is "not a pool", never a half-initialised one.

use crate::error::HeaderPart;
use crate::hw::flush::Flusher;
use crate::hw::mapping::Mapping;

/// The first eight bytes of every pool file.
pub(crate) const MAGIC: [u8; 8] = *b"PMEM-RS\0";
/// The format version this library reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The length of the header page; the root object starts here.
pub(crate) const HEADER_LEN: usize = 4096;
/// Where the root object starts.
pub(crate) const ROOT_OFFSET: u64 = HEADER_LEN as u64;

const IDENTITY_LEN: usize = 256;
const IDENTITY_CHECKED_LEN: usize = 248;
const LAYOUT_FIELD: core::ops::Range<usize> = 96..160;
const ROOT_TYPE_FIELD: core::ops::Range<usize> = 160..248;
/// The smallest log slot: one page.
pub(crate) const MIN_LOG_SLOT_LEN: usize = HEADER_LEN;
/// The longest layout name: the field's length less its terminating zero byte.
pub(crate) const MAX_LAYOUT_LEN: usize = LAYOUT_FIELD.end - LAYOUT_FIELD.start - 1;

const STATE_OFFSETS: [usize; 2] = [256, 320];
/// The largest sequence number a valid state record carries. A pool writes a record at
/// open, at close and when it grows, so no pool comes near it; a larger one is damage.
const MAX_SEQUENCE: u64 = 1 << 63;
/// The largest sequence number a pool may be opened with: far below [`MAX_SEQUENCE`], so
/// that the records a session writes stay valid and `State::next` never overflows.
const MAX_OPEN_SEQUENCE: u64 = 1 << 62;
pub(crate) const STATE_LEN: usize = 64;
const STATE_CHECKED_LEN: usize = 56;

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

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("four bytes"))
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("eight bytes"))
}

fn put_u64(bytes: &mut [u8], offset: usize, value: u64) {
    bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
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

fn text_in(field: &[u8]) -> Option<String> {
    let end = field.iter().position(|&byte| byte == 0)?;
    if field[end..].iter().any(|&byte| byte != 0) {
        return None;
    }
    String::from_utf8(field[..end].to_vec()).ok()
}

/// Cuts `root_type` as the header will store it, so that names can be compared with what
/// a pool recorded.
pub(crate) fn stored_root_type_name(root_type: &str) -> String {
    let mut field = [0u8; ROOT_TYPE_FIELD.end - ROOT_TYPE_FIELD.start];
    put_text(&mut field, root_type);
    text_in(&field).expect("put_text writes valid text")
}

impl Identity {
    /// The identity block's bytes, magic included.
    pub(crate) fn encode(&self) -> [u8; IDENTITY_LEN] {
        debug_assert!(
            self.layout.len() <= MAX_LAYOUT_LEN,
            "layout length checked by options"
        );
        let mut bytes = [0u8; IDENTITY_LEN];
        bytes[0..8].copy_from_slice(&MAGIC);
        put_u32(&mut bytes, 8, FORMAT_VERSION);
        put_u32(&mut bytes, 12, IDENTITY_LEN as u32);
        bytes[16..32].copy_from_slice(&self.uuid);
        put_u64(&mut bytes, 32, self.created_unix_nanos);
        put_u64(&mut bytes, 40, self.root_layout_hash);
        put_u64(&mut bytes, 48, self.root_size);
        put_u64(&mut bytes, 56, self.root_align);
        put_u64(&mut bytes, 64, self.root_offset);
        put_u64(&mut bytes, 80, self.log.offset);
        put_u32(&mut bytes, 88, self.log.slot_count);
        put_u32(&mut bytes, 92, self.log.slot_len);
        put_u64(&mut bytes, 72, HEADER_LEN as u64);
        put_text(&mut bytes[LAYOUT_FIELD], &self.layout);
        put_text(&mut bytes[ROOT_TYPE_FIELD], &self.root_type);
        let checksum = crc32fast::hash(&bytes[..IDENTITY_CHECKED_LEN]);
        put_u32(&mut bytes, IDENTITY_CHECKED_LEN, checksum);
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        let corrupted = HeaderError::Corrupted(HeaderPart::Identity);
        if crc32fast::hash(&bytes[..IDENTITY_CHECKED_LEN]) != u32_at(bytes, IDENTITY_CHECKED_LEN) {
            return Err(corrupted);
        }
        let reserved_zero = bytes[IDENTITY_CHECKED_LEN + 4..IDENTITY_LEN]
            .iter()
            .all(|&byte| byte == 0);
        if !reserved_zero
            || u32_at(bytes, 12) as usize != IDENTITY_LEN
            || u64_at(bytes, 72) != HEADER_LEN as u64
        {
            return Err(corrupted);
        }
        let (Some(layout), Some(root_type)) = (
            text_in(&bytes[LAYOUT_FIELD]),
            text_in(&bytes[ROOT_TYPE_FIELD]),
        ) else {
            return Err(corrupted);
        };
        Ok(Self {
            uuid: bytes[16..32].try_into().expect("sixteen bytes"),
            created_unix_nanos: u64_at(bytes, 32),
            root_layout_hash: u64_at(bytes, 40),
            root_size: u64_at(bytes, 48),
            root_align: u64_at(bytes, 56),
            root_offset: u64_at(bytes, 64),
            log: LogArea {
                offset: u64_at(bytes, 80),
                slot_count: u32_at(bytes, 88),
                slot_len: u32_at(bytes, 92),
            },
            layout,
            root_type,
        })
    }
}

impl State {
    /// The offset in the file of the record slot that holds this record.
    pub(crate) fn slot_offset(&self) -> usize {
        STATE_OFFSETS[(self.sequence % 2) as usize]
    }

    /// The record that supersedes this one, in the other slot.
    fn next(&self, pool_size: u64, clean_shutdown: bool) -> Self {
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
        let next = self.next(pool_size, clean_shutdown);
        let offset = next.slot_offset();
        // SAFETY: header bytes are never referenced as Rust values.
        unsafe { mapping.write(offset, &next.encode()) };
        flusher.flush(mapping, offset, STATE_LEN);
        flusher.fence();
        *self = next;
    }

    pub(crate) fn encode(&self) -> [u8; STATE_LEN] {
        let mut bytes = [0u8; STATE_LEN];
        put_u64(&mut bytes, 0, self.sequence);
        put_u64(&mut bytes, 8, self.pool_size);
        put_u64(&mut bytes, 16, u64::from(self.clean_shutdown));
        let checksum = crc32fast::hash(&bytes[..STATE_CHECKED_LEN]);
        put_u32(&mut bytes, STATE_CHECKED_LEN, checksum);
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if crc32fast::hash(&bytes[..STATE_CHECKED_LEN]) != u32_at(bytes, STATE_CHECKED_LEN) {
            return None;
        }
        let sequence = u64_at(bytes, 0);
        if sequence > MAX_SEQUENCE {
            return None;
        }
        let reserved_zero = bytes[24..STATE_CHECKED_LEN].iter().all(|&byte| byte == 0)
            && bytes[STATE_CHECKED_LEN + 4..].iter().all(|&byte| byte == 0);
        let pool_size = u64_at(bytes, 8);
        if !reserved_zero || pool_size % HEADER_LEN as u64 != 0 || pool_size < HEADER_LEN as u64 {
            return None;
        }
        let clean_shutdown = match u64_at(bytes, 16) {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some(Self {
            sequence,
            pool_size,
            clean_shutdown,
        })
    }
}

/// Reads the header from the first bytes of a pool file (`head`, at most [`HEADER_LEN`]
/// bytes) whose total length is `file_len`, and checks everything the header alone can
/// tell.
pub(crate) fn decode(head: &[u8], file_len: u64) -> Result<(Identity, State), HeaderError> {
    if head.len() < MAGIC.len() || head[..MAGIC.len()] != MAGIC {
        return Err(HeaderError::NotAPool);
    }
    if head.len() < 12 {
        return Err(HeaderError::Truncated {
            expected: HEADER_LEN as u64,
            found: file_len,
        });
    }
    let version = u32_at(head, 8);
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion { found: version });
    }
    if head.len() < HEADER_LEN {
        return Err(HeaderError::Truncated {
            expected: HEADER_LEN as u64,
            found: file_len,
        });
    }
    let identity = Identity::decode(head)?;
    let state = STATE_OFFSETS
        .iter()
        .filter_map(|&offset| {
            State::decode(&head[offset..offset + STATE_LEN])
                .filter(|state| state.slot_offset() == offset)
        })
        .max_by_key(|state| state.sequence)
        .filter(|state| state.sequence <= MAX_OPEN_SEQUENCE)
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
        && log.slot_count >= 1
        && log.slot_len as usize >= MIN_LOG_SLOT_LEN
        && log.slot_len as usize % HEADER_LEN == 0
        && log.end().is_some_and(|end| end <= state.pool_size);
    if !consistent {
        return Err(HeaderError::Corrupted(HeaderPart::Identity));
    }
    Ok((identity, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            uuid: [7; 16],
            created_unix_nanos: 1_700_000_000_000_000_000,
            root_layout_hash: 0x1234_5678_9abc_def0,
            root_size: 24,
            root_align: 8,
            root_offset: ROOT_OFFSET,
            log: LogArea {
                offset: 8192,
                slot_count: 1,
                slot_len: 65536,
            },
            layout: "bank".into(),
            root_type: "demo::Bank".into(),
        }
    }

    fn header_page(identity: &Identity, states: &[State]) -> Vec<u8> {
        let mut page = vec![0u8; HEADER_LEN];
        page[..IDENTITY_LEN].copy_from_slice(&identity.encode());
        for state in states {
            let offset = state.slot_offset();
            page[offset..offset + STATE_LEN].copy_from_slice(&state.encode());
        }
        page
    }

    const FIRST: State = State {
        sequence: 1,
        pool_size: 1 << 20,
        clean_shutdown: true,
    };

    #[test]
    fn round_trips() {
        let page = header_page(&identity(), &[FIRST]);
        assert_eq!(decode(&page, 1 << 20), Ok((identity(), FIRST)));
    }

    #[test]
    fn the_newest_valid_state_record_wins() {
        let second = FIRST.next(1 << 21, false);
        let page = header_page(&identity(), &[FIRST, second]);
        assert_eq!(decode(&page, 1 << 21).map(|(_, state)| state), Ok(second));
    }

    #[test]
    fn a_torn_state_record_falls_back_to_the_other() {
        let second = FIRST.next(1 << 20, false);
        let mut page = header_page(&identity(), &[FIRST, second]);
        page[second.slot_offset() + 8] ^= 1;
        assert_eq!(decode(&page, 1 << 20).map(|(_, state)| state), Ok(FIRST));
    }

    /// A crash during a state update may persist any subset of the record's eight 8-byte
    /// words (only aligned 8-byte stores are failure-atomic, and the line may be evicted at
    /// any moment before its flush and fence). Every such image must read as the old state
    /// or the new one, whatever the slot held before: nothing (a new pool) or an older
    /// record.
    #[test]
    fn a_state_update_torn_at_any_word_subset_reads_as_old_or_new() {
        let words = STATE_LEN / 8;
        let second = FIRST.next(1 << 20, false);
        let third = second.next(1 << 20, true);
        for (already_written, current, update) in [
            (vec![FIRST], FIRST, second),
            (vec![FIRST, second], second, third),
        ] {
            let before = header_page(&identity(), &already_written);
            let offset = update.slot_offset();
            let new_record = update.encode();
            for subset in 0u32..1 << words {
                let mut image = before.clone();
                for word in (0..words).filter(|word| subset & (1 << word) != 0) {
                    let range = offset + word * 8..offset + word * 8 + 8;
                    image[range.clone()].copy_from_slice(&new_record[word * 8..word * 8 + 8]);
                }
                let state = decode(&image, 1 << 20).map(|(_, state)| state);
                let complete = image[offset..offset + STATE_LEN] == new_record;
                let expected = if complete { update } else { current };
                assert_eq!(
                    state,
                    Ok(expected),
                    "words {subset:#010b} of {update:?} persisted"
                );
            }
        }
    }

    #[test]
    fn both_state_records_damaged_is_corruption() {
        let mut page = header_page(&identity(), &[FIRST]);
        page[FIRST.slot_offset()] ^= 1;
        assert_eq!(
            decode(&page, 1 << 20),
            Err(HeaderError::Corrupted(HeaderPart::State))
        );
    }

    /// Flips one bit in each byte of `range` in turn; each damaged page must be refused as
    /// a corrupted `part`.
    fn assert_every_byte_is_checked(range: core::ops::Range<usize>, part: HeaderPart) {
        let page = header_page(&identity(), &[FIRST]);
        for offset in range {
            let mut damaged = page.clone();
            damaged[offset] ^= 0x10;
            assert_eq!(
                decode(&damaged, 1 << 20),
                Err(HeaderError::Corrupted(part)),
                "flipping a bit of byte {offset} went unnoticed"
            );
        }
    }

    #[test]
    fn every_byte_of_the_state_record_is_checked() {
        let slot = FIRST.slot_offset();
        assert_every_byte_is_checked(slot..slot + STATE_LEN, HeaderPart::State);
    }

    #[test]
    fn every_identity_byte_is_checked() {
        assert_every_byte_is_checked(12..IDENTITY_LEN, HeaderPart::Identity);
    }

    #[test]
    fn magic_version_and_length_are_checked_in_that_order() {
        let page = header_page(&identity(), &[FIRST]);
        assert_eq!(decode(&page[..4], 4), Err(HeaderError::NotAPool));
        assert_eq!(decode(b"ELF\x7f....", 8), Err(HeaderError::NotAPool));
        assert_eq!(
            decode(&page[..100], 100),
            Err(HeaderError::Truncated {
                expected: HEADER_LEN as u64,
                found: 100
            })
        );
        let mut newer = page.clone();
        newer[8] = FORMAT_VERSION as u8 + 1;
        assert_eq!(
            decode(&newer, 1 << 20),
            Err(HeaderError::UnsupportedVersion {
                found: FORMAT_VERSION + 1
            })
        );
        assert_eq!(
            decode(&page, 8192),
            Err(HeaderError::Truncated {
                expected: 1 << 20,
                found: 8192
            })
        );
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let long = "é".repeat(100);
        let stored = stored_root_type_name(&long);
        assert!(stored.len() < ROOT_TYPE_FIELD.len());
        assert!(long.starts_with(&stored));
    }
}
