//! Starting the runs: each program as a child process with only the environment the
//! comparison sets, its output recorded line by line in `raw.txt`, its result lines parsed
//! into [`Results`], and a progress line per run on stderr.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::Result;
use crate::cli::Config;
use crate::plan::{FLOOR_VARIANTS, Run};
use crate::program::{
    Program, diagnostic, diagnostic_secs, disturbed, parse_stdout, region_cpu_secs,
};
use crate::stats::{Key, Results};

/// Starts the runs and records everything they print in `raw.txt`.
pub(crate) struct Runner<'a> {
    config: &'a Config,
    pmem_flush: Option<String>,
    raw: BufWriter<File>,
    pub(crate) started: Instant,
    done: usize,
    total: usize,
}

impl<'a> Runner<'a> {
    /// A runner of `total` runs that writes `raw_path`, its header line first.
    pub(crate) fn new(
        config: &'a Config,
        pmem_flush: Option<String>,
        raw_path: &Path,
        total: usize,
    ) -> Result<Self> {
        let mut raw = BufWriter::new(
            File::create(raw_path)
                .map_err(|error| format!("cannot create {}: {error}", raw_path.display()))?,
        );
        writeln!(
            raw,
            "# round<TAB>program<TAB>arguments<TAB>stream (meta|stdout|stderr)<TAB>line"
        )
        .map_err(|error| format!("cannot write {}: {error}", raw_path.display()))?;
        Ok(Self {
            config,
            pmem_flush,
            raw,
            started: Instant::now(),
            done: 0,
            total,
        })
    }

    fn run(
        &mut self,
        round: u32,
        program: Program,
        args: &[String],
        msync: bool,
    ) -> Result<(String, String)> {
        let path = match program {
            Program::Pmem => &self.config.pmem,
            Program::Pmdk => &self.config.pmdk,
            Program::Pmdkxx => &self.config.pmdkxx,
            Program::Limit => &self.config.limit,
        };
        let invocation = invocation(program, args, msync);
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
                if msync {
                    command.env("PMEM_FLUSH", "msync");
                } else if let Some(mode) = &self.pmem_flush {
                    command.env("PMEM_FLUSH", mode);
                }
            }
            Program::Pmdk | Program::Pmdkxx => {
                command.env("PMDK_BENCH_DIR", &self.config.pool_dir);
                if !msync {
                    command.env("PMEM_IS_PMEM_FORCE", "1");
                }
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
        let mode = if msync { " msync_mode=1" } else { "" };
        raw.push_str(&format!(
            "{round}\t{}\t{}\tmeta\twall_secs={secs:.3} status={}{mode}\n",
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

    /// Runs `run` (pmem-bench, the PMDK harness or the libpmemobj++ one) and records the
    /// sample.
    pub(crate) fn measure(&mut self, results: &mut Results, round: u32, run: &Run) -> Result<()> {
        let Run {
            program,
            workload,
            ops,
            threads,
            msync,
        } = *run;
        let mut args = vec![workload.to_owned(), ops.to_string()];
        if let Some(threads) = threads {
            args.extend(["--threads".to_owned(), threads.to_string()]);
        }
        let invocation = invocation(program, &args, msync);
        let (stdout, stderr) = self.run(round, program, &args, msync)?;
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
        // Both programs print `threads=N` for N > 1 only.
        let expected_threads = threads.filter(|&threads| threads > 1).map(|n| n as u64);
        if sample.threads != expected_threads {
            return Err(format!(
                "{invocation}: printed threads={:?}, expected {expected_threads:?}",
                sample.threads
            ));
        }
        sample.cpu_secs = region_cpu_secs(program, &stderr);
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
            if program == Program::Pmem {
                let key = "first_collection_secs";
                sample.first_collection_secs = Some(diagnostic_secs(&invocation, &stderr, key)?);
            }
        }
        // The msync table says its own modes.
        if let Some(mode) =
            diagnostic(&stderr, "flush_mode").filter(|_| program == Program::Pmem && !msync)
        {
            results.pmem_flush_reported.insert(mode.to_owned());
        }
        if let Some(is_pmem) =
            diagnostic(&stderr, "is_pmem").filter(|_| program == Program::Pmdk && !msync)
        {
            results.pmdk_is_pmem.insert(is_pmem.to_owned());
        }
        if let Some(utilisation) = disturbed(program, &stderr, threads.unwrap_or(1)) {
            results.disturbed.push(format!(
                "`{invocation}` (round {round}): cpu_util={utilisation:.2}"
            ));
        }
        let key = if msync {
            Key::msync(program, workload, ops)
        } else {
            Key::threaded(program, workload, ops, threads)
        };
        results.samples.entry(key).or_default().push(sample);
        Ok(())
    }

    /// Runs limit.c with `ops` and records a sample of each of its variants.
    pub(crate) fn measure_floor(
        &mut self,
        results: &mut Results,
        round: u32,
        ops: u64,
    ) -> Result<()> {
        let invocation = format!("limit {ops}");
        let (stdout, _) = self.run(round, Program::Limit, &[ops.to_string()], false)?;
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

/// How a run is named in the progress lines and errors: the program and its arguments, and
/// the mode if it runs in msync mode.
fn invocation(program: Program, args: &[String], msync: bool) -> String {
    let mode = if msync { " (msync mode)" } else { "" };
    format!("{} {}{mode}", program.name(), args.join(" "))
}
