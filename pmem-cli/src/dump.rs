//! `pmem dump POOL [--json] [--limit N] [--words N]`: the object graph reachable from the
//! roots, read-only.
//!
//! The named roots come first, then every reachable object once, breadth first from the
//! root object (the order of [`UntypedPool::walk`]): its offset, type, size, element count
//! for a slice, then its fields in layout order: each pointer decoded (where it leads, the
//! type there or why it leads nowhere) and the first `--words` of its other words in hex.
//! Objects are written as they are visited, so a dump of a large pool streams; with
//! `--json` it is one JSON object, with one line per object.

use std::collections::HashMap;
use std::io::{self, Write};

use pmem::inspect::{NamedRoot, ObjectVisit, PointerTarget, TypeInfo, TypeKind, UntypedPool};
use serde::Serialize;

use crate::report::{self, Failure, Output, PoolFile, Status, plural};

/// What `pmem dump` is given.
#[derive(Debug, clap::Args)]
#[command(after_help = report::EXIT_STATUSES)]
pub(crate) struct Args {
    #[command(flatten)]
    pool: PoolFile,
    /// Write one JSON object: `{"roots": [...], "objects": [...], ...}`.
    #[arg(long)]
    json: bool,
    /// Show at most N objects (the rest are counted).
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Show the first N non-pointer words of each object (0 for none).
    #[arg(long, value_name = "N", default_value_t = 8)]
    words: u64,
}

/// How many objects the progress bar advances by at a time.
const PROGRESS_STEP: u64 = 1024;

/// Runs `pmem dump`.
pub(crate) fn run(args: &Args, out: &mut Output) -> Result<Status, Failure> {
    let pool = report::open_read_only(&args.pool.path)?;
    let types = pool.types();
    let by_hash: HashMap<u64, &str> = types
        .iter()
        .map(|info| (info.layout_hash, info.name.as_str()))
        .collect();
    let decoder = Decoder {
        pool: &pool,
        types: &types,
        by_hash,
        words: args.words,
    };
    let roots: Vec<Root> = pool
        .named_roots()
        .iter()
        .map(|root| Root::of(root, &types))
        .collect();
    let live = pool.collection_at_open().live_objects;
    let mut format: Box<dyn Format> = if args.json {
        Box::new(Json { first: true })
    } else {
        Box::new(Text)
    };
    let path = pool.info().path.to_string_lossy().into_owned();
    let _ = format.start(out, &path, &roots);
    let bar = report::progress_bar(live + 1, "dumping");
    let mut visited = 0u64;
    let mut shown = 0u64;
    let walked = pool.walk(|visit| {
        visited += 1;
        if visited % PROGRESS_STEP == 0 {
            bar.inc(PROGRESS_STEP);
        }
        if args.limit.is_none_or(|limit| shown < limit) {
            shown += 1;
            let _ = format.object(out, &decoder.decode(visit));
        }
    });
    bar.finish_and_clear();
    walked.map_err(|error| Failure::new(&args.pool.path, error))?;
    let _ = format.end(out, visited, shown);
    Ok(Status::Success)
}

/// A named root, as dumped.
#[derive(Debug, Serialize)]
struct Root {
    /// Its entry, 0 to 62.
    slot: usize,
    /// Its name.
    name: String,
    /// The object's pool offset.
    offset: u64,
    /// The object's type.
    #[serde(rename = "type")]
    type_name: String,
    /// Its index in the type table.
    type_index: u32,
}

impl Root {
    fn of(root: &NamedRoot, types: &[TypeInfo]) -> Self {
        Self {
            slot: root.slot,
            name: root.name.clone(),
            offset: root.pointer,
            type_name: type_name(types, root.type_index),
            type_index: root.type_index,
        }
    }
}

/// The name of type record `index`.
fn type_name(types: &[TypeInfo], index: u32) -> String {
    types
        .get(index as usize)
        .map_or_else(|| format!("<type {index}>"), |info| info.name.clone())
}

/// Where every pool's root object starts: right after the header page (the format fixes
/// it, and the open checks it; `PoolDetails::root_offset`).
const ROOT_OFFSET: u64 = pmem::format::HEADER_LEN as u64;

/// An object, as dumped.
#[derive(Debug, Serialize)]
struct Object {
    /// Its pool offset.
    offset: u64,
    /// Its type's name.
    #[serde(rename = "type")]
    type_name: String,
    /// Its type's index in the type table.
    type_index: u32,
    /// The bytes it occupies: its slot, or the root's size.
    size: u64,
    /// For a slice, its element count.
    #[serde(skip_serializing_if = "Option::is_none")]
    elements: Option<u64>,
    /// Its pointers, in layout order.
    pointers: Vec<Pointer>,
    /// Its first non-pointer words, in layout order.
    words: Vec<Word>,
    /// How many more non-pointer words it has.
    more_words: u64,
}

/// A pointer field, decoded.
#[derive(Debug, Serialize)]
struct Pointer {
    /// Its offset within the object.
    field: u64,
    /// What it holds: a pool offset, or 0.
    value: u64,
    /// Where it leads: `null`, `root`, `object` or `dangling`.
    target: &'static str,
    /// The type it points at (its declared pointee), if the pool records it.
    #[serde(rename = "type")]
    type_name: Option<String>,
    /// Why it leads nowhere, for a dangling or mistyped one.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// A non-pointer word.
#[derive(Debug, Serialize)]
struct Word {
    /// Its offset within the object.
    field: u64,
    /// Its value (little-endian).
    value: u64,
}

/// What an [`ObjectVisit`] is turned into an [`Object`] with.
struct Decoder<'a> {
    pool: &'a UntypedPool,
    types: &'a [TypeInfo],
    by_hash: HashMap<u64, &'a str>,
    words: u64,
}

impl Decoder<'_> {
    fn decode(&self, visit: &ObjectVisit) -> Object {
        let info = self.types.get(visit.type_index as usize);
        let pointers: Vec<Pointer> = visit
            .pointers
            .iter()
            .map(|pointer| {
                let (target, reason) = match pointer.target {
                    PointerTarget::Null => ("null", None),
                    PointerTarget::Root => ("root", None),
                    PointerTarget::Object => ("object", None),
                    PointerTarget::Dangling(reason) => ("dangling", Some(reason)),
                };
                Pointer {
                    field: pointer.at.wrapping_sub(visit.offset),
                    value: pointer.value,
                    target,
                    type_name: self
                        .by_hash
                        .get(&pointer.pointee)
                        .map(|&name| name.to_owned()),
                    reason,
                }
            })
            .collect();
        // The words the object's value occupies: not a slot's padding past it.
        let used = match (info, visit.elements) {
            (Some(info), Some(elements)) => info
                .align
                .max(8)
                .saturating_add(elements.saturating_mul(info.size)),
            (Some(info), None) if info.kind == TypeKind::Sized => info.size,
            _ => visit.size,
        }
        .min(visit.size);
        let used_words = used.div_ceil(8);
        let mut pointer_words: Vec<u64> =
            pointers.iter().map(|pointer| pointer.field / 8).collect();
        pointer_words.sort_unstable();
        pointer_words.dedup();
        let is_pointer = |word: u64| pointer_words.binary_search(&word).is_ok();
        let data_words = used_words
            - pointer_words
                .iter()
                .filter(|&&word| word < used_words)
                .count() as u64;
        let wanted = self.words.min(data_words);
        let mut words = Vec::new();
        if wanted > 0 {
            // Among the first `wanted + pointers` words lie at least `wanted` data words.
            let read = (wanted + pointer_words.len() as u64).min(used_words);
            let values = self.pool.words(visit.offset, read * 8);
            for (index, value) in (0..).zip(values) {
                if words.len() as u64 == wanted {
                    break;
                }
                if !is_pointer(index) {
                    words.push(Word {
                        field: index * 8,
                        value,
                    });
                }
            }
        }
        Object {
            offset: visit.offset,
            type_name: type_name(self.types, visit.type_index),
            type_index: visit.type_index,
            size: visit.size,
            elements: visit.elements,
            more_words: data_words - words.len() as u64,
            pointers,
            words,
        }
    }
}

/// How a dump is written.
trait Format {
    fn start(&mut self, out: &mut dyn Write, path: &str, roots: &[Root]) -> io::Result<()>;
    fn object(&mut self, out: &mut dyn Write, object: &Object) -> io::Result<()>;
    fn end(&mut self, out: &mut dyn Write, visited: u64, shown: u64) -> io::Result<()>;
}

/// For a person.
struct Text;

impl Format for Text {
    fn start(&mut self, out: &mut dyn Write, path: &str, roots: &[Root]) -> io::Result<()> {
        writeln!(out, "pool {path}")?;
        writeln!(out, "named roots ({}):", roots.len())?;
        let width = roots.iter().map(|root| root.name.len()).max().unwrap_or(0);
        for root in roots {
            writeln!(
                out,
                "  {:<width$}  {:#010x}  {}",
                root.name, root.offset, root.type_name
            )?;
        }
        writeln!(
            out,
            "objects reachable from the roots (the root object first):"
        )
    }

    fn object(&mut self, out: &mut dyn Write, object: &Object) -> io::Result<()> {
        let what = match object.elements {
            Some(elements) => format!(
                "{}, a slice of {}",
                object.type_name,
                plural(elements, "element")
            ),
            None => object.type_name.clone(),
        };
        let root = if object.offset == ROOT_OFFSET {
            " (the root object)"
        } else {
            ""
        };
        writeln!(
            out,
            "{:#010x}  {what}, {}{root}",
            object.offset,
            plural(object.size, "byte")
        )?;
        let mut pointers = object.pointers.iter().peekable();
        let mut words = object.words.iter().peekable();
        loop {
            let next_pointer = pointers.peek().map(|pointer| pointer.field);
            let next_word = words.peek().map(|word| word.field);
            let pointer_first = match (next_pointer, next_word) {
                (None, None) => break,
                (Some(pointer), Some(word)) => pointer <= word,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            if pointer_first {
                if let Some(pointer) = pointers.next() {
                    let type_name = pointer.type_name.as_deref().unwrap_or("?");
                    let target = match (pointer.target, pointer.reason) {
                        ("null", _) => "null".to_owned(),
                        ("root", _) => format!("{:#010x} (the root)  {type_name}", pointer.value),
                        (_, Some(reason)) => {
                            format!("{:#010x}  DANGLING: it {reason}", pointer.value)
                        }
                        _ => format!("{:#010x}  {type_name}", pointer.value),
                    };
                    writeln!(out, "  +{:#06x}  -> {target}", pointer.field)?;
                }
            } else if let Some(word) = words.next() {
                let text =
                    text_of(word.value).map_or_else(String::new, |text| format!("  {text:?}"));
                writeln!(out, "  +{:#06x}  {:#018x}{text}", word.field, word.value)?;
            }
        }
        if object.more_words > 0 {
            writeln!(out, "  ... {}", plural(object.more_words, "more word"))?;
        }
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write, visited: u64, shown: u64) -> io::Result<()> {
        let objects = plural(visited, "reachable object");
        if shown < visited {
            writeln!(
                out,
                "{objects} (the root object included); {shown} shown (--limit)"
            )
        } else {
            writeln!(out, "{objects} (the root object included)")
        }
    }
}

/// The word's bytes, in memory order, as text if they look like some: at least two
/// printable ASCII characters, then only zero bytes.
fn text_of(word: u64) -> Option<String> {
    let bytes = word.to_le_bytes();
    let len = bytes.iter().rposition(|&byte| byte != 0)? + 1;
    let text = &bytes[..len];
    (len >= 2
        && text
            .iter()
            .all(|byte| byte.is_ascii_graphic() || *byte == b' '))
    .then(|| text.iter().map(|&byte| char::from(byte)).collect())
}

/// One JSON object, with one line per dumped object.
struct Json {
    first: bool,
}

impl Format for Json {
    fn start(&mut self, out: &mut dyn Write, path: &str, roots: &[Root]) -> io::Result<()> {
        write!(out, "{{\"path\":")?;
        serde_json::to_writer(&mut *out, path)?;
        write!(out, ",\n\"roots\":")?;
        serde_json::to_writer(&mut *out, roots)?;
        write!(out, ",\n\"objects\":[")
    }

    fn object(&mut self, out: &mut dyn Write, object: &Object) -> io::Result<()> {
        writeln!(out, "{}", if self.first { "" } else { "," })?;
        self.first = false;
        serde_json::to_writer(&mut *out, object)?;
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write, visited: u64, shown: u64) -> io::Result<()> {
        writeln!(
            out,
            "\n],\n\"objects_reachable\":{visited},\n\"objects_shown\":{shown}}}"
        )
    }
}
