//! `pmem check POOL [--repair]`: whether a pool is sound, read-only unless `--repair`.
//!
//! The read-only open is the check: it validates the header, the state records, the undo
//! logs and the heap's metadata (type records, page tables, overlapping spans), then traces
//! every pointer from the roots with the pool's pointer maps, in private memory. What it
//! cannot refuse, it reports: pointers that lead to no object of their type (dangling or
//! mistyped: damage), unfinished transactions (not damage: recovery rolls them back) and
//! garbage (not damage: the collection reclaims it).

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use pmem::Error;
use pmem::inspect::UntypedPool;

use crate::report::{self, Failure, Output, PoolFile, Status, plural, size};

/// What `pmem check` is given.
#[derive(Debug, clap::Args)]
#[command(after_help = report::EXIT_STATUSES)]
pub(crate) struct Args {
    #[command(flatten)]
    pool: PoolFile,
    /// Roll back an unfinished transaction (and collect garbage), then check again
    ///
    /// Opens the pool read-write, as a program does, if an open would change anything: roll
    /// back an unfinished transaction, release the garbage, record a clean shutdown. Then
    /// checks it again. Dangling pointers are left as they are; a pool the open refuses
    /// stays refused.
    #[arg(long)]
    repair: bool,
}

/// The reason text the collector gives a pointer to an object of another type (and to the
/// root, when that is of another type): a type mismatch rather than a dangling pointer.
const MISTYPED: &str = "of another type";

/// Runs `pmem check`.
pub(crate) fn run(args: &Args, out: &mut Output) -> Result<Status, Failure> {
    let path = args.pool.path.as_path();
    let _ = writeln!(
        out,
        "checking {} (read-only: nothing is written)",
        path.display()
    );
    let _ = out.flush();
    let mut findings = match check(path) {
        Ok(findings) => findings,
        Err(error) => return Ok(refused(path, &error, out)),
    };
    let _ = findings.write(out);
    if args.repair {
        if findings.needs_repair() {
            match repair(path) {
                Ok(repaired) => {
                    let _ = writeln!(out, "repair: {repaired}");
                }
                Err(error) => return Ok(refused(path, &error, out)),
            }
            let _ = writeln!(out, "checking {} again", path.display());
            let _ = out.flush();
            findings = match check(path) {
                Ok(findings) => findings,
                Err(error) => return Ok(refused(path, &error, out)),
            };
            let _ = findings.write(out);
        } else {
            let _ = writeln!(
                out,
                "repair: nothing for an open to repair (no unfinished transaction, no garbage, \
                 closed cleanly); the file was not written"
            );
        }
        if findings.dangling_total > 0 {
            let _ = writeln!(
                out,
                "repair: dangling pointers are left as they are: no open changes a pointer, \
                 and the collector does not follow them (fix the program that stored them)"
            );
        }
    }
    let _ = findings.summary(path, out);
    Ok(findings.status())
}

/// The pool's open refused: the error's line on stderr, the summary on stdout.
fn refused(path: &Path, failure: &Failure, out: &mut Output) -> Status {
    let status = failure.report();
    let verdict = if status == Status::Damaged {
        "damaged"
    } else {
        "not checked"
    };
    let _ = writeln!(out, "{}: {verdict}: {}", path.display(), failure.problem());
    status
}

/// Opens the pool read-write and closes it again: what the open did.
fn repair(path: &Path) -> Result<String, Failure> {
    let pool = report::open_read_write(path)?;
    let info = pool.info();
    let collection = pool.collection_at_open();
    pool.close();
    let released = match collection.released_pages {
        0 => "found no span of garbage to release".to_owned(),
        pages => format!(
            "released {} ({}) of garbage",
            plural(pages, "page"),
            size(pages * 4096)
        ),
    };
    Ok(format!(
        "opened read-write: rolled back {}, {released}, closed cleanly",
        plural(
            u64::from(info.transactions_rolled_back),
            "unfinished transaction"
        ),
    ))
}

/// What a read-only open found.
#[derive(Debug)]
struct Findings {
    /// The last program closed it cleanly.
    clean: bool,
    /// Unfinished transactions recovery rolls back.
    unfinished: u32,
    /// Objects reachable from the roots, the root object not counted.
    live_objects: u64,
    /// Their bytes.
    live_bytes: u64,
    /// Types the heap records.
    types: usize,
    /// Named roots in use.
    named_roots: usize,
    /// Pages of spans holding only garbage.
    released_pages: u64,
    /// Pointers that lead to no object of their type, all of them.
    dangling_total: u64,
    /// The first of them.
    dangling: Vec<Dangling>,
}

/// A listed dangling or mistyped pointer.
#[derive(Debug)]
struct Dangling {
    /// The pointer's pool offset.
    at: u64,
    /// What it holds.
    value: u64,
    /// Why it leads nowhere.
    reason: &'static str,
    /// Where it is: in which object (or named root).
    within: Option<String>,
}

/// Checks the pool at `path`: its read-only open.
fn check(path: &Path) -> Result<Findings, Failure> {
    let pool = report::open_read_only(path)?;
    Findings::of(&pool).map_err(|error| Failure::new(path, error))
}

impl Findings {
    fn of(pool: &UntypedPool) -> Result<Self, Error> {
        let info = pool.info();
        let collection = &pool.collection_at_open();
        let types = pool.types();
        let named_roots = pool.named_roots();
        let mut dangling: Vec<Dangling> = pool
            .dangling_pointers()
            .into_iter()
            .map(|pointer| Dangling {
                at: pointer.at,
                value: pointer.value,
                reason: pointer.reason,
                within: None,
            })
            .collect();
        if !dangling.is_empty() {
            // Which object holds each: one walk, only for a pool that has any.
            let by_at: HashMap<u64, usize> = dangling
                .iter()
                .enumerate()
                .map(|(index, pointer)| (pointer.at, index))
                .collect();
            let mut within = Vec::new();
            pool.walk(|object| {
                for field in &object.pointers {
                    if let Some(&index) = by_at.get(&field.at) {
                        within.push((index, object.offset, object.type_index));
                    }
                }
            })?;
            for (index, offset, type_index) in within {
                let name = types
                    .get(type_index as usize)
                    .map_or("<unknown type>", |info| info.name.as_str());
                let pointer = &mut dangling[index];
                pointer.within = Some(format!(
                    "in the {name} at {offset:#x} (field +{:#x})",
                    pointer.at - offset
                ));
            }
            for pointer in dangling
                .iter_mut()
                .filter(|pointer| pointer.within.is_none())
            {
                if let Some(root) = named_roots
                    .iter()
                    .find(|root| root.pointer == pointer.value)
                {
                    pointer.within = Some(format!("in the named root {:?}", root.name));
                }
            }
        }
        Ok(Self {
            clean: info.previous_shutdown_clean,
            unfinished: info.transactions_rolled_back,
            live_objects: collection.live_objects,
            live_bytes: collection.live_bytes,
            types: types.len(),
            named_roots: named_roots.len(),
            released_pages: collection.released_pages,
            dangling_total: collection.dangling_pointers,
            dangling,
        })
    }

    /// Whether a read-write open would change anything.
    fn needs_repair(&self) -> bool {
        !self.clean || self.unfinished > 0 || self.released_pages > 0
    }

    fn status(&self) -> Status {
        if self.dangling_total == 0 {
            Status::Success
        } else {
            Status::Damaged
        }
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "  header, state records, undo log, heap metadata: valid"
        )?;
        match (self.clean, self.unfinished) {
            (true, 0) => writeln!(out, "  state: clean")?,
            (false, 0) => writeln!(
                out,
                "  state: not closed cleanly, with no unfinished transaction"
            )?,
            (_, unfinished) => writeln!(
                out,
                "  state: dirty: {} with a valid undo log (not damage): recovery rolls it back \
                 at the next open (`pmem check --repair` does that now)",
                plural(u64::from(unfinished), "unfinished transaction")
            )?,
        }
        writeln!(
            out,
            "  objects: {} ({}) besides the root object; {}; traced from the root and {}",
            plural(self.live_objects, "live object"),
            size(self.live_bytes),
            plural(self.types as u64, "recorded type"),
            plural(self.named_roots as u64, "named root")
        )?;
        if self.released_pages == 0 {
            writeln!(out, "  garbage: no span holds only unreachable objects")?;
        } else {
            writeln!(
                out,
                "  garbage: {} ({}) of spans holding only unreachable objects, which the next \
                 collection releases (not damage; `pmem gc` does that now)",
                plural(self.released_pages, "page"),
                size(self.released_pages * 4096)
            )?;
        }
        if self.dangling_total == 0 {
            writeln!(out, "  dangling pointers: none")?;
        } else {
            writeln!(
                out,
                "  dangling pointers: {} leading to no object of their type (the collector \
                 does not follow them):",
                self.dangling_total
            )?;
            for pointer in &self.dangling {
                let within = pointer
                    .within
                    .as_deref()
                    .map_or_else(String::new, |within| format!(" {within}"));
                let kind = if pointer.reason.contains(MISTYPED) {
                    "type mismatch"
                } else {
                    "dangling"
                };
                writeln!(
                    out,
                    "    {kind}: the pointer at {:#x}{within} holds {:#x}, which {}",
                    pointer.at, pointer.value, pointer.reason
                )?;
            }
            let unlisted = self.dangling_total - self.dangling.len() as u64;
            if unlisted > 0 {
                writeln!(out, "    ... and {unlisted} more")?;
            }
        }
        Ok(())
    }

    fn summary(&self, path: &Path, out: &mut impl Write) -> io::Result<()> {
        let counts = format!(
            "{}, {}",
            plural(self.live_objects, "live object"),
            plural(self.types as u64, "type")
        );
        let dirty = if self.unfinished > 0 {
            format!(
                "; {} to roll back",
                plural(u64::from(self.unfinished), "unfinished transaction")
            )
        } else {
            String::new()
        };
        if self.dangling_total == 0 {
            writeln!(
                out,
                "{}: sound ({counts}, 0 dangling pointers{dirty})",
                path.display()
            )
        } else {
            let mistyped = self
                .dangling
                .iter()
                .filter(|pointer| pointer.reason.contains(MISTYPED))
                .count() as u64;
            let what = if self.dangling.len() as u64 == self.dangling_total {
                let dangling = self.dangling_total - mistyped;
                match (dangling, mistyped) {
                    (_, 0) => plural(dangling, "dangling pointer"),
                    (0, _) => plural(mistyped, "mistyped pointer"),
                    _ => format!(
                        "{}, {}",
                        plural(dangling, "dangling pointer"),
                        plural(mistyped, "mistyped pointer")
                    ),
                }
            } else {
                format!("{} dangling or mistyped pointers", self.dangling_total)
            };
            writeln!(out, "{}: damaged: {what} ({counts}{dirty})", path.display())
        }
    }
}
