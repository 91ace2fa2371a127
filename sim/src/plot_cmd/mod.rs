//! `sim plot`: figures from any results CSV the simulator writes (PNG, SVG or PDF by extension).
//!
//! `--where KEY=VALUE` keeps the rows where a column has a value, for every kind; `--facet KEY`
//! draws one figure per value of a column. Bars, CDFs, scatters and boxes refuse a file that still
//! mixes sweep points ([`one_point`]): averaging across points draws what no swarm did.

mod bars;
mod line;
mod scatter;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use reports::plot;

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
    /// An open swarm over time (series.csv): leechers, seeds and origin seeders online
    /// (`sim fluid` draws it beside the fluid model's trajectory).
    Series,
    /// Heatmap of a summary column over two swept keys (summary.csv): `--x`, `--y`, `--value`.
    Heatmap,
    /// A summary.csv column (`--y`, default mean completion) against a swept key (`--x`), one
    /// line per value of `--by`, with 95% CIs, `--logx`/`--logy` and `--ref` lines.
    Line,
    /// Leechers' completion against online days (results.csv, replicates.csv, one point of
    /// rows.csv), one colour per value of `--by`, each with its least-squares trend, ρ and slope.
    Scatter,
    /// Box plots of leechers' completion per value of `--by` (e.g. upload_class, policy):
    /// median, quartiles, 1.5·IQR whiskers and outliers.
    Box,
}

/// Options of `sim plot`.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "plot")]
pub struct PlotArgs {
    pub kind: Kind,
    /// Input CSV.
    pub input: PathBuf,
    /// Output image (.png, .svg or .pdf).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Figure title [default: the input file, its filters and what the bars show].
    #[arg(long)]
    pub title: Option<String>,
    /// CDF: column whose values make the series [default: policy or incentive]. Scatter: one
    /// colour per value [default: one series]. Box: one box per value (required). Bars: one bar
    /// per value of this column (per class or policy: the mean of its nodes in each run)
    /// instead of one per node.
    #[arg(long)]
    pub by: Option<String>,
    /// Keep only rows whose column KEY equals VALUE (repeatable), e.g. one point of a sweep's
    /// rows.csv: `--where seeders=2 --where incentive=none`.
    #[arg(long = "where", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// One figure per value of column KEY, written beside `--out` as `STEM.KEY-VALUE.EXT`.
    #[arg(long, value_name = "KEY")]
    pub facet: Option<String>,
    /// Bars: each node's (or class's) completion as % above or below its run's mean over all
    /// nodes, averaged over runs (95% CI when there are several).
    #[arg(long)]
    pub relative: bool,
    /// Bars: bottom of the y axis (in % with --relative). Above zero it cuts the axis, which
    /// the figure states in its axis label and with a break mark; bars are clipped to the range.
    #[arg(long, allow_negative_numbers = true)]
    pub ymin: Option<f64>,
    /// Bars: top of the y axis.
    #[arg(long, allow_negative_numbers = true)]
    pub ymax: Option<f64>,
    /// Heatmap and line: swept key for the x axis.
    #[arg(long)]
    pub x: Option<String>,
    /// Heatmap: swept key for the y axis. Line: the column to draw [default:
    /// mean_completion_s].
    #[arg(long)]
    pub y: Option<String>,
    /// Line: logarithmic x axis.
    #[arg(long)]
    pub logx: bool,
    /// Line: logarithmic y axis.
    #[arg(long)]
    pub logy: bool,
    /// Line: a dashed reference line (repeatable): `bound` (the Kumar–Ross column), another
    /// column (e.g. `mean_total_completion_s`), or a number.
    #[arg(
        long = "ref",
        value_name = "bound|COLUMN|VALUE",
        allow_negative_numbers = true
    )]
    pub refs: Vec<String>,
    /// Heatmap: column for the cell values.
    #[arg(long, default_value = "mean_completion_s")]
    pub value: String,
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

    /// Distinct values of column `i`, in order of first appearance.
    fn values(&self, i: usize) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !v.contains(&r[i].as_str()) {
                v.push(&r[i]);
            }
        }
        v
    }

    /// Keeps the rows where column `key` is `value`; an error when none is, naming the values
    /// the column has.
    fn keep(&mut self, key: &str, value: &str) -> anyhow::Result<()> {
        let i = self.col(key)?;
        let before = self.values(i).join(", ");
        self.rows.retain(|r| r[i] == value);
        ensure!(
            !self.rows.is_empty(),
            "--where {key}={value}: no row has it (`{key}` has: {before})"
        );
        Ok(())
    }
}

/// Splits a `--where` argument at its first `=`.
fn key_value(arg: &str) -> anyhow::Result<(&str, &str)> {
    arg.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .with_context(|| format!("--where {arg}: expected KEY=VALUE"))
}

/// The column a node's colour (its class) comes from: the policy it runs when the file says,
/// else its incentive.
const CLASS_COLUMNS: &[&str] = &["policy", "node_incentive", "incentive"];

pub fn plot(a: &PlotArgs) -> anyhow::Result<()> {
    ensure!(
        a.kind == Kind::Bars || !(a.relative || a.ymin.is_some() || a.ymax.is_some()),
        "--relative, --ymin and --ymax apply to bars only"
    );
    // Refuse an unknown extension before reading (and filtering) a possibly large CSV.
    plot::Format::of(&a.out)?;
    let mut t = Table::read(&a.input)?;
    let mut filters = Vec::new();
    for f in &a.filters {
        let (k, v) = key_value(f)?;
        t.keep(k, v)?;
        filters.push(format!("{k}={v}"));
    }
    let Some(facet) = &a.facet else {
        return draw(a, &t, &a.out, &filters);
    };
    let i = t.col(facet)?;
    let values: Vec<String> = t.values(i).iter().map(|v| v.to_string()).collect();
    for v in values {
        let rows = t.rows.iter().filter(|r| r[i] == v).cloned().collect();
        let part = Table {
            header: t.header.clone(),
            rows,
        };
        let mut filters = filters.clone();
        filters.push(format!("{facet}={v}"));
        draw(a, &part, &facet_path(&a.out, facet, &v), &filters)?;
    }
    Ok(())
}

/// `out/fig.png` → `out/fig.KEY-VALUE.png`, with characters a file name cannot hold replaced.
fn facet_path(out: &Path, key: &str, value: &str) -> PathBuf {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || "._-+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let ext = out
        .extension()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    out.with_file_name(format!("{stem}.{}-{}.{ext}", clean(key), clean(value)))
}

/// One figure of the (filtered) table.
fn draw(a: &PlotArgs, t: &Table, out: &Path, filters: &[String]) -> anyhow::Result<()> {
    let mut source = a.input.file_name().map_or_else(
        || a.input.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    // results.csv and replicates.csv name their scenario.
    if let Some(i) = t.col_any(&["scenario"]) {
        if let [name] = t.values(i)[..] {
            source = format!("{name} ({source})");
        }
    }
    if !filters.is_empty() {
        source = format!("{source} [{}]", filters.join(", "));
    }
    let title = a.title.as_deref();
    match a.kind {
        Kind::Bars => bars::bars(t, a, out, &source),
        Kind::Cdf => cdf(t, out, title.unwrap_or(&source), a.by.as_deref()),
        Kind::Progress => progress(t, out, title.unwrap_or(&source)),
        Kind::Series => series(t, out, title.unwrap_or(&source)),
        Kind::Line => line::line(t, a, out, &source),
        Kind::Scatter => scatter::scatter(t, a, out, &source),
        Kind::Box => scatter::boxes(t, a, out, &source),
        Kind::Heatmap => heatmap(
            t,
            out,
            title.unwrap_or(&source),
            a.x.as_deref().context("heatmap needs --x KEY")?,
            a.y.as_deref().context("heatmap needs --y KEY")?,
            &a.value,
        ),
    }
}

fn num(s: &str) -> Option<f64> {
    s.parse().ok().filter(|x: &f64| x.is_finite())
}

/// The columns a sweep varied: those between `point` and `replicate` (rows.csv) or
/// `replicates` (summary.csv).
fn swept_keys(t: &Table) -> Vec<usize> {
    match (
        t.header.first().map(String::as_str),
        t.col_any(&["replicate", "replicates"]),
    ) {
        (Some("point"), Some(end)) => (1..end).collect(),
        _ => Vec::new(),
    }
}

/// Refuses rows of more than one sweep point, naming the keys that differ and their values:
/// a node's bar or a CDF would mix swarms that differ in what the sweep varied. `free` holds
/// the columns the figure spreads out (a CDF's lines, a line chart's x axis), which may vary.
fn one_point(t: &Table, free: &[Option<usize>]) -> anyhow::Result<()> {
    let mixed: Vec<String> = swept_keys(t)
        .into_iter()
        .filter(|&i| !free.contains(&Some(i)) && t.values(i).len() > 1)
        .map(|i| format!("`{}` ({})", t.header[i], t.values(i).join(", ")))
        .collect();
    if mixed.is_empty() {
        return Ok(());
    }
    let points = t.col("point").map_or(0, |i| t.values(i).len());
    let verb = if mixed.len() == 1 { "varies" } else { "vary" };
    bail!(
        "the file holds {points} sweep points where {} {verb}; the figure would mix them. \
         Choose one with --where KEY=VALUE (repeatable) or draw one figure per value with \
         --facet KEY",
        mixed.join(" and ")
    )
}

fn cdf(t: &Table, out: &Path, title: &str, by: Option<&str>) -> anyhow::Result<()> {
    let done = t.col("completion_s")?;
    let role = t.col("role")?;
    let by = match by {
        Some(b) => Some(t.col(b)?),
        None => t.col_any(CLASS_COLUMNS),
    };
    one_point(t, &[by])?;
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
    // Numeric classes in numeric order, each legend naming its column (`upload = 100KB/s`).
    let series = line::in_value_order(series.into_iter().collect());
    let series: Vec<(String, Vec<f64>)> = match by {
        Some(i) => series
            .into_iter()
            .map(|(v, xs)| (line::legend(&t.header[i], &v), xs))
            .collect(),
        None => series,
    };
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

/// Leechers, seeds and origin seeders online over time, from `series.csv`.
fn series(t: &Table, out: &Path, title: &str) -> anyhow::Result<()> {
    let time = t.col("time_s")?;
    let lines = [
        ("leechers", "leechers"),
        ("seeds", "seeds (finished leechers)"),
        ("seeders", "origin seeders"),
    ]
    .into_iter()
    .map(|(col, name)| {
        let i = t.col(col)?;
        let points = t
            .rows
            .iter()
            .map(|r| {
                Ok((
                    num(&r[time]).context("bad time")?,
                    num(&r[i]).context("bad count")?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok((name.to_string(), points))
    })
    .collect::<anyhow::Result<Vec<_>>>()?;
    ensure!(
        lines[0].1.len() > 1,
        "series.csv needs at least two points to draw"
    );
    plot::lines(out, title, &lines, "time (s)", "peers online")
}

/// Heatmap of `value` over two swept keys, each cell noting its 95% CI half-width when the file
/// has one for `value` and the cell is one row, else how many rows it averages.
fn heatmap(
    t: &Table,
    out: &Path,
    title: &str,
    x: &str,
    y: &str,
    value: &str,
) -> anyhow::Result<()> {
    let (xi, yi) = (line::swept(t, x, "--x")?, line::swept(t, y, "--y")?);
    one_point(t, &[Some(xi), Some(yi)])?;
    let vi = t.col(value)?;
    let ci = line::ci_columns(t, value);
    let uniq = |i: usize| -> Vec<String> { t.values(i).into_iter().map(String::from).collect() };
    let (xs, ys) = (uniq(xi), uniq(yi));
    if xs.len() * ys.len() > 10_000 {
        bail!(
            "{} x {} cells is too many for a heatmap",
            xs.len(),
            ys.len()
        );
    }
    let mut cells: BTreeMap<(usize, usize), Vec<&Vec<String>>> = BTreeMap::new();
    for r in &t.rows {
        let (cx, cy) = (
            xs.iter().position(|v| *v == r[xi]).unwrap_or(0),
            ys.iter().position(|v| *v == r[yi]).unwrap_or(0),
        );
        cells.entry((cx, cy)).or_default().push(r);
    }
    // Several rows per cell (rows.csv: replicates and nodes) are averaged.
    let values = grid(&cells, (xs.len(), ys.len()), f64::NAN, |rows| {
        let v: Vec<f64> = rows.iter().filter_map(|r| num(&r[vi])).collect();
        v.iter().sum::<f64>() / v.len() as f64
    });
    let notes = grid(&cells, (xs.len(), ys.len()), String::new(), |rows| {
        match (ci, rows) {
            (Some((lo, hi)), [r]) => match (num(&r[lo]), num(&r[hi])) {
                (Some(lo), Some(hi)) => {
                    format!("±{}", reports::table::fmt_f64((hi - lo) / 2.0, 1))
                }
                _ => String::new(),
            },
            _ => format!("n={}", rows.len()),
        }
    });
    plot::heatmap_with_notes(out, title, (&xs, &ys), &values, &notes, (x, y), value)
}

/// `f` of each cell's rows as `ny` rows of `nx` columns, `empty` where a cell has none.
fn grid<T: Clone>(
    cells: &BTreeMap<(usize, usize), Vec<&Vec<String>>>,
    (nx, ny): (usize, usize),
    empty: T,
    f: impl Fn(&[&Vec<String>]) -> T,
) -> Vec<Vec<T>> {
    (0..ny)
        .map(|cy| {
            (0..nx)
                .map(|cx| cells.get(&(cx, cy)).map_or_else(|| empty.clone(), |r| f(r)))
                .collect()
        })
        .collect()
}
