//! Box plots of one quantity per class (Tukey's): the box spans the quartiles with a line at
//! the median, whiskers reach the most extreme values within 1.5·IQR of the box, and values
//! beyond are drawn as points. Drawn by hand rather than with plotters' `Boxplot`, whose
//! whiskers end at the fences themselves, where there may be no data at all.

use std::path::Path;

use anyhow::ensure;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{axis_range, colour, render, slot_chart, Figure};

/// One box: the class name and its values (non-finite ones are dropped).
#[derive(Clone, Debug, PartialEq)]
pub struct BoxClass {
    pub name: String,
    pub values: Vec<f64>,
}

/// What a box shows, in data units.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxStats {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    /// Ends of the whiskers: the extreme values within 1.5·IQR of the box.
    pub low: f64,
    pub high: f64,
    pub outliers: Vec<f64>,
}

impl BoxStats {
    /// Quartiles by linear interpolation between order statistics (numpy's default), or `None`
    /// when no value is finite.
    pub fn of(values: &[f64]) -> Option<BoxStats> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let rank = p * (v.len() - 1) as f64;
            let (lo, d) = (rank.floor() as usize, rank.fract());
            v[lo] + (v[(lo + 1).min(v.len() - 1)] - v[lo]) * d
        };
        if v.is_empty() {
            return None;
        }
        let (q1, median, q3) = (q(0.25), q(0.5), q(0.75));
        let (lo_fence, hi_fence) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
        let inside = || {
            v.iter()
                .copied()
                .filter(|x| (lo_fence..=hi_fence).contains(x))
        };
        Some(BoxStats {
            q1,
            median,
            q3,
            low: inside().fold(q1, f64::min),
            high: inside().fold(q3, f64::max),
            outliers: v
                .iter()
                .copied()
                .filter(|x| !(lo_fence..=hi_fence).contains(x))
                .collect(),
        })
    }
}

/// Draws one box per class, in the order given, to `path` (.png, .svg or .pdf).
pub fn boxes(
    path: impl AsRef<Path>,
    title: &str,
    classes: &[BoxClass],
    (x_label, y_label): (&str, &str),
) -> anyhow::Result<()> {
    let stats: Vec<(String, BoxStats)> = classes
        .iter()
        .filter_map(|c| Some((c.name.clone(), BoxStats::of(&c.values)?)))
        .collect();
    ensure!(!stats.is_empty(), "no values to draw");
    let y_range = axis_range(
        stats
            .iter()
            .flat_map(|(_, s)| [s.low, s.high].into_iter().chain(s.outliers.clone())),
    );
    render(
        path.as_ref(),
        &BoxFigure {
            title,
            labels: (x_label, y_label),
            stats: &stats,
            y_range,
        },
    )
}

struct BoxFigure<'a> {
    title: &'a str,
    labels: (&'a str, &'a str),
    stats: &'a [(String, BoxStats)],
    y_range: (f64, f64),
}

/// Half the width of a box, in slots.
const HALF: f64 = 0.25;

impl Figure for BoxFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let names: Vec<&str> = self.stats.iter().map(|(n, _)| n.as_str()).collect();
        let mut chart = slot_chart(root, self.title, &names, self.y_range, self.labels)?;
        for (i, (_, s)) in self.stats.iter().enumerate() {
            let (c, x) = (colour(i), i as f64 + 0.5);
            let edge = c.stroke_width(2);
            let corners = [(x - HALF, s.q1), (x + HALF, s.q3)];
            chart.draw_series([
                Rectangle::new(corners, c.mix(0.25).filled()),
                Rectangle::new(corners, edge),
            ])?;
            // The median twice as thick as the box's edges, so it reads apart from them.
            chart.draw_series([
                PathElement::new(vec![(x, s.q3), (x, s.high)], edge),
                PathElement::new(vec![(x, s.q1), (x, s.low)], edge),
                PathElement::new(
                    vec![(x - HALF, s.median), (x + HALF, s.median)],
                    c.stroke_width(4),
                ),
            ])?;
            chart.draw_series(
                s.outliers
                    .iter()
                    .map(|&y| Circle::new((x, y), 4, c.filled())),
            )?;
        }
        Ok(())
    }
}
