//! `pmem info POOL [--json]`: what a pool is and holds, read-only.
//!
//! One [`Report`] is built from the read-only open and written either as JSON (its
//! `Serialize` form is the documented schema) or for a person.

use std::collections::BTreeMap;
use std::io::{self, Write};

use pmem::inspect::{TypeInfo, TypeKind, UntypedPool};
use pmem::{HeapStats, TypeStats};
use serde::Serialize;

use crate::report::{self, Failure, Output, PoolFile, Status, plural, size};

/// What `pmem info` is given.
#[derive(Debug, clap::Args)]
#[command(after_help = report::EXIT_STATUSES)]
pub(crate) struct Args {
    #[command(flatten)]
    pool: PoolFile,
    /// Print the report as one JSON object instead.
    #[arg(long)]
    json: bool,
}

/// Runs `pmem info`.
pub(crate) fn run(args: &Args, out: &mut Output) -> Result<Status, Failure> {
    let pool = report::open_read_only(&args.pool.path)?;
    let report = Report::of(&pool);
    drop(pool);
    if args.json {
        // Serializing plain data into a writer that never fails cannot fail.
        let _ = serde_json::to_writer_pretty(&mut *out, &report);
        let _ = writeln!(out);
    } else {
        let _ = report.write(out);
    }
    Ok(Status::Success)
}

/// Everything `pmem info` says about a pool; also its JSON form.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// The pool file (lossily UTF-8).
    path: String,
    /// The pool's identity.
    uuid: String,
    /// When it was created, UTC (RFC 3339).
    created: String,
    /// The same, as seconds since the Unix epoch.
    created_unix_seconds: i64,
    /// The file format's version.
    format_version: u32,
    /// The layout name given at creation ("" if none).
    layout: String,
    /// The root object's type.
    root: Root,
    /// Whether it was closed cleanly, and what an open would roll back.
    state: State,
    /// The flush mode a program opening the pool here would use, if it can open it.
    flush_mode: Option<String>,
    /// Why a program could not choose a flush mode (`PMEM_FLUSH`), if so.
    flush_mode_error: Option<String>,
    /// Whether a program would map the pool from a DAX file system (synchronously, with
    /// `MAP_SYNC`).
    dax: bool,
    /// How many transactions can run at once (log slots).
    lanes: u32,
    /// Each lane's undo log slot, in bytes.
    log_slot_bytes: u64,
    /// The pool's size in bytes, as its header records it.
    pool_size: u64,
    /// The file's length in bytes.
    file_size: u64,
    /// How far the pool may grow: set by the program that opens it, not stored.
    growth_limit: GrowthLimit,
    /// How the heap is used, after the collection an open runs.
    heap: Heap,
    /// What that collection found (in private memory: nothing was written).
    collection_at_open: CollectionReport,
    /// Live objects by type, by type index.
    types: Vec<TypeReport>,
    /// Live objects by size class (slot size).
    size_classes: Vec<SizeClass>,
    /// The named roots.
    named_roots: Vec<NamedRootReport>,
}

/// The root object's record.
#[derive(Debug, Serialize)]
struct Root {
    /// Its type's name.
    type_name: String,
    /// Its pool offset.
    offset: u64,
    /// Its size in bytes.
    size: u64,
    /// Its alignment.
    align: u64,
    /// Its type's layout hash.
    layout_hash: u64,
}

/// A pool's state.
#[derive(Debug, Serialize)]
struct State {
    /// Closed cleanly by the last program that had it open.
    previous_shutdown_clean: bool,
    /// How many unfinished transactions an open would roll back.
    unfinished_transactions: u32,
}

/// The growth limit, which the pool does not store.
#[derive(Debug, Serialize)]
struct GrowthLimit {
    /// Always false: the program that opens a pool sets its limit.
    stored_in_pool: bool,
    /// The limit when the program sets none (`PoolOptions::max_size`).
    default_bytes: u64,
}

/// Heap usage.
#[derive(Debug, Serialize)]
struct Heap {
    /// Where the heap starts (a pool offset).
    start: u64,
    /// From there to the pool's end.
    bytes: u64,
    /// Its header, type table and page tables.
    metadata_bytes: u64,
    /// Pages no span uses.
    free_page_bytes: u64,
    /// Free slots inside spans.
    free_slot_bytes: u64,
    /// Live objects (the root object is not one: it lies before the heap's data).
    objects: u64,
    /// Their slots' bytes.
    object_bytes: u64,
    /// How many of them are huge (whole arenas each).
    huge_objects: u64,
    /// The share of free bytes in free slots rather than free pages.
    fragmentation: f64,
    /// Pointers that lead to no object of their type.
    dangling_pointers: u64,
}

/// The collection at open.
#[derive(Debug, Serialize)]
struct CollectionReport {
    /// Objects reachable from the roots.
    live_objects: u64,
    /// Their bytes.
    live_bytes: u64,
    /// Pages of spans holding only garbage, released.
    released_pages: u64,
    /// Pointers that lead to no object of their type.
    dangling_pointers: u64,
    /// How long the collection took, in seconds.
    duration_seconds: f64,
}

/// One type's live objects.
#[derive(Debug, Serialize)]
struct TypeReport {
    /// The type's name (`[T]` for a slice type).
    name: String,
    /// Its index in the heap's type table.
    type_index: Option<u32>,
    /// `sized` or `slice`.
    kind: Option<&'static str>,
    /// `size_of` the type (for a slice type, of one element).
    object_size: u64,
    /// The slot each object takes; `null` for a slice type, whose objects' slots vary
    /// with their lengths.
    slot_size: Option<u64>,
    /// Spans of this type.
    spans: u64,
    /// Live objects.
    objects: u64,
    /// Their slots' bytes.
    bytes: u64,
    /// Free slots in its spans.
    free_slots: u64,
}

/// One size class's live objects, over the types whose objects have that slot size.
#[derive(Debug, Serialize)]
struct SizeClass {
    /// The slot size.
    slot_size: u64,
    /// Live objects.
    objects: u64,
    /// Their slots' bytes.
    bytes: u64,
    /// The types of the class.
    types: Vec<String>,
}

/// A named root.
#[derive(Debug, Serialize)]
struct NamedRootReport {
    /// Its entry, 0 to 62.
    slot: usize,
    /// Its name.
    name: String,
    /// The type of the object it holds.
    type_name: String,
    /// The object's pool offset.
    offset: u64,
}

impl Report {
    /// The report on `pool`.
    pub(crate) fn of(pool: &UntypedPool) -> Self {
        let info = pool.info();
        let details = pool.details();
        let stats = pool.heap_stats();
        let types = pool.types();
        let type_name = |index: u32| {
            types
                .get(index as usize)
                .map_or_else(|| format!("<type {index}>"), |info| info.name.clone())
        };
        let (flush_mode, flush_mode_error) = match &details.flush_mode {
            Ok(mode) => (Some(mode.to_string()), None),
            Err(error) => (None, Some(error.to_string())),
        };
        let indices = type_indices(&stats, &types);
        let slices = slice_objects(pool, &stats, &indices, &types);
        let collection = &pool.collection_at_open();
        Self {
            path: info.path.to_string_lossy().into_owned(),
            uuid: info.uuid.to_string(),
            created: report::timestamp(info.created),
            created_unix_seconds: report::unix_seconds(info.created),
            format_version: details.format_version,
            layout: info.layout.clone(),
            root: Root {
                type_name: info.root_type.clone(),
                offset: details.root_offset,
                size: details.root_size,
                align: details.root_align,
                layout_hash: details.root_layout_hash,
            },
            state: State {
                previous_shutdown_clean: info.previous_shutdown_clean,
                unfinished_transactions: info.transactions_rolled_back,
            },
            flush_mode,
            flush_mode_error,
            dax: details.dax,
            lanes: info.lanes,
            log_slot_bytes: details.log_slot_len,
            pool_size: info.size,
            file_size: details.file_len,
            growth_limit: GrowthLimit {
                stored_in_pool: false,
                default_bytes: details.default_max_size,
            },
            heap: Heap {
                start: details.heap_start,
                bytes: stats.heap_bytes,
                metadata_bytes: stats.metadata_bytes,
                free_page_bytes: stats.free_page_bytes,
                free_slot_bytes: stats.free_slot_bytes,
                objects: stats.allocated_objects,
                object_bytes: stats.allocated_bytes,
                huge_objects: stats.huge_objects,
                fragmentation: stats.fragmentation(),
                dangling_pointers: stats.dangling_pointers,
            },
            collection_at_open: CollectionReport {
                live_objects: collection.live_objects,
                live_bytes: collection.live_bytes,
                released_pages: collection.released_pages,
                dangling_pointers: collection.dangling_pointers,
                duration_seconds: collection.duration.as_secs_f64(),
            },
            types: stats
                .types
                .iter()
                .zip(&indices)
                .map(|(each, index)| {
                    let slice = index.and_then(|index| slices.get(&index));
                    let kind = index
                        .and_then(|index| types.get(index as usize))
                        .map(|info| info.kind);
                    TypeReport::of(each, *index, kind, slice)
                })
                .collect(),
            size_classes: size_classes(&stats.types, &indices, &slices),
            named_roots: pool
                .named_roots()
                .into_iter()
                .map(|root| NamedRootReport {
                    slot: root.slot,
                    type_name: type_name(root.type_index),
                    name: root.name,
                    offset: root.pointer,
                })
                .collect(),
        }
    }

    /// Writes the report for a person.
    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let field = |out: &mut dyn Write, name: &str, value: &dyn std::fmt::Display| {
            writeln!(out, "{name:<16}{value}")
        };
        field(out, "pool", &self.path)?;
        field(out, "uuid", &self.uuid)?;
        field(out, "created", &self.created)?;
        field(out, "format version", &self.format_version)?;
        let layout = if self.layout.is_empty() {
            "(none)".to_owned()
        } else {
            format!("{:?}", self.layout)
        };
        field(out, "layout", &layout)?;
        field(
            out,
            "root type",
            &format!(
                "{} ({}, align {}, at {:#x})",
                self.root.type_name,
                size(self.root.size),
                self.root.align,
                self.root.offset
            ),
        )?;
        let state = match (
            self.state.previous_shutdown_clean,
            self.state.unfinished_transactions,
        ) {
            (true, 0) => "clean (closed cleanly)".to_owned(),
            (false, 0) => "dirty (not closed cleanly), no unfinished transaction".to_owned(),
            (_, unfinished) => format!(
                "dirty (not closed cleanly): an open will roll back {}",
                plural(u64::from(unfinished), "unfinished transaction")
            ),
        };
        field(out, "state", &state)?;
        let flush = match (&self.flush_mode, &self.flush_mode_error) {
            (Some(mode), _) => format!("{mode} (what a program opening it here would use)"),
            (None, Some(error)) => format!("none: {error}"),
            (None, None) => "unknown".to_owned(),
        };
        field(out, "flush mode", &flush)?;
        let dax = if self.dax {
            "yes (a program would map it with MAP_SYNC)"
        } else {
            "no (page cache; durable through msync)"
        };
        field(out, "DAX", &dax)?;
        field(out, "lanes", &self.lanes)?;
        field(out, "log slot", &size(self.log_slot_bytes))?;
        field(
            out,
            "heap",
            &format!("{} from {:#x}", size(self.heap.bytes), self.heap.start),
        )?;
        field(
            out,
            "pool size",
            &format!("{} ({} bytes)", size(self.pool_size), self.pool_size),
        )?;
        field(
            out,
            "file size",
            &format!("{} ({} bytes)", size(self.file_size), self.file_size),
        )?;
        field(
            out,
            "growth limit",
            &format!(
                "set by the program that opens it (default {}); not stored in the pool",
                size(self.growth_limit.default_bytes)
            ),
        )?;
        writeln!(out)?;
        let heap = &self.heap;
        field(
            out,
            "live objects",
            &format!(
                "{} ({} of slots{}), and the root object",
                heap.objects,
                size(heap.object_bytes),
                if heap.huge_objects == 0 {
                    String::new()
                } else {
                    format!(", {} huge", heap.huge_objects)
                }
            ),
        )?;
        field(
            out,
            "free",
            &format!(
                "{} in free pages, {} in free slots (fragmentation {:.1}%)",
                size(heap.free_page_bytes),
                size(heap.free_slot_bytes),
                heap.fragmentation * 100.0
            ),
        )?;
        field(out, "heap metadata", &size(heap.metadata_bytes))?;
        let collection = &self.collection_at_open;
        if collection.released_pages > 0 {
            field(
                out,
                "garbage",
                &format!(
                    "{} of spans holding only unreachable objects (an open releases them)",
                    plural(collection.released_pages, "page")
                ),
            )?;
        }
        field(out, "dangling", &plural(heap.dangling_pointers, "pointer"))?;

        writeln!(out, "\nobjects by type:")?;
        if self.types.is_empty() {
            writeln!(out, "  (none)")?;
        } else {
            writeln!(
                out,
                "  {:>9}  {:>10}  {:>8}  {:>6}  type",
                "objects", "bytes", "slot", "spans"
            )?;
            for each in &self.types {
                let slot = each
                    .slot_size
                    .map_or_else(|| "varies".to_owned(), |slot| slot.to_string());
                writeln!(
                    out,
                    "  {:>9}  {:>10}  {slot:>8}  {:>6}  {}",
                    each.objects,
                    size(each.bytes),
                    each.spans,
                    each.name
                )?;
            }
        }
        writeln!(out, "\nobjects by size class:")?;
        if self.size_classes.is_empty() {
            writeln!(out, "  (none)")?;
        } else {
            writeln!(
                out,
                "  {:>8}  {:>9}  {:>10}  types",
                "slot", "objects", "bytes"
            )?;
            for class in &self.size_classes {
                writeln!(
                    out,
                    "  {:>8}  {:>9}  {:>10}  {}",
                    class.slot_size,
                    class.objects,
                    size(class.bytes),
                    class.types.join(", ")
                )?;
            }
        }
        writeln!(out, "\nnamed roots:")?;
        if self.named_roots.is_empty() {
            writeln!(out, "  (none)")?;
        }
        let width = self
            .named_roots
            .iter()
            .map(|root| root.name.len())
            .max()
            .unwrap_or(0);
        for root in &self.named_roots {
            writeln!(
                out,
                "  {:<width$}  {:#010x}  {}",
                root.name, root.offset, root.type_name
            )?;
        }
        Ok(())
    }
}

impl TypeReport {
    fn of(
        stats: &TypeStats,
        type_index: Option<u32>,
        kind: Option<TypeKind>,
        slices: Option<&SliceObjects>,
    ) -> Self {
        let (slot_size, bytes) = match (kind, slices) {
            (Some(TypeKind::Slice), slices) => (None, slices.map_or(0, |slices| slices.bytes)),
            _ => (Some(stats.slot_size), stats.objects * stats.slot_size),
        };
        Self {
            name: stats.name.clone(),
            type_index,
            kind: kind.map(|kind| match kind {
                TypeKind::Slice => "slice",
                TypeKind::Sized => "sized",
            }),
            object_size: stats.object_size,
            slot_size,
            spans: stats.spans,
            objects: stats.objects,
            bytes,
            free_slots: stats.free_slots,
        }
    }
}

/// The live objects of one slice type, found by a walk: the heap's statistics give a
/// slice type no slot size (each span of it has its own), and so no bytes.
#[derive(Debug, Default)]
struct SliceObjects {
    /// Their slots' bytes.
    bytes: u64,
    /// How many have each slot size.
    by_slot: BTreeMap<u64, u64>,
}

/// The type index of each of `stats.types`. They come in type-table order, without
/// the types that have no span; a name and size identify each.
fn type_indices(stats: &HeapStats, types: &[TypeInfo]) -> Vec<Option<u32>> {
    let mut next = 0;
    stats
        .types
        .iter()
        .map(|each| {
            let found = types[next.min(types.len())..]
                .iter()
                .position(|info| info.name == each.name && info.size == each.object_size)?;
            let index = next + found;
            next = index + 1;
            u32::try_from(index).ok()
        })
        .collect()
}

/// The live objects of each slice type that has any, by type index: one walk of the
/// heap, taken only when there are such objects. After the collection at open the
/// reachable objects are exactly the allocated ones.
fn slice_objects(
    pool: &UntypedPool,
    stats: &HeapStats,
    indices: &[Option<u32>],
    types: &[TypeInfo],
) -> BTreeMap<u32, SliceObjects> {
    let mut slices: BTreeMap<u32, SliceObjects> = stats
        .types
        .iter()
        .zip(indices)
        .filter_map(|(each, &index)| {
            let index = index?;
            let is_slice = types[index as usize].kind == TypeKind::Slice;
            (is_slice && each.objects > 0).then(|| (index, SliceObjects::default()))
        })
        .collect();
    if slices.is_empty() {
        return slices;
    }
    let spinner = report::spinner("counting the slices' bytes");
    let root_offset = pool.details().root_offset;
    let _ = pool.walk(|object| {
        if object.offset == root_offset {
            return;
        }
        if let Some(slice) = slices.get_mut(&object.type_index) {
            slice.bytes += object.size;
            *slice.by_slot.entry(object.size).or_default() += 1;
        }
    });
    spinner.finish_and_clear();
    slices
}

/// The live objects summed by slot size: those of each sized type, and each slice
/// object by its own slot.
fn size_classes(
    types: &[TypeStats],
    indices: &[Option<u32>],
    slices: &BTreeMap<u32, SliceObjects>,
) -> Vec<SizeClass> {
    let mut classes: BTreeMap<u64, SizeClass> = BTreeMap::new();
    let mut add = |slot_size: u64, objects: u64, name: &str| {
        let class = classes.entry(slot_size).or_insert_with(|| SizeClass {
            slot_size,
            objects: 0,
            bytes: 0,
            types: Vec::new(),
        });
        class.objects += objects;
        class.bytes += objects * slot_size;
        if !class.types.iter().any(|each| each == name) {
            class.types.push(name.to_owned());
        }
    };
    for (each, index) in types.iter().zip(indices) {
        if each.objects == 0 {
            continue;
        }
        match index.and_then(|index| slices.get(&index)) {
            Some(slice) => {
                for (&slot, &objects) in &slice.by_slot {
                    add(slot, objects, &each.name);
                }
            }
            None => add(each.slot_size, each.objects, &each.name),
        }
    }
    classes.into_values().collect()
}
