//! Leechers' completion as points rather than summaries: `sim plot scatter` against online
//! days, one colour per value of `--by` (default one series), each with its trend line,
//! Spearman ρ and slope; `sim plot box` per class.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{ensure, Context};
use reports::plot::{self, BoxClass, ScatterSeries};

use super::line::in_value_order;
use super::{num, one_point, PlotArgs, Table};

pub(super) fn scatter(t: &Table, a: &PlotArgs, out: &Path, source: &str) -> anyhow::Result<()> {
    let (role, done, days) = (
        t.col("role")?,
        t.col("completion_s")?,
        t.col("online_days")?,
    );
    let by = a.by.as_deref().map(|b| t.col(b)).transpose()?;
    one_point(t, &[by])?;
    let mut series: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    // Unfinished leechers have no completion to place; they are left out, not drawn at zero.
    for r in t.rows.iter().filter(|r| r[role] == "leecher") {
        if let (Some(x), Some(y)) = (num(&r[days]), num(&r[done])) {
            let key = by.map_or("leechers", |i| r[i].as_str());
            series.entry(key).or_default().push((x, y));
        }
    }
    ensure!(!series.is_empty(), "no finished leecher rows to plot");
    let series: Vec<ScatterSeries> = series
        .into_iter()
        .map(|(name, points)| ScatterSeries {
            name: by.map_or_else(|| name.to_string(), |i| format!("{} = {name}", t.header[i])),
            points,
        })
        .collect();
    let title = a
        .title
        .clone()
        .unwrap_or_else(|| format!("{source}: completion vs online days, least-squares trend"));
    plot::scatter(out, &title, &series, ("online days", "completion_s (s)"))
}

/// `sim plot box --by COLUMN`: leechers' completion per class as box plots, classes in
/// numeric order when every class is a number (or a size or rate), else in text order.
pub(super) fn boxes(t: &Table, a: &PlotArgs, out: &Path, source: &str) -> anyhow::Result<()> {
    let by_name =
        a.by.as_deref()
            .context("box needs --by COLUMN (e.g. upload_class or policy)")?;
    let (role, done, by) = (t.col("role")?, t.col("completion_s")?, t.col(by_name)?);
    one_point(t, &[Some(by)])?;
    let mut classes: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in t.rows.iter().filter(|r| r[role] == "leecher") {
        if let Some(y) = num(&r[done]) {
            classes.entry(r[by].as_str()).or_default().push(y);
        }
    }
    ensure!(!classes.is_empty(), "no finished leecher rows to plot");
    let classes: Vec<(String, Vec<f64>)> = classes
        .into_iter()
        .map(|(name, values)| (name.to_string(), values))
        .collect();
    let classes: Vec<BoxClass> = in_value_order(classes)
        .into_iter()
        .map(|(name, values)| BoxClass { name, values })
        .collect();
    let title = a
        .title
        .clone()
        .unwrap_or_else(|| format!("{source}: completion per {by_name}, finished leechers"));
    plot::boxes(out, &title, &classes, (by_name, "completion_s (s)"))
}
