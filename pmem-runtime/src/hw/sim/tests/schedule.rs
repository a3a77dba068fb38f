//! The seeded scheduler: reproducible interleavings, one thread at a time, and spin-waits
//! that hand the baton over.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::domain;
use crate::hw::flush::Event;

/// What one scheduled run did, in the order it happened: per step, the index of the thread
/// that took it and whether it was a fence; and per crash point, its thread.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    steps: Vec<(usize, bool)>,
    crash_point_threads: Vec<Option<usize>>,
}

/// Three scheduled threads, each taking twelve steps (an event: every third one a fence, the
/// others an observation), and checking that no other thread runs between two of its
/// events.
fn scheduled_run(seed: u64) -> Run {
    const THREADS: usize = 3;
    let (_mapping, simulation, flusher) = domain();
    simulation.capture(true);
    simulation.schedule(seed, THREADS);
    let steps = Mutex::new(Vec::new());
    let inside = AtomicUsize::new(0);
    thread::scope(|scope| {
        for index in 0..THREADS {
            let (simulation, flusher, steps, inside) = (&simulation, &flusher, &steps, &inside);
            scope.spawn(move || {
                let turn = simulation.join(index);
                assert_eq!(turn.index(), index);
                for step in 0..12 {
                    let fence = step % 3 == 0;
                    if fence {
                        flusher.fence();
                    } else {
                        flusher.tell(Event::Observe);
                    }
                    // The event took effect when the thread got the baton back, just now.
                    assert_eq!(
                        inside.fetch_add(1, Ordering::SeqCst),
                        0,
                        "another thread runs"
                    );
                    thread::yield_now();
                    steps.lock().expect("steps").push((index, fence));
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
    });
    Run {
        steps: steps.into_inner().expect("steps"),
        crash_point_threads: simulation
            .take_crash_points()
            .iter()
            .map(|point| point.thread)
            .collect(),
    }
}

#[test]
fn the_same_seed_gives_the_same_interleaving() {
    let first = scheduled_run(7);
    assert_eq!(first.steps.len(), 36);
    let switches = first
        .steps
        .windows(2)
        .filter(|pair| pair[0].0 != pair[1].0)
        .count();
    assert!(
        switches >= 6,
        "the threads interleave: {switches} switches in {:?}",
        first.steps
    );
    let fences: Vec<Option<usize>> = first
        .steps
        .iter()
        .filter(|&&(_, fence)| fence)
        .map(|&(index, _)| Some(index))
        .collect();
    assert_eq!(
        first.crash_point_threads, fences,
        "each crash point names the thread that fenced"
    );
    assert_eq!(
        scheduled_run(7),
        first,
        "the same seed, the same interleaving"
    );
    assert!(
        (8..16).any(|seed| scheduled_run(seed) != first),
        "other seeds, other interleavings"
    );
}

#[test]
fn a_waiting_thread_hands_the_baton_to_another() {
    let (_mapping, simulation, flusher) = domain();
    simulation.schedule(3, 2);
    let order = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for index in 0..2 {
            let (simulation, flusher, order) = (&simulation, &flusher, &order);
            scope.spawn(move || {
                let _turn = simulation.join(index);
                for _ in 0..30 {
                    order.lock().expect("order").push(index);
                    flusher.tell(Event::Waiting);
                }
            });
        }
    });
    let order = order.into_inner().expect("order");
    assert_eq!(order.len(), 60);
    assert!(
        order.windows(2).all(|pair| pair[0] != pair[1]),
        "every wait let the other thread run: {order:?}"
    );
}

#[test]
fn a_spin_wait_does_not_starve_the_thread_it_waits_for() {
    let (_mapping, simulation, flusher) = domain();
    simulation.schedule(11, 2);
    let released = AtomicUsize::new(0);
    let spins = AtomicUsize::new(0);
    thread::scope(|scope| {
        let (simulation, flusher, released, spins) = (&simulation, &flusher, &released, &spins);
        scope.spawn(move || {
            let _turn = simulation.join(0);
            while released.load(Ordering::SeqCst) == 0 {
                spins.fetch_add(1, Ordering::SeqCst);
                flusher.tell(Event::Waiting);
            }
        });
        scope.spawn(move || {
            let _turn = simulation.join(1);
            for _ in 0..5 {
                flusher.tell(Event::Observe);
            }
            released.store(1, Ordering::SeqCst);
        });
    });
    assert!(
        spins.load(Ordering::SeqCst) <= 6,
        "each spin let the holder take at least one step: {} spins",
        spins.load(Ordering::SeqCst)
    );
}
