//! The heap alone, on a region in ordinary memory.

use std::collections::HashMap;

use pmem_alloc::type_hash::{SEED, hash_str, hash_u64};
use pmem_alloc::{
    FenceFor, GrowError, Growth, Heap, HeapError, PAGE, PPtr, Persistent, PointerMap, Region,
    RootObject, TypeInfo, TypeKind,
};

/// A region backed by a vector, growable up to `max_len`, counting fences.
struct MemoryRegion {
    bytes: Vec<u8>,
    len: usize,
    fences: usize,
    metadata_writes: usize,
}

impl MemoryRegion {
    fn new(len: usize, max_len: usize) -> Self {
        Self {
            bytes: vec![0; max_len],
            len,
            fences: 0,
            metadata_writes: 0,
        }
    }

    fn write_word(&mut self, offset: u64, value: u64) {
        let offset = offset as usize;
        assert!(offset + 8 <= self.len);
        self.bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }
}

impl Region for MemoryRegion {
    fn len(&self) -> usize {
        self.len
    }

    fn read(&self, offset: usize, buffer: &mut [u8]) {
        assert!(offset + buffer.len() <= self.len, "read past the region");
        buffer.copy_from_slice(&self.bytes[offset..offset + buffer.len()]);
    }

    fn write_metadata(&mut self, offset: usize, bytes: &[u8]) {
        assert!(offset + bytes.len() <= self.len, "write past the region");
        self.bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
        self.metadata_writes += 1;
    }

    fn fence(&mut self, _reason: FenceFor) {
        self.fences += 1;
    }

    fn grow(&mut self, min_len: usize) -> Result<(), GrowError> {
        let max_len = self.bytes.len();
        let new_len = min_len
            .max(self.len * 2)
            .min(max_len)
            .next_multiple_of(PAGE);
        if min_len > max_len || new_len > max_len {
            return Err(GrowError { max_len, io: None });
        }
        self.len = new_len;
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

// SAFETY: two u64-sized fields, no padding, every bit pattern valid; `describe_pointers`
// names `next`.
unsafe impl Persistent for Node {
    const NAME_HASH: u64 = hash_str(SEED, concat!(module_path!(), "::Node"));
    const LAYOUT_HASH: u64 = hash_u64(Self::NAME_HASH, 16);

    fn describe_pointers(map: &mut PointerMap, offset: usize) {
        PPtr::<Node>::describe_pointers(map, offset + 8);
    }
}

type Root = [PPtr<Node>; 4];
const ROOT_OFFSET: u64 = 4096;
const HEAP_START: usize = 8192;

fn new_heap(len: usize, max_len: usize) -> (MemoryRegion, Heap, u32) {
    let mut region = MemoryRegion::new(len, max_len);
    let root = RootObject {
        offset: ROOT_OFFSET,
        size: size_of::<Root>() as u64,
    };
    let mut heap =
        Heap::format(&mut region, HEAP_START, root, &TypeInfo::of::<Root>()).expect("format");
    let node = heap
        .register(&mut region, &TypeInfo::of::<Node>())
        .expect("register");
    (region, heap, node)
}

/// Allocates a list of `count` nodes, `value`s counting down to 1, and returns its head.
fn build_list(region: &mut MemoryRegion, heap: &mut Heap, node: u32, count: u64) -> u64 {
    let mut head = 0;
    for value in 1..=count {
        let at = heap.alloc(region, node, Growth::Allowed).expect("alloc");
        region.write_word(at, value);
        region.write_word(at + 8, head);
        head = at;
    }
    head
}

fn list_values(region: &MemoryRegion, heap: &Heap, mut at: u64) -> Vec<u64> {
    let mut values = Vec::new();
    while at != 0 {
        assert!(heap.object_type(at).is_some(), "{at:#x} is an object");
        values.push(region.read_word(at as usize));
        at = region.read_word(at as usize + 8);
    }
    values
}

#[test]
fn reachable_objects_survive_collection_and_reload_and_the_rest_is_freed() {
    let (mut region, mut heap, node) = new_heap(64 * PAGE, 64 * PAGE);
    let kept = build_list(&mut region, &mut heap, node, 100);
    build_list(&mut region, &mut heap, node, 300);
    region.write_word(ROOT_OFFSET, kept);

    let collection = heap
        .collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert_eq!(collection.live_objects, 100);
    assert_eq!(collection.live_bytes, 1600);
    assert_eq!(collection.freed_objects, 300);
    assert_eq!(
        list_values(&region, &heap, kept),
        (1..=100).rev().collect::<Vec<_>>()
    );

    let mut reloaded = Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("load");
    let first = reloaded
        .collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert_eq!(first.live_objects, 100);
    assert_eq!(first.freed_objects, 0, "unknown after a load");
    assert_eq!(
        list_values(&region, &reloaded, kept),
        (1..=100).rev().collect::<Vec<_>>()
    );
}

#[test]
fn empty_spans_are_released_with_one_fence_and_their_pages_reused() {
    let (mut region, mut heap, node) = new_heap(64 * PAGE, 64 * PAGE);
    build_list(&mut region, &mut heap, node, 256 * 4);
    let before = heap.stats();
    assert_eq!(before.allocated_objects, 1024);
    let fences = region.fences;
    let collection = heap
        .collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert_eq!(collection.released_pages, 4);
    assert_eq!(region.fences, fences + 1);
    let after = heap.stats();
    assert_eq!(after.allocated_objects, 0);
    assert_eq!(
        after.free_page_bytes,
        before.free_page_bytes + 4 * PAGE as u64
    );
    let first = heap
        .alloc(&mut region, node, Growth::Allowed)
        .expect("alloc");
    assert_eq!(
        first,
        (HEAP_START + 4 * PAGE) as u64,
        "the first data page again"
    );
}

#[test]
fn allocation_issues_no_fence() {
    let (mut region, mut heap, node) = new_heap(64 * PAGE, 64 * PAGE);
    let fences = region.fences;
    let writes = region.metadata_writes;
    build_list(&mut region, &mut heap, node, 1000);
    assert_eq!(region.fences, fences);
    assert_eq!(
        region.metadata_writes - writes,
        1000usize.div_ceil(256),
        "one page-table entry per new span"
    );
}

#[test]
fn the_heap_grows_until_its_maximum_then_reports_full() {
    let (mut region, mut heap, node) = new_heap(8 * PAGE, 40 * PAGE);
    let mut count = 0u64;
    let error = loop {
        match heap.alloc(&mut region, node, Growth::Allowed) {
            Ok(at) => {
                region.write_word(at + 8, 0);
                count += 1;
            }
            Err(error) => break error,
        }
    };
    assert!(
        matches!(error, HeapError::Full { requested: 16, .. }),
        "{error}"
    );
    assert_eq!(region.len(), 40 * PAGE);
    let data_pages = 40 - 2 - 3 - 1;
    assert_eq!(count, data_pages * 256);
    assert!(error.to_string().contains("heap is full"), "{error}");
}

#[test]
fn allocating_and_dropping_far_more_than_the_region_never_runs_out() {
    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    let mut live = 0;
    for round in 0..200u64 {
        live = build_list(&mut region, &mut heap, node, 500);
        region.write_word(ROOT_OFFSET, live);
        let collection = heap
            .collect(&mut region, &[], &HashMap::new())
            .expect("collect");
        assert_eq!(collection.live_objects, 500, "round {round}");
    }
    assert_eq!(list_values(&region, &heap, live).len(), 500);
}

#[test]
fn extra_roots_keep_objects_alive() {
    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    let pinned = build_list(&mut region, &mut heap, node, 3);
    let collection = heap
        .collect(&mut region, &[pinned], &HashMap::new())
        .expect("collect");
    assert_eq!((collection.live_objects, collection.pinned), (3, 1));
    assert_eq!(list_values(&region, &heap, pinned), [3, 2, 1]);
}

#[test]
fn named_roots_keep_objects_alive() {
    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    let list = build_list(&mut region, &mut heap, node, 5);
    let entry = Heap::encode_named_root("inbox", node, list).expect("valid name");
    let at = heap.named_root_offset(0);
    region.bytes[at..at + 64].copy_from_slice(&entry);
    let collection = heap
        .collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert_eq!(collection.live_objects, 5);
    let roots = heap.named_roots(&region);
    assert_eq!(roots.len(), 1);
    assert_eq!((roots[0].name.as_str(), roots[0].pointer), ("inbox", list));
    assert!(matches!(
        Heap::encode_named_root(&"x".repeat(48), node, 0),
        Err(HeapError::InvalidRootName { .. })
    ));
}

#[test]
fn a_dangling_pointer_is_counted_not_followed_and_marking_writes_nothing() {
    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    let list = build_list(&mut region, &mut heap, node, 10);
    region.write_word(ROOT_OFFSET, list);
    let cases = [
        (list + 4, "not the start"),
        ((HEAP_START + PAGE) as u64, "not the start"),
        (1 << 40, "not the start"),
        (u64::MAX, "not the start"),
        (ROOT_OFFSET, "root object"),
    ];
    for (bad, reason) in cases {
        region.write_word(list + 8, bad);
        let before = region.bytes.clone();
        let marks = heap.mark(&region, &[], &HashMap::new()).expect("mark");
        assert_eq!(marks.dangling_pointers(), 1, "{bad:#x}");
        assert!(region.bytes == before, "marking wrote");
        let collection = heap.sweep(&mut region, marks);
        assert_eq!(collection.live_objects, 1, "the head only: {bad:#x}");
        let dangling = collection.first_dangling.expect("reported");
        assert_eq!((dangling.at, dangling.value), (list + 8, bad));
        assert!(dangling.to_string().contains(reason), "{dangling}");
        assert_eq!(heap.stats().dangling_pointers, 1);
    }
}

#[test]
fn a_pointer_to_another_type_dangles_but_keeps_what_it_hits() {
    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    let word = heap
        .register(&mut region, &TypeInfo::of::<u64>())
        .expect("register");
    let number = heap
        .alloc(&mut region, word, Growth::Allowed)
        .expect("alloc");
    let list = build_list(&mut region, &mut heap, node, 1);
    region.write_word(list + 8, number);
    region.write_word(ROOT_OFFSET, list);
    let collection = heap
        .collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert_eq!(collection.dangling_pointers, 1);
    assert!(
        collection
            .first_dangling
            .is_some_and(|dangling| dangling.reason.contains("another type")),
        "{collection:?}"
    );
    assert_eq!(
        heap.object_type(number),
        Some(word),
        "the object hit is kept, as what it is"
    );
}

/// The type table's records, as `layout.rs` lays them out, for forging.
fn record_at(region: &MemoryRegion, index: usize) -> usize {
    let mut at = HEAP_START + PAGE;
    for _ in 0..index {
        let runs = region.read_word(at + 20) as u32 as usize;
        let name_len = (region.read_word(at + 24) as u32 as usize).next_multiple_of(8);
        at += 32 + runs * 32 + name_len;
    }
    at
}

/// Rewrites a field of type record `index` and fixes its checksum, as a forger would.
fn forge_record(region: &mut MemoryRegion, index: u32, field: usize, value: u64) {
    let at = record_at(region, index as usize);
    region.write_word((at + field) as u64, value);
    let runs = region.read_word(at + 20) as u32 as usize;
    let name_len = (region.read_word(at + 24) as u32 as usize).next_multiple_of(8);
    let len = 32 + runs * 32 + name_len;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&region.bytes[at..at + 28]);
    hasher.update(&[0; 4]);
    hasher.update(&region.bytes[at + 32..at + len]);
    hasher.update(&index.to_le_bytes());
    region.bytes[at + 28..at + 32].copy_from_slice(&hasher.finalize().to_le_bytes());
}

#[test]
fn type_records_that_disagree_are_refused_at_load_and_at_use() {
    let forgeries: [(u32, usize, u64, &str); 7] = [
        (1, 8, u64::MAX, "size or alignment"),
        (1, 8, 12, "size or alignment"),
        (1, 8, 8, "pointer map"),
        (1, 8, 4096 * 3, "page count"),
        (1, 32, u64::MAX - 3, "pointer map"),
        (0, 8, 64, "root's type record"),
        (1, 0, Root::LAYOUT_HASH, "same layout hash"),
    ];
    for (index, field, value, what) in forgeries {
        let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
        let list = build_list(&mut region, &mut heap, node, 3);
        region.write_word(ROOT_OFFSET, list);
        forge_record(&mut region, index, field, value);
        let error =
            Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect_err("a forged record");
        assert!(
            error.to_string().contains(what),
            "field {field} = {value:#x}: {error}"
        );
    }

    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    build_list(&mut region, &mut heap, node, 1);
    forge_record(&mut region, node, 16, 16);
    let loaded =
        Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("a consistent record");
    let error = loaded
        .verify_type(node, TypeInfo::of::<Node>)
        .expect_err("another alignment than the program's");
    assert!(
        matches!(error, HeapError::TypeRecordMismatch { .. }),
        "{error}"
    );
}

#[test]
fn damaged_metadata_is_refused_at_load() {
    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    build_list(&mut region, &mut heap, node, 1);
    let entry = HEAP_START + 3 * PAGE + 8;
    region.bytes[entry + 2] ^= 0x40;
    let error =
        Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect_err("damaged entry");
    assert!(error.to_string().contains("page-table entry"), "{error}");
    region.bytes[entry + 2] ^= 0x40;
    Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("repaired");
    region.bytes[HEAP_START + 9] ^= 1;
    let error =
        Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect_err("damaged header");
    assert!(error.to_string().contains("header"), "{error}");
}

#[test]
fn types_are_recorded_once_and_survive_reload() {
    let (mut region, mut heap, node) = new_heap(16 * PAGE, 16 * PAGE);
    let again = heap
        .register(&mut region, &TypeInfo::of::<Node>())
        .expect("register");
    assert_eq!(again, node);
    let reloaded = Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("load");
    let info = reloaded.type_info(node).expect("recorded");
    assert_eq!(*info, TypeInfo::of::<Node>());
    assert_eq!(
        reloaded.type_info(reloaded.root_type()),
        Some(&TypeInfo::of::<Root>())
    );
}

#[test]
fn the_rest_of_a_span_comes_from_that_span_alone_and_the_next_allocation_opens_another() {
    let (mut region, mut heap, node) = new_heap(1 << 20, 1 << 20);
    let first = heap
        .alloc(&mut region, node, Growth::Allowed)
        .expect("alloc");
    let rest = heap.alloc_rest_of_span(first, 1000);
    // A 16-byte node's span is one page: 256 slots.
    assert_eq!(rest.len(), PAGE / 16 - 1, "every other slot of the span");
    let page = |offset: u64| offset as usize / PAGE;
    assert!(rest.iter().all(|&slot| page(slot) == page(first)));
    assert!(
        heap.alloc_rest_of_span(first, 1000).is_empty(),
        "the span is full"
    );
    let next = heap
        .alloc(&mut region, node, Growth::Allowed)
        .expect("alloc");
    assert_ne!(page(next), page(first), "a full span gives nothing more");
    let capped = heap.alloc_rest_of_span(next, 10);
    assert_eq!(capped.len(), 10, "no more than asked for");
    assert!(
        heap.alloc_rest_of_span(next + 8, 10).is_empty(),
        "no slot starts there"
    );
}

#[test]
fn a_hidden_slot_is_found_again_once_revealed_or_collected() {
    let (mut region, mut heap, node) = new_heap(1 << 20, 1 << 20);
    let first = heap
        .alloc(&mut region, node, Growth::Allowed)
        .expect("alloc");
    let second = heap
        .alloc(&mut region, node, Growth::Allowed)
        .expect("alloc");
    let hidden_first = heap.hide(first).expect("a slot starts there");
    let hidden_second = heap.hide(second).expect("a slot starts there");
    assert!(heap.hide(first + 8).is_none(), "no slot starts there");
    for offset in [first, second] {
        assert!(heap.is_hidden(offset));
        assert_eq!(heap.object_type(offset), None);
        assert_eq!(heap.object_type_even_hidden(offset), Some(node));
    }
    hidden_first.reveal();
    assert!(!heap.is_hidden(first));
    assert_eq!(heap.object_type(first), Some(node));
    assert!(heap.is_hidden(second), "only the revealed slot");
    drop(hidden_second);
    assert!(heap.is_hidden(second), "dropped, a slot stays hidden");
    region.write_word(ROOT_OFFSET, second);
    region.write_word(second + 8, 0);
    heap.collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert!(
        !heap.is_hidden(second),
        "a collection reveals what it keeps"
    );
    assert_eq!(heap.object_type(second), Some(node));
}

/// Allocates a slice of `nodes.len()` pointers to nodes, writes its length and elements,
/// and returns it.
fn pointer_slice(region: &mut MemoryRegion, heap: &mut Heap, slices: u32, nodes: &[u64]) -> u64 {
    let at = heap
        .alloc_slice(region, slices, nodes.len() as u64, Growth::Allowed)
        .expect("alloc_slice");
    region.write_word(at, nodes.len() as u64);
    for (index, &node) in nodes.iter().enumerate() {
        region.write_word(at + 8 + 8 * index as u64, node);
    }
    at
}

#[test]
fn slices_are_traced_element_by_element_and_survive_reload() {
    let (mut region, mut heap, node) = new_heap(64 * PAGE, 4096 * PAGE);
    let slices = heap
        .register(&mut region, &TypeInfo::slice_of::<PPtr<Node>>())
        .expect("register");
    let nodes: Vec<u64> = (0..600)
        .map(|value| {
            let at = heap
                .alloc(&mut region, node, Growth::Allowed)
                .expect("alloc");
            region.write_word(at, value);
            region.write_word(at + 8, 0);
            at
        })
        .collect();
    let small = pointer_slice(&mut region, &mut heap, slices, &nodes[..3]);
    let large = pointer_slice(&mut region, &mut heap, slices, &nodes[100..600]);
    let huge = pointer_slice(&mut region, &mut heap, slices, &[0; 100_000]);
    let garbage = pointer_slice(&mut region, &mut heap, slices, &nodes[3..100]);
    assert_eq!(heap.slot_len(small), Some(32), "8 + 3 x 8 bytes");
    assert_eq!(heap.slot_len(large), Some(4096), "8 + 500 x 8 bytes");
    assert_eq!(heap.slot_len(huge), Some(196 * PAGE), "a span of its own");
    assert_eq!(heap.object_type(garbage), Some(slices));
    let roots = [small, large, huge];
    let collection = heap
        .collect(&mut region, &roots, &HashMap::new())
        .expect("collect");
    assert_eq!(
        collection.live_objects,
        3 + 3 + 500,
        "three slices and the nodes they reach"
    );
    assert_eq!(
        collection.freed_objects,
        1 + 97,
        "the garbage slice and the nodes only it reached"
    );
    assert_eq!(heap.object_type(nodes[50]), None);
    assert_eq!(heap.object_type(nodes[599]), Some(node));
    let reloaded = Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("load");
    for slice in [small, large, huge] {
        assert_eq!(reloaded.object_type(slice), Some(slices));
        assert_eq!(reloaded.slot_len(slice), heap.slot_len(slice));
    }
}

#[test]
fn a_slice_whose_length_exceeds_its_slot_is_damage() {
    let (mut region, mut heap, _) = new_heap(64 * PAGE, 64 * PAGE);
    let slices = heap
        .register(&mut region, &TypeInfo::slice_of::<PPtr<Node>>())
        .expect("register");
    let slice = pointer_slice(&mut region, &mut heap, slices, &[0; 3]);
    heap.collect(&mut region, &[slice], &HashMap::new())
        .expect("a length that fits");
    region.write_word(slice, 4);
    assert!(matches!(
        heap.collect(&mut region, &[slice], &HashMap::new()),
        Err(HeapError::Corrupted {
            what: "a slice's length exceeds its slot",
            ..
        })
    ));
}

/// Pages per arena, its page-table page included.
const ARENA: usize = 512;

#[test]
fn a_huge_slice_spans_whole_arenas_grows_the_region_and_its_tables_become_data() {
    let (mut region, mut heap, node) = new_heap(64 * PAGE, 16 << 20);
    let slices = heap
        .register(&mut region, &TypeInfo::slice_of::<PPtr<Node>>())
        .expect("register");
    let small = build_list(&mut region, &mut heap, node, 10);
    let fences = region.fences;
    let elements = 600_000;
    let nodes = vec![small; elements];
    let huge = pointer_slice(&mut region, &mut heap, slices, &nodes);
    assert_eq!(
        region.fences,
        fences + 1,
        "a huge span's entry is fenced at once"
    );
    let first_page = 3 + ARENA + 1;
    assert_eq!(
        huge,
        (HEAP_START + first_page * PAGE) as u64,
        "the first whole free arena after the small objects' one"
    );
    assert_eq!(
        heap.slot_len(huge),
        Some((3 * ARENA - 1) * PAGE),
        "three arenas"
    );
    let tables = heap.data_tables();
    assert_eq!(tables.len(), 2);
    let second_table = (first_page - 1 + ARENA) * PAGE;
    assert!(pmem_alloc::is_heap_data(second_table, 8, &tables));
    assert!(!pmem_alloc::is_heap_data(3 * PAGE, 8, &tables));
    let stats = heap.stats();
    assert_eq!(stats.huge_objects, 1);
    assert_eq!(
        stats.heap_bytes - stats.metadata_bytes - stats.free_page_bytes,
        ((3 * ARENA - 1) + 1) as u64 * PAGE as u64,
        "the huge span's pages and the list's one"
    );

    let collection = heap
        .collect(&mut region, &[huge], &HashMap::new())
        .expect("collect");
    assert_eq!(
        collection.live_objects,
        1 + 10,
        "the slice and the list it reaches"
    );
    let mut reloaded = Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("load");
    assert_eq!(reloaded.object_type(huge), Some(slices));
    assert_eq!(
        reloaded.data_tables().len(),
        2,
        "loading skips the covered tables"
    );
    let collection = reloaded
        .collect(&mut region, &[huge], &HashMap::new())
        .expect("collect");
    assert_eq!(collection.live_objects, 1 + 10);
    assert_eq!(
        region.read_word(huge as usize + 8 + 8 * (elements - 1)),
        small
    );
}

#[test]
fn a_freed_huge_span_zeroes_its_tables_first_and_its_arenas_are_reused() {
    let (mut region, mut heap, node) = new_heap(64 * PAGE, 16 << 20);
    let slices = heap
        .register(&mut region, &TypeInfo::slice_of::<u64>())
        .expect("register");
    let huge = heap
        .alloc_slice(&mut region, slices, 300_000, Growth::Allowed)
        .expect("a huge slice");
    let first_page = (huge as usize - HEAP_START) / PAGE;
    assert_eq!(first_page, 4, "the first arena");
    let second_table = HEAP_START + (3 + ARENA) * PAGE;
    region.bytes[second_table..second_table + PAGE].fill(0xa5);
    assert!(
        Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).is_ok(),
        "a covered table holds any bytes"
    );
    let fences = region.fences;
    let collection = heap
        .collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert_eq!(collection.released_pages, 2 * ARENA as u64 - 1);
    assert_eq!(
        region.fences,
        fences + 2,
        "the tables' fence, then the sweep's"
    );
    assert!(
        region.bytes[second_table..second_table + PAGE]
            .iter()
            .all(|&b| b == 0)
    );
    assert!(heap.data_tables().is_empty());
    let reloaded = Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("load");
    assert!(reloaded.data_tables().is_empty());
    let big_type = heap
        .register(&mut region, &TypeInfo::slice_of::<u32>())
        .expect("register");
    let firsts: Vec<u64> = (0..2)
        .map(|_| {
            heap.alloc_slice(&mut region, big_type, 300 * 1024, Growth::Allowed)
                .expect("a 300-page slice")
        })
        .collect();
    assert_eq!(
        firsts[1],
        (HEAP_START + (3 + ARENA + 1) * PAGE) as u64,
        "the second arena, its table a table again"
    );
    build_list(&mut region, &mut heap, node, 10);
    Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("reused arenas load");
}

#[test]
fn damaged_huge_entries_are_refused_at_load() {
    let (mut region, mut heap, _) = new_heap(64 * PAGE, 16 << 20);
    let slices = heap
        .register(&mut region, &TypeInfo::slice_of::<u64>())
        .expect("register");
    heap.alloc_slice(&mut region, slices, 300_000, Growth::Allowed)
        .expect("a huge slice");
    let entry_at = HEAP_START + 3 * PAGE + 8;
    let entry = region.read_word(entry_at);
    let load = |region: &MemoryRegion| Heap::load(region, HEAP_START, &TypeInfo::of::<Root>());
    assert!(load(&region).is_ok());
    let moved_at = entry_at + 8;
    region.write_word(moved_at as u64, entry);
    region.write_word(entry_at as u64, 0);
    assert!(
        load(&region).is_err(),
        "an entry moved to another page fails its check"
    );
    region.write_word(moved_at as u64, 0);
    region.write_word(entry_at as u64, entry);
    region.write_word((entry_at + 16) as u64, 1);
    let error = load(&region).expect_err("an entry inside the span");
    assert!(error.to_string().contains("two spans overlap"), "{error}");
    region.write_word((entry_at + 16) as u64, 0);
    let shrunk = region.len;
    region.len = HEAP_START + (3 + ARENA + 100) * PAGE;
    let error = load(&region).expect_err("past the end");
    assert!(error.to_string().contains("runs past"), "{error}");
    region.len = shrunk;
    assert!(load(&region).is_ok(), "repaired");
}

#[test]
fn a_single_value_larger_than_an_arena_gets_a_huge_span_of_its_own() {
    let (mut region, mut heap, _) = new_heap(64 * PAGE, 16 << 20);
    let big = TypeInfo {
        layout_hash: 0xb16,
        size: 3 << 20,
        align: 8,
        name: "Big".into(),
        pointers: PointerMap::new(),
        kind: TypeKind::Sized,
    };
    let index = heap.register(&mut region, &big).expect("register");
    let object = heap
        .alloc(&mut region, index, Growth::Allowed)
        .expect("a 3 MiB value");
    assert_eq!(heap.slot_len(object), Some((2 * ARENA - 1) * PAGE));
    assert_eq!(heap.stats().huge_objects, 1);
    let mut reloaded = Heap::load(&region, HEAP_START, &TypeInfo::of::<Root>()).expect("load");
    assert_eq!(reloaded.object_type(object), Some(index));
    let collection = reloaded
        .collect(&mut region, &[], &HashMap::new())
        .expect("collect");
    assert_eq!(collection.released_pages, 2 * ARENA as u64 - 1);
    assert_eq!(reloaded.object_type(object), None);
}
