//! `sim plot scatter`: leechers' completion against online days, one colour per value of
//! `--by` (default one series), each with its trend line, Spearman ρ and slope.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::ensure;
use reports::plot::{scatter as draw, ScatterSeries};

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
    draw(out, &title, &series, ("online days", "completion_s (s)"))
}
