//! `throughput.svg`: per workload shared with PMDK, pmem's and PMDK's median throughput as
//! bars with min–max whiskers, and for `sps` the hardware floor as a dashed line.

use super::axis::{Linear, linear_ticks, tick_label};
use super::{
    AXIS_COLOR, FLOOR_COLOR, GRID_COLOR, HALO, Layout, PMDK_COLOR, PMEM_COLOR, Swatch, document,
    legend,
};
use crate::numbers::{mops, plural};
use crate::plan::{FLOOR_VARIANTS, Plan};
use crate::program::Program;
use crate::stats::{Key, Results, Summary};

/// One group of the throughput plot.
pub(super) struct BarGroup {
    label: String,
    note: Option<String>,
    pmem: Summary,
    pmdk: Summary,
    floor: Option<f64>,
}

/// The groups of the plot: the workloads measured in both libraries, in the plan's order.
pub(super) fn groups(plan: &Plan, results: &Results) -> Vec<BarGroup> {
    let floor = results.throughput(&Key::new(Program::Limit, FLOOR_VARIANTS[0], plan.floor_ops));
    plan.workloads
        .iter()
        .filter_map(|&(workload, ops)| {
            let pmdk = workload.pmdk?;
            Some(BarGroup {
                label: workload.pmem.to_owned(),
                note: (pmdk != workload.pmem).then(|| format!("(PMDK: {pmdk})")),
                pmem: results.throughput(&Key::new(Program::Pmem, workload.pmem, ops))?,
                pmdk: results.throughput(&Key::new(Program::Pmdk, pmdk, ops))?,
                floor: floor
                    .filter(|_| workload.pmem == "sps")
                    .map(|floor| floor.median),
            })
        })
        .collect()
}

/// The page and its plot area.
const LAYOUT: Layout = Layout {
    width: 960.0,
    height: 520.0,
    left: 80.0,
    right: 960.0 - 24.0,
    top: 96.0,
    bottom: 520.0 - 84.0,
};

pub(super) fn svg(groups: &[BarGroup], subtitle: &str, rounds: u32) -> String {
    let (left, right, top, bottom) = LAYOUT.area();
    let mut svg = document(
        &LAYOUT,
        "Throughput: pmem vs PMDK",
        "Throughput: pmem vs PMDK libpmemobj (one op = one transaction, higher is better)",
        subtitle,
    );

    let highest = groups
        .iter()
        .flat_map(|group| [group.pmem.max, group.pmdk.max, group.floor.unwrap_or(0.0)])
        .fold(0.0, f64::max)
        / 1e6;
    // Headroom above the tallest bar for its value label.
    let ticks = linear_ticks(highest * 1.12, 6);
    let step = ticks.get(1).copied().unwrap_or(1.0);
    let y = Linear {
        domain: (0.0, *ticks.last().unwrap_or(&1.0)),
        range: (bottom, top),
    };
    for &tick in &ticks {
        let at = y.map(tick);
        svg.line((left, at), (right, at), &format!("stroke=\"{GRID_COLOR}\""));
        svg.text(
            left - 8.0,
            at + 4.0,
            &format!("text-anchor=\"end\" fill=\"{AXIS_COLOR}\""),
            &tick_label(tick, step),
        );
    }
    svg.y_axis_title(
        top,
        bottom,
        &format!(
            "million ops per second, median of {}",
            plural(rounds, "round")
        ),
    );

    let group_width = (right - left) / groups.len().max(1) as f64;
    let bar_width = (group_width * 0.3).min(70.0);
    for (index, group) in groups.iter().enumerate() {
        let center = left + group_width * (index as f64 + 0.5);
        let mut value_labels = Vec::new();
        for (summary, color, x) in [
            (group.pmem, PMEM_COLOR, center - bar_width - 2.0),
            (group.pmdk, PMDK_COLOR, center + 2.0),
        ] {
            let bar_top = y.map(summary.median / 1e6);
            svg.rect(
                x,
                bar_top,
                bar_width,
                bottom - bar_top,
                &format!("fill=\"{color}\""),
            );
            let whisker = x + bar_width / 2.0;
            let (low, high) = (y.map(summary.min / 1e6), y.map(summary.max / 1e6));
            if high < low - 0.5 {
                let cap = bar_width * 0.2;
                let style = "stroke=\"#1a202c\" stroke-width=\"1.2\"";
                svg.line((whisker, low), (whisker, high), style);
                svg.line((whisker - cap, low), (whisker + cap, low), style);
                svg.line((whisker - cap, high), (whisker + cap, high), style);
            }
            value_labels.push((whisker, high.min(bar_top) - 6.0, mops(summary.median)));
        }
        // The floor's line goes under the value labels, whose halo keeps them legible.
        if let Some(floor) = group.floor {
            let at = y.map(floor / 1e6);
            svg.line(
                (center - group_width * 0.45, at),
                (center + group_width * 0.45, at),
                &format!("stroke=\"{FLOOR_COLOR}\" stroke-width=\"2\" stroke-dasharray=\"7 4\""),
            );
            // Above the line and above the bars' value labels, never over a bar: the floor
            // may lie below pmem's median.
            let label_y = value_labels
                .iter()
                .map(|label| label.1 - 15.0)
                .fold(at - 5.0, f64::min);
            svg.text(
                center,
                label_y,
                &format!(
                    "text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\" fill=\"{FLOOR_COLOR}\" {HALO}"
                ),
                &format!("floor {}", mops(floor)),
            );
        }
        for (label_x, label_y, text) in &value_labels {
            svg.text(
                *label_x,
                *label_y,
                &format!("text-anchor=\"middle\" font-size=\"12\" fill=\"#1a202c\" {HALO}"),
                text,
            );
        }
        svg.text(
            center,
            bottom + 20.0,
            "text-anchor=\"middle\" font-size=\"13\" fill=\"#1a202c\"",
            &group.label,
        );
        if let Some(note) = &group.note {
            svg.text(
                center,
                bottom + 36.0,
                &format!("text-anchor=\"middle\" font-size=\"11\" fill=\"{AXIS_COLOR}\""),
                note,
            );
        }
    }
    svg.axes(left, right, top, bottom);

    let mut entries = vec![
        ("pmem", Swatch::Bar(PMEM_COLOR)),
        ("PMDK libpmemobj", Swatch::Bar(PMDK_COLOR)),
    ];
    if rounds > 1 {
        entries.push(("min–max over rounds", Swatch::Whisker));
    }
    if groups.iter().any(|group| group.floor.is_some()) {
        entries.push((
            "hardware floor of sps (limit.c: undo log, 4 fences)",
            Swatch::FloorLine,
        ));
    }
    legend(&mut svg, left, 72.0, &entries);
    svg.finish()
}
