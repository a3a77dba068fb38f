//! What the subcommands share: the exit statuses, a failure's one line on stderr, the
//! output stream, the spinner shown on a terminal, and how numbers are written.

use std::borrow::Cow;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use pmem::Error;
use pmem::inspect::UntypedPool;

/// The pool file every subcommand takes.
#[derive(Debug, clap::Args)]
pub(crate) struct PoolFile {
    /// The pool file.
    #[arg(value_name = "POOL", value_hint = clap::ValueHint::FilePath)]
    pub(crate) path: PathBuf,
}

/// The exit statuses, as `pmem --help` and every subcommand's `--help` end.
pub(crate) const EXIT_STATUSES: &str = "\
Exit status:
  0  done; for `check`, the pool is sound (a pool with an unfinished transaction and a
     valid undo log is sound: any open rolls it back)
  1  the pool is damaged: not a pool, truncated, a damaged header, undo log or heap, a
     format version this pmem does not read, or (`check`) a dangling or mistyped pointer
  2  usage error: bad arguments, or a POOL that does not exist
  3  the pool could not be opened or checked: a writer has it open (locked), or another
     I/O error";

/// How the tool exits: see [`EXIT_STATUSES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// 0: done (for `check`: sound).
    Success = 0,
    /// 1: the pool is damaged.
    Damaged = 1,
    /// 2: a usage error.
    Usage = 2,
    /// 3: the pool could not be opened or checked.
    Unchecked = 3,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        Self::from(status as u8)
    }
}

/// Why a subcommand stopped: opening (or walking) the pool at `path` failed.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The pool file.
    path: PathBuf,
    /// What went wrong.
    error: Error,
}

impl Failure {
    /// `error`, met with the pool at `path`.
    pub(crate) fn new(path: &Path, error: Error) -> Self {
        Self {
            path: path.to_owned(),
            error,
        }
    }

    /// What the failure means for the exit status.
    pub(crate) fn status(&self) -> Status {
        match &self.error {
            Error::NotAPool { .. }
            | Error::Truncated { .. }
            | Error::Corrupted { .. }
            | Error::UnsupportedVersion { .. }
            | Error::LogCorrupted { .. }
            | Error::HeapCorrupted { .. }
            | Error::CannotCompact { .. } => Status::Damaged,
            Error::Io { source, .. }
                if matches!(
                    source.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::IsADirectory
                        | io::ErrorKind::NotADirectory
                ) =>
            {
                Status::Usage
            }
            _ => Status::Unchecked,
        }
    }

    /// A short account of the failure, for `check`'s summary line (which names the file
    /// itself).
    pub(crate) fn problem(&self) -> String {
        match &self.error {
            Error::NotAPool { .. } => "not a pmem pool (no pool header)".to_owned(),
            Error::Truncated {
                expected, found, ..
            } => format!("truncated: the pool needs {expected} bytes, the file has {found}"),
            Error::Corrupted { part, .. } => {
                format!("the header's {part} failed its checksum or consistency check")
            }
            Error::UnsupportedVersion {
                found, supported, ..
            } => format!("format version {found}; this pmem reads version {supported}"),
            Error::LogCorrupted { offset, what, .. } => {
                format!("the undo log is damaged at pool offset {offset:#x}: {what}")
            }
            Error::HeapCorrupted { source, .. } => format!("the heap is damaged: {source}"),
            Error::Locked { .. } => "a writer has it open (locked)".to_owned(),
            Error::Io {
                operation, source, ..
            } => format!("cannot {operation} it: {source}"),
            other => other.to_string(),
        }
    }

    /// The failure's one line: the library's message, which names the file, or for the
    /// few errors whose message does not, the file and the message.
    fn line(&self) -> String {
        let names_the_file = matches!(
            self.error,
            Error::Io { .. }
                | Error::NotAPool { .. }
                | Error::Truncated { .. }
                | Error::Corrupted { .. }
                | Error::LogCorrupted { .. }
                | Error::UnsupportedVersion { .. }
                | Error::HeapCorrupted { .. }
                | Error::Locked { .. }
                | Error::CannotCompact { .. }
        );
        if names_the_file {
            format!("pmem: {}", self.error)
        } else {
            format!("pmem: {}: {}", self.path.display(), self.error)
        }
    }

    /// Prints the failure as one line on stderr and returns the exit status it means.
    pub(crate) fn report(&self) -> Status {
        eprintln!("{}", self.line());
        self.status()
    }
}

/// Standard output, buffered. A write that fails is remembered and the rest dropped, so
/// that a subcommand always finishes and exits with its status; [`finish`](Output::finish)
/// reports the failure, except a closed pipe (`pmem dump POOL | head`), which is no error.
#[derive(Debug)]
pub(crate) struct Output {
    stdout: BufWriter<Stdout>,
    failed: Option<io::Error>,
}

impl Output {
    /// Standard output.
    pub(crate) fn stdout() -> Self {
        Self {
            stdout: BufWriter::new(io::stdout()),
            failed: None,
        }
    }

    /// Whether standard output is a terminal.
    pub(crate) fn is_terminal() -> bool {
        io::stdout().is_terminal()
    }

    /// Flushes, and returns the first write error unless it was a closed pipe.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.failed.is_none() {
            if let Err(error) = self.stdout.flush() {
                self.failed = Some(error);
            }
        }
        match self.failed {
            Some(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error),
            _ => Ok(()),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed.is_none() {
            if let Err(error) = self.stdout.write_all(buf) {
                self.failed = Some(error);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed.is_none() {
            if let Err(error) = self.stdout.flush() {
                self.failed = Some(error);
            }
        }
        Ok(())
    }
}

/// A spinner on stderr with a steady tick, if stderr is a terminal; hidden otherwise.
pub(crate) fn spinner(message: impl Into<Cow<'static, str>>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner().with_message(message);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// A progress bar of `len` steps on stderr, if stderr is a terminal and stdout is not (the
/// output is going to a file or a pipe: on a terminal, the output itself shows progress).
pub(crate) fn progress_bar(len: u64, message: impl Into<Cow<'static, str>>) -> ProgressBar {
    if !io::stderr().is_terminal() || Output::is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({eta})")
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(len)
        .with_style(style)
        .with_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Opens the pool at `path` read-only, with a spinner while the open checks and traces it.
pub(crate) fn open_read_only(path: &Path) -> Result<UntypedPool, Failure> {
    let spinner = spinner(format!(
        "opening {} (checking it and tracing its heap)",
        path.display()
    ));
    let opened = UntypedPool::open_read_only(path);
    spinner.finish_and_clear();
    opened.map_err(|error| Failure::new(path, error))
}

/// Opens the pool at `path` read-write, with a spinner while the open recovers, checks
/// and collects it.
pub(crate) fn open_read_write(path: &Path) -> Result<UntypedPool, Failure> {
    let spinner = spinner(format!(
        "opening {} (recovering, checking and collecting it)",
        path.display()
    ));
    let opened = UntypedPool::open(path);
    spinner.finish_and_clear();
    opened.map_err(|error| Failure::new(path, error))
}

/// `bytes` for a person: `512 bytes`, `4 KiB`, `1.5 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return plural(bytes, "byte");
    }
    let mut unit = 0;
    let mut scaled = bytes as f64 / 1024.0;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    if scaled.fract() == 0.0 {
        format!("{scaled:.0} {}", UNITS[unit])
    } else {
        format!("{scaled:.1} {}", UNITS[unit])
    }
}

/// `count` and `noun`, made plural by an `s` unless `count` is 1.
pub(crate) fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A duration for a person: `850 µs`, `12.3 ms`, `1.52 s`.
pub(crate) fn duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 1000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

/// A point in time as UTC in RFC 3339 form, to the second: `2026-05-01T12:34:56Z`.
pub(crate) fn timestamp(time: SystemTime) -> String {
    let utc = time::OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    time::OffsetDateTime::from(time).unix_timestamp()
}
