//! Type descriptors: what the collector and `check` know of a type without its code.

use crate::layout::{POINTER_RUN_LEN, TYPE_RECORD_HEADER, u32_at, u64_at};
use crate::persistent::Persistent;
use crate::pointer_map::{PointerMap, PointerRun};

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
    /// Where its persistent pointers are.
    pub pointers: PointerMap,
}

const MAX_NAME: usize = 255;

impl TypeInfo {
    /// The description of `T`.
    #[must_use]
    pub fn of<T: Persistent>() -> Self {
        let mut name = core::any::type_name::<T>().to_owned();
        if name.len() > MAX_NAME {
            let mut end = MAX_NAME;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name.truncate(end);
        }
        Self {
            layout_hash: T::LAYOUT_HASH,
            size: size_of::<T>() as u64,
            align: align_of::<T>() as u64,
            name,
            pointers: PointerMap::of::<T>(),
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
        TYPE_RECORD_HEADER
            + self.pointers.runs().len() * POINTER_RUN_LEN
            + self.name.len().next_multiple_of(8)
    }

    /// The record for type index `index` (see `layout.rs`).
    pub(crate) fn encode(&self, index: u32) -> Vec<u8> {
        let mut record = vec![0u8; self.record_len()];
        record[0..8].copy_from_slice(&self.layout_hash.to_le_bytes());
        record[8..16].copy_from_slice(&self.size.to_le_bytes());
        record[16..20].copy_from_slice(&(self.align as u32).to_le_bytes());
        record[20..24].copy_from_slice(&(self.pointers.runs().len() as u32).to_le_bytes());
        record[24..28].copy_from_slice(&(self.name.len() as u32).to_le_bytes());
        let mut at = TYPE_RECORD_HEADER;
        for run in self.pointers.runs() {
            for (word, value) in [run.offset, run.count, run.stride, run.pointee]
                .into_iter()
                .enumerate()
            {
                record[at + word * 8..at + word * 8 + 8].copy_from_slice(&value.to_le_bytes());
            }
            at += POINTER_RUN_LEN;
        }
        record[at..at + self.name.len()].copy_from_slice(self.name.as_bytes());
        let checksum = record_checksum(&record, index);
        record[28..32].copy_from_slice(&checksum.to_le_bytes());
        record
    }

    /// The record for type index `index` at the start of `bytes`, and its length; `None` at
    /// the end of the table (zeros, a torn record, or no room for a whole record).
    pub(crate) fn decode(bytes: &[u8], index: u32) -> Option<(Self, usize)> {
        if bytes.len() < TYPE_RECORD_HEADER || bytes[..TYPE_RECORD_HEADER].iter().all(|&b| b == 0) {
            return None;
        }
        let runs = u32_at(bytes, 20) as usize;
        let name_len = u32_at(bytes, 24) as usize;
        if name_len > MAX_NAME {
            return None;
        }
        let len = runs
            .checked_mul(POINTER_RUN_LEN)?
            .checked_add(TYPE_RECORD_HEADER + name_len.next_multiple_of(8))?;
        let record = bytes.get(..len)?;
        if record_checksum(record, index) != u32_at(record, 28) {
            return None;
        }
        let runs = (0..runs)
            .map(|run| {
                let at = TYPE_RECORD_HEADER + run * POINTER_RUN_LEN;
                PointerRun {
                    offset: u64_at(record, at),
                    count: u64_at(record, at + 8),
                    stride: u64_at(record, at + 16),
                    pointee: u64_at(record, at + 24),
                }
            })
            .collect();
        let name_start = len - name_len.next_multiple_of(8);
        let name = String::from_utf8_lossy(&record[name_start..name_start + name_len]).into_owned();
        let info = Self {
            layout_hash: u64_at(record, 0),
            size: u64_at(record, 8),
            align: u64::from(u32_at(record, 16)),
            name,
            pointers: PointerMap::from_runs(runs),
        };
        Some((info, len))
    }
}

fn record_checksum(record: &[u8], index: u32) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&record[..28]);
    hasher.update(&[0; 4]);
    hasher.update(&record[32..]);
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
        let (decoded, len) = TypeInfo::decode(&table, 3).expect("valid");
        assert_eq!((decoded, len), (info, record.len()));
    }

    #[test]
    fn a_torn_or_misplaced_record_ends_the_table() {
        let record = TypeInfo::of::<u64>().encode(1);
        assert!(TypeInfo::decode(&record, 2).is_none(), "wrong index");
        for byte in 0..record.len() {
            let mut torn = record.clone();
            torn[byte] ^= 0x10;
            assert!(TypeInfo::decode(&torn, 1).is_none(), "byte {byte}");
        }
        assert!(TypeInfo::decode(&[0u8; 64], 0).is_none());
    }
}
