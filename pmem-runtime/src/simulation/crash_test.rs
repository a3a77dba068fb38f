//! Crash tests at every fence (and optionally every store), on the simulated persistence
//! domain.
//!
//! [`CrashTest::run`] runs a workload of transactions on a pool attached to a
//! [`Simulation`], recording a crash point at every fence (and, with
//! [`CrashTest::at_stores`], before every instrumented store) and what the workload
//! promises after every step. Then it opens crash images of every crash point with the
//! real `open` (and so the real recovery and collection), and checks the oracles:
//!
//! - the image opens: the header and the log are sound, and every pointer in the heap is
//!   null or valid (the first collection, at open for every other image and right after
//!   it for the rest, found no dangling pointer), and that collection changes nothing
//!   the workload observes;
//! - the observed state equals the state before or after the step that was running at the
//!   crash: the interrupted transaction is all-or-nothing, and every earlier one is durable;
//! - the domain reported no [`Lint`](crate::hw::sim::Lint) while the workload ran.
//!
//! The checker keeps one scratch file mapped, writes each image into it as the words that
//! differ from the last one, and opens it copy-on-write
//! ([`PoolOptions::copy_on_write`]), so recovery's writes never reach the file: checking an
//! image costs an `open`, not a copy of the pool.
//!
//! Failures name the seed, the crash point and the evicted words; `PMEM_CRASH_SEED`
//! replays a seed.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pmem_alloc::Persistent;

use crate::hw::flush::CACHE_LINE;
use crate::hw::flush::FlushMode;
use crate::hw::mapping::Mapping;
use crate::hw::sim::{CrashPoint, Simulation};
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

/// A scratch file for pools under test, removed when dropped, in the
/// [`scratch_directory`](crate::scratch_directory): the one temporary-file guard of the
/// tests.
#[derive(Debug)]
pub struct ScratchFile(PathBuf);

impl ScratchFile {
    /// A path no other scratch file of this process uses; `label` starts its name.
    #[must_use]
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let directory = crate::scratch_directory();
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

    /// The file's whole contents.
    ///
    /// # Panics
    ///
    /// If the file cannot be read.
    #[must_use]
    pub fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.0).expect("scratch file readable")
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A crash test: which pool to run the workload on, and how many crash images to check.
///
/// ```no_run
/// use pmem::simulation::{CrashTest, small_pool};
///
/// let report = CrashTest::new("counter")
///     .pool(small_pool())
///     .at_stores(true)
///     .run(0u64, 10, |pool, _step| pool.txn(|tx| *tx.root_mut() += 1), |pool| *pool.root());
/// assert!(report.crash_points >= 10);
/// ```
#[derive(Clone, Debug)]
pub struct CrashTest {
    label: String,
    options: PoolOptions,
    images_per_point: usize,
    at_stores: bool,
    /// Under [`Durability::Deferred`](crate::Durability): sync after every this many steps.
    sync_every: Option<usize>,
}

impl CrashTest {
    /// A crash test named `label` (in failures and scratch file names): a [`small_pool`],
    /// crash points at fences only, at most 64 images per crash point.
    #[must_use]
    pub fn new(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            options: small_pool(),
            images_per_point: 64,
            at_stores: false,
            sync_every: None,
        }
    }

    /// Runs the workload under [`Durability::Deferred`](crate::Durability), calling
    /// [`Pool::sync`] after every `steps`th step (as part of that step), and checks the
    /// promise of deferred durability instead: the state recovered from a crash during step
    /// `i` is the state after some step `j`, for `j` from the last step synced before step
    /// `i` began (durable, so never lost) up to `i` itself (a prefix of the committed
    /// transactions, each whole).
    #[must_use]
    pub fn deferred(mut self, sync_every: usize) -> Self {
        self.sync_every = Some(sync_every.max(1));
        self.options = self.options.durability(crate::Durability::Deferred);
        self
    }

    /// The options the workload's pool is created with (a simulation is attached to them).
    #[must_use]
    pub fn pool(mut self, options: PoolOptions) -> Self {
        self.options = options;
        self
    }

    /// At most `budget` images per crash point: every combination of the dirty words' values
    /// if there are that few, otherwise a seeded sample (see [`CrashPoint::images`]).
    ///
    /// [`CrashPoint::images`]: crate::hw::sim::CrashPoint::images
    #[must_use]
    pub fn images_per_point(mut self, budget: usize) -> Self {
        self.images_per_point = budget.max(1);
        self
    }

    /// Also crashes before every instrumented store, not only at fences
    /// ([`Simulation::capture_stores`]).
    #[must_use]
    pub fn at_stores(mut self, on: bool) -> Self {
        self.at_stores = on;
        self
    }

    /// Runs `steps` steps of `step` (each normally one transaction; a step that panics, as
    /// a failed assertion in it does, fails the test: a workload that tests rollback on a
    /// panic catches its own) on a
    /// pool created with `init`, observing the pool with `observe` before the first step and
    /// after each; then checks every crash image of every crash point (see the module
    /// documentation).
    ///
    /// # Panics
    ///
    /// When an oracle fails, with what reproduces it.
    pub fn run<R, S>(
        &self,
        init: R,
        steps: usize,
        mut step: impl FnMut(&mut Pool<R>, usize),
        observe: impl Fn(&Pool<R>) -> S,
    ) -> CrashReport
    where
        R: Persistent,
        S: PartialEq + Debug,
    {
        let label = self.label.as_str();
        let simulation = Simulation::new();
        let path = ScratchFile::new(label);
        let mut pool = self
            .options
            .clone()
            .simulation(&simulation)
            .create(path.path(), init)
            .expect("create");
        let mut states = vec![observe(&pool)];
        let mut boundaries = vec![simulation.moments()];
        simulation.capture(true);
        simulation.capture_stores(self.at_stores);
        // Per step: the first state a crash during it may not lose (the last synced one).
        let mut durable_from = Vec::with_capacity(steps);
        let mut synced = 0;
        for index in 0..steps {
            durable_from.push(synced);
            let outcome = catch_unwind(AssertUnwindSafe(|| step(&mut pool, index)));
            assert!(
                outcome.is_ok(),
                "{label}: step {index} panicked (see above); a workload that panics on purpose catches its own panic"
            );
            match self.sync_every {
                Some(every) if (index + 1) % every == 0 => {
                    pool.sync();
                    synced = index + 1;
                }
                Some(_) => {}
                None => synced = index + 1,
            }
            states.push(observe(&pool));
            boundaries.push(simulation.moments());
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

        let points = simulation.take_crash_points();
        let seed = seed();
        let mut file = ImageFile::new(&format!("{label}-image"));
        let mut images = 0;
        for point in &points {
            let step = boundaries.partition_point(|&moment| moment < point.moment) - 1;
            let (before, after) = (&states[step], &states[step + 1]);
            file.hold(point);
            for choice in point.choices(self.images_per_point, seed) {
                let evicted: Vec<(usize, &[u8; 8])> = point.evicted_words(&choice).collect();
                for &(offset, word) in &evicted {
                    file.write(offset, word);
                }
                // Every other image is opened as tools open pools, marking it before
                // recovery writes and collecting at once; the others as programs do, the
                // first collection after the observation.
                let collect_at_open = images % 2 == 0;
                let opened = PoolOptions::new()
                    .flush_mode(FlushMode::None)
                    .copy_on_write()
                    .collect_at_open(collect_at_open)
                    .open::<R>(file.path());
                let mut pool = opened.unwrap_or_else(|error| {
                    panic!(
                        "{label}: step {step}, {}, seed {seed}: open failed: {error}",
                        point.describe(&choice)
                    )
                });
                let found = observe(&pool);
                let collection = match pool.info().collection_at_open {
                    Some(collection) => collection,
                    None => {
                        let collection = pool.collect().unwrap_or_else(|error| {
                            panic!(
                                "{label}: step {step}, {}, seed {seed}: the first collection failed: {error}",
                                point.describe(&choice)
                            )
                        });
                        let collected = observe(&pool);
                        assert!(
                            collected == found,
                            "{label}: step {step}, {}, seed {seed}: the first collection changed what the pool holds: {found:?}, then {collected:?}",
                            point.describe(&choice)
                        );
                        collection
                    }
                };
                let dangling = collection.first_dangling;
                assert!(
                    dangling.is_none(),
                    "{label}: step {step}, {}, seed {seed}: the recovered heap holds a dangling pointer: {}",
                    point.describe(&choice),
                    dangling
                        .map(|pointer| pointer.to_string())
                        .unwrap_or_default()
                );
                let allowed = &states[durable_from[step]..=step + 1];
                assert!(
                    allowed.contains(&found),
                    "{label}: step {step}, {}, seed {seed}: recovered {found:?}, expected {before:?} or {after:?}{}",
                    point.describe(&choice),
                    if allowed.len() > 2 {
                        format!(
                            " or one of the {} states before them since the last sync",
                            allowed.len() - 2
                        )
                    } else {
                        String::new()
                    }
                );
                drop(pool);
                for &(offset, _) in &evicted {
                    file.write(offset, point.durable_word(offset));
                }
                images += 1;
            }
        }
        CrashReport {
            crash_points: points.len(),
            images,
        }
    }
}

/// A scratch file kept mapped, holding one crash image at a time.
struct ImageFile {
    scratch: ScratchFile,
    file: std::fs::File,
    mapping: Option<Mapping>,
    /// What the file holds.
    contents: Vec<u8>,
    /// The base image the file holds (see `CrashPoint::durable_parts`), and the lines
    /// written over it.
    base: Option<Arc<Vec<u8>>>,
    lines_over_base: Vec<usize>,
}

impl ImageFile {
    fn new(label: &str) -> Self {
        let scratch = ScratchFile::new(label);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(scratch.path())
            .expect("create a scratch file for crash images");
        Self {
            scratch,
            file,
            mapping: None,
            contents: Vec::new(),
            base: None,
            lines_over_base: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.scratch.path()
    }

    /// Makes the file hold `point`'s durable image. Points that share a base cost the lines
    /// that differ; a new base costs the pages that differ.
    fn hold(&mut self, point: &CrashPoint) {
        let (base, changes) = point.durable_parts();
        let same_base = self
            .base
            .as_ref()
            .is_some_and(|held| Arc::ptr_eq(held, base));
        if same_base {
            for line in std::mem::take(&mut self.lines_over_base) {
                let range = line * CACHE_LINE..(line + 1) * CACHE_LINE;
                self.write(range.start, &base[range]);
            }
        } else {
            self.hold_bytes(base);
            self.base = Some(Arc::clone(base));
            self.lines_over_base.clear();
        }
        for (line, contents) in changes {
            self.write(line * CACHE_LINE, contents);
            self.lines_over_base.push(*line);
        }
    }

    /// Makes the file hold `image`, writing only the pages that differ from what it holds.
    fn hold_bytes(&mut self, image: &[u8]) {
        if image.len() != self.contents.len() {
            self.mapping = None;
            self.file
                .set_len(image.len() as u64)
                .expect("size the scratch file");
            self.mapping =
                Some(Mapping::map(&self.file, image.len(), image.len(), false).expect("map"));
            self.contents = vec![0; image.len()];
            self.write(0, image);
            return;
        }
        const PAGE: usize = 4096;
        for page in (0..image.len()).step_by(PAGE) {
            let end = (page + PAGE).min(image.len());
            if image[page..end] != self.contents[page..end] {
                self.write(page, &image[page..end]);
            }
        }
    }

    fn write(&mut self, offset: usize, bytes: &[u8]) {
        let mapping = self.mapping.as_ref().expect("the file is mapped");
        // SAFETY: the range lies inside the mapping (the file's whole length), which no Rust
        // reference points into; pools opened on the file map it copy-on-write and are
        // closed before the next write.
        unsafe { mapping.write(offset, bytes) };
        self.contents[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
}

/// Runs `steps` steps of `step` on a pool created with `init` and checks every crash image
/// of every fence, observing the root: [`CrashTest::run`] with `budget` images per crash
/// point.
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
/// in the heap, and an image whose collection found a dangling or mistyped pointer fails
/// the test.
///
/// # Panics
///
/// When an oracle fails, with what reproduces it.
pub fn check_every_fence_observing<R, S>(
    label: &str,
    init: R,
    steps: usize,
    step: impl FnMut(&mut Pool<R>, usize),
    observe: impl Fn(&Pool<R>) -> S,
    budget: usize,
) -> CrashReport
where
    R: Persistent,
    S: PartialEq + Debug,
{
    CrashTest::new(label)
        .images_per_point(budget)
        .run(init, steps, step, observe)
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
