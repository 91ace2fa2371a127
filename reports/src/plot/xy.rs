//! A result against a swept parameter: one line per series with a 95% CI whisker on every
//! point, optional log axes, and dashed reference lines (a bound, a baseline).

use std::path::Path;

use anyhow::{bail, ensure};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{axis_range, colour, finite_bounds, legend, numeric_chart, render, Figure};

/// Colour of reference lines: neutral, so they never read as one more series.
pub const REFERENCE: RGBColor = RGBColor(90, 90, 90);

/// One point of a series: its value at `x` and, when there are several runs, the ends of the
/// 95% CI of that value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct XyPoint {
    pub x: f64,
    pub y: f64,
    pub ci: Option<(f64, f64)>,
}

/// One line of the chart (e.g. one incentive), points in any order: it is drawn sorted by x.
#[derive(Clone, Debug, PartialEq)]
pub struct XySeries {
    pub name: String,
    pub points: Vec<XyPoint>,
}

/// A dashed line to compare against: a curve of (x, y) points, or one y across the whole axis
/// when it has a single point.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What the chart says around its data.
#[derive(Clone, Copy, Debug)]
pub struct XyChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_x: bool,
    pub log_y: bool,
}

impl XyChart<'_> {
    /// Draws the chart to `path` (.png, .svg or .pdf). A log axis refuses values that are not
    /// positive, naming the first one, rather than dropping points silently.
    pub fn draw(
        &self,
        path: impl AsRef<Path>,
        series: &[XySeries],
        refs: &[Reference],
    ) -> anyhow::Result<()> {
        ensure!(
            series.iter().any(|s| !s.points.is_empty()),
            "no points to draw"
        );
        let xs = || {
            series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.x))
                .chain(
                    refs.iter()
                        .filter(|r| r.points.len() > 1)
                        .flat_map(|r| r.points.iter().map(|p| p.0)),
                )
        };
        let ys = || {
            series
                .iter()
                .flat_map(|s| s.points.iter())
                .flat_map(|p| [Some(p.y), p.ci.map(|c| c.0), p.ci.map(|c| c.1)])
                .flatten()
                .chain(refs.iter().flat_map(|r| r.points.iter().map(|p| p.1)))
        };
        let x_range = range(xs(), self.log_x, self.x_label)?;
        let y_range = range(ys(), self.log_y, self.y_label)?;
        let mut sorted = series.to_vec();
        for s in &mut sorted {
            s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
        }
        render(
            path.as_ref(),
            &XyFigure {
                chart: *self,
                series: &sorted,
                refs,
                x_range,
                y_range,
            },
        )
    }
}

/// Axis range of `values`: padded by 5% of the span on a linear axis, by 5% of the decades on
/// a log axis (which needs every finite value positive).
fn range(
    values: impl Iterator<Item = f64> + Clone,
    log: bool,
    label: &str,
) -> anyhow::Result<(f64, f64)> {
    if !log {
        return Ok(axis_range(values));
    }
    if let Some(bad) = values.clone().find(|v| v.is_finite() && *v <= 0.0) {
        bail!("log axis `{label}`: {bad} is not positive");
    }
    let (lo, hi) = finite_bounds(values.map(f64::log10)).unwrap_or((0.0, 1.0));
    let pad = ((hi - lo) * 0.05).max(0.02);
    Ok((10f64.powf(lo - pad), 10f64.powf(hi + pad)))
}

struct XyFigure<'a> {
    chart: XyChart<'a>,
    series: &'a [XySeries],
    refs: &'a [Reference],
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl Figure for XyFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let ((x0, x1), (y0, y1)) = (self.x_range, self.y_range);
        // A log x axis over a decade or two gets few powers of ten as ticks: tick the swept
        // values themselves.
        let mut ticks: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x))
            .filter(|x| x.is_finite())
            .collect();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
        let log_x = || (x0..x1).log_scale().with_key_points(ticks.clone());
        let c = &self.chart;
        let labels = (c.x_label, c.y_label);
        // plotters types linear and log axes differently, hence one call per combination.
        match (c.log_x, c.log_y) {
            (false, false) => self.on(numeric_chart(root, c.title, (x0..x1, y0..y1), labels)?),
            (true, false) => self.on(numeric_chart(root, c.title, (log_x(), y0..y1), labels)?),
            (false, true) => {
                let y = (y0..y1).log_scale();
                self.on(numeric_chart(root, c.title, (x0..x1, y), labels)?)
            }
            (true, true) => {
                let y = (y0..y1).log_scale();
                self.on(numeric_chart(root, c.title, (log_x(), y), labels)?)
            }
        }
    }
}

impl XyFigure<'_> {
    /// Draws references, series and whiskers, and the legend, on a chart with its axes.
    fn on<'a, DB, X, Y>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>,
    ) -> anyhow::Result<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        let (x0, x1) = self.x_range;
        for r in self.refs {
            let pts = match r.points[..] {
                [(_, y)] => vec![(x0, y), (x1, y)],
                _ => finite(r.points.iter().copied()),
            };
            let style = REFERENCE.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(pts, 10, 6, style))?
                .label(r.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        for (i, s) in self.series.iter().enumerate() {
            let style = colour(i).stroke_width(3);
            let pts = finite(s.points.iter().map(|p| (p.x, p.y)));
            chart
                .draw_series(LineSeries::new(pts, style).point_size(5))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            let whiskers = s.points.iter().filter_map(|p| {
                let (lo, hi) = p.ci?;
                [p.x, p.y, lo, hi].iter().all(|v| v.is_finite()).then(|| {
                    ErrorBar::new_vertical(p.x, lo, p.y, hi, colour(i).stroke_width(2), 12)
                })
            });
            chart.draw_series(whiskers)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// The points with both coordinates finite (a missing mean is a gap, not a zero).
fn finite(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    points
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}
