//! `compare`: pmem side by side with PMDK's libpmemobj and with the hardware floor.
//!
//! It runs `pmem-bench`, the PMDK harness (`shared/baselines/pmdk/pmdk_bench.c`) and the
//! floor (`shared/baselines/limit/limit.c`) as child processes, several rounds interleaved,
//! and writes into the output directory:
//!
//! - `results.md`: the machine, the settings, and tables of medians, ratios and min–max
//!   (meant to be included by the hand-written `docs/benchmarks.md`);
//! - `raw.txt`: every line every run printed, tab-separated after its round number;
//! - `throughput.svg` and `recovery.svg`: the plots.
//!
//! Normally started by `bench/compare.sh`, which installs gcc and PMDK where missing, builds
//! everything and passes its own arguments on, from the workspace root:
//!
//! ```text
//! bash bench/compare.sh                                              # full run
//! bash bench/compare.sh --rounds 1 --ops-scale 0.01 --out /tmp/smoke  # smoke run
//! ```
//!
//! Options (`--name value` or `--name=value`):
//! - `--rounds N` (5): rounds; every table shows medians over them;
//! - `--ops-scale F` (1): multiplies every op count and heap size (0.01 for a smoke run);
//! - `--out DIR` (`docs/benchmarks`);
//! - `--pmem BIN` (`target/release/pmem-bench`), `--pmdk BIN` (`target/baselines/pmdk_bench`),
//!   `--limit BIN` (`target/baselines/limit`);
//! - `--pool-dir DIR` (`/dev/shm`): where both libraries put their pool files;
//! - `--pmem-flush MODE`: `PMEM_FLUSH` for pmem-bench; by default `clwb` when the CPU has
//!   CLWB (as PMDK with `PMEM_IS_PMEM_FORCE=1` uses it), else unset.
//!
//! In each round, limit runs once, then every workload runs once in pmem and once in PMDK,
//! pmem first in odd rounds and PMDK first in even ones, so that a slow drift of the machine
//! (thermal, other load) does not favour one side. A failing run stops everything and shows
//! the run's stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

type Result<T> = std::result::Result<T, String>;

/// A row of the throughput table: pmem's workload and the PMDK workload it is measured
/// against (none for pmem-only rows).
struct Workload {
    pmem: &'static str,
    pmdk: Option<&'static str>,
    ops: u64,
    /// What one op is, for the notes under the table.
    op: &'static str,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        pmem: "sps",
        pmdk: Some("sps"),
        ops: 2_000_000,
        op: "a transaction swapping two random `u64` of a 1,000,000-element array",
    },
    Workload {
        pmem: "list_push",
        pmdk: Some("list_push"),
        ops: 1_000_000,
        op: "a transaction allocating a 64-byte node and linking it at the head of a list",
    },
    Workload {
        pmem: "hashmap_insert",
        pmdk: Some("hashmap_insert"),
        ops: 1_000_000,
        op: "a transaction inserting a 64-byte node into a 2^20-bucket chained hash table",
    },
    Workload {
        pmem: "alloc_free",
        pmdk: Some("alloc_free"),
        ops: 1_000_000,
        op: "an allocating transaction and a freeing one (pmem: the object is held by a pin \
             and left to the collector)",
    },
    Workload {
        pmem: "alloc_link_free",
        pmdk: Some("alloc_free"),
        ops: 1_000_000,
        op: "as `alloc_free`, but the object is stored in the root and then unlinked, so \
             both transactions log a store; PMDK's column is its `alloc_free` (same runs)",
    },
    Workload {
        pmem: "empty_txn",
        pmdk: None,
        ops: 10_000_000,
        op: "a transaction that writes nothing",
    },
    Workload {
        pmem: "barrier",
        pmdk: None,
        ops: 100_000_000,
        op: "a volatile store inside a transaction, rewritten by `#[txn]`",
    },
    Workload {
        pmem: "gc",
        pmdk: None,
        ops: 1_000_000,
        op: "one node of a list of `ops` nodes, marked and swept by one `Pool::collect`",
    },
];

/// Heap sizes of the recovery comparison, in 64-byte list nodes.
const RECOVERY_NODES: [u64; 4] = [10_000, 100_000, 1_000_000, 4_000_000];

/// limit.c's variants, the first being the floor of an undo-logged `sps` transaction.
const FLOOR_VARIANTS: [&str; 3] = ["undo_4_fences", "two_fences", "no_flush"];

const USAGE: &str = "usage: compare [--rounds N] [--ops-scale F] [--out DIR] [--pmem BIN] \
                     [--pmdk BIN] [--limit BIN] [--pool-dir DIR] [--pmem-flush MODE]";

struct Config {
    rounds: u32,
    ops_scale: f64,
    out: PathBuf,
    pmem: PathBuf,
    pmdk: PathBuf,
    limit: PathBuf,
    pool_dir: PathBuf,
    pmem_flush: Option<String>,
}

impl Config {
    fn parse(arguments: &[String]) -> Result<Self> {
        let mut config = Self {
            rounds: 5,
            ops_scale: 1.0,
            out: PathBuf::from("docs/benchmarks"),
            pmem: PathBuf::from("target/release/pmem-bench"),
            pmdk: PathBuf::from("target/baselines/pmdk_bench"),
            limit: PathBuf::from("target/baselines/limit"),
            pool_dir: PathBuf::from("/dev/shm"),
            pmem_flush: None,
        };
        let mut rest = arguments.iter();
        while let Some(argument) = rest.next() {
            if argument == "-h" || argument == "--help" {
                return Err(USAGE.to_owned());
            }
            const OPTIONS: [&str; 8] = [
                "--rounds",
                "--ops-scale",
                "--out",
                "--pmem",
                "--pmdk",
                "--limit",
                "--pool-dir",
                "--pmem-flush",
            ];
            let name = argument
                .split_once('=')
                .map_or(argument.as_str(), |(name, _)| name);
            if !OPTIONS.contains(&name) {
                return Err(format!("unknown option {name:?}; {USAGE}"));
            }
            let (name, value) = match argument.split_once('=') {
                Some((name, value)) => (name, value.to_owned()),
                None => {
                    let value = rest
                        .next()
                        .ok_or_else(|| format!("{argument} needs a value; {USAGE}"))?;
                    (argument.as_str(), value.clone())
                }
            };
            match name {
                "--rounds" => {
                    config.rounds = value
                        .parse()
                        .ok()
                        .filter(|&rounds| rounds > 0)
                        .ok_or_else(|| format!("--rounds: not a positive integer: {value:?}"))?;
                }
                "--ops-scale" => {
                    config.ops_scale = value
                        .parse()
                        .ok()
                        .filter(|scale: &f64| scale.is_finite() && *scale > 0.0)
                        .ok_or_else(|| format!("--ops-scale: not a positive number: {value:?}"))?;
                }
                "--out" => config.out = value.into(),
                "--pmem" => config.pmem = value.into(),
                "--pmdk" => config.pmdk = value.into(),
                "--limit" => config.limit = value.into(),
                "--pool-dir" => config.pool_dir = value.into(),
                "--pmem-flush" => config.pmem_flush = Some(value),
                _ => unreachable!("{name} is in OPTIONS"),
            }
        }
        Ok(config)
    }

    /// `ops` scaled by `--ops-scale`, at least 1.
    fn scaled(&self, ops: u64) -> u64 {
        ((ops as f64 * self.ops_scale).round() as u64).max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Program {
    Pmem,
    Pmdk,
    Limit,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Self::Pmem => "pmem-bench",
            Self::Pmdk => "pmdk_bench",
            Self::Limit => "limit",
        }
    }

    /// The field that starts a result line, naming what the line measured.
    fn line_key(self) -> &'static str {
        match self {
            Self::Pmem | Self::Pmdk => "workload",
            Self::Limit => "variant",
        }
    }

    /// The fields a result line must carry.
    fn required(self) -> &'static [&'static str] {
        match self {
            Self::Pmem => &[
                "workload",
                "ops",
                "secs",
                "ops_per_sec",
                "fences_per_op",
                "flushes_per_op",
                "log_bytes_per_op",
            ],
            Self::Pmdk => &["workload", "ops", "secs", "ops_per_sec"],
            Self::Limit => &["variant", "ops", "secs", "ops_per_sec"],
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default, PartialEq)]
struct Sample {
    secs: f64,
    ops_per_sec: f64,
    fences_per_op: Option<f64>,
    flushes_per_op: Option<f64>,
    log_bytes_per_op: Option<f64>,
    gib_per_sec: Option<f64>,
    /// Recovery only: the first allocating transaction after `open`, from stderr.
    first_alloc_secs: Option<f64>,
}

/// Splits a `key=value key=value` line.
fn parse_fields(line: &str) -> Result<Vec<(&str, &str)>> {
    line.split_whitespace()
        .map(|token| {
            token
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or_else(|| format!("`{token}` is not key=value"))
        })
        .collect()
}

fn field<'a>(fields: &[(&str, &'a str)], key: &str) -> Result<&'a str> {
    fields
        .iter()
        .find(|(name, _)| *name == key)
        .map(|&(_, value)| value)
        .ok_or_else(|| format!("missing field `{key}`"))
}

fn number(fields: &[(&str, &str)], key: &str) -> Result<f64> {
    let text = field(fields, key)?;
    text.parse::<f64>()
        .ok()
        .filter(|value| value.is_finite() && *value >= 0.0)
        .ok_or_else(|| format!("field `{key}` is not a finite non-negative number: {text:?}"))
}

/// Parses a result line of `program`: the name it measured (workload or variant), its op
/// count, and the sample.
fn parse_result(program: Program, line: &str) -> Result<(String, u64, Sample)> {
    let fields = parse_fields(line)?;
    for key in program.required() {
        field(&fields, key)?;
    }
    let ops_text = field(&fields, "ops")?;
    let ops = ops_text
        .parse()
        .map_err(|_| format!("field `ops` is not an integer: {ops_text:?}"))?;
    let optional = |key| {
        fields
            .iter()
            .any(|(name, _)| *name == key)
            .then(|| number(&fields, key))
            .transpose()
    };
    let sample = Sample {
        secs: number(&fields, "secs")?,
        ops_per_sec: number(&fields, "ops_per_sec")?,
        fences_per_op: optional("fences_per_op")?,
        flushes_per_op: optional("flushes_per_op")?,
        log_bytes_per_op: optional("log_bytes_per_op")?,
        gib_per_sec: optional("gib_per_sec")?,
        first_alloc_secs: None,
    };
    Ok((field(&fields, program.line_key())?.to_owned(), ops, sample))
}

/// The result lines of one run's stdout, parsed; errors name the program, its arguments and
/// the line. Other lines are left to `raw.txt`.
fn parse_stdout(
    program: Program,
    invocation: &str,
    stdout: &str,
) -> Result<Vec<(String, u64, Sample)>> {
    let prefix = format!("{}=", program.line_key());
    stdout
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim_start().starts_with(&prefix))
        .map(|(index, line)| {
            parse_result(program, line).map_err(|error| {
                format!("{invocation}: stdout line {}: {error}: `{line}`", index + 1)
            })
        })
        .collect()
}

/// The value of `key=` in the first `# ` diagnostic line of `stderr` that has one.
fn diagnostic<'a>(stderr: &'a str, key: &str) -> Option<&'a str> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .flat_map(str::split_whitespace)
        .find_map(|token| token.strip_prefix(key)?.strip_prefix('='))
}

fn diagnostic_secs(invocation: &str, stderr: &str, key: &str) -> Result<f64> {
    let text = diagnostic(stderr, key)
        .ok_or_else(|| format!("{invocation}: stderr has no `# {key}=` line"))?;
    text.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .ok_or_else(|| format!("{invocation}: stderr `{key}={text}` is not a duration"))
}

/// The CPU share of a timed region that another process visibly disturbed: under 90% of its
/// wall time, over a region long enough (0.1 s) for the share to mean something.
fn disturbed(stderr: &str) -> Option<f64> {
    let line = stderr
        .lines()
        .find_map(|line| line.strip_prefix("# timed_region "))?;
    let fields = parse_fields(line).ok()?;
    let wall = number(&fields, "wall").ok()?;
    let utilisation = number(&fields, "cpu_util").ok()?;
    (wall >= 0.1 && utilisation < 0.9).then_some(utilisation)
}

/// The median (the mean of the middle two for an even count); `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Summary {
    median: f64,
    min: f64,
    max: f64,
}

fn summarize(values: &[f64]) -> Option<Summary> {
    Some(Summary {
        median: median(values)?,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// Which runs a sample list belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    program: Program,
    name: String,
    ops: u64,
}

impl Key {
    fn new(program: Program, name: &str, ops: u64) -> Self {
        Self {
            program,
            name: name.to_owned(),
            ops,
        }
    }
}

#[derive(Default)]
struct Results {
    samples: BTreeMap<Key, Vec<Sample>>,
    /// Flush modes pmem-bench reported (recovery prints its pool's).
    pmem_flush_reported: BTreeSet<String>,
    /// `is_pmem=` values the PMDK harness reported.
    pmdk_is_pmem: BTreeSet<String>,
    /// Runs whose timed region had the CPU less than 90% of the time: disturbed by others.
    disturbed: Vec<String>,
    wall_secs: f64,
}

impl Results {
    fn values(&self, key: &Key, pick: impl Fn(&Sample) -> Option<f64>) -> Vec<f64> {
        self.samples
            .get(key)
            .map(|samples| samples.iter().filter_map(pick).collect())
            .unwrap_or_default()
    }

    fn throughput(&self, key: &Key) -> Option<Summary> {
        summarize(&self.values(key, |sample| Some(sample.ops_per_sec)))
    }
}

/// Starts the runs and records everything they print in `raw.txt`.
struct Runner<'a> {
    config: &'a Config,
    pmem_flush: Option<String>,
    raw: BufWriter<File>,
    started: Instant,
    done: usize,
    total: usize,
}

impl Runner<'_> {
    fn run(&mut self, round: u32, program: Program, args: &[String]) -> Result<(String, String)> {
        let path = match program {
            Program::Pmem => &self.config.pmem,
            Program::Pmdk => &self.config.pmdk,
            Program::Limit => &self.config.limit,
        };
        let invocation = format!("{} {}", program.name(), args.join(" "));
        self.done += 1;
        eprint!(
            "[{:>3}/{}] round {round}: {invocation:<36} ",
            self.done, self.total
        );
        let mut command = Command::new(path);
        command.args(args);
        // Only what the comparison sets reaches the runs: leftovers in the caller's
        // environment (a forced mode, a kept pool) would silently change what is measured.
        command.env_remove("PMEM_FLUSH");
        for name in [
            "PMDK_BENCH_POOL_MB",
            "PMDK_BENCH_KEEP",
            "PMEM_IS_PMEM_FORCE",
        ] {
            command.env_remove(name);
        }
        match program {
            Program::Pmem => {
                command.env("PMEM_BENCH_DIR", &self.config.pool_dir);
                if let Some(mode) = &self.pmem_flush {
                    command.env("PMEM_FLUSH", mode);
                }
            }
            Program::Pmdk => {
                command.env("PMDK_BENCH_DIR", &self.config.pool_dir);
                command.env("PMEM_IS_PMEM_FORCE", "1");
            }
            Program::Limit => {}
        }
        let start = Instant::now();
        let output = command.output().map_err(|error| {
            eprintln!("not started");
            format!(
                "cannot run {} ({error}); bench/compare.sh builds it",
                path.display()
            )
        })?;
        let secs = start.elapsed().as_secs_f64();
        eprintln!("{secs:7.2} s");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let mut raw = String::new();
        raw.push_str(&format!(
            "{round}\t{}\t{}\tmeta\twall_secs={secs:.3} status={}\n",
            program.name(),
            args.join(" "),
            output.status
        ));
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            for line in text.lines() {
                raw.push_str(&format!(
                    "{round}\t{}\t{}\t{stream}\t{line}\n",
                    program.name(),
                    args.join(" ")
                ));
            }
        }
        self.raw
            .write_all(raw.as_bytes())
            .and_then(|()| self.raw.flush())
            .map_err(|error| format!("cannot write raw.txt: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "{invocation} failed ({}).\n--- its stdout:\n{stdout}--- its stderr:\n{stderr}",
                output.status
            ));
        }
        Ok((stdout, stderr))
    }

    /// Runs `workload` with `ops` in pmem-bench or the PMDK harness and records the sample.
    fn measure(
        &mut self,
        results: &mut Results,
        round: u32,
        program: Program,
        workload: &str,
        ops: u64,
    ) -> Result<()> {
        let invocation = format!("{} {workload} {ops}", program.name());
        let (stdout, stderr) = self.run(round, program, &[workload.to_owned(), ops.to_string()])?;
        let mut lines = parse_stdout(program, &invocation, &stdout)?;
        let (name, printed_ops, mut sample) = match lines.len() {
            1 => lines.remove(0),
            n => {
                return Err(format!(
                    "{invocation}: {n} result lines on stdout, expected 1"
                ));
            }
        };
        if name != workload || printed_ops != ops {
            return Err(format!(
                "{invocation}: printed workload={name} ops={printed_ops}, expected {workload} {ops}"
            ));
        }
        if workload == "recovery" {
            let key = "first_alloc_tx_after_open_secs";
            sample.first_alloc_secs = match program {
                // PMDK rebuilds its heap at the first allocation: without it, its open time
                // would be the wrong comparison.
                Program::Pmdk => Some(diagnostic_secs(&invocation, &stderr, key)?),
                _ => diagnostic(&stderr, key)
                    .map(|_| diagnostic_secs(&invocation, &stderr, key))
                    .transpose()?,
            };
        }
        if let Some(mode) = diagnostic(&stderr, "flush_mode").filter(|_| program == Program::Pmem) {
            results.pmem_flush_reported.insert(mode.to_owned());
        }
        if let Some(is_pmem) = diagnostic(&stderr, "is_pmem").filter(|_| program == Program::Pmdk) {
            results.pmdk_is_pmem.insert(is_pmem.to_owned());
        }
        if let Some(utilisation) = disturbed(&stderr) {
            results.disturbed.push(format!(
                "`{invocation}` (round {round}): cpu_util={utilisation:.2}"
            ));
        }
        results
            .samples
            .entry(Key::new(program, workload, ops))
            .or_default()
            .push(sample);
        Ok(())
    }

    fn measure_floor(&mut self, results: &mut Results, round: u32, ops: u64) -> Result<()> {
        let invocation = format!("limit {ops}");
        let (stdout, _) = self.run(round, Program::Limit, &[ops.to_string()])?;
        let lines = parse_stdout(Program::Limit, &invocation, &stdout)?;
        for variant in FLOOR_VARIANTS {
            let (_, _, sample) = lines
                .iter()
                .find(|(name, _, _)| name == variant)
                .ok_or_else(|| format!("{invocation}: no `variant={variant}` line on stdout"))?;
            results
                .samples
                .entry(Key::new(Program::Limit, variant, ops))
                .or_default()
                .push(sample.clone());
        }
        Ok(())
    }
}

/// The machine and settings, for the header of `results.md` and the plots' subtitles.
struct Environment {
    date: String,
    cpu: String,
    cpus: usize,
    kernel: String,
    rustc: String,
    pmdk_version: String,
    load: String,
    has_clwb: bool,
    flush: String,
}

impl Environment {
    fn detect(config: &Config) -> (Self, Option<String>) {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let has_clwb = cpu_has_flag(&cpuinfo, "clwb");
        let pmem_flush = config
            .pmem_flush
            .clone()
            .or_else(|| has_clwb.then(|| "clwb".to_owned()));
        let flush = match (&config.pmem_flush, has_clwb) {
            (Some(mode), _) => format!("pmem: `PMEM_FLUSH={mode}` (forced by --pmem-flush)"),
            (None, true) => "pmem: `PMEM_FLUSH=clwb` (the CPU has CLWB)".to_owned(),
            (None, false) => "pmem: default mode (the CPU has no CLWB, so `PMEM_FLUSH=clwb` \
                              is impossible; on /dev/shm the default is msync, far slower \
                              than PMDK's forced cache-line flushes: ratios are not \
                              comparable)"
                .to_owned(),
        };
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let environment = Self {
            date: format_utc(seconds),
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
                |_| "unknown".to_owned(),
                |release| release.trim().to_owned(),
            ),
            rustc: command_line("rustc", &["--version"]),
            pmdk_version: command_line("pkg-config", &["--modversion", "libpmemobj"]),
            load: fs::read_to_string("/proc/loadavg")
                .map(|load| {
                    load.split_whitespace()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|_| "unknown".to_owned()),
            has_clwb,
            flush,
        };
        (environment, pmem_flush)
    }
}

/// The first line a command prints, or "unknown".
fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .map(|line| line.trim().to_owned())
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cpu_has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("flags"))
        .filter_map(|line| line.split_once(':'))
        .any(|(_, flags)| flags.split_whitespace().any(|name| name == flag))
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("model name"))
        .find_map(|line| line.split_once(':'))
        .map(|(_, model)| model.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn format_utc(seconds: u64) -> String {
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let in_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        in_day / 3600,
        in_day % 3600 / 60
    )
}

/// `value` with three significant digits (more for values of 1000 and up, never an exponent).
fn sig3(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (2 - value.abs().log10().floor() as i64).clamp(0, 9) as usize;
    format!("{value:.decimals$}")
}

fn plural(count: u32, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

fn duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.1} s")
    } else {
        format!("{:.1} min", secs / 60.0)
    }
}

fn mops(ops_per_sec: f64) -> String {
    sig3(ops_per_sec / 1e6)
}

fn ms(secs: f64) -> String {
    sig3(secs * 1e3)
}

/// A node count as an axis label: 40000 → "40k", 4000000 → "4M".
fn count_label(count: u64) -> String {
    let short = |value: f64, unit: &str| format!("{}{unit}", trim_zeros(&format!("{value:.1}")));
    match count {
        1_000_000.. => short(count as f64 / 1e6, "M"),
        1_000.. => short(count as f64 / 1e3, "k"),
        _ => count.to_string(),
    }
}

fn trim_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text.to_owned()
    }
}

/// A tick spacing near `range / target` of the form 1, 2 or 5 × 10^k.
fn nice_step(range: f64, target: usize) -> f64 {
    let raw = range / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalized = raw / magnitude;
    let factor = match normalized {
        n if n <= 1.0 => 1.0,
        n if n <= 2.0 => 2.0,
        n if n <= 5.0 => 5.0,
        _ => 10.0,
    };
    factor * magnitude
}

/// Ticks from 0 to the first multiple of the step at or above `max`.
fn linear_ticks(max: f64, target: usize) -> Vec<f64> {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let step = nice_step(max, target);
    // The tolerance keeps a max that is a multiple of the step, give or take rounding, as
    // the top tick instead of adding one above it.
    let count = (max / step - 1e-9).ceil().max(1.0) as usize;
    (0..=count).map(|index| index as f64 * step).collect()
}

fn tick_label(value: f64, step: f64) -> String {
    let decimals = (-step.log10()).ceil().max(0.0) as usize;
    trim_zeros(&format!("{value:.decimals$}"))
}

/// Maps `[domain.0, domain.1]` linearly onto `[range.0, range.1]`.
#[derive(Clone, Copy)]
struct Linear {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Linear {
    fn map(self, value: f64) -> f64 {
        let fraction = (value - self.domain.0) / (self.domain.1 - self.domain.0);
        self.range.0 + fraction * (self.range.1 - self.range.0)
    }
}

/// Maps `[10^exponents.0, 10^exponents.1]` logarithmically onto `range`; values below the
/// domain (zero included) land on its lower end.
#[derive(Clone, Copy)]
struct Log {
    exponents: (f64, f64),
    range: (f64, f64),
}

impl Log {
    fn map(self, value: f64) -> f64 {
        let exponent = value.max(10f64.powf(self.exponents.0)).log10();
        Linear {
            domain: self.exponents,
            range: self.range,
        }
        .map(exponent)
    }
}

/// The decades around the positive `values`: (floor of the smallest exponent, ceiling of
/// the largest), at least one decade apart.
fn decades(values: &[f64]) -> (i32, i32) {
    let positive = values.iter().copied().filter(|value| *value > 0.0);
    let low = positive.clone().fold(f64::INFINITY, f64::min);
    let high = positive.fold(0.0, f64::max);
    if !low.is_finite() {
        return (0, 1);
    }
    let low = low.log10().floor() as i32;
    let high = (high.log10().ceil() as i32).max(low + 1);
    (low, high)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PMEM_COLOR: &str = "#2b6cb0";
const PMDK_COLOR: &str = "#dd6b20";
const FLOOR_COLOR: &str = "#c53030";
const AXIS_COLOR: &str = "#4a5568";
const GRID_COLOR: &str = "#e2e8f0";
/// A white outline under label text, so that labels stay legible over lines and bars.
const HALO: &str = r#"stroke="white" stroke-width="3" paint-order="stroke""#;

/// An SVG document written by hand, coordinates in pixels.
struct Svg {
    out: String,
}

impl Svg {
    fn new(width: f64, height: f64, title: &str) -> Self {
        let mut svg = Self { out: String::new() };
        svg.raw(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
             width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
             font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
             <title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
            xml_escape(title)
        ));
        svg
    }

    fn raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// The x axis along `bottom` and the y axis along `left` of a plot area.
    fn axes(&mut self, left: f64, right: f64, top: f64, bottom: f64) {
        let stroke = format!("stroke=\"{AXIS_COLOR}\"");
        self.line((left, bottom), (right, bottom), &stroke);
        self.line((left, top), (left, bottom), &stroke);
    }

    fn line(&mut self, from: (f64, f64), to: (f64, f64), attributes: &str) {
        self.raw(&format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" {attributes}/>\n",
            from.0, from.1, to.0, to.1
        ));
    }

    fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, attributes: &str) {
        self.raw(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" {attributes}/>\n"
        ));
    }

    fn text(&mut self, x: f64, y: f64, attributes: &str, content: &str) {
        self.raw(&format!(
            "<text x=\"{x:.1}\" y=\"{y:.1}\" {attributes}>{}</text>\n",
            xml_escape(content)
        ));
    }

    fn finish(mut self) -> String {
        self.raw("</svg>\n");
        self.out
    }
}

/// A marker of the recovery plot.
#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Diamond,
}

impl Marker {
    fn draw(self, svg: &mut Svg, (x, y): (f64, f64), attributes: &str) {
        let shape = match self {
            Self::Circle => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\""),
            Self::Square => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\"",
                x - 4.0,
                y - 4.0
            ),
            Self::Diamond => format!(
                "<polygon points=\"{:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1}\"",
                x - 5.5,
                y - 5.5,
                x + 5.5,
                y + 5.5
            ),
        };
        svg.raw(&format!("{shape} {attributes}/>\n"));
    }
}

/// One group of the throughput plot.
struct BarGroup {
    label: String,
    note: Option<String>,
    pmem: Summary,
    pmdk: Summary,
    floor: Option<f64>,
}

/// What a legend entry shows before its label.
enum Swatch<'a> {
    Bar(&'static str),
    Whisker,
    FloorLine,
    Series(&'a Series),
}

impl Swatch<'_> {
    /// Draws the swatch with its left end at `x`, centred on `y`.
    fn draw(&self, svg: &mut Svg, x: f64, y: f64) {
        match self {
            Self::Bar(color) => svg.rect(x, y - 7.0, 18.0, 14.0, &format!("fill=\"{color}\"")),
            Self::Whisker => {
                let style = "stroke=\"#1a202c\" stroke-width=\"1.2\"";
                svg.line((x + 9.0, y - 7.0), (x + 9.0, y + 7.0), style);
                svg.line((x + 5.0, y - 7.0), (x + 13.0, y - 7.0), style);
                svg.line((x + 5.0, y + 7.0), (x + 13.0, y + 7.0), style);
            }
            Self::FloorLine => svg.line(
                (x, y),
                (x + 18.0, y),
                &format!("stroke=\"{FLOOR_COLOR}\" stroke-width=\"2\" stroke-dasharray=\"5 3\""),
            ),
            Self::Series(line) => {
                svg.line((x - 2.0, y), (x + 20.0, y), &line.stroke());
                line.marker.draw(svg, (x + 9.0, y), &line.marker_style());
            }
        }
    }
}

/// Draws the legend entries left to right from `x`.
fn legend(svg: &mut Svg, mut x: f64, y: f64, entries: &[(&str, Swatch<'_>)]) {
    for (label, swatch) in entries {
        swatch.draw(svg, x, y);
        svg.text(x + 24.0, y + 4.0, "fill=\"#1a202c\"", label);
        // No text metrics in a hand-written SVG: 6.8 px per character is a safe upper bound
        // for 12 px DejaVu Sans in this ASCII text.
        x += 24.0 + label.len() as f64 * 6.8 + 22.0;
    }
}

fn throughput_svg(groups: &[BarGroup], subtitle: &str, rounds: u32) -> String {
    let (width, height) = (960.0, 520.0);
    let (left, right, top, bottom) = (80.0, width - 24.0, 96.0, height - 84.0);
    let mut svg = Svg::new(width, height, "Throughput: pmem vs PMDK");
    svg.text(
        left,
        28.0,
        "font-size=\"18\" font-weight=\"bold\" fill=\"#1a202c\"",
        "Throughput: pmem vs PMDK libpmemobj (one op = one transaction, higher is better)",
    );
    svg.text(left, 48.0, "fill=\"#4a5568\"", subtitle);

    let highest = groups
        .iter()
        .flat_map(|group| [group.pmem.max, group.pmdk.max, group.floor.unwrap_or(0.0)])
        .fold(0.0, f64::max)
        / 1e6;
    // Headroom above the tallest bar for its value label.
    let ticks = linear_ticks(highest * 1.12, 6);
    let step = ticks.get(1).copied().unwrap_or(1.0);
    let y = Linear {
        domain: (0.0, *ticks.last().unwrap_or(&1.0)),
        range: (bottom, top),
    };
    for &tick in &ticks {
        let at = y.map(tick);
        svg.line((left, at), (right, at), &format!("stroke=\"{GRID_COLOR}\""));
        svg.text(
            left - 8.0,
            at + 4.0,
            &format!("text-anchor=\"end\" fill=\"{AXIS_COLOR}\""),
            &tick_label(tick, step),
        );
    }
    let middle = (top + bottom) / 2.0;
    svg.text(
        22.0,
        middle,
        &format!(
            "text-anchor=\"middle\" transform=\"rotate(-90 22 {middle:.1})\" fill=\"{AXIS_COLOR}\""
        ),
        &format!(
            "million ops per second, median of {}",
            plural(rounds, "round")
        ),
    );

    let group_width = (right - left) / groups.len().max(1) as f64;
    let bar_width = (group_width * 0.3).min(70.0);
    for (index, group) in groups.iter().enumerate() {
        let center = left + group_width * (index as f64 + 0.5);
        let mut value_labels = Vec::new();
        for (summary, color, x) in [
            (group.pmem, PMEM_COLOR, center - bar_width - 2.0),
            (group.pmdk, PMDK_COLOR, center + 2.0),
        ] {
            let bar_top = y.map(summary.median / 1e6);
            svg.rect(
                x,
                bar_top,
                bar_width,
                bottom - bar_top,
                &format!("fill=\"{color}\""),
            );
            let whisker = x + bar_width / 2.0;
            let (low, high) = (y.map(summary.min / 1e6), y.map(summary.max / 1e6));
            if high < low - 0.5 {
                let cap = bar_width * 0.2;
                let style = "stroke=\"#1a202c\" stroke-width=\"1.2\"";
                svg.line((whisker, low), (whisker, high), style);
                svg.line((whisker - cap, low), (whisker + cap, low), style);
                svg.line((whisker - cap, high), (whisker + cap, high), style);
            }
            value_labels.push((whisker, high.min(bar_top) - 6.0, mops(summary.median)));
        }
        // The floor's line goes under the value labels, whose halo keeps them legible.
        if let Some(floor) = group.floor {
            let at = y.map(floor / 1e6);
            svg.line(
                (center - group_width * 0.45, at),
                (center + group_width * 0.45, at),
                &format!("stroke=\"{FLOOR_COLOR}\" stroke-width=\"2\" stroke-dasharray=\"7 4\""),
            );
            // Above the line and above the bars' value labels, never over a bar: the floor
            // may lie below pmem's median.
            let label_y = value_labels
                .iter()
                .map(|label| label.1 - 15.0)
                .fold(at - 5.0, f64::min);
            svg.text(
                center,
                label_y,
                &format!(
                    "text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\" fill=\"{FLOOR_COLOR}\" {HALO}"
                ),
                &format!("floor {}", mops(floor)),
            );
        }
        for (label_x, label_y, text) in &value_labels {
            svg.text(
                *label_x,
                *label_y,
                &format!("text-anchor=\"middle\" font-size=\"12\" fill=\"#1a202c\" {HALO}"),
                text,
            );
        }
        svg.text(
            center,
            bottom + 20.0,
            "text-anchor=\"middle\" font-size=\"13\" fill=\"#1a202c\"",
            &group.label,
        );
        if let Some(note) = &group.note {
            svg.text(
                center,
                bottom + 36.0,
                &format!("text-anchor=\"middle\" font-size=\"11\" fill=\"{AXIS_COLOR}\""),
                note,
            );
        }
    }
    svg.axes(left, right, top, bottom);

    let mut entries = vec![
        ("pmem", Swatch::Bar(PMEM_COLOR)),
        ("PMDK libpmemobj", Swatch::Bar(PMDK_COLOR)),
    ];
    if rounds > 1 {
        entries.push(("min–max over rounds", Swatch::Whisker));
    }
    if groups.iter().any(|group| group.floor.is_some()) {
        entries.push((
            "hardware floor of sps (limit.c: undo log, 4 fences)",
            Swatch::FloorLine,
        ));
    }
    legend(&mut svg, left, 72.0, &entries);
    svg.finish()
}

/// One series of the recovery plot: (heap nodes, milliseconds) points.
struct Series {
    label: &'static str,
    color: &'static str,
    dashed: bool,
    marker: Marker,
    points: Vec<(u64, f64)>,
}

impl Series {
    fn stroke(&self) -> String {
        let dash = if self.dashed {
            " stroke-dasharray=\"7 4\""
        } else {
            ""
        };
        format!(
            "stroke=\"{}\" stroke-width=\"2\" fill=\"none\"{dash}",
            self.color
        )
    }

    /// Dashed series get hollow markers, so that they stay apart from a solid one of the
    /// same colour.
    fn marker_style(&self) -> String {
        let fill = if self.dashed { "white" } else { self.color };
        format!(
            "fill=\"{fill}\" stroke=\"{}\" stroke-width=\"1.5\"",
            self.color
        )
    }
}

fn recovery_svg(series: &[Series], subtitle: &str, rounds: u32) -> String {
    let (width, height) = (960.0, 540.0);
    let (left, right, top, bottom) = (80.0, width - 40.0, 96.0, height - 64.0);
    let mut svg = Svg::new(width, height, "Reopening a pool: time against heap size");
    svg.text(
        left,
        28.0,
        "font-size=\"18\" font-weight=\"bold\" fill=\"#1a202c\"",
        "Reopening a pool: time against heap size (lower is better)",
    );
    svg.text(left, 48.0, "fill=\"#4a5568\"", subtitle);

    let sizes: BTreeSet<u64> = series
        .iter()
        .flat_map(|line| line.points.iter().map(|&(nodes, _)| nodes))
        .collect();
    let size_values: Vec<f64> = sizes.iter().map(|&nodes| nodes as f64).collect();
    let smallest = size_values.first().copied().unwrap_or(1.0);
    let largest = size_values.last().copied().unwrap_or(10.0);
    // Half a decade of margin on each side keeps end markers and labels off the frame.
    let x = Log {
        exponents: (
            smallest.log10() - 0.3,
            largest.log10().max(smallest.log10() + 1.0) + 0.3,
        ),
        range: (left, right),
    };
    let times: Vec<f64> = series
        .iter()
        .flat_map(|line| line.points.iter().map(|&(_, ms)| ms))
        .collect();
    let (low, high) = decades(&times);
    let y = Log {
        exponents: (f64::from(low), f64::from(high)),
        range: (bottom, top),
    };
    for exponent in low..=high {
        let at = y.map(10f64.powi(exponent));
        svg.line((left, at), (right, at), &format!("stroke=\"{GRID_COLOR}\""));
        svg.text(
            left - 8.0,
            at + 4.0,
            &format!("text-anchor=\"end\" fill=\"{AXIS_COLOR}\""),
            &tick_label(10f64.powi(exponent), 10f64.powi(exponent)),
        );
        if exponent < high {
            for factor in [2.0, 5.0] {
                let minor = y.map(factor * 10f64.powi(exponent));
                svg.line(
                    (left - 4.0, minor),
                    (left, minor),
                    &format!("stroke=\"{AXIS_COLOR}\""),
                );
            }
        }
    }
    for &nodes in &sizes {
        let at = x.map(nodes as f64);
        svg.line((at, top), (at, bottom), &format!("stroke=\"{GRID_COLOR}\""));
        svg.text(
            at,
            bottom + 18.0,
            "text-anchor=\"middle\" font-size=\"13\" fill=\"#1a202c\"",
            &count_label(nodes),
        );
    }
    svg.axes(left, right, top, bottom);
    svg.text(
        (left + right) / 2.0,
        bottom + 42.0,
        &format!("text-anchor=\"middle\" fill=\"{AXIS_COLOR}\""),
        "heap size: 64-byte nodes in one list (log scale)",
    );
    let middle = (top + bottom) / 2.0;
    svg.text(
        22.0,
        middle,
        &format!(
            "text-anchor=\"middle\" transform=\"rotate(-90 22 {middle:.1})\" fill=\"{AXIS_COLOR}\""
        ),
        &format!(
            "milliseconds, median of {} (log scale)",
            plural(rounds, "round")
        ),
    );

    let mut labels: BTreeMap<u64, Vec<(f64, &str, String)>> = BTreeMap::new();
    for line in series {
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .map(|&(nodes, ms)| (x.map(nodes as f64), y.map(ms)))
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|(px, py)| format!("{px:.1},{py:.1}"))
            .collect();
        svg.raw(&format!(
            "<polyline points=\"{}\" {}/>\n",
            path.join(" "),
            line.stroke()
        ));
        for (&(nodes, ms), &point) in line.points.iter().zip(&points) {
            line.marker.draw(&mut svg, point, &line.marker_style());
            labels
                .entry(nodes)
                .or_default()
                .push((point.1, line.color, sig3(ms)));
        }
    }
    for (nodes, column) in labels {
        let marker_ys: Vec<f64> = column.iter().map(|label| label.0).collect();
        let at = x.map(nodes as f64);
        for ((_, color, text), label_y) in column.iter().zip(place_labels(&marker_ys)) {
            svg.text(
                at,
                label_y,
                &format!("font-size=\"12\" text-anchor=\"middle\" fill=\"{color}\" {HALO}"),
                text,
            );
        }
    }
    let entries: Vec<_> = series
        .iter()
        .map(|line| (line.label, Swatch::Series(line)))
        .collect();
    legend(&mut svg, left, 72.0, &entries);
    svg.finish()
}

/// Where the value labels of one heap size go, given their markers' y (in any order):
/// centred above or below the marker, off the lines that leave it sideways, on the side of
/// the wider gap to the neighbouring markers (so a close pair's labels go apart); then
/// pushed down where they would still overlap. Returns the text baselines, in the order
/// given.
fn place_labels(marker_ys: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..marker_ys.len()).collect();
    order.sort_by(|&a, &b| marker_ys[a].total_cmp(&marker_ys[b]));
    let mut baselines = vec![0.0; marker_ys.len()];
    let mut previous = f64::NEG_INFINITY;
    for (rank, &index) in order.iter().enumerate() {
        let y = marker_ys[index];
        let gap_above = rank
            .checked_sub(1)
            .map_or(f64::INFINITY, |above| y - marker_ys[order[above]]);
        let gap_below = order
            .get(rank + 1)
            .map_or(f64::INFINITY, |&below| marker_ys[below] - y);
        let offset = if gap_above >= gap_below { -9.0 } else { 18.0 };
        let baseline = (y + offset).max(previous + 13.0);
        previous = baseline;
        baselines[index] = baseline;
    }
    baselines
}

/// The scaled op counts of the run, shared by the runs and the report.
struct Plan {
    workloads: Vec<(&'static Workload, u64)>,
    recovery: Vec<u64>,
    floor_ops: u64,
    run_floor: bool,
}

impl Plan {
    fn new(config: &Config, has_clwb: bool) -> Self {
        let recovery: BTreeSet<u64> = RECOVERY_NODES
            .iter()
            .map(|&nodes| config.scaled(nodes))
            .collect();
        Self {
            workloads: WORKLOADS
                .iter()
                .map(|workload| (workload, config.scaled(workload.ops)))
                .collect(),
            recovery: recovery.into_iter().collect(),
            floor_ops: config.scaled(WORKLOADS[0].ops),
            // limit.c executes CLWB unconditionally: it would die of SIGILL.
            run_floor: has_clwb,
        }
    }

    /// The runs of one round, in order: (program, workload, ops).
    fn round(&self, round: u32) -> Vec<(Program, &'static str, u64)> {
        let mut runs = Vec::new();
        let mut pmdk_done = BTreeSet::new();
        let pairs = self
            .workloads
            .iter()
            .map(|&(workload, ops)| (workload.pmem, workload.pmdk, ops))
            .chain(
                self.recovery
                    .iter()
                    .map(|&nodes| ("recovery", Some("recovery"), nodes)),
            );
        for (pmem, pmdk, ops) in pairs {
            let mut pair = vec![(Program::Pmem, pmem, ops)];
            // alloc_link_free reuses alloc_free's PMDK runs of the same round.
            if let Some(pmdk) = pmdk.filter(|&pmdk| pmdk_done.insert((pmdk, ops))) {
                pair.push((Program::Pmdk, pmdk, ops));
            }
            if round % 2 == 0 {
                pair.reverse();
            }
            runs.extend(pair);
        }
        runs
    }
}

fn range(summary: Option<Summary>, format: fn(f64) -> String) -> String {
    summary.map_or_else(
        || "—".to_owned(),
        |summary| format!("{}–{}", format(summary.min), format(summary.max)),
    )
}

fn cell(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or_else(|| "—".to_owned(), format)
}

fn ratio(numerator: Option<Summary>, denominator: Option<Summary>) -> Option<f64> {
    Some(numerator?.median / denominator?.median)
}

fn results_markdown(
    config: &Config,
    environment: &Environment,
    plan: &Plan,
    results: &Results,
) -> String {
    let mut md = String::new();
    let mut line = |text: &str| {
        md.push_str(text);
        md.push('\n');
    };
    line("<!-- Generated by bench/compare.sh (bench/src/bin/compare.rs); do not edit. -->");
    line("");
    line("### Machine and settings");
    line("");
    line("| | |");
    line("|---|---|");
    line(&format!("| date | {} |", environment.date));
    line(&format!(
        "| CPU | {} ({} logical CPUs) |",
        environment.cpu, environment.cpus
    ));
    line(&format!("| kernel | Linux {} |", environment.kernel));
    line(&format!("| rustc | {} |", environment.rustc));
    line(&format!(
        "| PMDK | libpmemobj {} |",
        environment.pmdk_version
    ));
    line(&format!(
        "| rounds | {} (medians; in each round pmem and PMDK run back to back, the order alternating between rounds) |",
        config.rounds
    ));
    line(&format!(
        "| op counts | {}× the defaults |",
        trim_zeros(&format!("{:.4}", config.ops_scale))
    ));
    let reported = if results.pmem_flush_reported.is_empty() {
        "not reported".to_owned()
    } else {
        results
            .pmem_flush_reported
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    line(&format!(
        "| flush mode | {}; pmem-bench reported `{reported}` |",
        environment.flush
    ));
    let is_pmem = results
        .pmdk_is_pmem
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    line(&format!(
        "| PMDK mode | `PMEM_IS_PMEM_FORCE=1` (cache-line flushes chosen by libpmem); harness reported `is_pmem={is_pmem}` |"
    ));
    line(&format!(
        "| pool directory | `{}` |",
        config.pool_dir.display()
    ));
    line(&format!("| load average at start | {} |", environment.load));
    line(&format!("| total time | {} |", duration(results.wall_secs)));
    line("");
    if !results.disturbed.is_empty() {
        line(&format!(
            "**Disturbed runs** (timed region had the CPU less than 90% of its wall time, so \
             another process took the core): {}.",
            results.disturbed.join("; ")
        ));
        line("");
    }

    let floor = results.throughput(&Key::new(Program::Limit, FLOOR_VARIANTS[0], plan.floor_ops));
    line("### Throughput");
    line("");
    line(
        "| workload | ops | pmem M ops/s | PMDK M ops/s | pmem / PMDK | pmem min–max | PMDK min–max | fences/op | flushes/op | logged bytes/op | pmem / floor |",
    );
    line("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for &(workload, ops) in &plan.workloads {
        let key = Key::new(Program::Pmem, workload.pmem, ops);
        let pmem = results.throughput(&key);
        let pmdk = workload
            .pmdk
            .and_then(|pmdk| results.throughput(&Key::new(Program::Pmdk, pmdk, ops)));
        let per_op = |pick: fn(&Sample) -> Option<f64>| median(&results.values(&key, pick));
        let name = match workload.pmdk {
            Some(pmdk) if pmdk != workload.pmem => {
                format!("{} (PMDK: {pmdk})", workload.pmem)
            }
            _ => workload.pmem.to_owned(),
        };
        let against_floor = match (workload.pmem, ratio(pmem, floor)) {
            ("sps", Some(ratio)) => format!(
                "{ratio:.2}× (floor {} M)",
                mops(floor.map_or(0.0, |floor| floor.median))
            ),
            _ => "—".to_owned(),
        };
        line(&format!(
            "| {name} | {ops} | {} | {} | {} | {} | {} | {} | {} | {} | {against_floor} |",
            cell(pmem.map(|s| s.median), mops),
            cell(pmdk.map(|s| s.median), mops),
            cell(ratio(pmem, pmdk), |r| format!("{r:.2}×")),
            range(pmem, mops),
            range(pmdk, mops),
            cell(per_op(|s| s.fences_per_op), |v| format!("{v:.2}")),
            cell(per_op(|s| s.flushes_per_op), |v| format!("{v:.2}")),
            cell(per_op(|s| s.log_bytes_per_op), |v| format!("{v:.1}")),
        ));
    }
    line("");
    line("One op is:");
    line("");
    for &(workload, ops) in &plan.workloads {
        let mut text = format!("- `{}`: {}", workload.pmem, workload.op);
        if workload.pmem == "gc" {
            let key = Key::new(Program::Pmem, "gc", ops);
            if let Some(rate) = median(&results.values(&key, |s| s.gib_per_sec)) {
                text.push_str(&format!(" (median {rate:.2} GiB/s of live data)"));
            }
        }
        line(&format!("{text}."));
    }
    line("");
    line("Counts per op are pmem's (from `pmem::Stats`); PMDK's harness does not count.");
    line("");

    line("### Hardware floor (limit.c, no library)");
    line("");
    if plan.run_floor {
        line("| variant | ops | M ops/s | min–max | pmem sps / variant |");
        line("|---|--:|--:|--:|--:|");
        let sps = results.throughput(&Key::new(Program::Pmem, "sps", plan.floor_ops));
        for variant in FLOOR_VARIANTS {
            let summary = results.throughput(&Key::new(Program::Limit, variant, plan.floor_ops));
            line(&format!(
                "| {variant} | {} | {} | {} | {} |",
                plan.floor_ops,
                cell(summary.map(|s| s.median), mops),
                range(summary, mops),
                cell(ratio(sps, summary), |r| format!("{r:.2}×")),
            ));
        }
        line("");
        line(
            "`undo_4_fences` is the bare instruction sequence of an undo-logged swap (the floor \
             for `sps`); `two_fences` that of a 2-fence protocol; `no_flush` the same stores \
             with no flush or fence.",
        );
    } else {
        line("Not measured: limit.c executes CLWB, which this CPU does not have.");
    }
    line("");

    line("### Recovery: reopening a pool against heap size");
    line("");
    line(
        "| heap (nodes) | pmem open, incl. recovery and full GC (ms) | pmem min–max | pmem open + first alloc (ms) | PMDK open (ms) | PMDK min–max | PMDK open + first alloc (ms) |",
    );
    line("|--:|--:|--:|--:|--:|--:|--:|");
    for &nodes in &plan.recovery {
        let pmem_key = Key::new(Program::Pmem, "recovery", nodes);
        let pmdk_key = Key::new(Program::Pmdk, "recovery", nodes);
        let open = |key: &Key| summarize(&results.values(key, |s| Some(s.secs)));
        let with_alloc =
            |key: &Key| median(&results.values(key, |s| Some(s.secs + s.first_alloc_secs?)));
        line(&format!(
            "| {nodes} | {} | {} | {} | {} | {} | {} |",
            cell(open(&pmem_key).map(|s| s.median), ms),
            range(open(&pmem_key), ms),
            cell(with_alloc(&pmem_key), ms),
            cell(open(&pmdk_key).map(|s| s.median), ms),
            range(open(&pmdk_key), ms),
            cell(with_alloc(&pmdk_key), ms),
        ));
    }
    line("");
    line(
        "pmem's `open` runs recovery and a full collection of the heap before it returns; \
         PMDK's `pmemobj_open` defers rebuilding its heap to the first allocation, hence the \
         open + first allocation column (medians of the per-run sums).",
    );
    md
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn run(config: &Config) -> Result<()> {
    fs::create_dir_all(&config.out)
        .map_err(|error| format!("cannot create {}: {error}", config.out.display()))?;
    let (environment, pmem_flush) = Environment::detect(config);
    let plan = Plan::new(config, environment.has_clwb);
    eprintln!("# {}", environment.flush);
    if !plan.run_floor {
        eprintln!("# the CPU has no CLWB: limit.c (the hardware floor) is not run");
    }
    let raw_path = config.out.join("raw.txt");
    let mut raw = BufWriter::new(
        File::create(&raw_path)
            .map_err(|error| format!("cannot create {}: {error}", raw_path.display()))?,
    );
    writeln!(
        raw,
        "# round<TAB>program<TAB>arguments<TAB>stream (meta|stdout|stderr)<TAB>line"
    )
    .map_err(|error| format!("cannot write {}: {error}", raw_path.display()))?;
    let runs_per_round: usize = plan.round(1).len() + usize::from(plan.run_floor);
    let mut runner = Runner {
        config,
        pmem_flush,
        raw,
        started: Instant::now(),
        done: 0,
        total: runs_per_round * config.rounds as usize,
    };
    let mut results = Results::default();
    for round in 1..=config.rounds {
        if plan.run_floor {
            runner.measure_floor(&mut results, round, plan.floor_ops)?;
        }
        for (program, workload, ops) in plan.round(round) {
            runner.measure(&mut results, round, program, workload, ops)?;
        }
    }
    results.wall_secs = runner.started.elapsed().as_secs_f64();

    let mut subtitle = format!(
        "{} · {} · PMDK: PMEM_IS_PMEM_FORCE=1 · pools in {}",
        environment.cpu,
        environment
            .flush
            .split(" (")
            .next()
            .unwrap_or_default()
            .replace('`', ""),
        config.pool_dir.display()
    );
    if config.ops_scale != 1.0 {
        subtitle.push_str(&format!(
            " · op counts ×{}",
            trim_zeros(&format!("{:.4}", config.ops_scale))
        ));
    }
    let floor = results.throughput(&Key::new(Program::Limit, FLOOR_VARIANTS[0], plan.floor_ops));
    let groups: Vec<BarGroup> = plan
        .workloads
        .iter()
        .filter_map(|&(workload, ops)| {
            let pmdk = workload.pmdk?;
            Some(BarGroup {
                label: workload.pmem.to_owned(),
                note: (pmdk != workload.pmem).then(|| format!("(PMDK: {pmdk})")),
                pmem: results.throughput(&Key::new(Program::Pmem, workload.pmem, ops))?,
                pmdk: results.throughput(&Key::new(Program::Pmdk, pmdk, ops))?,
                floor: floor
                    .filter(|_| workload.pmem == "sps")
                    .map(|floor| floor.median),
            })
        })
        .collect();
    let recovery_points = |program: Program, pick: fn(&Sample) -> Option<f64>| -> Vec<(u64, f64)> {
        plan.recovery
            .iter()
            .filter_map(|&nodes| {
                let values = results.values(&Key::new(program, "recovery", nodes), pick);
                Some((nodes, median(&values)? * 1e3))
            })
            .collect()
    };
    let series = [
        Series {
            label: "pmem open (recovery + full GC)",
            color: PMEM_COLOR,
            dashed: false,
            marker: Marker::Circle,
            points: recovery_points(Program::Pmem, |s| Some(s.secs)),
        },
        Series {
            label: "PMDK open",
            color: PMDK_COLOR,
            dashed: false,
            marker: Marker::Square,
            points: recovery_points(Program::Pmdk, |s| Some(s.secs)),
        },
        Series {
            label: "PMDK open + first allocation (heap rebuilt)",
            color: PMDK_COLOR,
            dashed: true,
            marker: Marker::Diamond,
            points: recovery_points(Program::Pmdk, |s| Some(s.secs + s.first_alloc_secs?)),
        },
    ];

    let outputs = [
        (
            "results.md",
            results_markdown(config, &environment, &plan, &results),
        ),
        (
            "throughput.svg",
            throughput_svg(&groups, &subtitle, config.rounds),
        ),
        (
            "recovery.svg",
            recovery_svg(&series, &subtitle, config.rounds),
        ),
    ];
    for (name, contents) in outputs {
        let path = config.out.join(name);
        write_file(&path, &contents)?;
        eprintln!("# wrote {}", path.display());
    }
    eprintln!("# wrote {}", raw_path.display());
    eprintln!("# total {}", duration(results.wall_secs));
    Ok(())
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let outcome = Config::parse(&arguments).and_then(|config| run(&config));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("compare: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts_and_of_nothing() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.5]), Some(7.5));
        assert_eq!(median(&[]), None);
        let summary = summarize(&[5.0, 1.0, 9.0, 2.0]).unwrap();
        assert_eq!(
            summary,
            Summary {
                median: 3.5,
                min: 1.0,
                max: 9.0
            }
        );
    }

    #[test]
    fn parses_a_pmem_bench_line_with_extra_fields() {
        let line = "workload=gc ops=1000 secs=0.002000 ops_per_sec=500000 fences_per_op=0.00 \
                    flushes_per_op=1.50 log_bytes_per_op=0.0 gib_per_sec=1.25 threads=1";
        let (name, ops, sample) = parse_result(Program::Pmem, line).unwrap();
        assert_eq!((name.as_str(), ops), ("gc", 1000));
        assert_eq!(sample.ops_per_sec, 500_000.0);
        assert_eq!(sample.secs, 0.002);
        assert_eq!(sample.flushes_per_op, Some(1.5));
        assert_eq!(sample.gib_per_sec, Some(1.25));
    }

    #[test]
    fn a_pmdk_line_needs_no_counts_but_a_pmem_line_does() {
        let line = "workload=sps ops=10 secs=0.000010 ops_per_sec=1000000.0";
        let (_, _, sample) = parse_result(Program::Pmdk, line).unwrap();
        assert_eq!(sample.fences_per_op, None);
        let error = parse_result(Program::Pmem, line).unwrap_err();
        assert!(error.contains("fences_per_op"), "{error}");
    }

    #[test]
    fn errors_name_the_program_and_the_line() {
        let stdout = "starting\nworkload=sps ops=10 secs=0.1\n";
        let error = parse_stdout(Program::Pmdk, "pmdk_bench sps 10", stdout).unwrap_err();
        assert!(
            error.starts_with("pmdk_bench sps 10: stdout line 2"),
            "{error}"
        );
        assert!(error.contains("missing field `ops_per_sec`"), "{error}");
        assert!(error.contains("`workload=sps ops=10 secs=0.1`"), "{error}");
    }

    #[test]
    fn rejects_malformed_tokens_and_numbers() {
        assert!(parse_fields("workload=sps garbage").is_err());
        assert!(parse_fields("=1").is_err());
        let nan = "variant=no_flush ops=5 secs=1 ops_per_sec=nan";
        assert!(parse_result(Program::Limit, nan).is_err());
        let negative = "variant=no_flush ops=5 secs=-1 ops_per_sec=5";
        assert!(parse_result(Program::Limit, negative).is_err());
        let fractional_ops = "variant=no_flush ops=5.5 secs=1 ops_per_sec=5";
        assert!(parse_result(Program::Limit, fractional_ops).is_err());
    }

    #[test]
    fn limit_prints_one_line_per_variant() {
        let stdout = "variant=undo_4_fences ops=100 secs=0.001 ops_per_sec=100000\n\
                      variant=no_flush ops=100 secs=0.0001 ops_per_sec=1000000\n";
        let lines = parse_stdout(Program::Limit, "limit 100", stdout).unwrap();
        let names: Vec<&str> = lines.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(names, ["undo_4_fences", "no_flush"]);
        assert_eq!(lines[1].2.ops_per_sec, 1e6);
    }

    #[test]
    fn reads_diagnostics_from_stderr() {
        let stderr = "# pool=/dev/shm/x size_mib=64 is_pmem=1\n\
                      first_alloc_tx_after_open_secs=9\n\
                      # first_alloc_tx_after_open_secs=0.004250\n";
        assert_eq!(diagnostic(stderr, "is_pmem"), Some("1"));
        // Only `# ` lines count, and a key must match whole.
        assert_eq!(
            diagnostic(stderr, "first_alloc_tx_after_open_secs"),
            Some("0.004250")
        );
        assert_eq!(diagnostic(stderr, "pmem"), None);
        let error = diagnostic_secs(
            "pmdk_bench recovery 10",
            "",
            "first_alloc_tx_after_open_secs",
        )
        .unwrap_err();
        assert!(error.starts_with("pmdk_bench recovery 10:"), "{error}");
    }

    #[test]
    fn cpu_flags_and_model() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Intel(R)  Xeon(R) Processor\n\
                       flags\t\t: fpu sse2 clflushopt clwb avx\n";
        assert!(cpu_has_flag(cpuinfo, "clwb"));
        assert!(!cpu_has_flag(cpuinfo, "clw"));
        assert!(!cpu_has_flag("flags : clflushopt clwbx", "clwb"));
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(format_utc(1_704_067_200 + 3_723), "2024-01-01 01:02 UTC");
    }

    #[test]
    fn number_formats() {
        assert_eq!(mops(1_534_000.0), "1.53");
        assert_eq!(mops(812_345_678.0), "812");
        assert_eq!(mops(420_000.0), "0.420");
        assert_eq!(ms(0.000_012_34), "0.0123");
        assert_eq!(sig3(12_345.0), "12345");
        assert_eq!(count_label(4_000_000), "4M");
        assert_eq!(count_label(40_000), "40k");
        assert_eq!(count_label(1_500_000), "1.5M");
        assert_eq!(count_label(100), "100");
        assert_eq!(plural(1, "round"), "1 round");
        assert_eq!(plural(5, "round"), "5 rounds");
        assert_eq!(duration(17.04), "17.0 s");
        assert_eq!(duration(330.0), "5.5 min");
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_maximum() {
        assert_eq!(nice_step(1.87, 5), 0.5);
        assert_eq!(nice_step(950.0, 5), 200.0);
        assert_eq!(linear_ticks(1.87, 5), [0.0, 0.5, 1.0, 1.5, 2.0]);
        // A maximum on a tick does not add a tick above it.
        assert_eq!(linear_ticks(2.0, 4), [0.0, 0.5, 1.0, 1.5, 2.0]);
        // Nothing to show still gives an axis, 0 to 1.
        let empty = linear_ticks(0.0, 5);
        assert_eq!(empty.len(), 6);
        assert!((empty[5] - 1.0).abs() < 1e-12);
        let labels: Vec<String> = [0.0, 0.5, 1.0, 1.5]
            .iter()
            .map(|&t| tick_label(t, 0.5))
            .collect();
        assert_eq!(labels, ["0", "0.5", "1", "1.5"]);
        assert_eq!(tick_label(200.0, 100.0), "200");
        assert_eq!(tick_label(0.01, 0.01), "0.01");
    }

    #[test]
    fn scales_map_domains_onto_ranges() {
        let y = Linear {
            domain: (0.0, 2.0),
            range: (400.0, 100.0),
        };
        assert_eq!(y.map(0.0), 400.0);
        assert_eq!(y.map(2.0), 100.0);
        assert_eq!(y.map(0.5), 325.0);
        let x = Log {
            exponents: (1.0, 4.0),
            range: (0.0, 300.0),
        };
        assert!((x.map(10.0) - 0.0).abs() < 1e-9);
        assert!((x.map(100.0) - 100.0).abs() < 1e-9);
        assert!((x.map(10_000.0) - 300.0).abs() < 1e-9);
        // Zero cannot be drawn on a log scale: it sits at the axis.
        assert_eq!(x.map(0.0), 0.0);
        assert_eq!(decades(&[0.35, 412.0, 0.0]), (-1, 3));
        assert_eq!(decades(&[5.0, 6.0]), (0, 1));
        assert_eq!(decades(&[]), (0, 1));
    }

    #[test]
    fn value_labels_keep_apart() {
        // Baselines 9 px above a marker or 18 px below it (text hangs above its baseline).
        assert_eq!(place_labels(&[50.0]), [41.0]);
        assert_eq!(place_labels(&[105.0, 100.0]), [123.0, 91.0]);
        // A close pair over a distant third: the pair's labels go apart, the third's away.
        assert_eq!(place_labels(&[300.0, 100.0, 110.0]), [318.0, 91.0, 128.0]);
        assert_eq!(place_labels(&[200.0, 100.0, 290.0]), [191.0, 91.0, 308.0]);
        // Markers on top of each other: every baseline at least 13 px below the last.
        assert_eq!(place_labels(&[100.0, 100.0, 100.0]), [91.0, 104.0, 118.0]);
    }

    #[test]
    fn only_long_regions_short_of_the_cpu_are_disturbed() {
        let region = |wall: &str, utilisation: &str| {
            format!(
                "# pool=x\n# timed_region wall={wall} cpu=0.1 cpu_util={utilisation} invol_ctxsw=9\n"
            )
        };
        assert_eq!(disturbed(&region("1.500", "0.700")), Some(0.7));
        assert_eq!(disturbed(&region("1.500", "0.990")), None);
        // Too short for the share to mean anything.
        assert_eq!(disturbed(&region("0.007", "0.000")), None);
        assert_eq!(disturbed("# verify ok\n"), None);
    }

    #[test]
    fn svg_text_is_escaped() {
        assert_eq!(xml_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
        let mut svg = Svg::new(10.0, 10.0, "t");
        svg.text(1.0, 2.0, "fill=\"red\"", "x < y");
        let document = svg.finish();
        assert!(document.contains(">x &lt; y</text>"), "{document}");
        assert!(document.ends_with("</svg>\n"));
    }

    #[test]
    fn rounds_alternate_the_order_and_share_pmdk_runs() {
        let config = Config::parse(&["--ops-scale".into(), "0.001".into()]).unwrap();
        let plan = Plan::new(&config, true);
        let first = plan.round(1);
        let second = plan.round(2);
        assert_eq!(first.len(), second.len());
        assert_eq!(first[0], (Program::Pmem, "sps", 2000));
        assert_eq!(first[1], (Program::Pmdk, "sps", 2000));
        assert_eq!(second[0], (Program::Pmdk, "sps", 2000));
        let pmdk_alloc_free = first
            .iter()
            .filter(|run| run.0 == Program::Pmdk && run.1 == "alloc_free")
            .count();
        assert_eq!(pmdk_alloc_free, 1);
        let recovery: Vec<u64> = first
            .iter()
            .filter(|run| run.0 == Program::Pmdk && run.1 == "recovery")
            .map(|run| run.2)
            .collect();
        assert_eq!(recovery, [10, 100, 1000, 4000]);
    }

    #[test]
    fn options() {
        let arguments: Vec<String> = ["--rounds=3", "--out", "/tmp/x", "--ops-scale", "0.5"]
            .iter()
            .map(|&a| a.to_owned())
            .collect();
        let config = Config::parse(&arguments).unwrap();
        assert_eq!(config.rounds, 3);
        assert_eq!(config.out, PathBuf::from("/tmp/x"));
        assert_eq!(config.scaled(3), 2);
        assert_eq!(config.scaled(1), 1);
        assert!(Config::parse(&["--rounds".into(), "0".into()]).is_err());
        assert!(Config::parse(&["--rounds".into()]).is_err());
        assert!(Config::parse(&["--bogus=1".into()]).is_err());
        let error = Config::parse(&["--bogus".into()]).err().unwrap();
        assert!(error.starts_with("unknown option \"--bogus\""), "{error}");
    }
}
