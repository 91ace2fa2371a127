//! Report figures drawn with `plotters`, written as PNG, SVG or PDF by file extension.
//!
//! Text is rendered with DejaVu Sans embedded in the binary (see
//! `assets/DejaVuSans-LICENSE.txt`) through plotters' `ab_glyph` backend, so
//! plotting works on a bare machine with no fontconfig or system fonts, and
//! PNG output is identical wherever it is produced. PDF is converted from the SVG (`pdf`).
//!
//! Non-finite data points are skipped rather than failing the whole figure.
//!
//! One file per chart kind: `bars` (per-node and per-class bars, relative to the mean or on a
//! cut axis, with CIs), `lines` (CDFs and line charts), `xy` (a result against a swept parameter, with CIs and
//! reference lines), `scatter` (completion vs online days with trend lines), `boxes` (Tukey box plots per class), `heatmap`; this file holds what they
//! share (font, backends, palette, categorical axis, legend).

mod bars;
mod boxes;
mod heatmap;
mod lines;
mod pdf;
mod scatter;
mod xy;

pub use bars::{
    bars_from, labelled_bars, pool_by_group, relative_to_run_mean, Bar, BarChart, Sample, Scale,
    WHISKER, ZERO_LINE,
};
pub use boxes::{boxes, BoxClass, BoxStats};
pub use heatmap::{heatmap, heatmap_with_notes};
pub use lines::{cdf, lines};
pub use scatter::{scatter, ScatterSeries};
pub use xy::{Reference, XyChart, XyPoint, XySeries, REFERENCE};

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{bail, ensure, Context};
use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, ValueFormatter};
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// DejaVu Sans 2.37 (Bitstream Vera licence, redistributable).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
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

/// Registers the embedded font once per process; plotters keeps a global table.
fn ensure_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ensure!(ok, "embedded font DejaVuSans.ttf could not be parsed");
    Ok(())
}

/// A figure that can draw itself on any plotters backend, so one drawing
/// routine serves PNG and SVG (and PDF, via SVG).
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// The file formats a figure is written in, named by the output path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
    Pdf,
}

impl Format {
    /// The format `path`'s extension names (case-insensitive); an error listing the formats
    /// otherwise, so a caller can refuse a bad `-o` before doing any work.
    pub fn of(path: &Path) -> anyhow::Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match ext.as_deref() {
            Some("png") => Format::Png,
            Some("svg") => Format::Svg,
            Some("pdf") => Format::Pdf,
            _ => bail!(
                "{}: plot files must end in .svg, .png or .pdf",
                path.display()
            ),
        })
    }
}

/// Draws `fig` to `path` (creating parent directories) in the [`Format`] its extension names.
fn render(path: &Path, fig: &impl Figure) -> anyhow::Result<()> {
    ensure_font()?;
    let format = Format::of(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match format {
        Format::Png => draw_on(
            BitMapBackend::new(path, DEFAULT_SIZE).into_drawing_area(),
            fig,
        ),
        Format::Svg => draw_on(SVGBackend::new(path, DEFAULT_SIZE).into_drawing_area(), fig),
        Format::Pdf => {
            let mut svg = String::new();
            draw_on(
                SVGBackend::with_string(&mut svg, DEFAULT_SIZE).into_drawing_area(),
                fig,
            )
            .and_then(|()| pdf::from_svg(&svg))
            .and_then(|bytes| Ok(std::fs::write(path, bytes)?))
        }
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

/// A chart on the coordinates `x` and `y` turn into.
type NumericChart<'a, DB, X, Y> = ChartContext<
    'a,
    DB,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;

/// A chart with numeric axes, titled, gridded and labelled as every line chart is.
fn numeric_chart<'a, DB, X, Y>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    (x, y): (X, Y),
    (x_label, y_label): (&str, &str),
) -> anyhow::Result<NumericChart<'a, DB, X, Y>>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, TITLE_PX))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .bold_line_style(GRID_BOLD)
        .light_line_style(GRID_LIGHT)
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style((FAMILY, AXIS_DESC_PX))
        .label_style((FAMILY, TICK_PX))
        .draw()?;
    Ok(chart)
}

/// A chart of one labelled slot per name across x (labels thinned to fit) and a numeric y,
/// titled, gridded and labelled as every categorical chart is.
fn slot_chart<'a, DB>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    names: &[&str],
    (y0, y1): (f64, f64),
    (x_label, y_label): (&str, &str),
) -> anyhow::Result<ChartContext<'a, DB, Cartesian2d<Slots, plotters::coord::types::RangedCoordf64>>>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, TITLE_PX))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(Slots(names.len()), y0..y1)?;
    let label_of = slot_labels(names);
    let n_labels = labels_that_fit(chart.plotting_area(), names)?;
    let y_desc_px = fitted_px(chart.plotting_area(), y_label)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n_labels)
        .x_label_formatter(&label_of)
        .y_label_formatter(&tick)
        .bold_line_style(GRID_BOLD)
        .light_line_style(GRID_LIGHT)
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style((FAMILY, y_desc_px))
        .label_style((FAMILY, TICK_PX))
        .draw()?;
    Ok(chart)
}

/// The axis description's font size: the usual size, smaller when a long description (a cut
/// axis's note) would not fit along the plot's height.
fn fitted_px<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    text: &str,
) -> anyhow::Result<u32>
where
    DB::ErrorType: 'static,
{
    let style = TextStyle::from((FAMILY, AXIS_DESC_PX).into_font());
    let width = area.estimate_text_size(text, &style)?.0.max(1);
    let room = area.dim_in_pixel().1;
    Ok(if width <= room {
        AXIS_DESC_PX
    } else {
        (AXIS_DESC_PX * room / width).max(TICK_PX - 4)
    })
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
