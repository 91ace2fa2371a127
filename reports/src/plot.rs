//! Report figures drawn with `plotters`, written as PNG or SVG by file extension.
//!
//! Text is rendered with DejaVu Sans embedded in the binary (see
//! `assets/DejaVuSans-LICENSE.txt`) through plotters' `ab_glyph` backend, so
//! plotting works on a bare machine with no fontconfig or system fonts, and
//! PNG output is identical wherever it is produced.
//!
//! Non-finite data points are skipped rather than failing the whole figure.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{bail, ensure, Context};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// DejaVu Sans 2.37 (Bitstream Vera licence, redistributable).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// plotters' default family name, so every default text style finds the font.
const FAMILY: &str = "sans-serif";

/// Pixel size of every figure (SVG user units for `.svg`).
pub const DEFAULT_SIZE: (u32, u32) = (1024, 640);

const TITLE_PX: u32 = 28;
const AXIS_DESC_PX: u32 = 20;
const TICK_PX: u32 = 16;
const LEGEND_PX: u32 = 16;

/// Okabe–Ito colours (yellow dropped: unreadable on white), distinguishable
/// under the common forms of colour blindness.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(0, 0, 0),
];

/// Colour of series or group `i`, cycling through [`PALETTE`].
fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One bar of [`per_node_bars`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Tick label under the bar (e.g. the node id).
    pub label: String,
    /// Bar height; a non-finite value leaves an empty slot.
    pub value: f64,
    /// Absolute y of the error bar's lower end (e.g. `Summary::ci95_low`).
    pub err_low: Option<f64>,
    /// Absolute y of the error bar's upper end (e.g. `Summary::ci95_high`).
    pub err_high: Option<f64>,
    /// Colour group (index into the `group_names` legend).
    pub group: usize,
}

/// Registers the embedded font once per process; plotters keeps a global table.
fn ensure_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ensure!(ok, "embedded font DejaVuSans.ttf could not be parsed");
    Ok(())
}

/// A figure that can draw itself on any plotters backend, so one drawing
/// routine serves both PNG and SVG.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws `fig` to `path` (creating parent directories), choosing the backend
/// from the extension: `.png` or `.svg`, case-insensitive.
fn render(path: &Path, fig: &impl Figure) -> anyhow::Result<()> {
    ensure_font()?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("png" | "svg")) {
        bail!("{}: plot files must end in .png or .svg", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if ext.as_deref() == Some("png") {
        draw_on(
            BitMapBackend::new(path, DEFAULT_SIZE).into_drawing_area(),
            fig,
        )
    } else {
        draw_on(SVGBackend::new(path, DEFAULT_SIZE).into_drawing_area(), fig)
    }
    .with_context(|| format!("plotting {}", path.display()))
}

/// Paints a white page, draws `fig` and flushes the backend to its file.
fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    fig: &impl Figure,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    fig.draw(&root)?;
    root.present()?;
    Ok(())
}

/// Finite (min, max) of `values`, or `None` if there is none.
fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Axis range covering `values` with 5% padding; widened when empty or
/// constant so plotters always gets a non-degenerate range.
fn axis_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    match finite_bounds(values) {
        None => (0.0, 1.0),
        Some((lo, hi)) if lo == hi => {
            let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo - d, hi + d)
        }
        Some((lo, hi)) => {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        }
    }
}

/// Tick label for a numeric axis: up to six decimals with trailing zeros
/// dropped, so ticks read "30" or "0.25" rather than "30.0" or float noise.
fn tick(v: &f64) -> String {
    let s = crate::table::fmt_f64(*v, 6);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Grid colours: faint enough that data lines and bars dominate.
const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);
const GRID_LIGHT: RGBColor = RGBColor(242, 242, 242);

/// Categorical axis of `n` equal slots: slot `i` spans `[i, i + 1]` with its
/// tick at the centre `i + 0.5`. Used instead of plotters' segmented integer
/// coordinates, which collapse everything to one spot when there is one slot.
#[derive(Clone)]
struct Slots(usize);

impl Ranged for Slots {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let frac = v / self.0.max(1) as f64;
        limit.0 + (f64::from(limit.1 - limit.0) * frac).round() as i32
    }

    /// Slot centres, thinned to every k-th slot when they would not fit.
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let step = self.0.div_ceil(hint.max_num_points().max(1)).max(1);
        (0..self.0).step_by(step).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.0.max(1) as f64
    }
}

/// Tick formatter naming slot `i` (tick at `i + 0.5`) by `names[i]`.
fn slot_labels<S: AsRef<str>>(names: &[S]) -> impl Fn(&f64) -> String + '_ {
    move |v| {
        names
            .get(v.floor().max(0.0) as usize)
            .map_or_else(String::new, |s| s.as_ref().to_string())
    }
}

/// How many of `labels` fit side by side across `area` without overlapping,
/// measured with the embedded font; the axis then labels every k-th slot.
fn labels_that_fit<DB: DrawingBackend, CT: CoordTranslate, S: AsRef<str>>(
    area: &DrawingArea<DB, CT>,
    labels: &[S],
) -> anyhow::Result<usize>
where
    DB::ErrorType: 'static,
{
    let style = TextStyle::from((FAMILY, TICK_PX).into_font());
    let mut widest = 1;
    for l in labels {
        widest = widest.max(area.estimate_text_size(l.as_ref(), &style)?.0);
    }
    let fit = area.dim_in_pixel().0 / (widest + 10);
    Ok((fit as usize).clamp(1, labels.len().max(1)))
}

/// Draws the legend of a chart in a framed, semi-opaque box.
fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, LEGEND_PX))
        .draw()?;
    Ok(())
}

/// Per-node bar chart (e.g. completion time per node), bars in the given
/// order, coloured by `group`, with optional error bars. A legend naming each
/// group (`group_names[g]`, else "group g") is drawn when there are two or
/// more groups.
pub fn per_node_bars(
    path: impl AsRef<Path>,
    title: &str,
    bars: &[Bar],
    y_label: &str,
    group_names: &[&str],
) -> anyhow::Result<()> {
    labelled_bars(path, title, bars, "node", y_label, group_names)
}

/// [`per_node_bars`] with a chosen x-axis description, for bars that are not nodes
/// (configurations, variants).
pub fn labelled_bars(
    path: impl AsRef<Path>,
    title: &str,
    bars: &[Bar],
    x_label: &str,
    y_label: &str,
    group_names: &[&str],
) -> anyhow::Result<()> {
    render(
        path.as_ref(),
        &BarsFigure {
            title,
            bars,
            x_label,
            y_label,
            group_names,
        },
    )
}

struct BarsFigure<'a> {
    title: &'a str,
    bars: &'a [Bar],
    x_label: &'a str,
    y_label: &'a str,
    group_names: &'a [&'a str],
}

impl Figure for BarsFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let bars = self.bars;
        let n = bars.len();
        // Bars grow from zero, so zero is always in range.
        let ys = bars
            .iter()
            .flat_map(|b| [Some(b.value), b.err_low, b.err_high])
            .flatten()
            .chain([0.0]);
        let (lo, hi) = finite_bounds(ys).unwrap_or((0.0, 1.0));
        let mut groups: Vec<usize> = bars.iter().map(|b| b.group).collect();
        groups.sort_unstable();
        groups.dedup();
        let with_legend = groups.len() > 1;
        // Extra headroom keeps the legend clear of the tallest bars.
        let span = if hi > lo { hi - lo } else { 1.0 };
        let pad = span * if with_legend { 0.25 } else { 0.08 };
        let y_range =
            (if lo < 0.0 { lo - pad } else { 0.0 })..(if hi > 0.0 { hi + pad } else { 0.0 });

        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FAMILY, TITLE_PX))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(Slots(n), y_range)?;
        let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        let label_of = slot_labels(&labels);
        let n_labels = labels_that_fit(chart.plotting_area(), &labels)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n_labels)
            .x_label_formatter(&label_of)
            .y_label_formatter(&tick)
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .axis_desc_style((FAMILY, AXIS_DESC_PX))
            .label_style((FAMILY, TICK_PX))
            .draw()?;

        // Bars fill the middle 70% of their slot.
        const GAP: f64 = 0.15;
        for &g in &groups {
            let c = colour(g);
            let rects = bars
                .iter()
                .enumerate()
                .filter(|(_, b)| b.group == g && b.value.is_finite())
                .map(|(i, b)| {
                    Rectangle::new(
                        [(i as f64 + GAP, 0.0), (i as f64 + 1.0 - GAP, b.value)],
                        c.filled(),
                    )
                });
            let series = chart.draw_series(rects)?;
            if with_legend {
                let name = self
                    .group_names
                    .get(g)
                    .map_or_else(|| format!("group {g}"), |s| s.to_string());
                series.label(name).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled())
                });
            }
        }

        // Error bars: a vertical whisker with caps a third of the bar wide.
        let slot_px = f64::from(chart.plotting_area().dim_in_pixel().0) / n.max(1) as f64;
        let cap = (slot_px * (1.0 - 2.0 * GAP) / 6.0).clamp(2.0, 12.0) as i32;
        let whisker = BLACK.stroke_width(2);
        for (i, b) in bars.iter().enumerate() {
            if !b.value.is_finite() || (b.err_low.is_none() && b.err_high.is_none()) {
                continue;
            }
            let end = |e: Option<f64>| e.filter(|v| v.is_finite()).unwrap_or(b.value);
            let (elo, ehi) = (end(b.err_low), end(b.err_high));
            let x = i as f64 + 0.5;
            chart.draw_series([PathElement::new(vec![(x, elo), (x, ehi)], whisker)])?;
            chart.draw_series([elo, ehi].map(|y| {
                EmptyElement::at((x, y)) + PathElement::new(vec![(-cap, 0), (cap, 0)], whisker)
            }))?;
        }
        if with_legend {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

/// Empirical CDFs (e.g. of completion times), one step line per series.
/// Non-finite values count as "never reached": they stay in the denominator,
/// so a series with unfinished nodes plateaus below 1.
pub fn cdf(
    path: impl AsRef<Path>,
    title: &str,
    series: &[(String, Vec<f64>)],
    x_label: &str,
) -> anyhow::Result<()> {
    let (x0, x1) = axis_range(series.iter().flat_map(|(_, v)| v.iter().copied()));
    let steps: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, values)| {
            let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            let total = values.len().max(1) as f64;
            let mut pts = vec![(x0, 0.0)];
            for (k, &x) in v.iter().enumerate() {
                pts.push((x, k as f64 / total));
                pts.push((x, (k + 1) as f64 / total));
            }
            pts.push((x1, v.len() as f64 / total));
            (name.clone(), pts)
        })
        .collect();
    render(
        path.as_ref(),
        &LinesFigure {
            title,
            series: &steps,
            x_label,
            y_label: "cumulative fraction of nodes",
            x_range: (x0, x1),
            y_range: (0.0, 1.05),
            legend_at: SeriesLabelPosition::LowerRight,
        },
    )
}

/// Line chart of (x, y) series (e.g. swarm progress over time), with a legend.
pub fn lines(
    path: impl AsRef<Path>,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    x_label: &str,
    y_label: &str,
) -> anyhow::Result<()> {
    let points = || series.iter().flat_map(|(_, p)| p.iter().copied());
    render(
        path.as_ref(),
        &LinesFigure {
            title,
            series,
            x_label,
            y_label,
            x_range: axis_range(points().map(|p| p.0)),
            y_range: axis_range(points().map(|p| p.1)),
            legend_at: SeriesLabelPosition::UpperLeft,
        },
    )
}

struct LinesFigure<'a> {
    title: &'a str,
    series: &'a [(String, Vec<(f64, f64)>)],
    x_label: &'a str,
    y_label: &'a str,
    x_range: (f64, f64),
    y_range: (f64, f64),
    legend_at: SeriesLabelPosition,
}

impl Figure for LinesFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FAMILY, TITLE_PX))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(
                self.x_range.0..self.x_range.1,
                self.y_range.0..self.y_range.1,
            )?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .axis_desc_style((FAMILY, AXIS_DESC_PX))
            .label_style((FAMILY, TICK_PX))
            .draw()?;
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let style = colour(i).stroke_width(3);
            let finite: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            // A lone point has no segment to draw, so mark it instead.
            let marker = if finite.len() == 1 { 5 } else { 0 };
            chart
                .draw_series(LineSeries::new(finite, style).point_size(marker))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        if !self.series.is_empty() {
            legend(&mut chart, self.legend_at.clone())?;
        }
        Ok(())
    }
}

/// Heatmap of `values[row][col]` with `ys[row]` up the y axis (first row at
/// the bottom) and `xs[col]` along the x axis. Cells are coloured on a viridis
/// scale shown in a colour bar titled `value_label`, and each cell is printed
/// with its value when it is large enough; non-finite cells are grey.
#[allow(clippy::too_many_arguments)] // Flat signature mirrors the other plot helpers.
pub fn heatmap(
    path: impl AsRef<Path>,
    title: &str,
    xs: &[String],
    ys: &[String],
    values: &[Vec<f64>],
    x_label: &str,
    y_label: &str,
    value_label: &str,
) -> anyhow::Result<()> {
    ensure!(
        !xs.is_empty() && !ys.is_empty(),
        "heatmap needs at least one row and one column"
    );
    ensure!(
        values.len() == ys.len() && values.iter().all(|r| r.len() == xs.len()),
        "heatmap values must be {} rows of {} columns",
        ys.len(),
        xs.len()
    );
    render(
        path.as_ref(),
        &HeatmapFigure {
            title,
            xs,
            ys,
            values,
            x_label,
            y_label,
            value_label,
        },
    )
}

struct HeatmapFigure<'a> {
    title: &'a str,
    xs: &'a [String],
    ys: &'a [String],
    values: &'a [Vec<f64>],
    x_label: &'a str,
    y_label: &'a str,
    value_label: &'a str,
}

/// Cell text with about three significant digits, so labels fit the cell.
fn cell_text(v: f64) -> String {
    let decimals = match v.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        _ => 2,
    };
    crate::table::fmt_f64(v, decimals)
}

impl Figure for HeatmapFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (nx, ny) = (self.xs.len(), self.ys.len());
        let (lo, hi) = match finite_bounds(self.values.iter().flatten().copied()) {
            Some((lo, hi)) if lo == hi => (lo - 0.5, hi + 0.5),
            Some(b) => b,
            None => (0.0, 1.0),
        };
        let fill = |v: f64| {
            if v.is_finite() {
                ViridisRGB::get_color_normalized(v, lo, hi)
            } else {
                RGBColor(200, 200, 200)
            }
        };

        let body = root
            .margin(10, 0, 0, 0)
            .titled(self.title, (FAMILY, TITLE_PX))?;
        let (main, scale) = body.split_horizontally(body.dim_in_pixel().0.saturating_sub(170));
        let mut chart = ChartBuilder::on(&main)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(110)
            .build_cartesian_2d(Slots(nx), Slots(ny))?;
        let (x_fmt, y_fmt) = (slot_labels(self.xs), slot_labels(self.ys));
        let n_labels = labels_that_fit(chart.plotting_area(), self.xs)?;
        let (w, h) = chart.plotting_area().dim_in_pixel();
        // Row labels are one line high; thin them the same way when rows are many.
        let n_ylabels = ((h / (TICK_PX + 6)) as usize).clamp(1, ny);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n_labels)
            .y_labels(n_ylabels)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .axis_desc_style((FAMILY, AXIS_DESC_PX))
            .label_style((FAMILY, TICK_PX))
            .draw()?;

        let cells = || {
            self.values
                .iter()
                .enumerate()
                .flat_map(|(j, row)| row.iter().enumerate().map(move |(i, &v)| (i, j, v)))
        };
        chart.draw_series(cells().map(|(i, j, v)| {
            let (x, y) = (i as f64, j as f64);
            Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill(v).filled())
        }))?;

        // Size text to the cell; skip it when cells are too small to read.
        let (cell_w, cell_h) = (w as f64 / nx as f64, h as f64 / ny as f64);
        for (i, j, v) in cells() {
            let text = if v.is_finite() {
                cell_text(v)
            } else {
                "n/a".to_string()
            };
            let px = (cell_w / (0.62 * text.chars().count() as f64 + 0.6))
                .min(cell_h * 0.45)
                .min(18.0);
            if px < 9.0 {
                continue;
            }
            // Dark text on light cells and vice versa (Rec. 709 luma).
            let RGBColor(r, g, b) = fill(v);
            let luma = 0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b);
            let ink = if luma > 140.0 { BLACK } else { WHITE };
            let style = TextStyle::from((FAMILY, px).into_font())
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series([Text::new(text, (i as f64 + 0.5, j as f64 + 0.5), style)])?;
        }

        // Colour bar: a stack of thin slices spanning the data range.
        let mut bar = ChartBuilder::on(&scale)
            .margin(20)
            .margin_left(10)
            .x_label_area_size(60)
            .right_y_label_area_size(90)
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_label_formatter(&tick)
            .y_desc(self.value_label)
            .axis_desc_style((FAMILY, AXIS_DESC_PX))
            .label_style((FAMILY, TICK_PX))
            .draw()?;
        const SLICES: usize = 128;
        let step = (hi - lo) / SLICES as f64;
        bar.draw_series((0..SLICES).map(|k| {
            let y0 = lo + step * k as f64;
            Rectangle::new(
                [(0.0, y0), (1.0, y0 + step)],
                fill(y0 + step / 2.0).filled(),
            )
        }))?;
        Ok(())
    }
}
