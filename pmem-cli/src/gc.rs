//! `pmem gc POOL`: the garbage collection, offline.
//!
//! The tool's read-write open of a pool runs recovery and then a collection, in the file
//! (`PoolOptions::collect_at_open`, which a program's open leaves for later): `gc` is that
//! open, with nothing else done before the pool is closed again, and a report of
//! what the collection found. The heap does not record which slots are allocated, so what
//! the collection at open can give back is whole spans holding only unreachable objects
//! (released pages); garbage in a span that also holds a live object is free space already.
//!
//! `pmem gc --compact POOL` goes further: it moves every live object together into a new
//! file, rewrites every pointer through the pool's pointer maps, and renames the new file
//! over the old one, which shrinks it (`pmem::inspect::compact`: a crash at any moment
//! leaves the old pool or the new one, never a mix). Its own open runs the collection.

use std::io::{self, Write};
use std::path::Path;

use pmem::PoolInfo;
use pmem::inspect::{Compaction, UntypedPool};

use crate::report::{self, Failure, Output, PoolFile, Status, plural, size};

/// What `pmem gc` is given.
#[derive(Debug, clap::Args)]
#[command(after_help = report::EXIT_STATUSES)]
pub(crate) struct Args {
    #[command(flatten)]
    pool: PoolFile,
    /// Also move the live objects together and shrink the file: a new file is written
    /// beside the pool (POOL.UUID.compacting), with every pointer rewritten, and renamed over
    /// it; a crash at any moment leaves the old pool or the new one. A pool with a
    /// dangling pointer is refused, unchanged (`pmem check` lists them).
    #[arg(long)]
    compact: bool,
}

/// Runs `pmem gc`.
pub(crate) fn run(args: &Args, out: &mut Output) -> Result<Status, Failure> {
    if args.compact {
        return compact(&args.pool.path, out);
    }
    let pool = report::open_read_write(&args.pool.path)?;
    let _ = write_collection(&pool, &pool.info(), out);
    pool.close();
    Ok(Status::Success)
}

/// Runs `pmem gc --compact`.
fn compact(path: &Path, out: &mut Output) -> Result<Status, Failure> {
    let spinner = report::spinner(format!(
        "compacting {} (recovering, collecting, copying its live objects)",
        path.display()
    ));
    let compacted = pmem::inspect::compact(path);
    spinner.finish_and_clear();
    let compaction = compacted.map_err(|error| Failure::new(path, error))?;
    let _ = write_compaction(path, &compaction, out);
    Ok(Status::Success)
}

/// Writes what a compaction did.
fn write_compaction(path: &Path, compaction: &Compaction, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "compacted {} in {}",
        path.display(),
        report::duration(compaction.duration)
    )?;
    writeln!(
        out,
        "  moved:       {} ({}) and the root object",
        plural(compaction.objects, "object"),
        size(compaction.bytes)
    )?;
    writeln!(
        out,
        "  rewritten:   {}",
        plural(compaction.pointers, "pointer")
    )?;
    writeln!(
        out,
        "  rolled back: {} before the compaction",
        plural(
            u64::from(compaction.transactions_rolled_back),
            "unfinished transaction"
        )
    )?;
    writeln!(
        out,
        "  file size:   {} before, {} after ({} bytes to {})",
        size(compaction.size_before),
        size(compaction.size_after),
        compaction.size_before,
        compaction.size_after
    )
}

/// Writes what the collection at the open of `pool` found and freed.
fn write_collection(pool: &UntypedPool, info: &PoolInfo, out: &mut impl Write) -> io::Result<()> {
    let collection = &pool.collection_at_open();
    let stats = pool.heap_stats();
    let details = pool.details();
    writeln!(
        out,
        "collected {} in {}",
        info.path.display(),
        report::duration(collection.duration)
    )?;
    writeln!(
        out,
        "  live:        {} ({}) and the root object",
        plural(collection.live_objects, "object"),
        size(collection.live_bytes)
    )?;
    writeln!(
        out,
        "  released:    {} ({}) of spans that held only unreachable objects",
        plural(collection.released_pages, "page"),
        size(collection.released_pages * 4096)
    )?;
    writeln!(
        out,
        "  rolled back: {} before the collection",
        plural(
            u64::from(info.transactions_rolled_back),
            "unfinished transaction"
        )
    )?;
    writeln!(
        out,
        "  free now:    {} in free pages, {} in free slots of partly used spans",
        size(stats.free_page_bytes),
        size(stats.free_slot_bytes)
    )?;
    writeln!(
        out,
        "  file size:   {} ({} bytes; a collection does not shrink the file: `pmem gc --compact` does)",
        size(details.file_len),
        details.file_len
    )?;
    if collection.dangling_pointers > 0 {
        writeln!(
            out,
            "  warning:     {} lead to no object of their type and were not followed \
             (`pmem check` lists them)",
            plural(collection.dangling_pointers, "pointer")
        )?;
    }
    Ok(())
}
