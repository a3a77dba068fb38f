//! `recovery.svg`: the time to reopen a pool against its heap size, log–log, one line per
//! measure (pmem's open; PMDK's open, without and with its first allocation), each point
//! labelled with its median.

use std::collections::{BTreeMap, BTreeSet};

use super::axis::{Log, decades, tick_label};
use super::svg::Svg;
use super::{
    AXIS_COLOR, GRID_COLOR, HALO, Layout, PMDK_COLOR, PMEM_COLOR, Swatch, document, legend,
};
use crate::numbers::{count_label, plural, sig3};
use crate::plan::Plan;
use crate::program::{Program, Sample};
use crate::stats::{Key, Results, median};

/// One series of the recovery plot: (heap nodes, milliseconds) points.
pub(super) struct Series {
    label: &'static str,
    color: &'static str,
    dashed: bool,
    pub(super) marker: Marker,
    points: Vec<(u64, f64)>,
}

impl Series {
    pub(super) fn stroke(&self) -> String {
        let dash = if self.dashed {
            " stroke-dasharray=\"7 4\""
        } else {
            ""
        };
        format!(
            "stroke=\"{}\" stroke-width=\"2\" fill=\"none\"{dash}",
            self.color
        )
    }

    /// Dashed series get hollow markers, so that they stay apart from a solid one of the
    /// same colour.
    pub(super) fn marker_style(&self) -> String {
        let fill = if self.dashed { "white" } else { self.color };
        format!(
            "fill=\"{fill}\" stroke=\"{}\" stroke-width=\"1.5\"",
            self.color
        )
    }
}

/// A marker of the recovery plot.
#[derive(Clone, Copy)]
pub(super) enum Marker {
    Circle,
    Square,
    Diamond,
    Triangle,
}

impl Marker {
    pub(super) fn draw(self, svg: &mut Svg, (x, y): (f64, f64), attributes: &str) {
        let shape = match self {
            Self::Circle => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\""),
            Self::Square => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\"",
                x - 4.0,
                y - 4.0
            ),
            Self::Diamond => format!(
                "<polygon points=\"{:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1}\"",
                x - 5.5,
                y - 5.5,
                x + 5.5,
                y + 5.5
            ),
            Self::Triangle => format!(
                "<polygon points=\"{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"",
                y - 5.5,
                x + 5.5,
                y + 4.5,
                x - 5.5,
                y + 4.5
            ),
        };
        svg.raw(&format!("{shape} {attributes}/>\n"));
    }
}

/// The plot's lines: medians in milliseconds at each heap size of the plan.
pub(super) fn series(plan: &Plan, results: &Results) -> [Series; 4] {
    let points = |program: Program, pick: fn(&Sample) -> Option<f64>| -> Vec<(u64, f64)> {
        plan.recovery
            .iter()
            .filter_map(|&nodes| {
                let values = results.values(&Key::new(program, "recovery", nodes), pick);
                Some((nodes, median(&values)? * 1e3))
            })
            .collect()
    };
    [
        Series {
            label: "pmem open + first allocation",
            color: PMEM_COLOR,
            dashed: false,
            marker: Marker::Circle,
            points: points(Program::Pmem, |s| Some(s.secs + s.first_alloc_secs?)),
        },
        Series {
            label: "pmem first collection (later, on its own)",
            color: PMEM_COLOR,
            dashed: true,
            marker: Marker::Triangle,
            points: points(Program::Pmem, |s| s.first_collection_secs),
        },
        Series {
            label: "PMDK open",
            color: PMDK_COLOR,
            dashed: false,
            marker: Marker::Square,
            points: points(Program::Pmdk, |s| Some(s.secs)),
        },
        Series {
            label: "PMDK open + first allocation (heap rebuilt)",
            color: PMDK_COLOR,
            dashed: true,
            marker: Marker::Diamond,
            points: points(Program::Pmdk, |s| Some(s.secs + s.first_alloc_secs?)),
        },
    ]
}

/// The page and its plot area.
const LAYOUT: Layout = Layout {
    width: 960.0,
    height: 540.0,
    left: 80.0,
    right: 960.0 - 40.0,
    top: 96.0,
    bottom: 540.0 - 64.0,
};

pub(super) fn svg(series: &[Series], subtitle: &str, rounds: u32) -> String {
    let (left, right, top, bottom) = LAYOUT.area();
    let mut svg = document(
        &LAYOUT,
        "Reopening a pool: time against heap size",
        "Reopening a pool: time against heap size (lower is better)",
        subtitle,
    );

    let sizes: BTreeSet<u64> = series
        .iter()
        .flat_map(|line| line.points.iter().map(|&(nodes, _)| nodes))
        .collect();
    let size_values: Vec<f64> = sizes.iter().map(|&nodes| nodes as f64).collect();
    let smallest = size_values.first().copied().unwrap_or(1.0);
    let largest = size_values.last().copied().unwrap_or(10.0);
    // Half a decade of margin on each side keeps end markers and labels off the frame.
    let x = Log {
        exponents: (
            smallest.log10() - 0.3,
            largest.log10().max(smallest.log10() + 1.0) + 0.3,
        ),
        range: (left, right),
    };
    let times: Vec<f64> = series
        .iter()
        .flat_map(|line| line.points.iter().map(|&(_, ms)| ms))
        .collect();
    let (low, high) = decades(&times);
    let y = Log {
        exponents: (f64::from(low), f64::from(high)),
        range: (bottom, top),
    };
    for exponent in low..=high {
        let at = y.map(10f64.powi(exponent));
        svg.line((left, at), (right, at), &format!("stroke=\"{GRID_COLOR}\""));
        svg.text(
            left - 8.0,
            at + 4.0,
            &format!("text-anchor=\"end\" fill=\"{AXIS_COLOR}\""),
            &tick_label(10f64.powi(exponent), 10f64.powi(exponent)),
        );
        if exponent < high {
            for factor in [2.0, 5.0] {
                let minor = y.map(factor * 10f64.powi(exponent));
                svg.line(
                    (left - 4.0, minor),
                    (left, minor),
                    &format!("stroke=\"{AXIS_COLOR}\""),
                );
            }
        }
    }
    for &nodes in &sizes {
        let at = x.map(nodes as f64);
        svg.line((at, top), (at, bottom), &format!("stroke=\"{GRID_COLOR}\""));
        svg.text(
            at,
            bottom + 18.0,
            "text-anchor=\"middle\" font-size=\"13\" fill=\"#1a202c\"",
            &count_label(nodes),
        );
    }
    svg.axes(left, right, top, bottom);
    svg.text(
        (left + right) / 2.0,
        bottom + 42.0,
        &format!("text-anchor=\"middle\" fill=\"{AXIS_COLOR}\""),
        "heap size: 64-byte nodes in one list (log scale)",
    );
    svg.y_axis_title(
        top,
        bottom,
        &format!(
            "milliseconds, median of {} (log scale)",
            plural(rounds, "round")
        ),
    );

    let mut labels: BTreeMap<u64, Vec<(f64, &str, String)>> = BTreeMap::new();
    for line in series {
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .map(|&(nodes, ms)| (x.map(nodes as f64), y.map(ms)))
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|(px, py)| format!("{px:.1},{py:.1}"))
            .collect();
        svg.raw(&format!(
            "<polyline points=\"{}\" {}/>\n",
            path.join(" "),
            line.stroke()
        ));
        for (&(nodes, ms), &point) in line.points.iter().zip(&points) {
            line.marker.draw(&mut svg, point, &line.marker_style());
            labels
                .entry(nodes)
                .or_default()
                .push((point.1, line.color, sig3(ms)));
        }
    }
    for (nodes, column) in labels {
        let marker_ys: Vec<f64> = column.iter().map(|label| label.0).collect();
        let at = x.map(nodes as f64);
        for ((_, color, text), label_y) in column.iter().zip(place_labels(&marker_ys)) {
            svg.text(
                at,
                label_y,
                &format!("font-size=\"12\" text-anchor=\"middle\" fill=\"{color}\" {HALO}"),
                text,
            );
        }
    }
    let entries: Vec<_> = series
        .iter()
        .map(|line| (line.label, Swatch::Series(line)))
        .collect();
    legend(&mut svg, left, 72.0, &entries);
    svg.finish()
}

/// Where the value labels of one heap size go, given their markers' y (in any order):
/// centred above or below the marker, off the lines that leave it sideways, on the side of
/// the wider gap to the neighbouring markers (so a close pair's labels go apart); then
/// pushed down where they would still overlap. Returns the text baselines, in the order
/// given.
fn place_labels(marker_ys: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..marker_ys.len()).collect();
    order.sort_by(|&a, &b| marker_ys[a].total_cmp(&marker_ys[b]));
    let mut baselines = vec![0.0; marker_ys.len()];
    let mut previous = f64::NEG_INFINITY;
    for (rank, &index) in order.iter().enumerate() {
        let y = marker_ys[index];
        let gap_above = rank
            .checked_sub(1)
            .map_or(f64::INFINITY, |above| y - marker_ys[order[above]]);
        let gap_below = order
            .get(rank + 1)
            .map_or(f64::INFINITY, |&below| marker_ys[below] - y);
        let offset = if gap_above >= gap_below { -9.0 } else { 18.0 };
        let baseline = (y + offset).max(previous + 13.0);
        previous = baseline;
        baselines[index] = baseline;
    }
    baselines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_labels_keep_apart() {
        // Baselines 9 px above a marker or 18 px below it (text hangs above its baseline).
        assert_eq!(place_labels(&[50.0]), [41.0]);
        assert_eq!(place_labels(&[105.0, 100.0]), [123.0, 91.0]);
        // A close pair over a distant third: the pair's labels go apart, the third's away.
        assert_eq!(place_labels(&[300.0, 100.0, 110.0]), [318.0, 91.0, 128.0]);
        assert_eq!(place_labels(&[200.0, 100.0, 290.0]), [191.0, 91.0, 308.0]);
        // Markers on top of each other: every baseline at least 13 px below the last.
        assert_eq!(place_labels(&[100.0, 100.0, 100.0]), [91.0, 104.0, 118.0]);
    }
}
