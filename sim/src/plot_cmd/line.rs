//! `sim plot line`: a summary.csv column against a swept key, one line per value of `--by`,
//! each point with its 95% CI when the file has one for that column, and reference lines
//! (`--ref bound`, another column, or a constant).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use reports::plot::{Reference, XyChart, XyPoint, XySeries};

use super::{num, one_point, swept_keys, PlotArgs, Table};

/// The column `--ref bound` draws: the Kumar–Ross lower bound on the last completion.
const BOUND: &str = "kumar_ross_s";

pub(super) fn line(t: &Table, a: &PlotArgs, out: &Path, source: &str) -> anyhow::Result<()> {
    let x_key = a.x.as_deref().context("line needs --x KEY (a swept key)")?;
    let y_col = a.y.as_deref().unwrap_or("mean_completion_s");
    let x = swept(t, x_key, "--x")?;
    let by = a.by.as_deref().map(|b| swept(t, b, "--by")).transpose()?;
    one_point(t, &[Some(x), by])?;
    let y = t.col(y_col)?;
    let ci = ci_columns(t, y_col);
    let xv = |r: &Vec<String>| {
        axis_value(&r[x]).with_context(|| format!("--x {x_key}: `{}` is not a number", r[x]))
    };

    let mut series: BTreeMap<usize, XySeries> = BTreeMap::new();
    let names = by.map(|b| t.values(b)).unwrap_or_default();
    for r in &t.rows {
        let slot = by.map_or(0, |b| names.iter().position(|v| *v == r[b]).unwrap_or(0));
        let s = series.entry(slot).or_insert_with(|| XySeries {
            name: by.map_or_else(|| y_col.to_string(), |b| legend(&t.header[b], &r[b])),
            points: Vec::new(),
        });
        s.points.push(XyPoint {
            x: xv(r)?,
            y: num(&r[y]).unwrap_or(f64::NAN),
            ci: ci.and_then(|(lo, hi)| Some((num(&r[lo])?, num(&r[hi])?))),
        });
    }
    let series: Vec<XySeries> = series.into_values().collect();

    let mut refs = Vec::new();
    for spec in &a.refs {
        refs.extend(reference(t, spec, by, &xv)?);
    }
    let ci_note = if ci.is_some() { ", 95% CI" } else { "" };
    let title = a
        .title
        .clone()
        .unwrap_or_else(|| format!("{source}: {y_col} vs {x_key}{ci_note}"));
    XyChart {
        title: &title,
        x_label: x_key,
        y_label: y_col,
        log_x: a.logx,
        log_y: a.logy,
    }
    .draw(out, &series, &refs)
}

/// Column `key`, which must be one the sweep varied; the error names those that are.
pub(super) fn swept(t: &Table, key: &str, flag: &str) -> anyhow::Result<usize> {
    let keys = swept_keys(t);
    if let Some(&i) = keys.iter().find(|&&i| t.header[i] == key) {
        return Ok(i);
    }
    let names: Vec<&str> = keys.iter().map(|&i| t.header[i].as_str()).collect();
    if names.is_empty() {
        bail!(
            "{flag} {key}: the file has no swept keys (expected a sweep's summary.csv or rows.csv)"
        );
    }
    bail!(
        "{flag} {key}: not a swept key; the sweep varied {}",
        names.join(", ")
    )
}

/// A legend entry naming the key and the value as the sweep spelled it (`seeders = 2`,
/// `seeder_upload = 100KB/s`), so the unit is in the legend.
pub(super) fn legend(key: &str, value: &str) -> String {
    format!("{key} = {value}")
}

/// A swept value as a number: plain numbers, else sizes and rates in the one units grammar
/// (in bytes and bytes/s), so `100KB/s, 1MB/s` sort and space by what they mean.
pub(super) fn axis_value(v: &str) -> Option<f64> {
    num(v)
        .or_else(|| engine_core::units::parse_rate(v).ok())
        .or_else(|| engine_core::units::parse_size(v).ok().map(|b| b as f64))
}

/// `(value, item)` pairs in the numeric order of their values when every value is a number,
/// a size or a rate (`20` before `100`, `100KB/s` before `1MB/s`), else in the order given.
pub(super) fn in_value_order<T>(items: Vec<(String, T)>) -> Vec<(String, T)> {
    let Some(keys) = items
        .iter()
        .map(|(v, _)| axis_value(v))
        .collect::<Option<Vec<f64>>>()
    else {
        return items;
    };
    let mut keyed: Vec<(f64, (String, T))> = keys.into_iter().zip(items).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, item)| item).collect()
}

/// The columns holding the 95% CI of `col`: `X_ci95_low`/`X_ci95_high` for a column whose name
/// starts with `X` (keeping a trailing `_s` unit), and the mean completion's `ci95_low_s`.
pub(super) fn ci_columns(t: &Table, col: &str) -> Option<(usize, usize)> {
    let unit = if col.ends_with("_s") { "_s" } else { "" };
    let pair = |stem: &str| {
        let find = |end: &str| {
            [
                format!("{stem}ci95_{end}{unit}"),
                format!("{stem}ci95_{end}"),
            ]
            .iter()
            .find_map(|c| t.col(c).ok())
        };
        Some((find("low")?, find("high")?))
    };
    if col == "mean_completion_s" {
        return pair("");
    }
    let parts: Vec<&str> = col.split('_').collect();
    (1..parts.len())
        .rev()
        .find_map(|k| pair(&format!("{}_", parts[..k].join("_"))))
}

/// The lines of one `--ref`: `bound` (the Kumar–Ross column), a column (one dashed curve per
/// series, or one when every series has the same), or a constant.
fn reference(
    t: &Table,
    spec: &str,
    by: Option<usize>,
    xv: &dyn Fn(&Vec<String>) -> anyhow::Result<f64>,
) -> anyhow::Result<Vec<Reference>> {
    if let Some(v) = num(spec) {
        return Ok(vec![Reference {
            name: format!("y = {spec}"),
            points: vec![(0.0, v)],
        }]);
    }
    let (col, name) = if spec == "bound" {
        let i = t.col(BOUND).with_context(|| {
            format!(
                "--ref bound: the file has no `{BOUND}` column (summary.csv of a sweep writes it)"
            )
        })?;
        (i, "Kumar–Ross bound".to_string())
    } else {
        (
            t.col(spec)
                .context("--ref takes bound, a column or a number")?,
            spec.to_string(),
        )
    };
    let mut curves: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in &t.rows {
        let key = by.map_or_else(String::new, |b| legend(&t.header[b], &r[b]));
        let y = num(&r[col]).unwrap_or(f64::NAN);
        curves.entry(key).or_default().push((xv(r)?, y));
    }
    for c in curves.values_mut() {
        c.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let first = curves.values().next().cloned().unwrap_or_default();
    if curves.values().all(|c| *c == first) {
        return Ok(vec![Reference {
            name,
            points: first,
        }]);
    }
    Ok(curves
        .into_iter()
        .map(|(k, points)| Reference {
            name: format!("{name} ({k})"),
            points,
        })
        .collect())
}
