//! Bar charts of per-node or per-class values with 95% CI whiskers, on an absolute axis
//! (from zero, or cut to a stated range) or as % difference from the swarm mean.
//!
//! The thesis's orderings are differences of 0.7–10% between nodes finishing after
//! 1,500 s or more; bars growing from zero hide them. Relative bars and a cut axis show them,
//! and both say so on the figure (axis label, zero line, break mark) so a reader never takes a
//! zoomed bar for a large difference.

use std::path::Path;

use anyhow::ensure;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{colour, finite_bounds, legend, render, slot_chart, tick, Figure};
use crate::stats::summarize;

/// One bar of a [`BarChart`].
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

/// One bar's value in each of a set of runs (replicates), before averaging.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub label: String,
    pub group: usize,
    /// `runs[r]` is the value in run `r`, the same run for every sample of a chart; `None`
    /// where the run has none (a node that never finished).
    pub runs: Vec<Option<f64>>,
}

/// Each value as its % difference from the mean of all samples *in the same run*.
///
/// Normalising within a run rather than against the grand mean removes what every node of a
/// run shares (a slow seed, a lucky piece order), so the whiskers show only the spread of a
/// node's position in its swarm: the few-percent orderings the thesis is about. A run whose
/// mean is missing or zero yields no values. Dividing by `|mean|` keeps "above the mean"
/// positive for any sign.
pub fn relative_to_run_mean(samples: &[Sample]) -> Vec<Sample> {
    let runs = samples.iter().map(|s| s.runs.len()).max().unwrap_or(0);
    let means: Vec<Option<f64>> = (0..runs)
        .map(|r| {
            let xs: Vec<f64> = samples
                .iter()
                .filter_map(|s| s.runs.get(r).copied().flatten())
                .collect();
            crate::stats::mean(&xs).filter(|&m| m != 0.0)
        })
        .collect();
    samples
        .iter()
        .map(|s| Sample {
            runs: s
                .runs
                .iter()
                .zip(&means)
                .map(|(x, &m)| {
                    let (x, m) = (x.filter(|x| x.is_finite())?, m?);
                    Some(100.0 * (x - m) / m.abs())
                })
                .collect(),
            ..s.clone()
        })
        .collect()
}

/// One sample per group present (in group order, labelled `names[g]` or "group g"), whose
/// value in a run is the mean of its members' values there: per-class or per-policy bars.
/// Pooling after [`relative_to_run_mean`] gives each class's distance from the swarm mean.
pub fn pool_by_group(samples: &[Sample], names: &[&str]) -> Vec<Sample> {
    let mut groups: Vec<usize> = samples.iter().map(|s| s.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let runs = samples.iter().map(|s| s.runs.len()).max().unwrap_or(0);
    groups
        .into_iter()
        .map(|g| {
            let members: Vec<&Sample> = samples.iter().filter(|s| s.group == g).collect();
            Sample {
                label: names
                    .get(g)
                    .map_or_else(|| format!("group {g}"), |n| n.to_string()),
                group: g,
                runs: (0..runs)
                    .map(|r| {
                        let xs: Vec<f64> = members
                            .iter()
                            .filter_map(|s| s.runs.get(r).copied().flatten())
                            .collect();
                        crate::stats::mean(&xs)
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Bars at each sample's mean over its runs, with a 95% t-interval when it has two or more
/// values (one run gives a bar without whiskers; none, an empty slot).
pub fn bars_from(samples: &[Sample]) -> Vec<Bar> {
    samples
        .iter()
        .map(|s| {
            let xs: Vec<f64> = s.runs.iter().copied().flatten().collect();
            let ci = summarize(&xs);
            Bar {
                label: s.label.clone(),
                value: crate::stats::mean(&xs).unwrap_or(f64::NAN),
                err_low: ci.as_ref().map(|c| c.ci95_low),
                err_high: ci.as_ref().map(|c| c.ci95_high),
                group: s.group,
            }
        })
        .collect()
}

/// What a bar chart's y axis shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// The quantity in its unit; bars grow from zero, or from the bottom of a cut axis.
    #[default]
    Absolute,
    /// % difference from the swarm mean ([`relative_to_run_mean`]); bars grow from a drawn
    /// zero line.
    RelativeToMean,
}

/// A bar chart's labels and axis; [`BarChart::draw`] draws bars with it.
#[derive(Clone, Copy, Debug)]
pub struct BarChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    /// What the bars measure, without unit ("download completion time").
    pub quantity: &'a str,
    /// Unit of absolute values ("s"), or empty when `quantity` says it; relative values are
    /// in %.
    pub unit: &'a str,
    pub scale: Scale,
    /// Bottom of the y axis; above zero it cuts the axis, which the label and a break mark on
    /// the axis state. Bars and whiskers beyond the range are clipped to it.
    pub y_min: Option<f64>,
    /// Top of the y axis.
    pub y_max: Option<f64>,
    /// Legend names by group index (else "group g"); the legend shows with two or more groups.
    pub group_names: &'a [&'a str],
}

/// Colour of CI whiskers and of the zero line: near-black, distinct from every palette colour
/// so neither is mistaken for a bar series.
pub const WHISKER: RGBColor = RGBColor(40, 40, 40);
pub const ZERO_LINE: RGBColor = RGBColor(90, 90, 90);

impl BarChart<'_> {
    /// Draws `bars` in the given order to `path` (`.png`, `.svg` or `.pdf`).
    pub fn draw(&self, path: impl AsRef<Path>, bars: &[Bar]) -> anyhow::Result<()> {
        for (end, v) in [("bottom", self.y_min), ("top", self.y_max)] {
            ensure!(v.is_none_or(f64::is_finite), "y axis: {end} must be finite");
        }
        if let (Some(lo), Some(hi)) = (self.y_min, self.y_max) {
            ensure!(lo < hi, "y axis: bottom {lo} must be below top {hi}");
        }
        render(path.as_ref(), &BarsFigure { chart: self, bars })
    }

    /// The y axis description: quantity and unit, and where a cut axis starts or ends.
    fn y_label(&self, axis: &YAxis) -> String {
        let mut s = match self.scale {
            Scale::Absolute if self.unit.is_empty() => self.quantity.to_string(),
            Scale::Absolute => format!("{} ({})", self.quantity, self.unit),
            Scale::RelativeToMean => format!("{}, % vs swarm mean", self.quantity),
        };
        if axis.lo > 0.0 {
            s += &format!(", axis starts at {}", tick(&axis.lo));
        } else if axis.hi < 0.0 {
            s += &format!(", axis ends at {}", tick(&axis.hi));
        }
        s
    }
}

/// Bars on an absolute axis whose description is given whole (no unit appended): for axes
/// that are not one quantity in one unit, such as the tournament's "% faster than tft".
pub fn labelled_bars(
    path: impl AsRef<Path>,
    title: &str,
    bars: &[Bar],
    x_label: &str,
    y_label: &str,
    group_names: &[&str],
) -> anyhow::Result<()> {
    BarChart {
        title,
        x_label,
        quantity: y_label,
        unit: "",
        scale: Scale::Absolute,
        y_min: None,
        y_max: None,
        group_names,
    }
    .draw(path, bars)
}

/// The y range and the level bars grow from.
#[derive(Debug, PartialEq)]
struct YAxis {
    lo: f64,
    hi: f64,
    /// Zero, or the axis end nearest zero when the range excludes it (a cut axis).
    base: f64,
}

impl YAxis {
    /// Covers zero, every bar and whisker, with headroom for the legend, unless `y_min` or
    /// `y_max` fix an end.
    fn fit(bars: &[Bar], y_min: Option<f64>, y_max: Option<f64>, with_legend: bool) -> YAxis {
        let ys = bars
            .iter()
            .flat_map(|b| [Some(b.value), b.err_low, b.err_high])
            .flatten()
            .chain([0.0]);
        let (data_lo, data_hi) = finite_bounds(ys).unwrap_or((0.0, 1.0));
        let frac = if with_legend { 0.25 } else { 0.08 };
        let span = |lo: f64| if data_hi > lo { data_hi - lo } else { 1.0 };
        let lo = y_min.unwrap_or(if data_lo < 0.0 {
            data_lo - span(data_lo) * frac
        } else {
            0.0
        });
        // Headroom in proportion to what is shown: a cut axis's visible span, not from zero.
        let mut hi = y_max.unwrap_or(if data_hi > 0.0 {
            data_hi + span(lo.max(data_lo)) * frac
        } else {
            0.0
        });
        if hi <= lo {
            // Only automatic ends meet here (all bars zero); `draw` refuses a fixed empty range.
            hi = lo + 1.0;
        }
        YAxis {
            lo,
            hi,
            base: 0.0_f64.clamp(lo, hi),
        }
    }

    fn clip(&self, v: f64) -> f64 {
        v.clamp(self.lo, self.hi)
    }
}

struct BarsFigure<'a> {
    chart: &'a BarChart<'a>,
    bars: &'a [Bar],
}

/// Bars fill the middle 70% of their slot.
const GAP: f64 = 0.15;

impl Figure for BarsFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (bars, c) = (self.bars, self.chart);
        let n = bars.len();
        let mut groups: Vec<usize> = bars.iter().map(|b| b.group).collect();
        groups.sort_unstable();
        groups.dedup();
        let with_legend = groups.len() > 1;
        let axis = YAxis::fit(bars, c.y_min, c.y_max, with_legend);

        let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        let y_label = c.y_label(&axis);
        let mut chart = slot_chart(
            root,
            c.title,
            &labels,
            (axis.lo, axis.hi),
            (c.x_label, &y_label),
        )?;

        for &g in &groups {
            let fill = colour(g);
            let rects = bars
                .iter()
                .enumerate()
                .filter(|(_, b)| b.group == g && b.value.is_finite())
                .map(|(i, b)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x + GAP, axis.base), (x + 1.0 - GAP, axis.clip(b.value))],
                        fill.filled(),
                    )
                });
            let series = chart.draw_series(rects)?;
            if with_legend {
                let name = c
                    .group_names
                    .get(g)
                    .map_or_else(|| format!("group {g}"), |s| s.to_string());
                series.label(name).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], fill.filled())
                });
            }
        }
        if axis.lo < 0.0 && axis.hi > 0.0 {
            let ends = vec![(0.0, 0.0), (n.max(1) as f64, 0.0)];
            chart.draw_series([PathElement::new(ends, ZERO_LINE.stroke_width(2))])?;
        }

        // Whiskers: a vertical line with caps a third of the bar wide.
        let slot_px = f64::from(chart.plotting_area().dim_in_pixel().0) / n.max(1) as f64;
        let cap = (slot_px * (1.0 - 2.0 * GAP) / 6.0).clamp(2.0, 12.0) as i32;
        let whisker = WHISKER.stroke_width(2);
        for (i, b) in bars.iter().enumerate() {
            if !b.value.is_finite() || (b.err_low.is_none() && b.err_high.is_none()) {
                continue;
            }
            let end = |e: Option<f64>| e.filter(|v| v.is_finite()).unwrap_or(b.value);
            let (elo, ehi) = (end(b.err_low), end(b.err_high));
            let x = i as f64 + 0.5;
            let ends = vec![(x, axis.clip(elo)), (x, axis.clip(ehi))];
            chart.draw_series([PathElement::new(ends, whisker)])?;
            // An end beyond the axis gets no cap: the whisker runs off the chart.
            let capped = [elo, ehi].into_iter().filter(|&y| axis.clip(y) == y);
            chart.draw_series(capped.map(|y| {
                EmptyElement::at((x, y)) + PathElement::new(vec![(-cap, 0), (cap, 0)], whisker)
            }))?;
        }
        if axis.base != 0.0 {
            break_mark(root, chart.backend_coord(&(0.0, axis.base)))?;
        }
        if with_legend {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

/// The usual "//" break across the y axis where it stops short of zero, so a cut axis is
/// visible without reading its label: a white gap between two slanted strokes.
fn break_mark<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    // Just above the axis end, clear of the lowest tick label.
    let y = y - 28;
    let (w, rise, gap) = (10, 6, 5);
    root.draw(&Polygon::new(
        vec![
            (x - w, y + rise),
            (x + w, y - rise),
            (x + w, y - rise - gap),
            (x - w, y + rise - gap),
        ],
        WHITE.filled(),
    ))?;
    for dy in [0, -gap] {
        root.draw(&PathElement::new(
            vec![(x - w, y + rise + dy), (x + w, y - rise + dy)],
            WHISKER.stroke_width(2),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(value: f64, err: Option<(f64, f64)>) -> Bar {
        Bar {
            label: String::new(),
            value,
            err_low: err.map(|e| e.0),
            err_high: err.map(|e| e.1),
            group: 0,
        }
    }

    fn sample(runs: &[Option<f64>]) -> Sample {
        Sample {
            label: String::new(),
            group: 0,
            runs: runs.to_vec(),
        }
    }

    /// Two nodes whose run means double from run to run: the absolute bars have wide CIs, the
    /// relative ones none, since each is exactly 10% off its run's mean both times.
    #[test]
    fn relative_values_are_per_run() {
        let s = [
            sample(&[Some(90.0), Some(180.0)]),
            sample(&[Some(110.0), Some(220.0)]),
        ];
        let abs = bars_from(&s);
        assert_eq!((abs[0].value, abs[1].value), (135.0, 165.0));
        assert!(abs[0].err_high.unwrap() - abs[0].err_low.unwrap() > 100.0);
        let rel = bars_from(&relative_to_run_mean(&s));
        assert_eq!(rel[0].value, -10.0);
        assert_eq!(rel[1].value, 10.0);
        assert_eq!((rel[1].err_low, rel[1].err_high), (Some(10.0), Some(10.0)));
    }

    /// A missing value drops out of its run's mean and stays missing; a run with no values
    /// yields none.
    #[test]
    fn missing_values_stay_missing() {
        let s = [
            sample(&[Some(100.0), None, Some(1.0)]),
            sample(&[Some(300.0), None, None]),
            sample(&[None, None, Some(3.0)]),
        ];
        let rel = relative_to_run_mean(&s);
        assert_eq!(rel[0].runs, vec![Some(-50.0), None, Some(-50.0)]);
        assert_eq!(rel[1].runs, vec![Some(50.0), None, None]);
        assert_eq!(rel[2].runs, vec![None, None, Some(50.0)]);
        let b = bars_from(&[sample(&[None, Some(4.0)]), sample(&[None])]);
        assert_eq!((b[0].value, b[0].err_low), (4.0, None));
        assert!(b[1].value.is_nan());
    }

    #[test]
    fn pooling_averages_members_per_run() {
        let mut s = vec![
            sample(&[Some(1.0), Some(2.0)]),
            sample(&[Some(3.0), None]),
            sample(&[Some(10.0), Some(20.0)]),
        ];
        s[2].group = 2;
        let p = pool_by_group(&s, &["tft", "unused", "bittyrant"]);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].label.as_str(), p[0].group), ("tft", 0));
        assert_eq!(p[0].runs, vec![Some(2.0), Some(2.0)]);
        assert_eq!((p[1].label.as_str(), p[1].group), ("bittyrant", 2));
        assert_eq!(p[1].runs, vec![Some(10.0), Some(20.0)]);
    }

    #[test]
    fn axis_covers_zero_or_is_cut() {
        let bars = [bar(1600.0, Some((1550.0, 1650.0))), bar(1700.0, None)];
        let auto = YAxis::fit(&bars, None, None, false);
        assert_eq!((auto.lo, auto.base), (0.0, 0.0));
        assert!((auto.hi - (1700.0 + 0.08 * 1700.0)).abs() < 1e-9);
        let cut = YAxis::fit(&bars, Some(1500.0), None, false);
        assert_eq!((cut.lo, cut.base), (1500.0, 1500.0));
        assert!((cut.hi - (1700.0 + 0.08 * 200.0)).abs() < 1e-9, "{cut:?}");
        let rel = YAxis::fit(&[bar(-5.0, None), bar(5.0, None)], None, None, false);
        assert_eq!((rel.lo, rel.hi, rel.base), (-5.8, 5.8, 0.0));
        let flat = YAxis::fit(&[bar(0.0, None)], None, None, false);
        assert_eq!((flat.lo, flat.hi), (0.0, 1.0));
        let chart = BarChart {
            title: "",
            x_label: "",
            quantity: "completion",
            unit: "s",
            scale: Scale::Absolute,
            y_min: Some(1500.0),
            y_max: None,
            group_names: &[],
        };
        assert_eq!(chart.y_label(&cut), "completion (s), axis starts at 1500");
        let chart = BarChart {
            scale: Scale::RelativeToMean,
            ..chart
        };
        assert_eq!(chart.y_label(&rel), "completion, % vs swarm mean");
    }
}
