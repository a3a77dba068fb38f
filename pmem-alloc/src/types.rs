//! Type descriptors: what the collector and `check` know of a type without its code.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, IntoBytes};

use crate::format::{PointerRunRecord, TypeRecordHeader};
use crate::persistent::Persistent;
use crate::pointer_map::{PointerMap, PointerRun};
use crate::slice::slice_layout_hash;

/// What a recorded type's objects are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TypeKind {
    /// Each object is one value of the record's size.
    #[default]
    Sized,
    /// Each object is a run of elements, each of the record's size, alignment and pointer
    /// map, after a header holding how many there are: what a
    /// [`PSlice`](crate::PSlice) points at.
    Slice,
}

/// A type as the heap records it: its identity, size, alignment, name and pointer map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeInfo {
    /// [`Persistent::LAYOUT_HASH`].
    pub layout_hash: u64,
    /// `size_of`.
    pub size: u64,
    /// `align_of`.
    pub align: u64,
    /// The type's name, for messages and `check` (`core::any::type_name`, shortened to fit).
    pub name: String,
    /// Where its persistent pointers are (for a slice, those of one element).
    pub pointers: PointerMap,
    /// Whether the record describes single values or slices of them.
    pub kind: TypeKind,
}

const MAX_NAME: usize = 255;

impl TypeInfo {
    /// The description of `T`.
    #[must_use]
    pub fn of<T: Persistent>() -> Self {
        Self {
            layout_hash: T::LAYOUT_HASH,
            size: size_of::<T>() as u64,
            align: align_of::<T>() as u64,
            name: shortened(core::any::type_name::<T>().to_owned()),
            pointers: PointerMap::of::<T>(),
            kind: TypeKind::Sized,
        }
    }

    /// The description of slices of `T`: `T`'s size, alignment and pointer map, per
    /// element.
    #[must_use]
    pub fn slice_of<T: Persistent>() -> Self {
        Self {
            layout_hash: slice_layout_hash::<T>(),
            kind: TypeKind::Slice,
            name: shortened(format!("[{}]", core::any::type_name::<T>())),
            ..Self::of::<T>()
        }
    }

    /// Whether this record describes `program`, the program's type of the same layout
    /// hash: everything but the name, which `core::any::type_name` may spell differently
    /// from one compiler to the next.
    pub(crate) fn describes(&self, program: &TypeInfo) -> bool {
        self.layout_hash == program.layout_hash
            && self.size == program.size
            && self.align == program.align
            && self.pointers == program.pointers
            && self.kind == program.kind
    }

    /// What is wrong with a record read from a pool, if anything: values a file holds can
    /// be anything, and everything computed from them must stay in range. The alignment is
    /// a power of two, the size a multiple of it, and every pointer run lies inside the
    /// object, its pointers at least 8 bytes apart; and the runs hold at most `size / 8`
    /// pointers in all, as they do when no two overlap, so that tracing an object reads
    /// each of its words at most once.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if !self.align.is_power_of_two() || self.size % self.align != 0 {
            return Err("a type record's size or alignment is not one a type can have");
        }
        let pointers = self
            .pointers
            .runs()
            .iter()
            .try_fold(0u64, |total, run| total.checked_add(run.count));
        if pointers.is_none_or(|pointers| pointers > self.size / 8) {
            return Err("a type record's pointer map holds more pointers than its objects");
        }
        for run in self.pointers.runs() {
            let inside = run.count.checked_sub(1).is_some_and(|more| {
                (more == 0 || run.stride >= 8)
                    && more
                        .checked_mul(run.stride)
                        .and_then(|last| last.checked_add(run.offset))
                        .and_then(|last| last.checked_add(8))
                        .is_some_and(|end| end <= self.size)
            });
            if !inside {
                return Err("a type record's pointer map reaches outside its objects");
            }
        }
        Ok(())
    }

    /// The record's length on disk.
    pub(crate) fn record_len(&self) -> usize {
        size_of::<TypeRecordHeader>()
            + self.pointers.runs().len() * size_of::<PointerRunRecord>()
            + self.name.len().next_multiple_of(8)
    }

    /// The record for type index `index` (see [`TypeRecordHeader`]).
    pub(crate) fn encode(&self, index: u32) -> Vec<u8> {
        let mut header = TypeRecordHeader {
            layout_hash: U64::new(self.layout_hash),
            size: U64::new(self.size),
            align: U32::new(self.align as u32),
            pointer_runs: U32::new(self.pointers.runs().len() as u32),
            name_len: U16::new(self.name.len() as u16),
            kind: U16::new(match self.kind {
                TypeKind::Sized => 0,
                TypeKind::Slice => 1,
            }),
            checksum: U32::new(0),
        };
        let mut body = Vec::with_capacity(self.record_len() - size_of::<TypeRecordHeader>());
        for run in self.pointers.runs() {
            let run = PointerRunRecord {
                offset: U64::new(run.offset),
                count: U64::new(run.count),
                stride: U64::new(run.stride),
                pointee: U64::new(run.pointee),
            };
            body.extend_from_slice(run.as_bytes());
        }
        body.extend_from_slice(self.name.as_bytes());
        body.resize(body.capacity(), 0);
        header.checksum = U32::new(record_checksum(&header, &body, index));
        [header.as_bytes(), &body].concat()
    }

    /// The type record for type index `index` at the start of `bytes` (the rest of a type
    /// table), and its length; `None` at the end of the table: zeros, a torn record, or no
    /// room for a whole one. The record is returned as written: whether its values are
    /// ones a type can have (a power-of-two alignment, pointer runs inside the object) the
    /// heap checks when it loads the table.
    #[must_use]
    pub fn decode_record(bytes: &[u8], index: u32) -> Option<(Self, usize)> {
        let (header, rest) = TypeRecordHeader::read_from_prefix(bytes).ok()?;
        if header.as_bytes().iter().all(|&b| b == 0) {
            return None;
        }
        let runs = header.pointer_runs.get() as usize;
        let name_len = header.name_len.get() as usize;
        if name_len > MAX_NAME {
            return None;
        }
        let kind = match header.kind.get() {
            0 => TypeKind::Sized,
            1 => TypeKind::Slice,
            _ => return None,
        };
        let body_len = runs
            .checked_mul(size_of::<PointerRunRecord>())?
            .checked_add(name_len.next_multiple_of(8))?;
        let body = rest.get(..body_len)?;
        if record_checksum(&header, body, index) != header.checksum.get() {
            return None;
        }
        let (run_records, name) =
            <[PointerRunRecord]>::ref_from_prefix_with_elems(body, runs).ok()?;
        let runs = run_records
            .iter()
            .map(|run| PointerRun {
                offset: run.offset.get(),
                count: run.count.get(),
                stride: run.stride.get(),
                pointee: run.pointee.get(),
            })
            .collect();
        let info = Self {
            layout_hash: header.layout_hash.get(),
            size: header.size.get(),
            align: u64::from(header.align.get()),
            name: String::from_utf8_lossy(name.get(..name_len)?).into_owned(),
            pointers: PointerMap::from_runs(runs),
            kind,
        };
        Some((info, size_of::<TypeRecordHeader>() + body_len))
    }
}

/// `name`, cut to at most [`MAX_NAME`] bytes on a character boundary.
fn shortened(mut name: String) -> String {
    if name.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// The checksum of a record of `header` and `body` (its pointer runs and padded name) at
/// type index `index`: CRC-32 of the record with the checksum field zeroed, then the index.
fn record_checksum(header: &TypeRecordHeader, body: &[u8], index: u32) -> u32 {
    let zeroed = TypeRecordHeader {
        checksum: U32::new(0),
        ..*header
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(zeroed.as_bytes());
    hasher.update(body);
    hasher.update(&index.to_le_bytes());
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PPtr;

    #[test]
    fn records_round_trip() {
        let info = TypeInfo::of::<[PPtr<u64>; 4]>();
        let record = info.encode(3);
        assert_eq!(record.len() % 8, 0);
        let mut table = record.clone();
        table.extend([0u8; 64]);
        let (decoded, len) = TypeInfo::decode_record(&table, 3).expect("valid");
        assert_eq!((decoded, len), (info, record.len()));
    }

    #[test]
    fn a_torn_or_misplaced_record_ends_the_table() {
        let record = TypeInfo::of::<u64>().encode(1);
        assert!(TypeInfo::decode_record(&record, 2).is_none(), "wrong index");
        for byte in 0..record.len() {
            let mut torn = record.clone();
            torn[byte] ^= 0x10;
            assert!(TypeInfo::decode_record(&torn, 1).is_none(), "byte {byte}");
        }
        assert!(TypeInfo::decode_record(&[0u8; 64], 0).is_none());
    }
}
