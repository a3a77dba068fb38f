//! The plots, `throughput.svg` and `recovery.svg`, written as SVG by hand.
//!
//! No plotting crate is used: the plots' legibility comes from choices a chart library
//! leaves to its caller anyway (value labels kept apart from each other and from the
//! floor's, a white halo under labels that cross lines, hollow markers for the dashed
//! series, the floor as a dashed line within its group), and plotters, the candidate,
//! writes its text without the halo's `paint-order`, declares no rust-version, and adds its
//! backend crates to the build. Each plot is drawn in its module, [`throughput`] and
//! [`recovery`], with the scales and ticks in [`axis`] and the SVG writer in [`svg`].

mod axis;
mod recovery;
mod svg;
mod throughput;

use crate::cli::Config;
use crate::machine::Environment;
use crate::numbers::scale;
use crate::plan::Plan;
use crate::stats::Results;
use recovery::Series;
use svg::Svg;

const PMEM_COLOR: &str = "#2b6cb0";
const PMDK_COLOR: &str = "#dd6b20";
const FLOOR_COLOR: &str = "#c53030";
const AXIS_COLOR: &str = "#4a5568";
const GRID_COLOR: &str = "#e2e8f0";
/// A white outline under label text, so that labels stay legible over lines and bars.
const HALO: &str = r#"stroke="white" stroke-width="3" paint-order="stroke""#;

/// What a legend entry shows before its label.
enum Swatch<'a> {
    Bar(&'static str),
    Whisker,
    FloorLine,
    Series(&'a Series),
}

impl Swatch<'_> {
    /// Draws the swatch with its left end at `x`, centred on `y`.
    fn draw(&self, svg: &mut Svg, x: f64, y: f64) {
        match self {
            Self::Bar(color) => svg.rect(x, y - 7.0, 18.0, 14.0, &format!("fill=\"{color}\"")),
            Self::Whisker => {
                let style = "stroke=\"#1a202c\" stroke-width=\"1.2\"";
                svg.line((x + 9.0, y - 7.0), (x + 9.0, y + 7.0), style);
                svg.line((x + 5.0, y - 7.0), (x + 13.0, y - 7.0), style);
                svg.line((x + 5.0, y + 7.0), (x + 13.0, y + 7.0), style);
            }
            Self::FloorLine => svg.line(
                (x, y),
                (x + 18.0, y),
                &format!("stroke=\"{FLOOR_COLOR}\" stroke-width=\"2\" stroke-dasharray=\"5 3\""),
            ),
            Self::Series(line) => {
                svg.line((x - 2.0, y), (x + 20.0, y), &line.stroke());
                line.marker.draw(svg, (x + 9.0, y), &line.marker_style());
            }
        }
    }
}

/// A plot's page and, inside it, the plot area, in pixels.
struct Layout {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Layout {
    /// The plot area's left, right, top and bottom edges.
    fn area(&self) -> (f64, f64, f64, f64) {
        (self.left, self.right, self.top, self.bottom)
    }
}

/// A plot's document, with its `title` (the one a viewer shows for the file), and its
/// `heading` and `subtitle` above the plot area, from its left edge.
fn document(layout: &Layout, title: &str, heading: &str, subtitle: &str) -> Svg {
    let mut svg = Svg::new(layout.width, layout.height, title);
    svg.text(
        layout.left,
        28.0,
        "font-size=\"18\" font-weight=\"bold\" fill=\"#1a202c\"",
        heading,
    );
    svg.text(
        layout.left,
        48.0,
        &format!("fill=\"{AXIS_COLOR}\""),
        subtitle,
    );
    svg
}

/// Draws the legend entries left to right from `x`.
fn legend(svg: &mut Svg, mut x: f64, y: f64, entries: &[(&str, Swatch<'_>)]) {
    for (label, swatch) in entries {
        swatch.draw(svg, x, y);
        svg.text(x + 24.0, y + 4.0, "fill=\"#1a202c\"", label);
        // No text metrics in a hand-written SVG: 6.8 px per character is a safe upper bound
        // for 12 px DejaVu Sans in this ASCII text.
        x += 24.0 + label.len() as f64 * 6.8 + 22.0;
    }
}

/// The two plots, by file name, for the results of `plan`.
pub(crate) fn plots(
    config: &Config,
    environment: &Environment,
    plan: &Plan,
    results: &Results,
) -> [(&'static str, String); 2] {
    let subtitle = subtitle(config, environment);
    [
        (
            "throughput.svg",
            throughput::svg(&throughput::groups(plan, results), &subtitle, config.rounds),
        ),
        (
            "recovery.svg",
            recovery::svg(&recovery::series(plan, results), &subtitle, config.rounds),
        ),
    ]
}

/// The line under both titles: CPU, both libraries' flush settings, the pool directory,
/// and the op scale where it is not 1.
fn subtitle(config: &Config, environment: &Environment) -> String {
    let mut subtitle = format!(
        "{} · {} · PMDK: PMEM_IS_PMEM_FORCE=1 · pools in {}",
        environment.cpu,
        environment
            .flush
            .split(" (")
            .next()
            .unwrap_or_default()
            .replace('`', ""),
        config.pool_dir.display()
    );
    if config.ops_scale != 1.0 {
        subtitle.push_str(&format!(" · op counts ×{}", scale(config.ops_scale)));
    }
    subtitle
}
