//! Seeded scheduling of the threads that share a simulated domain, so that a multi-threaded
//! crash test is reproducible from a seed.
//!
//! [`Simulation::schedule`] turns it on for a number of threads, and each of them registers
//! with [`Simulation::join`], giving its index. From the moment the last of them has joined,
//! exactly one registered thread runs at a time: it holds the *baton*, and the others wait
//! for it on a condition variable. At every domain event from the holder (each flush,
//! fence and event the protocol tells the domain), before the event takes effect, the holder
//! hands the baton to a thread drawn with the seeded generator among the registered ones,
//! itself included, ordered by index; the event takes effect when the thread gets the baton
//! back, so an event and the thread's work up to its next event form one step. At
//! [`Event::Waiting`](crate::hw::flush::Event::Waiting) (a spin-wait for another thread)
//! it is drawn among the others, so that a spin-wait cannot starve the thread it waits
//! for. Dropping the [`ScheduledThread`] guard unregisters the thread and hands the baton
//! on; when the last guard is dropped, scheduling is off again.
//!
//! What a test must do for the interleaving to depend on the seed alone is in
//! [`ScheduledThread`]'s documentation.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

use super::Simulation;
use super::crash_point::xorshift;

/// The baton of a simulated domain's scheduled threads (see the module documentation).
#[derive(Default)]
pub(super) struct Scheduler {
    baton: Mutex<Baton>,
    /// Signalled whenever the baton changes hands.
    turn: Condvar,
}

#[derive(Default)]
struct Baton {
    /// How many threads [`Simulation::schedule`] expects: 0 while scheduling is off.
    threads: usize,
    /// The xorshift state that draws the next holder.
    random: u64,
    /// Whether all expected threads have joined (the baton has been handed out).
    started: bool,
    /// The registered threads, by index.
    registered: BTreeMap<usize, ThreadId>,
    /// The index of the thread that runs.
    holder: Option<usize>,
}

/// A thread's registration with a simulated domain's scheduler ([`Simulation::join`]):
/// while it lives, the thread runs only when it holds the baton, which passes between the
/// registered threads at every domain event (each flush, fence and event the runtime tells
/// the domain), to a thread drawn with the seed given to [`Simulation::schedule`]; a
/// thread that spins waiting for another one hands it to another thread. Dropping the guard
/// unregisters the thread and hands the baton on. It stays on the thread that joined.
///
/// The interleaving then depends only on the seed and on what the threads do between
/// events, provided that:
///
/// - the test calls `schedule(seed, threads)` first, then spawns `threads` workers, each of
///   which calls `join` with its own index in `0..threads` before touching the pool. No
///   worker runs before all have joined, so the order in which the OS starts them does not
///   matter; each worker's work must depend only on its index (and on the pool);
/// - a scheduled thread never blocks on another scheduled thread except by spinning with
///   the runtime's wait event: an OS lock held across a domain event, which the next holder
///   of the baton then waits for, deadlocks (its owner waits for the baton);
/// - threads that are not registered (the test's main thread) leave the pool alone while
///   the workers run: they are not scheduled, so their events fall at arbitrary points;
/// - every worker joins: one that panics before it joins leaves the others waiting.
///
/// ```
/// use pmem::simulation::Simulation;
///
/// let simulation = Simulation::new();
/// simulation.schedule(42, 2);
/// std::thread::scope(|scope| {
///     for index in 0..2 {
///         let simulation = &simulation;
///         scope.spawn(move || {
///             let turn = simulation.join(index);
///             assert_eq!(turn.index(), index);
///             // Transactions on a pool opened with `simulation`, interleaved by the seed.
///         });
///     }
/// });
/// ```
#[derive(Debug)]
#[must_use = "the thread is unregistered when the guard is dropped"]
pub struct ScheduledThread {
    scheduler: Arc<Scheduler>,
    index: usize,
    /// The registration is the joining thread's (the scheduler knows it by its id).
    not_send: PhantomData<*const ()>,
}

impl ScheduledThread {
    /// The index the thread joined with.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Simulation {
    /// Turns on seeded scheduling for `threads` threads, which must each register with
    /// [`join`](Self::join) (see [`ScheduledThread`] for what makes a run reproducible).
    /// The same seed and the same work give the same interleaving.
    ///
    /// # Panics
    ///
    /// If `threads` is 0, or threads are still registered from an earlier schedule.
    pub fn schedule(&self, seed: u64, threads: usize) {
        assert!(threads > 0, "pmem simulation: schedule at least one thread");
        let mut baton = self.scheduler.lock();
        assert!(
            baton.registered.is_empty(),
            "pmem simulation: schedule while {} threads are still scheduled",
            baton.registered.len()
        );
        // xorshift must not start from 0; only `seed == GOLDEN` maps there.
        const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
        *baton = Baton {
            threads,
            random: match seed ^ GOLDEN {
                0 => GOLDEN,
                state => state,
            },
            ..Baton::default()
        };
    }

    /// Registers the calling thread as scheduled thread `index` and waits until it holds the
    /// baton, which happens only once all the threads [`schedule`](Self::schedule) expects
    /// have joined. From then on the thread runs only while it holds the baton.
    ///
    /// # Panics
    ///
    /// If scheduling is off, `index` is not below the number of threads scheduled, the index
    /// or the thread is already registered, or all threads have already joined.
    pub fn join(&self, index: usize) -> ScheduledThread {
        let scheduler = &self.scheduler;
        let mut baton = scheduler.lock();
        assert!(baton.threads > 0, "pmem simulation: join before schedule");
        assert!(
            index < baton.threads,
            "pmem simulation: thread index {index} joined, but {} threads are scheduled",
            baton.threads
        );
        assert!(
            !baton.started,
            "pmem simulation: thread {index} joined after all scheduled threads had joined"
        );
        let me = thread::current().id();
        assert!(
            baton.index_of(me).is_none(),
            "pmem simulation: this thread has joined already"
        );
        assert!(
            baton.registered.insert(index, me).is_none(),
            "pmem simulation: thread index {index} joined twice"
        );
        if baton.registered.len() == baton.threads {
            baton.started = true;
            baton.hand_on(None);
            scheduler.turn.notify_all();
        }
        drop(scheduler.wait_for(baton, index));
        ScheduledThread {
            scheduler: Arc::clone(scheduler),
            index,
            not_send: PhantomData,
        }
    }
}

impl Scheduler {
    fn lock(&self) -> MutexGuard<'_, Baton> {
        self.baton.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until thread `index` holds the baton.
    fn wait_for<'a>(&self, baton: MutexGuard<'a, Baton>, index: usize) -> MutexGuard<'a, Baton> {
        self.turn
            .wait_while(baton, |baton| baton.holder != Some(index))
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A domain event on the calling thread: if it is scheduled, it hands the baton to a
    /// drawn thread (another one if it is `waiting` for one and there is another) and waits
    /// until it holds it again. Returns the thread's index, or `None` if it is not scheduled.
    pub(super) fn pass(&self, waiting: bool) -> Option<usize> {
        let mut baton = self.lock();
        let index = baton.index_of(thread::current().id())?;
        baton.hand_on(waiting.then_some(index));
        self.turn.notify_all();
        drop(self.wait_for(baton, index));
        Some(index)
    }
}

impl Baton {
    fn index_of(&self, thread: ThreadId) -> Option<usize> {
        self.registered
            .iter()
            .find(|&(_, &registered)| registered == thread)
            .map(|(&index, _)| index)
    }

    /// Gives the baton to a registered thread drawn with the seed, other than `except`
    /// unless it is the only one; to nobody if none is registered.
    fn hand_on(&mut self, except: Option<usize>) {
        let alone = self.registered.len() <= 1;
        let candidates: Vec<usize> = self
            .registered
            .keys()
            .copied()
            .filter(|&index| alone || Some(index) != except)
            .collect();
        self.holder = if candidates.is_empty() {
            None
        } else {
            let drawn = xorshift(&mut self.random) % candidates.len() as u64;
            Some(candidates[drawn as usize])
        };
    }
}

impl Drop for ScheduledThread {
    fn drop(&mut self) {
        let mut baton = self.scheduler.lock();
        baton.registered.remove(&self.index);
        if baton.registered.is_empty() {
            // The schedule is over: unscheduled from now on, until `schedule` is called again.
            *baton = Baton::default();
        } else if baton.holder == Some(self.index) {
            baton.hand_on(None);
        }
        self.scheduler.turn.notify_all();
    }
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let baton = self.lock();
        f.debug_struct("Scheduler")
            .field("threads", &baton.threads)
            .field("registered", &baton.registered.len())
            .field("holder", &baton.holder)
            .finish_non_exhaustive()
    }
}
