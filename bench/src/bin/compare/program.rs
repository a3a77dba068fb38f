//! The four measured programs and what they print: result lines of `key=value` fields on
//! stdout, and `# key=value` diagnostic lines on stderr.

use crate::Result;

/// One of the programs `compare` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Program {
    Pmem,
    Pmdk,
    /// The libpmemobj++ harness (`shared/baselines/pmdkxx/pmdkxx_bench.cpp`).
    Pmdkxx,
    Limit,
}

impl Program {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Pmem => "pmem-bench",
            Self::Pmdk => "pmdk_bench",
            Self::Pmdkxx => "pmdkxx_bench",
            Self::Limit => "limit",
        }
    }

    /// The field that starts a result line, naming what the line measured.
    fn line_key(self) -> &'static str {
        match self {
            Self::Pmem | Self::Pmdk | Self::Pmdkxx => "workload",
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
            Self::Pmdk | Self::Pmdkxx => &["workload", "ops", "secs", "ops_per_sec"],
            Self::Limit => &["variant", "ops", "secs", "ops_per_sec"],
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Sample {
    pub(crate) secs: f64,
    pub(crate) ops_per_sec: f64,
    pub(crate) fences_per_op: Option<f64>,
    pub(crate) flushes_per_op: Option<f64>,
    pub(crate) log_bytes_per_op: Option<f64>,
    pub(crate) gib_per_sec: Option<f64>,
    /// `kv_memory` only: the heap bytes of each 16-byte value and of the `PString` that
    /// reaches it (the memory goal's figure).
    pub(crate) value_bytes_per_value: Option<f64>,
    /// `kv_memory` only: every heap byte in use that the run added, per value.
    pub(crate) heap_bytes_per_value: Option<f64>,
    /// Recovery only: the first allocating transaction after `open`, from stderr.
    pub(crate) first_alloc_secs: Option<f64>,
    /// pmem's recovery only: the first collection after `open`, which `open` leaves for
    /// later, from stderr.
    pub(crate) first_collection_secs: Option<f64>,
    /// The `threads=` field: printed by both programs for runs on more than one thread.
    pub(crate) threads: Option<u64>,
    /// The CPU time of the timed region, over all its threads, from stderr (see
    /// [`region_cpu_secs`]).
    pub(crate) cpu_secs: Option<f64>,
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
        value_bytes_per_value: optional("value_bytes_per_value")?,
        heap_bytes_per_value: optional("heap_bytes_per_value")?,
        first_alloc_secs: None,
        first_collection_secs: None,
        threads: fields
            .iter()
            .find(|(name, _)| *name == "threads")
            .map(|&(_, text)| {
                text.parse()
                    .map_err(|_| format!("field `threads` is not an integer: {text:?}"))
            })
            .transpose()?,
        cpu_secs: None,
    };
    Ok((field(&fields, program.line_key())?.to_owned(), ops, sample))
}

/// The result lines of one run's stdout, parsed; errors name the program, its arguments and
/// the line. Other lines are left to `raw.txt`.
pub(crate) fn parse_stdout(
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
pub(crate) fn diagnostic<'a>(stderr: &'a str, key: &str) -> Option<&'a str> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .flat_map(str::split_whitespace)
        .find_map(|token| token.strip_prefix(key)?.strip_prefix('='))
}

pub(crate) fn diagnostic_secs(invocation: &str, stderr: &str, key: &str) -> Result<f64> {
    let text = diagnostic(stderr, key)
        .ok_or_else(|| format!("{invocation}: stderr has no `# {key}=` line"))?;
    text.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .ok_or_else(|| format!("{invocation}: stderr `{key}={text}` is not a duration"))
}

/// The fields of each `# timed_region` line of `stderr` that parses.
fn timed_regions(stderr: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("# timed_region "))
        .filter_map(|line| parse_fields(line).ok())
}

/// The CPU share of a timed region that another process visibly disturbed: under 90% of its
/// wall time, over a region long enough (0.1 s) for the share to mean something. pmem-bench
/// prints a line per thread, each thread's share (the lowest counts); the PMDK harness one
/// line for the process, its threads' CPU time over the wall time, so its share is divided
/// by `threads`. The libpmemobj++ harness prints none.
pub(crate) fn disturbed(program: Program, stderr: &str, threads: usize) -> Option<f64> {
    let per_line = match program {
        Program::Pmdk => threads as f64,
        Program::Pmem | Program::Pmdkxx | Program::Limit => 1.0,
    };
    timed_regions(stderr)
        .filter_map(|fields| {
            let wall = number(&fields, "wall").ok()?;
            let utilisation = number(&fields, "cpu_util").ok()? / per_line;
            (wall >= 0.1 && utilisation < 0.9).then_some(utilisation)
        })
        .reduce(f64::min)
}

/// The CPU time of a run's timed region, summed over its threads: pmem-bench prints each
/// thread's `cpu=`, the PMDK harness the process's `user=` and `sys=`.
pub(crate) fn region_cpu_secs(program: Program, stderr: &str) -> Option<f64> {
    let threads: Option<Vec<f64>> = timed_regions(stderr)
        .map(|fields| match program {
            Program::Pmem => number(&fields, "cpu").ok(),
            Program::Pmdk => Some(number(&fields, "user").ok()? + number(&fields, "sys").ok()?),
            Program::Pmdkxx | Program::Limit => None,
        })
        .collect();
    threads
        .filter(|threads| !threads.is_empty())
        .map(|threads| threads.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn reads_the_memory_fields_of_kv_memory() {
        let line = "workload=kv_memory ops=100 secs=0.001 ops_per_sec=100000 fences_per_op=4.00 \
                    flushes_per_op=9.00 log_bytes_per_op=144.0 value_bytes_per_value=48.0 \
                    heap_bytes_per_value=58.6 payload_plus_pointer=24";
        let (_, _, sample) = parse_result(Program::Pmem, line).unwrap();
        assert_eq!(sample.value_bytes_per_value, Some(48.0));
        assert_eq!(sample.heap_bytes_per_value, Some(58.6));
        let line = "workload=vec_push ops=10 secs=0.000010 ops_per_sec=1000000.0";
        let (name, _, sample) = parse_result(Program::Pmdkxx, line).unwrap();
        assert_eq!(
            (name.as_str(), sample.value_bytes_per_value),
            ("vec_push", None)
        );
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
    fn only_long_regions_short_of_the_cpu_are_disturbed() {
        let region = |wall: &str, utilisation: &str| {
            format!(
                "# pool=x\n# timed_region wall={wall} cpu=0.1 cpu_util={utilisation} invol_ctxsw=9\n"
            )
        };
        let pmem = |stderr: &str| disturbed(Program::Pmem, stderr, 1);
        assert_eq!(pmem(&region("1.500", "0.700")), Some(0.7));
        assert_eq!(pmem(&region("1.500", "0.990")), None);
        // Too short for the share to mean anything.
        assert_eq!(pmem(&region("0.007", "0.000")), None);
        assert_eq!(pmem("# verify ok\n"), None);
        // A line per thread: the lowest share counts.
        let two = format!("{}{}", region("1.500", "0.990"), region("1.500", "0.600"));
        assert_eq!(disturbed(Program::Pmem, &two, 2), Some(0.6));
        // PMDK's line is the process's: two threads have 2.0 to share.
        assert_eq!(disturbed(Program::Pmdk, &region("1.500", "1.900"), 2), None);
        assert_eq!(
            disturbed(Program::Pmdk, &region("1.500", "1.200"), 2),
            Some(0.6)
        );
    }

    #[test]
    fn sums_the_cpu_time_of_the_regions_threads() {
        let pmem = "# timed_region wall=1.0 cpu=0.9 cpu_util=0.9 invol_ctxsw=1\n\
                    # timed_region wall=1.0 cpu=0.8 cpu_util=0.8 invol_ctxsw=1\n";
        let total = region_cpu_secs(Program::Pmem, pmem).unwrap();
        assert!((total - 1.7).abs() < 1e-9, "{total}");
        let pmdk = "# timed_region wall=1.0 user=1.5 sys=0.25 cpu_util=1.75 invol_ctxsw=3\n";
        assert_eq!(region_cpu_secs(Program::Pmdk, pmdk), Some(1.75));
        assert_eq!(region_cpu_secs(Program::Pmem, "# verify ok\n"), None);
    }

    #[test]
    fn reads_the_threads_field() {
        let line = "workload=sps threads=2 ops=10 secs=0.000010 ops_per_sec=1000000.0";
        let (_, _, sample) = parse_result(Program::Pmdk, line).unwrap();
        assert_eq!(sample.threads, Some(2));
        let line = "workload=sps ops=10 secs=0.000010 ops_per_sec=1000000.0 threads=x";
        assert!(parse_result(Program::Pmdk, line).is_err());
    }
}
