//! The record structs of `pmem::format` are the specification's tables: each field's offset
//! and size, read with `offset_of!`, equals the row the specification gives it
//! (`docs/src/file-format.md`, `docs/src/heap.md`, `docs/src/transactions.md`), in order,
//! and the struct ends where the table's fixed part does. A field added, moved or resized
//! on one side only fails here.

use core::mem::offset_of;

use pmem::format::{
    BlockHeader, EntryHeader, HeapHeader, IdentityBlock, NamedRootEntry, PointerRunRecord,
    SlotHeader, StateRecord, TypeRecordHeader,
};

/// `(offset, size)` of each field, from the fields' offsets in declaration order and the
/// struct's size: the records have alignment 1, so no padding lies between fields.
macro_rules! fields {
    ($record:ty { $($field:ident),* $(,)? }) => {{
        let offsets = [$(offset_of!($record, $field)),*];
        let ends = offsets.iter().skip(1).copied().chain([size_of::<$record>()]);
        offsets.iter().zip(ends).map(|(&at, end)| (at, end - at)).collect::<Vec<_>>()
    }};
}

fn page(name: &str) -> String {
    let path = format!("{}/../docs/src/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The first table after the first line of `page` that contains `marker`: the
/// `(offset, size)` of its rows whose first two cells are numbers, and the offset of the
/// row after them (where a variable-length part starts), if there is one.
fn table(page: &str, marker: &str) -> (Vec<(usize, usize)>, Option<usize>) {
    let number = |cell: &str| cell.trim().trim_matches('`').parse::<usize>().ok();
    let rows = page
        .lines()
        .skip_while(|line| !line.contains(marker))
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2);
    let mut fixed = Vec::new();
    for row in rows {
        let cells: Vec<&str> = row.split('|').skip(1).collect();
        match (number(cells[0]), number(cells[1])) {
            (Some(at), Some(size)) => fixed.push((at, size)),
            (at, _) => return (fixed, at),
        }
    }
    assert!(!fixed.is_empty(), "no table after {marker:?}");
    (fixed, None)
}

#[test]
fn the_header_records_are_the_file_format_tables() {
    let spec = page("file-format.md");
    let identity = fields!(IdentityBlock {
        magic,
        version,
        identity_len,
        uuid,
        created_unix_nanos,
        root_layout_hash,
        root_size,
        root_align,
        root_offset,
        header_len,
        log_offset,
        log_slot_count,
        log_slot_len,
        layout,
        root_type,
        checksum,
        reserved,
    });
    assert_eq!(table(&spec, "### The identity block"), (identity, None));
    let state = fields!(StateRecord {
        sequence,
        pool_size,
        clean_shutdown,
        reserved,
        checksum,
        reserved_end,
    });
    assert_eq!(table(&spec, "### The state records"), (state, None));
}

#[test]
fn the_heap_records_are_the_heap_tables() {
    let spec = page("heap.md");
    let header = fields!(HeapHeader {
        magic,
        version,
        page_size,
        metadata_pages,
        arena_pages,
        root_type,
        named_roots,
        type_table_len,
        reserved,
        root_offset,
        reserved_end,
        checksum,
    });
    assert_eq!(table(&spec, "**Heap header**"), (header, None));
    let type_record = fields!(TypeRecordHeader {
        layout_hash,
        size,
        align,
        pointer_runs,
        name_len,
        kind,
        checksum,
    });
    assert_eq!(
        table(&spec, "**Type record**"),
        (type_record, Some(size_of::<TypeRecordHeader>()))
    );
    // The runs are four `u64`s each, in the order the type record's row names them.
    let run = fields!(PointerRunRecord {
        offset,
        count,
        stride,
        pointee
    });
    assert_eq!(run, [(0, 8), (8, 8), (16, 8), (24, 8)]);
    assert!(spec.contains("| 32 | 32 × `r` | pointer runs: offset, count, stride, pointee"));

    // The named-root entry is specified in a sentence: its fields' byte ranges, in order.
    let sentence = spec
        .lines()
        .skip_while(|line| !line.starts_with("**Named-root entry**"))
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let ranges: Vec<(usize, usize)> = sentence
        .split('`')
        .filter_map(|part| {
            let (start, end) = part.split_once("..")?;
            let (start, end) = (start.parse::<usize>().ok()?, end.parse::<usize>().ok()?);
            Some((start, end - start))
        })
        .collect();
    let entry = fields!(NamedRootEntry {
        name,
        type_index,
        reserved,
        pointer
    });
    assert_eq!(ranges, entry);
}

#[test]
fn the_log_records_are_the_log_format_tables() {
    let spec = page("transactions.md");
    let slot = fields!(SlotHeader {
        generation,
        first_block,
        reserved
    });
    assert_eq!(
        table(&spec, "| offset in the slot |"),
        (slot, Some(pmem::format::ENTRIES_START))
    );
    let block = fields!(BlockHeader {
        next,
        magic,
        reserved
    });
    assert_eq!(
        table(&spec, "| offset in the block |"),
        (block, Some(pmem::format::ENTRIES_START))
    );
    let entry = fields!(EntryHeader {
        generation,
        offset,
        len,
        checksum
    });
    assert_eq!(
        table(&spec, "| offset in the entry |"),
        (entry, Some(size_of::<EntryHeader>()))
    );
}
