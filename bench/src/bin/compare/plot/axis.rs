//! Scales and ticks: linear axes with ticks at 1, 2 or 5 × 10^k, and logarithmic ones by
//! decades.

use crate::numbers::trim_zeros;

/// A tick spacing near `range / target` of the form 1, 2 or 5 × 10^k.
fn nice_step(range: f64, target: usize) -> f64 {
    let raw = range / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalized = raw / magnitude;
    let factor = match normalized {
        n if n <= 1.0 => 1.0,
        n if n <= 2.0 => 2.0,
        n if n <= 5.0 => 5.0,
        _ => 10.0,
    };
    factor * magnitude
}

/// Ticks from 0 to the first multiple of the step at or above `max`.
pub(super) fn linear_ticks(max: f64, target: usize) -> Vec<f64> {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let step = nice_step(max, target);
    // The tolerance keeps a max that is a multiple of the step, give or take rounding, as
    // the top tick instead of adding one above it.
    let count = (max / step - 1e-9).ceil().max(1.0) as usize;
    (0..=count).map(|index| index as f64 * step).collect()
}

pub(super) fn tick_label(value: f64, step: f64) -> String {
    let decimals = (-step.log10()).ceil().max(0.0) as usize;
    trim_zeros(&format!("{value:.decimals$}"))
}

/// Maps `[domain.0, domain.1]` linearly onto `[range.0, range.1]`.
#[derive(Clone, Copy)]
pub(super) struct Linear {
    pub(super) domain: (f64, f64),
    pub(super) range: (f64, f64),
}

impl Linear {
    pub(super) fn map(self, value: f64) -> f64 {
        let fraction = (value - self.domain.0) / (self.domain.1 - self.domain.0);
        self.range.0 + fraction * (self.range.1 - self.range.0)
    }
}

/// Maps `[10^exponents.0, 10^exponents.1]` logarithmically onto `range`; values below the
/// domain (zero included) land on its lower end.
#[derive(Clone, Copy)]
pub(super) struct Log {
    pub(super) exponents: (f64, f64),
    pub(super) range: (f64, f64),
}

impl Log {
    pub(super) fn map(self, value: f64) -> f64 {
        let exponent = value.max(10f64.powf(self.exponents.0)).log10();
        Linear {
            domain: self.exponents,
            range: self.range,
        }
        .map(exponent)
    }
}

/// The decades around the positive `values`: (floor of the smallest exponent, ceiling of
/// the largest), at least one decade apart.
pub(super) fn decades(values: &[f64]) -> (i32, i32) {
    let positive = values.iter().copied().filter(|value| *value > 0.0);
    let low = positive.clone().fold(f64::INFINITY, f64::min);
    let high = positive.fold(0.0, f64::max);
    if !low.is_finite() {
        return (0, 1);
    }
    let low = low.log10().floor() as i32;
    let high = (high.log10().ceil() as i32).max(low + 1);
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_cover_the_maximum() {
        assert_eq!(nice_step(1.87, 5), 0.5);
        assert_eq!(nice_step(950.0, 5), 200.0);
        assert_eq!(linear_ticks(1.87, 5), [0.0, 0.5, 1.0, 1.5, 2.0]);
        // A maximum on a tick does not add a tick above it.
        assert_eq!(linear_ticks(2.0, 4), [0.0, 0.5, 1.0, 1.5, 2.0]);
        // Nothing to show still gives an axis, 0 to 1.
        let empty = linear_ticks(0.0, 5);
        assert_eq!(empty.len(), 6);
        assert!((empty[5] - 1.0).abs() < 1e-12);
        let labels: Vec<String> = [0.0, 0.5, 1.0, 1.5]
            .iter()
            .map(|&t| tick_label(t, 0.5))
            .collect();
        assert_eq!(labels, ["0", "0.5", "1", "1.5"]);
        assert_eq!(tick_label(200.0, 100.0), "200");
        assert_eq!(tick_label(0.01, 0.01), "0.01");
    }

    #[test]
    fn scales_map_domains_onto_ranges() {
        let y = Linear {
            domain: (0.0, 2.0),
            range: (400.0, 100.0),
        };
        assert_eq!(y.map(0.0), 400.0);
        assert_eq!(y.map(2.0), 100.0);
        assert_eq!(y.map(0.5), 325.0);
        let x = Log {
            exponents: (1.0, 4.0),
            range: (0.0, 300.0),
        };
        assert!((x.map(10.0) - 0.0).abs() < 1e-9);
        assert!((x.map(100.0) - 100.0).abs() < 1e-9);
        assert!((x.map(10_000.0) - 300.0).abs() < 1e-9);
        // Zero cannot be drawn on a log scale: it sits at the axis.
        assert_eq!(x.map(0.0), 0.0);
        assert_eq!(decades(&[0.35, 412.0, 0.0]), (-1, 3));
        assert_eq!(decades(&[5.0, 6.0]), (0, 1));
        assert_eq!(decades(&[]), (0, 1));
    }
}
