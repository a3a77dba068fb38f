//! The machine and the settings the report's header names: date, CPU model, kernel, rustc,
//! PMDK's version, load, and the flush mode pmem-bench gets.
//!
//! Whether the CPU has CLWB is the runtime's answer ([`FlushMode::is_supported`]), the one
//! pmem-bench acts on; `/proc/cpuinfo` is read only for the model name the report prints.

use std::fs;
use std::process::Command;

use pmem::FlushMode;
use time::{OffsetDateTime, UtcOffset};

use crate::cli::Config;

/// The machine and settings, for the header of `results.md` and the plots' subtitles.
pub(crate) struct Environment {
    pub(crate) date: String,
    pub(crate) cpu: String,
    pub(crate) cpus: usize,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    pub(crate) pmdk_version: String,
    pub(crate) load: String,
    pub(crate) has_clwb: bool,
    pub(crate) flush: String,
}

impl Environment {
    /// The environment, and the `PMEM_FLUSH` the pmem-bench runs get (none: their default).
    pub(crate) fn detect(config: &Config) -> (Self, Option<String>) {
        let has_clwb = FlushMode::Clwb.is_supported();
        let pmem_flush = config
            .pmem_flush
            .clone()
            .or_else(|| has_clwb.then(|| FlushMode::Clwb.name().to_owned()));
        let flush = match (&config.pmem_flush, has_clwb) {
            (Some(mode), _) => format!("pmem: `PMEM_FLUSH={mode}` (forced by --pmem-flush)"),
            (None, true) => "pmem: `PMEM_FLUSH=clwb` (the CPU has CLWB)".to_owned(),
            (None, false) => "pmem: default mode (the CPU has no CLWB, so `PMEM_FLUSH=clwb` \
                              is impossible; on /dev/shm the default is msync, far slower \
                              than PMDK's forced cache-line flushes: ratios are not \
                              comparable)"
                .to_owned(),
        };
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let environment = Self {
            date: format_utc(OffsetDateTime::now_utc()),
            cpu: cpu_model_name(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
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

/// The CPU's model name in `/proc/cpuinfo`, its runs of spaces collapsed, for the report.
fn cpu_model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("model name"))
        .find_map(|line| line.split_once(':'))
        .map(|(_, model)| model.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `2024-01-01 01:02 UTC`: minutes are enough to tell runs apart.
fn format_utc(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_name_is_the_first_and_collapses_spaces() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Intel(R)  Xeon(R) Processor\n\
                       flags\t\t: fpu sse2 clflushopt clwb avx\n\
                       processor\t: 1\nmodel name\t: Other\n";
        assert_eq!(
            cpu_model_name(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(cpu_model_name("processor\t: 0\n"), None);
    }

    #[test]
    fn dates() {
        let at = |seconds| OffsetDateTime::from_unix_timestamp(seconds).unwrap();
        assert_eq!(format_utc(at(0)), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(at(11_016 * 86_400)), "2000-02-29 00:00 UTC");
        assert_eq!(
            format_utc(at(1_704_067_200 + 3_723)),
            "2024-01-01 01:02 UTC"
        );
        let east = at(1_704_067_200).to_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(format_utc(east), "2024-01-01 00:00 UTC");
    }
}
