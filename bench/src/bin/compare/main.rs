//! `compare`: pmem side by side with PMDK's libpmemobj and with the hardware floor.
//!
//! It runs `pmem-bench`, the PMDK harness (`shared/baselines/pmdk/pmdk_bench.c`), the
//! libpmemobj++ harness (`shared/baselines/pmdkxx/pmdkxx_bench.cpp`) and the floor
//! (`shared/baselines/limit/limit.c`) as child processes, several rounds interleaved, and
//! writes into the output directory:
//!
//! - `results.md`: the machine, the settings, and tables of medians, ratios and min–max
//!   (quoted by the hand-written `docs/benchmarks.md`), the threads table included: `sps`
//!   and `hashmap_insert` with `--threads 1` and `--threads 2` in both programs, one pool
//!   shared by the threads, with the scaling goals and whether they were met, the msync
//!   table (`sps` and `list_push` with pmem's `PMEM_FLUSH=msync` against PMDK without
//!   `PMEM_IS_PMEM_FORCE`, as on a file system without DAX), and the
//!   collections table: `pmem::collections` against libpmemobj++'s containers, with their
//!   throughput and memory goals (without the libpmemobj++ harness, pmem's figures alone);
//! - `raw.txt`: every line every run printed, tab-separated after its round number;
//! - `throughput.svg` and `recovery.svg`: the plots.
//!
//! Normally started by `bench/compare.sh`, which installs gcc, g++ and PMDK where missing, builds
//! everything and passes its own arguments on, from the workspace root:
//!
//! ```text
//! bash bench/compare.sh                                              # full run
//! bash bench/compare.sh --rounds 1 --ops-scale 0.01 --out /tmp/smoke  # smoke run
//! ```
//!
//! Its options and their defaults: `compare --help` (see [`cli`]).
//!
//! In each round, limit runs once, then every workload runs once in pmem and once in PMDK,
//! pmem first in odd rounds and PMDK first in even ones, so that a slow drift of the machine
//! (thermal, other load) does not favour one side; then the msync rows and each collection
//! workload in pmem
//! and libpmemobj++ the same way; then the threads table's runs, each
//! thread count in both programs, the whole sequence reversed in even rounds. A failing run
//! stops everything and shows the run's stderr.
//!
//! The modules, by job: [`cli`] (options), [`plan`] (what runs, in which order), [`runner`]
//! (the child processes and `raw.txt`), [`program`] (what the programs print), [`stats`]
//! (samples, medians), [`machine`] (the report's machine and settings), [`report`]
//! (`results.md`), [`plot`] (the SVG plots) and [`numbers`] (how numbers read).

mod cli;
mod machine;
mod numbers;
mod plan;
mod plot;
mod program;
mod report;
mod runner;
mod stats;

use std::fs;
use std::process::ExitCode;

use clap::Parser as _;

use cli::Config;
use machine::Environment;
use numbers::duration;
use plan::Plan;
use runner::Runner;
use stats::Results;

type Result<T> = std::result::Result<T, String>;

fn run(config: &Config) -> Result<()> {
    fs::create_dir_all(&config.out)
        .map_err(|error| format!("cannot create {}: {error}", config.out.display()))?;
    let (environment, pmem_flush) = Environment::detect(config);
    let plan = Plan::new(config, environment.has_clwb, config.pmdkxx.is_file());
    eprintln!("# {}", environment.flush);
    if !plan.run_floor {
        eprintln!("# the CPU has no CLWB: limit.c (the hardware floor) is not run");
    }
    if !plan.run_pmdkxx {
        eprintln!(
            "# no libpmemobj++ harness at {} (bench/compare.sh builds it): the collections \
             table has pmem's figures alone",
            config.pmdkxx.display()
        );
    }
    let raw_path = config.out.join("raw.txt");
    let runs_per_round: usize = plan.round(1).len() + usize::from(plan.run_floor);
    let mut runner = Runner::new(
        config,
        pmem_flush,
        &raw_path,
        runs_per_round * config.rounds as usize,
    )?;
    let mut results = Results::default();
    for round in 1..=config.rounds {
        if plan.run_floor {
            runner.measure_floor(&mut results, round, plan.floor_ops)?;
        }
        for run in plan.round(round) {
            runner.measure(&mut results, round, &run)?;
        }
    }
    results.wall_secs = runner.started.elapsed().as_secs_f64();

    let markdown = report::results_markdown(config, &environment, &plan, &results);
    let [throughput, recovery] = plot::plots(config, &environment, &plan, &results);
    for (name, contents) in [("results.md", markdown), throughput, recovery] {
        let path = config.out.join(name);
        fs::write(&path, contents)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        eprintln!("# wrote {}", path.display());
    }
    eprintln!("# wrote {}", raw_path.display());
    eprintln!("# total {}", duration(results.wall_secs));
    Ok(())
}

fn main() -> ExitCode {
    // clap prints its own errors and `--help`, and exits.
    let config = Config::parse();
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("compare: {error}");
            ExitCode::FAILURE
        }
    }
}
