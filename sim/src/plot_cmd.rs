//! `sim plot`: figures from any results CSV the simulator writes (PNG or SVG by extension).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, ensure, Context};
use reports::plot::{self, Bar};
use reports::stats::summarize;

/// Which figure to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Per-node completion time (results.csv, replicates.csv, rows.csv); mean and 95% CI when
    /// the file holds several runs.
    Bars,
    /// Completion-time CDF, one line per value of `--by`.
    Cdf,
    /// Swarm progress over time (progress.csv): fraction of leechers done and of bytes received.
    Progress,
    /// Heatmap of a summary column over two swept keys (summary.csv): `--x`, `--y`, `--value`.
    Heatmap,
}

/// A CSV held as header + rows of strings.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> anyhow::Result<Table> {
        let mut r = csv::Reader::from_path(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let header = r.headers()?.iter().map(str::to_string).collect();
        let rows = r
            .records()
            .map(|rec| rec.map(|r| r.iter().map(str::to_string).collect()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: malformed CSV", path.display()))?;
        Ok(Table { header, rows })
    }

    fn col(&self, name: &str) -> anyhow::Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no column `{name}` (columns: {})", self.header.join(", ")))
    }

    /// The first of `names` present.
    fn col_any(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.col(n).ok())
    }
}

/// Options of `sim plot`.
pub struct PlotArgs<'a> {
    pub kind: Kind,
    pub input: &'a Path,
    pub out: &'a Path,
    pub title: Option<&'a str>,
    pub by: Option<&'a str>,
    pub x: Option<&'a str>,
    pub y: Option<&'a str>,
    pub value: &'a str,
}

pub fn plot(a: &PlotArgs) -> anyhow::Result<()> {
    let t = Table::read(a.input)?;
    let default_title = a.input.display().to_string();
    let title = a.title.unwrap_or(&default_title);
    match a.kind {
        Kind::Bars => bars(&t, a.out, title),
        Kind::Cdf => cdf(&t, a.out, title, a.by),
        Kind::Progress => progress(&t, a.out, title),
        Kind::Heatmap => heatmap(
            &t,
            a.out,
            title,
            a.x.context("heatmap needs --x KEY")?,
            a.y.context("heatmap needs --y KEY")?,
            a.value,
        ),
    }
}

fn num(s: &str) -> Option<f64> {
    s.parse().ok().filter(|x: &f64| x.is_finite())
}

fn bars(t: &Table, out: &Path, title: &str) -> anyhow::Result<()> {
    let (node, done) = (t.col("node")?, t.col("completion_s")?);
    let days = t.col("online_days")?;
    let inc = t.col_any(&["node_incentive", "incentive"]);
    // node -> (online days, incentive, completion times over runs)
    let mut per: BTreeMap<u32, (f64, String, Vec<f64>)> = BTreeMap::new();
    for r in &t.rows {
        let Some(c) = num(&r[done]) else { continue };
        let id: u32 = r[node].parse().context("bad node id")?;
        let e = per.entry(id).or_insert_with(|| {
            (
                num(&r[days]).unwrap_or(0.0),
                inc.map(|i| r[i].clone()).unwrap_or_default(),
                Vec::new(),
            )
        });
        e.2.push(c);
    }
    ensure!(!per.is_empty(), "no completed nodes to plot");
    let mut nodes: Vec<_> = per.into_iter().collect();
    nodes.sort_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(a.0.cmp(&b.0)));
    let groups: Vec<String> = {
        let mut g: Vec<String> = nodes.iter().map(|n| n.1 .1.clone()).collect();
        g.sort();
        g.dedup();
        g
    };
    let bars: Vec<Bar> = nodes
        .iter()
        .map(|(id, (d, g, times))| {
            let s = summarize(times);
            Bar {
                label: format!("{id} ({d:.0}d)"),
                value: times.iter().sum::<f64>() / times.len() as f64,
                err_low: s.as_ref().map(|s| s.ci95_low),
                err_high: s.as_ref().map(|s| s.ci95_high),
                group: groups.iter().position(|x| x == g).unwrap_or(0),
            }
        })
        .collect();
    let names: Vec<&str> = groups.iter().map(|g| g.as_str()).collect();
    plot::labelled_bars(
        out,
        title,
        &bars,
        "node (online days), ordered by online time",
        "download completion time (s)",
        &names,
    )
}

fn cdf(t: &Table, out: &Path, title: &str, by: Option<&str>) -> anyhow::Result<()> {
    let done = t.col("completion_s")?;
    let role = t.col("role")?;
    let by = match by {
        Some(b) => Some(t.col(b)?),
        None => t.col_any(&["node_incentive", "incentive"]),
    };
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in t.rows.iter().filter(|r| r[role] == "leecher") {
        let key = by.map(|i| r[i].clone()).unwrap_or_else(|| "all".into());
        // Unfinished leechers count as never finishing, so the curve stays below 1.
        series
            .entry(key)
            .or_default()
            .push(num(&r[done]).unwrap_or(f64::INFINITY));
    }
    ensure!(!series.is_empty(), "no leecher rows to plot");
    let series: Vec<(String, Vec<f64>)> = series.into_iter().collect();
    plot::cdf(out, title, &series, "download completion time (s)")
}

fn progress(t: &Table, out: &Path, title: &str) -> anyhow::Result<()> {
    let (time, done, online, bytes) = (
        t.col("time_s")?,
        t.col("leechers_done")?,
        t.col("leechers_online")?,
        t.col("bytes_downloaded")?,
    );
    let last = t.rows.last().context("empty progress file")?;
    let max_bytes = num(&last[bytes]).unwrap_or(1.0).max(1.0);
    let mut finished = Vec::new();
    let mut received = Vec::new();
    for r in &t.rows {
        let x = num(&r[time]).context("bad time")?;
        let total = num(&r[online]).unwrap_or(0.0).max(1.0);
        finished.push((x, num(&r[done]).unwrap_or(0.0) / total));
        received.push((x, num(&r[bytes]).unwrap_or(0.0) / max_bytes));
    }
    plot::lines(
        out,
        title,
        &[
            ("leechers finished".into(), finished),
            ("bytes received (of final)".into(), received),
        ],
        "time (s)",
        "fraction",
    )
}

fn heatmap(
    t: &Table,
    out: &Path,
    title: &str,
    x: &str,
    y: &str,
    value: &str,
) -> anyhow::Result<()> {
    let (xi, yi, vi) = (t.col(x)?, t.col(y)?, t.col(value)?);
    let uniq = |i: usize| {
        let mut v: Vec<String> = Vec::new();
        for r in &t.rows {
            if !v.contains(&r[i]) {
                v.push(r[i].clone());
            }
        }
        v
    };
    let (xs, ys) = (uniq(xi), uniq(yi));
    if xs.len() * ys.len() > 10_000 {
        bail!(
            "{} x {} cells is too many for a heatmap",
            xs.len(),
            ys.len()
        );
    }
    let mut cells: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    for r in &t.rows {
        let (cx, cy) = (
            xs.iter().position(|v| *v == r[xi]).unwrap_or(0),
            ys.iter().position(|v| *v == r[yi]).unwrap_or(0),
        );
        if let Some(v) = num(&r[vi]) {
            cells.entry((cx, cy)).or_default().push(v);
        }
    }
    // Several rows per cell (other swept keys) are averaged.
    let values: Vec<Vec<f64>> = (0..ys.len())
        .map(|cy| {
            (0..xs.len())
                .map(|cx| {
                    cells
                        .get(&(cx, cy))
                        .map_or(f64::NAN, |v| v.iter().sum::<f64>() / v.len() as f64)
                })
                .collect()
        })
        .collect();
    plot::heatmap(out, title, &xs, &ys, &values, x, y, value)
}
