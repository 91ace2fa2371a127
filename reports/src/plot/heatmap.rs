//! Heatmaps: one coloured cell per (x, y) pair of two swept keys, with a colour bar.

use std::path::Path;

use anyhow::ensure;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    finite_bounds, labels_that_fit, render, slot_labels, tick, Figure, Slots, AXIS_DESC_PX, FAMILY,
    TICK_PX, TITLE_PX,
};

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
    heatmap_with_notes(
        path,
        title,
        (xs, ys),
        values,
        &[],
        (x_label, y_label),
        value_label,
    )
}

/// [`heatmap`] with a second, smaller line of text under each cell's value, `notes[row][col]`
/// (e.g. its 95% CI half-width or its replicate count); `notes` empty for none.
pub fn heatmap_with_notes(
    path: impl AsRef<Path>,
    title: &str,
    (xs, ys): (&[String], &[String]),
    values: &[Vec<f64>],
    notes: &[Vec<String>],
    (x_label, y_label): (&str, &str),
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
    ensure!(
        notes.is_empty() || (notes.len() == ys.len() && notes.iter().all(|r| r.len() == xs.len())),
        "heatmap notes must be {} rows of {} columns",
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
            notes,
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
    notes: &'a [Vec<String>],
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
            let note = self
                .notes
                .get(j)
                .and_then(|r| r.get(i))
                .filter(|n| !n.is_empty());
            let (x, y) = (i as f64 + 0.5, j as f64);
            let Some(note) = note else {
                chart.draw_series([Text::new(text, (x, y + 0.5), style)])?;
                continue;
            };
            let small = TextStyle::from((FAMILY, px * 0.75).into_font())
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series([
                Text::new(text, (x, y + 0.62), style),
                Text::new(note.clone(), (x, y + 0.3), small),
            ])?;
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
