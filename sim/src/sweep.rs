//! Parameter sweeps: the cartesian product of varied keys × seeded replicates, run in parallel,
//! streamed to disk in a fixed order so output bytes never depend on thread count or sharding.
//!
//! Outputs in the sweep folder:
//! - `rows.csv`: one row per (point, replicate, node);
//! - `summary.csv`: one row per point, [`PointStats::columns`] (leecher completion against the
//!   Kumar–Ross bound, and how it depends on online days: ρ, slope, thirds gap, each with a
//!   95% CI over replicates);
//! - `comparisons.csv`: the plan's `[[compare]]` pairs of points (see [`crate::compare`]);
//! - `progress.csv` (with `progress`): every run's swarm progress samples;
//! - `sweep.json`: the plan (base scenario, varied keys, replicates, shard).
//!
//! `--shard i/n` runs points `p` with `p % n == i`; [`merge`] joins shard folders into exactly
//! the bytes of the unsharded run. While running, finished points are checkpointed under
//! `points/` so that `--resume` after a kill redoes only unfinished ones ([`crate::checkpoint`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{State, Store};
use crate::compare::Compare;
use crate::metrics::{opt3, RunResult};
pub use crate::overrides::alias_overrides;
use crate::overrides::Given;
pub use crate::point_stats::PointStats;
use crate::replicate::replicate_seed;
use crate::scenario::Scenario;
pub use crate::shard::Shard;

/// One varied key and its values, as given (`seeders=1,2,3`, `group.2.count=1..=19`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vary {
    pub key: String,
    pub values: Vec<String>,
}

impl Vary {
    /// Parses `key=v1,v2,...`; integer ranges `a..b`, `a..=b` and `a..=b:step` expand.
    pub fn parse(arg: &str) -> anyhow::Result<Vary> {
        let (key, vals) = arg
            .split_once('=')
            .with_context(|| format!("--vary {arg}: expected key=value[,value...]"))?;
        let key = key.trim();
        ensure!(!key.is_empty(), "--vary {arg}: empty key");
        let mut values = Vec::new();
        for v in vals.split(',') {
            values.extend(expand(v.trim()).with_context(|| format!("--vary {arg}"))?);
        }
        ensure!(!values.is_empty(), "--vary {arg}: no values");
        Ok(Vary {
            key: key.to_string(),
            values,
        })
    }
}

fn expand(v: &str) -> anyhow::Result<Vec<String>> {
    let Some((a, rest)) = v.split_once("..") else {
        ensure!(!v.is_empty(), "empty value");
        return Ok(vec![v.to_string()]);
    };
    let (inclusive, rest) = match rest.strip_prefix('=') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (b, step) = match rest.split_once(':') {
        Some((b, s)) => (b, s.parse::<i64>().context("range step")?),
        None => (rest, 1),
    };
    let (a, b): (i64, i64) = (
        a.parse().context("range start")?,
        b.parse().context("range end")?,
    );
    ensure!(step > 0, "range step must be positive");
    let end = if inclusive { b } else { b - 1 };
    ensure!(end >= a, "empty range {v}");
    ensure!((end - a) / step < 100_000, "range {v} has too many values");
    Ok((a..=end)
        .step_by(step as usize)
        .map(|x| x.to_string())
        .collect())
}

/// A sweep: base scenario, varied keys (outermost first) and replicates per point.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub scenario: PathBuf,
    #[serde(default = "one")]
    pub replicates: u32,
    #[serde(default, rename = "vary")]
    pub varies: Vec<Vary>,
    /// Fixed overrides applied to every point.
    #[serde(default)]
    pub set: Vec<String>,
    /// Pairs of points to compare when the sweep ends (`[[compare]] a = { seeders = 1 }
    /// b = { seeders = 3 }`), written to `comparisons.csv`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<Compare>,
    /// Also write `progress.csv`: every run's swarm progress samples (`sim run`'s file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub progress: bool,
}

fn one() -> u32 {
    1
}

impl Plan {
    /// Reads a sweep file (`scenario`, `replicates`, `[[vary]] key/values`, `set`); a relative
    /// scenario path is taken relative to the sweep file.
    pub fn load(path: &Path) -> anyhow::Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let mut plan: Plan =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if plan.scenario.is_relative() {
            if let Some(dir) = path.parent() {
                plan.scenario = dir.join(&plan.scenario);
            }
        }
        let mut expanded = Vec::new();
        for v in &plan.varies {
            let joined = format!("{}={}", v.key, v.values.join(","));
            expanded.push(Vary::parse(&joined)?);
        }
        plan.varies = expanded;
        Ok(plan)
    }

    /// Every point's values, in row-major order (the first varied key changes slowest).
    pub fn points(&self) -> Vec<Vec<String>> {
        let mut points = vec![Vec::new()];
        for v in &self.varies {
            points = points
                .into_iter()
                .flat_map(|p| {
                    v.values.iter().map(move |x| {
                        let mut q = p.clone();
                        q.push(x.clone());
                        q
                    })
                })
                .collect();
        }
        points
    }

    /// The scenario of one point: the plan's `set`, then the point's values (short names
    /// resolved, see [`alias_overrides`]); an error names the `--set` or `--vary` behind it.
    pub fn scenario_for(&self, values: &[String]) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(&self.scenario)
            .with_context(|| format!("{}: cannot read", self.scenario.display()))?;
        let mut given: Vec<Given> = self.set.iter().map(|s| Given::set(s)).collect();
        given.extend(self.varies.iter().zip(values).map(|(v, x)| Given {
            flag: "--vary",
            arg: format!("{}={x}", v.key),
        }));
        crate::overrides::parse(&self.scenario.display().to_string(), &text, &given)
    }
}

/// Columns of `rows.csv` after `point` and the varied keys.
const ROW_COLUMNS: &[&str] = &[
    "replicate",
    "seed",
    "node",
    "role",
    "online_days",
    "node_incentive",
    "upload",
    "download",
    "join_s",
    "completion_s",
    "bytes_up",
    "bytes_down",
];

/// Jobs per parallel window, per worker thread. Results are written (and points checkpointed)
/// only once their window is done, so a small window bounds memory and the work a kill loses
/// (runs of 10,000-peer points take minutes); a few jobs per thread keep every core busy while
/// the window's slowest run finishes.
const WINDOW_PER_THREAD: usize = 2;

/// How [`run`] reports and whether it resumes.
pub struct Options<'a> {
    /// Skip the points an earlier (killed) run of the same plan into the same folder
    /// finished, as their checksums prove (see [`crate::checkpoint`]).
    pub resume: bool,
    /// `(runs done, runs total)` after every run; resumed points' runs count as done.
    pub runs: &'a (dyn Fn(u64, u64) + Sync),
    /// Point-level news, for batch logs.
    pub note: &'a mut (dyn FnMut(Note) + Send),
}

/// What [`run`] tells [`Options::note`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// `resumed` of the `of` points were already finished.
    Resumed { resumed: usize, of: usize },
    /// Point `point`'s checkpoint could not be trusted (`why`), so it is redone.
    Redo { point: usize, why: String },
    /// Point `point` (`values` of the varied keys) finished: `done` of the `of` points.
    PointDone {
        point: usize,
        values: String,
        done: usize,
        of: usize,
    },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Resumed { resumed, of } => {
                write!(f, "resuming: {resumed} of {of} points already finished")
            }
            Note::Redo { point, why } => write!(f, "point {point}: {why}; redoing it"),
            Note::PointDone {
                point,
                values,
                done,
                of,
            } => write!(f, "point {point} ({values}) done: {done}/{of} points"),
        }
    }
}

/// Runs the plan (or one shard of it) into `out`. Each point is checkpointed as it finishes;
/// the CSVs are assembled from the checkpoints at the end.
pub fn run(plan: &Plan, shard: Option<Shard>, out: &Path, opts: Options) -> anyhow::Result<()> {
    ensure!(plan.replicates >= 1, "replicates must be at least 1");
    let points = plan.points();
    let mine: Vec<usize> = (0..points.len())
        .filter(|&p| crate::shard::owns(shard, p))
        .collect();
    let scenarios: Vec<Scenario> = mine
        .iter()
        .map(|&p| plan.scenario_for(&points[p]))
        .collect::<anyhow::Result<_>>()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let manifest = serde_json::json!({ "plan": plan, "points": points.len(), "shard": shard });
    std::fs::write(
        out.join("sweep.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;

    let store = Store::open(out, layout(plan.progress).csvs, opts.resume)?;
    let keys: Vec<String> = mine
        .iter()
        .zip(&scenarios)
        .map(|(&p, sc)| point_key(plan, p, &points[p], sc))
        .collect::<anyhow::Result<_>>()?;
    let mut todo = Vec::new();
    for (i, &p) in mine.iter().enumerate() {
        match store.state(p, &keys[i]) {
            State::Finished => {}
            State::Missing => todo.push(i),
            State::Stale(why) => {
                (opts.note)(Note::Redo { point: p, why });
                todo.push(i);
            }
        }
    }
    let mut finished = mine.len() - todo.len();
    if finished > 0 {
        (opts.note)(Note::Resumed {
            resumed: finished,
            of: mine.len(),
        });
    }

    let jobs: Vec<(usize, u32)> = todo
        .iter()
        .flat_map(|&i| (0..plan.replicates).map(move |r| (i, r)))
        .collect();
    let total = mine.len() as u64 * u64::from(plan.replicates);
    let mut done = total - jobs.len() as u64;
    (opts.runs)(done, total);
    let mut stats = PointStats::default();
    let mut slices = Vec::new();
    let window = WINDOW_PER_THREAD * rayon::current_num_threads().max(1);
    for window in jobs.chunks(window) {
        let results: Vec<RunResult> = window
            .par_iter()
            .map(|&(i, r)| {
                let mut sc = scenarios[i].clone();
                sc.seed = replicate_seed(scenarios[i].seed, r);
                crate::run(&sc)
            })
            .collect();
        // A point's replicates are consecutive jobs, so one point's slices are open at a time.
        for (&(i, r), res) in window.iter().zip(&results) {
            let p = mine[i];
            if r == 0 {
                slices = store.start(p, &keys[i])?;
            }
            write_rows(&mut slices[0], p, &points[p], r, res)?;
            if let Some(w) = slices.get_mut(2) {
                write_progress(w, p, &points[p], r, res)?;
            }
            stats.add(res);
            if r + 1 == plan.replicates {
                let mut rec = point_record(p, &points[p]);
                rec.extend(stats.columns().into_iter().map(|(_, v)| v));
                slices[1].write_record(&rec)?;
                store.finish(p, std::mem::take(&mut slices))?;
                stats = PointStats::default();
                finished += 1;
                (opts.note)(Note::PointDone {
                    point: p,
                    values: describe(&plan.varies, &points[p]),
                    done: finished,
                    of: mine.len(),
                });
            }
            done += 1;
            (opts.runs)(done, total);
        }
    }

    let keys: Vec<String> = plan.varies.iter().map(|v| v.key.clone()).collect();
    let mut headers = vec![
        csv_line(prefixed(&keys, ROW_COLUMNS.iter().map(|c| c.to_string())))?,
        csv_line(prefixed(
            &keys,
            PointStats::default()
                .columns()
                .into_iter()
                .map(|(k, _)| k.to_string()),
        ))?,
    ];
    if plan.progress {
        headers.push(csv_line(prefixed(
            &keys,
            PROGRESS_COLUMNS.iter().map(|c| c.to_string()),
        ))?);
    }
    store.assemble(out, &headers, &mine)?;
    if shard.is_none() {
        crate::compare::write_declared(out, plan)?;
    }
    Ok(())
}

/// What a point's checkpoint must have been computed from: the simulator version, the
/// point's resolved scenario and the plan settings that shape its lines.
fn point_key(plan: &Plan, p: usize, values: &[String], sc: &Scenario) -> anyhow::Result<String> {
    let text = format!(
        "sim {}\npoint {p} {values:?}\nreplicates {}\nprogress {}\n{}",
        env!("CARGO_PKG_VERSION"),
        plan.replicates,
        plan.progress,
        serde_json::to_string(sc)?
    );
    Ok(crate::checkpoint::sha256_hex(text.as_bytes()))
}

/// `seeders=2, incentive=none` for a point's log line.
fn describe(varies: &[Vary], values: &[String]) -> String {
    let parts: Vec<String> = varies
        .iter()
        .zip(values)
        .map(|(v, x)| format!("{}={x}", v.key))
        .collect();
    parts.join(", ")
}

/// A header: `point`, the varied keys, then `columns`.
fn prefixed(keys: &[String], columns: impl Iterator<Item = String>) -> Vec<String> {
    let mut header = vec!["point".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(columns);
    header
}

/// One CSV record's bytes, as a `csv::Writer` writes it.
fn csv_line(record: Vec<String>) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&record)?;
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// A CSV record's leading cells: the point index and its values of the varied keys.
fn point_record(point: usize, values: &[String]) -> Vec<String> {
    let mut rec = vec![point.to_string()];
    rec.extend(values.iter().cloned());
    rec
}

fn write_rows<W: Write>(
    w: &mut csv::Writer<W>,
    point: usize,
    values: &[String],
    replicate: u32,
    r: &RunResult,
) -> anyhow::Result<()> {
    for n in &r.nodes {
        let mut rec = point_record(point, values);
        rec.extend([
            replicate.to_string(),
            r.scenario.seed.to_string(),
            n.id.to_string(),
            n.role.to_string(),
            n.online_days.to_string(),
            n.incentive_label().to_string(),
            n.upload.to_string(),
            n.download.to_string(),
            opt3(n.join_s),
            opt3(n.completion_s),
            n.bytes_up.to_string(),
            n.bytes_down.to_string(),
        ]);
        w.write_record(&rec)?;
    }
    Ok(())
}

/// Columns of `progress.csv` after `point` and the varied keys.
const PROGRESS_COLUMNS: &[&str] = &[
    "replicate",
    "time_s",
    "leechers_done",
    "leechers_online",
    "bytes_downloaded",
];

fn write_progress<W: Write>(
    w: &mut csv::Writer<W>,
    point: usize,
    values: &[String],
    replicate: u32,
    r: &RunResult,
) -> anyhow::Result<()> {
    for s in &r.progress {
        let mut rec = point_record(point, values);
        rec.extend([
            replicate.to_string(),
            opt3(Some(s.time_s)),
            s.leechers_done.to_string(),
            s.leechers_online.to_string(),
            s.bytes_downloaded.to_string(),
        ]);
        w.write_record(&rec)?;
    }
    Ok(())
}

/// Joins shard folders into `out`: rows and summary lines ordered by point, as the unsharded
/// run writes them, the plan without a shard, and the plan's comparisons (which need every
/// point, so shards do not write them).
pub fn merge(out: &Path, shards: &[PathBuf]) -> anyhow::Result<()> {
    // Whether the shards wrote progress.csv is in their plan (shard::merge checks they agree).
    let first = shards.first().map(|d| d.join(LAYOUT.manifest));
    let wrote_progress = first
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|m| m["plan"]["progress"] == true);
    let manifest = crate::shard::merge(layout(wrote_progress), out, shards)?;
    let plan: Plan = serde_json::from_value(manifest["plan"].clone())?;
    crate::compare::write_declared(out, &plan)
}

/// A sweep folder, as [`crate::shard::merge`] joins it.
pub const LAYOUT: crate::shard::Layout<'static> = crate::shard::Layout {
    what: "sweep",
    manifest: "sweep.json",
    csvs: &["rows.csv", "summary.csv"],
    same: &[],
};

/// The sweep folder layout with or without `progress.csv` (the slices' order in
/// [`run`] follows its `csvs`: rows, summary, progress).
fn layout(progress: bool) -> &'static crate::shard::Layout<'static> {
    match progress {
        true => &LAYOUT_PROGRESS,
        false => &LAYOUT,
    }
}

/// [`LAYOUT`] of a sweep run with `progress`.
pub const LAYOUT_PROGRESS: crate::shard::Layout<'static> = crate::shard::Layout {
    csvs: &["rows.csv", "summary.csv", "progress.csv"],
    ..LAYOUT
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists_expand() {
        assert_eq!(Vary::parse("x=1..=3").unwrap().values, ["1", "2", "3"]);
        assert_eq!(Vary::parse("x=1..3,7").unwrap().values, ["1", "2", "7"]);
        assert_eq!(Vary::parse("x=0..=10:5").unwrap().values, ["0", "5", "10"]);
        assert_eq!(
            Vary::parse("size=16MiB,64MiB").unwrap().values,
            ["16MiB", "64MiB"]
        );
        for (arg, why) in [
            ("x", "--vary x: expected key=value[,value...]"),
            ("=1", "--vary =1: empty key"),
            ("x=5..=1", "--vary x=5..=1: empty range 5..=1"),
            ("x=1..=3:0", "--vary x=1..=3:0: range step must be positive"),
        ] {
            assert_eq!(format!("{:#}", Vary::parse(arg).unwrap_err()), why);
        }
    }

    #[test]
    fn points_are_row_major() {
        let plan = Plan {
            scenario: "x".into(),
            replicates: 1,
            varies: vec![Vary::parse("a=1,2").unwrap(), Vary::parse("b=x,y").unwrap()],
            set: vec![],
            compare: vec![],
            progress: false,
        };
        let p = plan.points();
        assert_eq!(
            p,
            vec![
                vec!["1", "x"],
                vec!["1", "y"],
                vec!["2", "x"],
                vec!["2", "y"]
            ]
        );
    }
}
