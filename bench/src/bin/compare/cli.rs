//! The command line: `compare`'s options and their defaults, parsed by clap's derive, so
//! that `--help` is written from the same definitions as the parser (`--name value` and
//! `--name=value` both work).

use std::path::PathBuf;

use clap::Parser;

/// pmem side by side with PMDK's libpmemobj (and libpmemobj++'s containers) and with the
/// hardware floor.
///
/// Normally started by `bench/compare.sh`, which builds the four programs and passes its
/// own arguments on.
#[derive(Debug, Parser)]
#[command(name = "compare")]
pub(crate) struct Config {
    /// Rounds; every table shows medians over them.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) rounds: u32,

    /// Multiplies every op count and heap size (0.01 for a smoke run).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = positive_number)]
    pub(crate) ops_scale: f64,

    /// Where `results.md`, `raw.txt` and the plots are written.
    #[arg(long, value_name = "DIR", default_value = "docs/benchmarks")]
    pub(crate) out: PathBuf,

    /// pmem's benchmark program.
    #[arg(long, value_name = "BIN", default_value = "target/release/pmem-bench")]
    pub(crate) pmem: PathBuf,

    /// PMDK's harness (shared/baselines/pmdk/pmdk_bench.c).
    #[arg(
        long,
        value_name = "BIN",
        default_value = "target/baselines/pmdk_bench"
    )]
    pub(crate) pmdk: PathBuf,

    /// The libpmemobj++ harness (shared/baselines/pmdkxx/pmdkxx_bench.cpp); if it is not
    /// there, the collections table has pmem's figures alone.
    #[arg(
        long,
        value_name = "BIN",
        default_value = "target/baselines/pmdkxx_bench"
    )]
    pub(crate) pmdkxx: PathBuf,

    /// The hardware floor (shared/baselines/limit/limit.c).
    #[arg(long, value_name = "BIN", default_value = "target/baselines/limit")]
    pub(crate) limit: PathBuf,

    /// Where both libraries put their pool files.
    #[arg(long, value_name = "DIR", default_value = "/dev/shm")]
    pub(crate) pool_dir: PathBuf,

    /// `PMEM_FLUSH` for pmem-bench; by default `clwb` when the CPU has CLWB (as PMDK with
    /// `PMEM_IS_PMEM_FORCE=1` uses it), else unset.
    #[arg(long, value_name = "MODE")]
    pub(crate) pmem_flush: Option<String>,
}

impl Config {
    /// `ops` scaled by `--ops-scale`, at least 1.
    pub(crate) fn scaled(&self, ops: u64) -> u64 {
        ((ops as f64 * self.ops_scale).round() as u64).max(1)
    }
}

fn positive_number(text: &str) -> Result<f64, String> {
    text.parse()
        .ok()
        .filter(|scale: &f64| scale.is_finite() && *scale > 0.0)
        .ok_or_else(|| format!("not a positive number: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;
    use clap::error::ErrorKind;

    fn parse(arguments: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("compare").chain(arguments.iter().copied()))
    }

    #[test]
    fn options() {
        let config = parse(&["--rounds=3", "--out", "/tmp/x", "--ops-scale", "0.5"]).unwrap();
        assert_eq!(config.rounds, 3);
        assert_eq!(config.out, PathBuf::from("/tmp/x"));
        assert_eq!(config.scaled(3), 2);
        assert_eq!(config.scaled(1), 1);
        assert!(parse(&["--rounds", "0"]).is_err());
        assert!(parse(&["--ops-scale", "0"]).is_err());
        assert!(parse(&["--ops-scale=inf"]).is_err());
        let error = parse(&["--rounds"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidValue);
        assert!(parse(&["--bogus=1"]).is_err());
        let error = parse(&["--bogus"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn defaults() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.rounds, 5);
        assert_eq!(config.ops_scale, 1.0);
        assert_eq!(config.out, PathBuf::from("docs/benchmarks"));
        assert_eq!(config.pmem, PathBuf::from("target/release/pmem-bench"));
        assert_eq!(config.pmdk, PathBuf::from("target/baselines/pmdk_bench"));
        assert_eq!(
            config.pmdkxx,
            PathBuf::from("target/baselines/pmdkxx_bench")
        );
        assert_eq!(config.limit, PathBuf::from("target/baselines/limit"));
        assert_eq!(config.pool_dir, PathBuf::from("/dev/shm"));
        assert_eq!(config.pmem_flush, None);
    }

    #[test]
    fn help_lists_every_option_with_its_default() {
        Config::command().debug_assert();
        let help = Config::command().render_long_help().to_string();
        for option in [
            "--rounds <N>",
            "[default: 5]",
            "--ops-scale <F>",
            "[default: 1]",
            "--out <DIR>",
            "[default: docs/benchmarks]",
            "--pmem <BIN>",
            "[default: target/release/pmem-bench]",
            "--pmdk <BIN>",
            "[default: target/baselines/pmdk_bench]",
            "--pmdkxx <BIN>",
            "[default: target/baselines/pmdkxx_bench]",
            "--limit <BIN>",
            "[default: target/baselines/limit]",
            "--pool-dir <DIR>",
            "[default: /dev/shm]",
            "--pmem-flush <MODE>",
        ] {
            assert!(help.contains(option), "{option} missing from:\n{help}");
        }
    }
}
