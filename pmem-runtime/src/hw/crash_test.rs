//! Crash tests at every fence, on the simulated persistence domain.
//!
//! [`check_every_fence`] runs a workload of transactions on a pool attached to a
//! [`Simulation`], recording a crash point at every fence and the root after every step.
//! Then it opens crash images of every crash point with the real `open` (and so the real
//! recovery), and checks the oracles:
//!
//! - the image opens: the header and the log are sound;
//! - the root equals the state before or after the step that was running at the crash:
//!   the interrupted transaction is all-or-nothing, and every earlier one is durable.
//!
//! Failures name the seed, the fence and the evicted words; `PMEM_CRASH_SEED` replays a
//! seed.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use pmem_alloc::Persistent;

use crate::hw::flush::FlushMode;
use crate::hw::sim::{CrashImage, Simulation};
use crate::pool::{Pool, PoolOptions};

/// What a crash test checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Fences crashed at.
    pub crash_points: usize,
    /// Crash images opened and checked.
    pub images: usize,
}

/// The seed for choosing eviction subsets: `PMEM_CRASH_SEED`, or a fixed default.
#[must_use]
pub fn seed() -> u64 {
    std::env::var("PMEM_CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0x5eed_c0ff_ee15_600d)
}

/// Options for pools under crash test: small, so that images are cheap.
#[must_use]
pub fn small_pool() -> PoolOptions {
    PoolOptions::new().size(1 << 16).log_size(1 << 13)
}

/// A scratch file for pools under test, removed when dropped: in `/dev/shm` where it
/// exists (DRAM-backed), else in the temporary directory.
#[derive(Debug)]
pub struct ScratchFile(PathBuf);

impl ScratchFile {
    /// A path no other scratch file of this process uses; `label` starts its name.
    #[must_use]
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let directory = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("pmem-crash-{label}-{}-{unique}.pool", std::process::id());
        let path = directory.join(name);
        let _ = std::fs::remove_file(&path);
        Self(path)
    }

    /// The path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `image` to `file`, opens it as a pool (running recovery), and returns its root,
/// or why it would not open.
///
/// # Panics
///
/// If the image cannot be written.
pub fn recover<R: Persistent + Copy + Sync>(
    file: &ScratchFile,
    image: &CrashImage,
) -> Result<R, crate::Error> {
    std::fs::write(file.path(), &image.bytes).expect("write crash image");
    let pool = PoolOptions::new()
        .flush_mode(FlushMode::None)
        .open::<R>(file.path())?;
    Ok(*pool.root())
}

/// Runs `steps` steps of `step` (each normally one transaction; a panic is caught) on a
/// pool created with `init`, then checks every crash image of every fence; see the module
/// documentation. `budget` bounds the images per fence.
///
/// # Panics
///
/// When an oracle fails, with what reproduces it.
pub fn check_every_fence<R>(
    label: &str,
    init: R,
    steps: usize,
    step: impl FnMut(&mut Pool<R>, usize),
    budget: usize,
) -> CrashReport
where
    R: Persistent + Copy + PartialEq + Debug + Sync,
{
    check_every_fence_observing(label, init, steps, step, |pool| *pool.root(), budget)
}

/// [`check_every_fence`] for state beyond the root: `observe` reads what the workload
/// promises (the values of a list, the contents of a map) from an open pool, and each
/// recovered image must show the observation before or after the interrupted step. Every
/// image is opened with the real `open`, whose collection traces and checks every pointer
/// in the heap, so an image with a dangling or mistyped pointer fails to open.
///
/// # Panics
///
/// When an oracle fails, with what reproduces it.
pub fn check_every_fence_observing<R, S>(
    label: &str,
    init: R,
    steps: usize,
    mut step: impl FnMut(&mut Pool<R>, usize),
    observe: impl Fn(&Pool<R>) -> S,
    budget: usize,
) -> CrashReport
where
    R: Persistent,
    S: PartialEq + Debug,
{
    let simulation = Simulation::new();
    let path = ScratchFile::new(label);
    let mut pool = small_pool()
        .simulation(&simulation)
        .create(path.path(), init)
        .expect("create");
    let mut states = vec![observe(&pool)];
    let mut boundaries = vec![simulation.fences()];
    simulation.capture(true);
    for index in 0..steps {
        let _ = catch_unwind(AssertUnwindSafe(|| step(&mut pool, index)));
        states.push(observe(&pool));
        boundaries.push(simulation.fences());
    }
    simulation.capture(false);
    drop(pool);
    let lints = simulation.lints();
    assert!(
        lints.is_empty(),
        "{label}: the domain found {} faults:\n{}",
        lints.len(),
        summarize(&lints)
    );

    let seed = seed();
    let scratch = ScratchFile::new(&format!("{label}-image"));
    let mut report = CrashReport::default();
    for point in simulation.take_crash_points() {
        let step = boundaries.partition_point(|&fences| fences < point.fence) - 1;
        let (before, after) = (&states[step], &states[step + 1]);
        for image in point.images(budget, seed) {
            std::fs::write(scratch.path(), &image.bytes).expect("write crash image");
            let opened = PoolOptions::new()
                .flush_mode(FlushMode::None)
                .open::<R>(scratch.path());
            let pool = opened.unwrap_or_else(|error| {
                panic!(
                    "{label}: step {step}, {}, seed {seed}: open failed: {error}",
                    image.description
                )
            });
            let found = observe(&pool);
            assert!(
                found == *before || found == *after,
                "{label}: step {step}, {}, seed {seed}: recovered {found:?}, expected {before:?} or {after:?}",
                image.description
            );
            report.images += 1;
        }
        report.crash_points += 1;
    }
    report
}

/// The first few lints, one per line, and how many more there are.
fn summarize(lints: &[crate::hw::sim::Lint]) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = lints.iter().take(SHOWN).map(ToString::to_string).collect();
    if lints.len() > SHOWN {
        text.push(format!("... and {} more", lints.len() - SHOWN));
    }
    text.join("\n")
}
