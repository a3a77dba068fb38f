//! `pmem`: inspect, check, collect and dump pmem pool files without the program that made
//! them.
//!
//! Every subcommand opens the pool through [`pmem::inspect::UntypedPool`], which needs no
//! root type: the pool records the type records, pointer maps and named roots that tracing
//! it takes. `info`, `check` and `dump` open it read-only (nothing is written; recovery and
//! the collection run in private memory); `gc` and `check --repair` open it read-write,
//! collecting at open. One module per subcommand; [`report`] holds what they share: the exit
//! statuses, the one line of a failure, the spinner and number formatting.
//! `docs/src/tool.md` is the guide's page on the tool.

mod check;
mod dump;
mod gc;
mod info;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use report::{Output, Status};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "pmem",
    version,
    about = "Inspect, check, collect and dump pmem pool files",
    long_about = "Inspect, check, collect and dump pmem pool files, without the program that \
                  made them: a pool records everything tracing it takes.\n\n\
                  `info`, `check` and `dump` write nothing to the pool (they open it \
                  read-only; a writer that has it open makes them fail with status 3); `gc` \
                  and `check --repair` open it read-write, as a program does.",
    after_help = report::EXIT_STATUSES,
    propagate_version = true
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Show a pool's header, state, flush mode, heap usage and named roots (read-only)
    ///
    /// Opens the pool read-only (nothing is written; recovery and the collection the tool's
    /// open runs happen in private memory) and shows its header, whether it was closed cleanly
    /// and what an open would roll back, the flush mode a program would use, its sizes,
    /// its live objects by type and by size class, and its named roots. With --json, the
    /// same as one JSON object.
    Info(info::Args),
    /// Check a pool: header, logs, heap metadata, and every pointer (read-only unless --repair)
    ///
    /// The read-only open validates the header, the state records, the undo logs and the
    /// heap's metadata, and traces every pointer from the roots. Dangling and mistyped
    /// pointers are damage; an unfinished transaction (recovery rolls it back) and garbage
    /// (the collection releases it) are not. The last line is the verdict: `POOL: sound
    /// (...)`, `POOL: damaged: ...` or `POOL: not checked: ...`.
    Check(check::Args),
    /// Collect garbage in a pool, offline (opens it read-write)
    ///
    /// Opens the pool read-write, as a program does: recovery rolls back an unfinished
    /// transaction and the collection releases the spans that hold only unreachable
    /// objects, in the file. Shows what it found, then closes the pool cleanly.
    Gc(gc::Args),
    /// Dump the object graph reachable from the roots (read-only)
    ///
    /// The named roots, then every reachable object once, breadth first from the root
    /// object: its offset, type, size and element count, its pointers decoded (where each
    /// leads, or why it leads nowhere) and its first --words other words in hex.
    Dump(dump::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let mut out = Output::stdout();
    let outcome = match &cli.command {
        Command::Info(args) => info::run(args, &mut out),
        Command::Check(args) => check::run(args, &mut out),
        Command::Gc(args) => gc::run(args, &mut out),
        Command::Dump(args) => dump::run(args, &mut out),
    };
    let status = match outcome {
        Ok(status) => status,
        Err(failure) => failure.report(),
    };
    match out.finish() {
        Ok(()) => status.into(),
        Err(error) => {
            eprintln!("pmem: cannot write the output: {error}");
            Status::Unchecked.into()
        }
    }
}
