//! Line charts: empirical CDFs and (x, y) series.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{axis_range, colour, legend, numeric_chart, render, Figure};

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
        let mut chart = numeric_chart(
            root,
            self.title,
            (
                self.x_range.0..self.x_range.1,
                self.y_range.0..self.y_range.1,
            ),
            (self.x_label, self.y_label),
        )?;
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
