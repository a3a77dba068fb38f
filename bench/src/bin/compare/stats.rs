//! The samples of every run, keyed by program, workload and op count, and their summaries:
//! medians (what every table and plot shows) and min–max over the rounds.

use std::collections::{BTreeMap, BTreeSet};

use crate::program::{Program, Sample};

/// The median (the mean of the middle two for an even count); `None` when empty.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

pub(crate) fn summarize(values: &[f64]) -> Option<Summary> {
    Some(Summary {
        median: median(values)?,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// Which runs a sample list belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    program: Program,
    name: String,
    ops: u64,
    /// `--threads N`, for the runs on one pool shared by N threads; none for the others.
    threads: Option<usize>,
    /// Whether the run made its stores durable with `msync` (see [`Run::msync`]).
    ///
    /// [`Run::msync`]: crate::plan::Run::msync
    msync: bool,
}

impl Key {
    pub(crate) fn new(program: Program, name: &str, ops: u64) -> Self {
        Self::threaded(program, name, ops, None)
    }

    pub(crate) fn threaded(program: Program, name: &str, ops: u64, threads: Option<usize>) -> Self {
        Self {
            program,
            name: name.to_owned(),
            ops,
            threads,
            msync: false,
        }
    }

    /// The key of the runs of `name` in msync mode.
    pub(crate) fn msync(program: Program, name: &str, ops: u64) -> Self {
        Self {
            msync: true,
            ..Self::new(program, name, ops)
        }
    }
}

#[derive(Default)]
pub(crate) struct Results {
    pub(crate) samples: BTreeMap<Key, Vec<Sample>>,
    /// Flush modes pmem-bench reported (recovery prints its pool's).
    pub(crate) pmem_flush_reported: BTreeSet<String>,
    /// `is_pmem=` values the PMDK harness reported.
    pub(crate) pmdk_is_pmem: BTreeSet<String>,
    /// Runs whose timed region had the CPU less than 90% of the time: disturbed by others.
    pub(crate) disturbed: Vec<String>,
    pub(crate) wall_secs: f64,
}

impl Results {
    pub(crate) fn values(&self, key: &Key, pick: impl Fn(&Sample) -> Option<f64>) -> Vec<f64> {
        self.samples
            .get(key)
            .map(|samples| samples.iter().filter_map(pick).collect())
            .unwrap_or_default()
    }

    pub(crate) fn throughput(&self, key: &Key) -> Option<Summary> {
        summarize(&self.values(key, |sample| Some(sample.ops_per_sec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts_and_of_nothing() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.5]), Some(7.5));
        assert_eq!(median(&[]), None);
        let summary = summarize(&[5.0, 1.0, 9.0, 2.0]).unwrap();
        assert_eq!(
            summary,
            Summary {
                median: 3.5,
                min: 1.0,
                max: 9.0
            }
        );
    }
}
