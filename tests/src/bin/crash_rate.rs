//! How many crash states the crash tests check per second, on a 1 MiB pool:
//! `crash_rate [steps] [--at-stores] [--images N]`.
//!
//! Runs the hash-map workload of `tests/tests/crash.rs` (inserts that allocate, updates,
//! removes, a collection every sixth step) for `steps` steps (default 300) on a 1 MiB pool,
//! crashed at every fence (and before every instrumented store with `--at-stores`), and
//! checks up to 64 images per crash point (`--images`), each opened with the real recovery
//! and collection. Prints one line:
//!
//! ```text
//! workload=crash_states pool_kib=1024 steps=300 at_stores=false crash_points=.. images=.. secs=.. states_per_sec=..
//! ```
//!
//! `secs` is the whole test: running the workload on the simulated domain, building the
//! images, opening and checking them. Build with `--release`.

use std::process::ExitCode;
use std::time::Instant;

use pmem::PoolOptions;
use pmem::simulation::CrashTest;
use pmem_tests::workloads::{IMAGES_PER_FENCE, Map, hash_map_step, map_contents};
use pmem_tests::xorshift;

const USAGE: &str = "usage: crash_rate [steps] [--at-stores] [--images N]";

fn main() -> ExitCode {
    let mut steps = 300;
    let mut at_stores = false;
    let mut images = IMAGES_PER_FENCE;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        let parsed = match argument.as_str() {
            "--at-stores" => {
                at_stores = true;
                Some(())
            }
            "--images" => arguments
                .next()
                .and_then(|text| text.parse().ok())
                .map(|count| images = count),
            text => text.parse().ok().map(|count| steps = count),
        };
        if parsed.is_none() {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }

    let pool = PoolOptions::new().size(1 << 20).log_size(1 << 14);
    let test = CrashTest::new("crash-rate")
        .pool(pool)
        .images_per_point(images)
        .at_stores(at_stores);
    let mut random = 0x0123_4567_89ab_cdef;
    let start = Instant::now();
    let report = test.run(
        Map::default(),
        steps,
        |pool, step| hash_map_step(pool, step, xorshift(&mut random) % 64),
        map_contents,
    );
    let secs = start.elapsed().as_secs_f64();
    println!(
        "workload=crash_states pool_kib=1024 steps={steps} at_stores={at_stores} crash_points={} images={} secs={secs:.3} states_per_sec={:.0}",
        report.crash_points,
        report.images,
        report.images as f64 / secs
    );
    ExitCode::SUCCESS
}
