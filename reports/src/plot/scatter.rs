//! Leechers' completion against online days: one marker per node, one colour per series, and
//! each series' least-squares trend line with its Spearman ρ and slope in the legend, so the
//! figure shows both what the thesis measures (ρ) and the nodes behind it.

use std::path::Path;

use anyhow::ensure;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{axis_range, colour, legend, numeric_chart, render, Figure};
use crate::stats::{mean, ols_slope, spearman};

/// One colour of the scatter: its name and (online days, completion s) per node.
#[derive(Clone, Debug, PartialEq)]
pub struct ScatterSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Draws `series` to `path` (.png, .svg or .pdf). A series with fewer than two distinct x values has
/// no trend line and says so in its legend entry ("ρ n/a").
pub fn scatter(
    path: impl AsRef<Path>,
    title: &str,
    series: &[ScatterSeries],
    labels: (&str, &str),
) -> anyhow::Result<()> {
    let series: Vec<ScatterSeries> = series
        .iter()
        .map(|s| ScatterSeries {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect(),
        })
        .collect();
    ensure!(
        series.iter().any(|s| !s.points.is_empty()),
        "no points to draw"
    );
    let all = || series.iter().flat_map(|s| s.points.iter());
    render(
        path.as_ref(),
        &ScatterFigure {
            title,
            labels,
            x_range: axis_range(all().map(|p| p.0)),
            y_range: axis_range(all().map(|p| p.1)),
            series: &series,
        },
    )
}

/// The trend of one series: its ρ and, when x varies, the fitted line's slope and the line
/// itself across the series' x span.
struct Trend {
    rho: Option<f64>,
    slope: Option<f64>,
    line: Vec<(f64, f64)>,
}

fn trend(points: &[(f64, f64)]) -> Trend {
    let (x, y): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    let slope = ols_slope(&x, &y);
    let line = match (slope, mean(&x), mean(&y)) {
        (Some(b), Some(mx), Some(my)) => {
            let (lo, hi) = x
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                    (l.min(*v), h.max(*v))
                });
            vec![(lo, my + b * (lo - mx)), (hi, my + b * (hi - mx))]
        }
        _ => Vec::new(),
    };
    Trend {
        rho: spearman(&x, &y),
        slope,
        line,
    }
}

/// `name (n=…, ρ=…, slope=… s/day)`, with "n/a" where a statistic is undefined.
fn legend_entry(name: &str, n: usize, t: &Trend) -> String {
    let f = |v: Option<f64>, d: usize| v.map_or_else(|| "n/a".into(), |v| format!("{v:.d$}"));
    format!(
        "{name} (n={n}, ρ={}, slope={} s/day)",
        f(t.rho, 2),
        f(t.slope, 1)
    )
}

struct ScatterFigure<'a> {
    title: &'a str,
    labels: (&'a str, &'a str),
    x_range: (f64, f64),
    y_range: (f64, f64),
    series: &'a [ScatterSeries],
}

impl Figure for ScatterFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let ((x0, x1), (y0, y1)) = (self.x_range, self.y_range);
        let mut chart = numeric_chart(root, self.title, (x0..x1, y0..y1), self.labels)?;
        for (i, s) in self.series.iter().enumerate() {
            let c = colour(i);
            chart.draw_series(
                s.points
                    .iter()
                    .map(|&p| Circle::new(p, 4, c.mix(0.7).filled())),
            )?;
            let t = trend(&s.points);
            let style = c.stroke_width(3);
            chart
                .draw_series(LineSeries::new(t.line.clone(), style))?
                .label(legend_entry(&s.name, s.points.len(), &t))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}
