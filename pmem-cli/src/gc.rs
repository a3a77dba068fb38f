//! `pmem gc POOL`: the garbage collection, offline.
//!
//! Every read-write open of a pool runs recovery and then a collection, in the file: `gc`
//! is that open, with nothing else done before the pool is closed again, and a report of
//! what the collection found. The heap does not record which slots are allocated, so what
//! the collection at open can give back is whole spans holding only unreachable objects
//! (released pages); garbage in a span that also holds a live object is free space already.
//!
//! The steps are [`run`]'s: open, report, (room for more work on the open pool), close.

use std::io::{self, Write};
use std::path::PathBuf;

use pmem::PoolInfo;
use pmem::inspect::UntypedPool;

use crate::report::{self, Failure, Output, Status, plural, size};

/// What `pmem gc` is given. Options that change what is done to the open pool (such as a
/// compaction after the collection) belong here, each acted on in [`run`] between the
/// report of the collection and the close.
#[derive(Debug, clap::Args)]
#[command(after_help = report::EXIT_STATUSES)]
pub(crate) struct Args {
    /// The pool file.
    #[arg(value_name = "POOL", value_hint = clap::ValueHint::FilePath)]
    pool: PathBuf,
}

/// Runs `pmem gc`.
pub(crate) fn run(args: &Args, out: &mut Output) -> Result<Status, Failure> {
    let pool = report::open_read_write(&args.pool)?;
    let _ = write_collection(&pool, &pool.info(), out);
    pool.close();
    Ok(Status::Success)
}

/// Writes what the collection at the open of `pool` found and freed.
fn write_collection(pool: &UntypedPool, info: &PoolInfo, out: &mut impl Write) -> io::Result<()> {
    let collection = &info.collection_at_open;
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
        "  file size:   {} ({} bytes; a collection does not shrink the file)",
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
