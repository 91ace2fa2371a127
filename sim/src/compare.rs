//! Paired comparisons between the points of a finished sweep. Replicate `r` runs the same
//! derived seed at every point (common random numbers), so the difference of a statistic
//! between two points is taken per replicate and its mean gets a paired t-interval and a
//! two-sided p-value: much tighter than comparing two independent CIs.
//!
//! A comparison names its two sides by varied keys (`a = seeders=1`, `b = seeders=3`); every
//! key neither side names is held equal, so one comparison yields a pair of points per value
//! of the other keys. Values are read back from `rows.csv` (the statistics of
//! [`crate::point_stats::COMPARED`]), so `sim compare` on a folder and the plan's
//! `[[compare]]` written by `sim sweep` give the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use serde::{Deserialize, Deserializer, Serialize};

use crate::point_stats::{ReplicateStats, COMPARED};
use crate::sweep::Plan;

/// One side of a comparison: a value for each named varied key.
pub type Selector = BTreeMap<String, String>;

/// Two sides to compare, B against A (differences are B − A).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    #[serde(deserialize_with = "selector")]
    pub a: Selector,
    #[serde(deserialize_with = "selector")]
    pub b: Selector,
}

/// A selector table whose values may be written as TOML numbers or booleans (`seeders = 1`).
fn selector<'de, D: Deserializer<'de>>(d: D) -> Result<Selector, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        F(f64),
        B(bool),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::S(s) => s,
                Scalar::I(i) => i.to_string(),
                Scalar::F(f) => f.to_string(),
                Scalar::B(b) => b.to_string(),
            };
            (k, v)
        })
        .collect())
}

/// `sim compare`: paired comparisons of two sets of points of a finished sweep.
#[derive(clap::Args)]
pub struct Args {
    /// A sweep output folder (sweep.json and rows.csv; merge shards first).
    pub dir: PathBuf,
    /// Side A: `KEY=VALUE` of a varied key (repeatable).
    #[arg(long = "a", value_name = "KEY=VALUE", required = true)]
    pub a: Vec<String>,
    /// Side B: the same keys as --a with other values (differences are B − A).
    #[arg(long = "b", value_name = "KEY=VALUE", required = true)]
    pub b: Vec<String>,
    /// Output CSV [default: DIR/comparisons.csv].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `sim compare`: prints the table and writes the CSV.
pub fn cli(args: &Args) -> anyhow::Result<()> {
    let parse = |side: &str, xs: &[String]| -> anyhow::Result<Selector> {
        xs.iter()
            .map(|x| {
                let (k, v) = x
                    .split_once('=')
                    .with_context(|| format!("--{side} {x}: expected KEY=VALUE"))?;
                Ok((k.trim().to_string(), v.trim().to_string()))
            })
            .collect()
    };
    let cmp = Compare {
        a: parse("a", &args.a)?,
        b: parse("b", &args.b)?,
    };
    let rows = compare(&args.dir, &[cmp])?;
    print!("{}", table(&rows));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.dir.join("comparisons.csv"));
    reports::table::write_csv(&out, &rows)?;
    println!("wrote {}", out.display());
    Ok(())
}

/// One line of `comparisons.csv`: one statistic of one pair of points.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub a_point: usize,
    pub b_point: usize,
    /// The points' values of every varied key, `key=value` separated by spaces.
    pub a: String,
    pub b: String,
    pub statistic: &'static str,
    /// Replicates where both points define the statistic.
    pub pairs: usize,
    pub mean_a: String,
    pub mean_b: String,
    pub diff_b_minus_a: String,
    pub diff_ci95_low: String,
    pub diff_ci95_high: String,
    pub t: String,
    pub p_value: String,
}

/// The pairs of point indices `cmp` selects in `plan`, A first, in A's point order.
pub fn pairs(plan: &Plan, cmp: &Compare) -> anyhow::Result<Vec<(usize, usize)>> {
    let keys: Vec<&str> = plan.varies.iter().map(|v| v.key.as_str()).collect();
    ensure!(
        !cmp.a.is_empty() && cmp.a.keys().eq(cmp.b.keys()),
        "A and B must name the same varied keys (A: {}; B: {})",
        describe(&cmp.a),
        describe(&cmp.b)
    );
    for (k, v) in cmp.a.iter().chain(&cmp.b) {
        let Some(vary) = plan.varies.iter().find(|x| x.key == *k) else {
            let near = keys
                .iter()
                .map(|x| (strsim::normalized_damerau_levenshtein(k, x), *x))
                .filter(|(s, _)| *s >= 0.6)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, x)| format!(" (did you mean `{x}`?)"))
                .unwrap_or_default();
            bail!(
                "`{k}` is not varied by this sweep{near}; it varies: {}",
                plan.varies
                    .iter()
                    .map(|v| format!("{}={}", v.key, v.values.join(",")))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        };
        ensure!(
            vary.values.contains(v),
            "{k}={v} is not in this sweep: {k} takes {}",
            vary.values.join(",")
        );
    }
    ensure!(cmp.a != cmp.b, "A and B select the same points");
    let index = |k: &String| keys.iter().position(|x| x == k).expect("checked above");
    let points = plan.points();
    let matches = |p: &[String], sel: &Selector| sel.iter().all(|(k, v)| p[index(k)] == *v);
    Ok(points
        .iter()
        .enumerate()
        .filter(|(_, p)| matches(p, &cmp.a))
        .filter_map(|(i, p)| {
            let mut q = p.clone();
            for (k, v) in &cmp.b {
                q[index(k)] = v.clone();
            }
            points.iter().position(|x| *x == q).map(|j| (i, j))
        })
        .collect())
}

fn describe(sel: &Selector) -> String {
    sel.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every comparison of `cmps` on the sweep folder `dir` (its `sweep.json` and `rows.csv`).
pub fn compare(dir: &Path, cmps: &[Compare]) -> anyhow::Result<Vec<Row>> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("sweep.json"))
            .with_context(|| format!("{}: not a sweep folder (no sweep.json)", dir.display()))?,
    )?;
    let plan: Plan = serde_json::from_value(manifest["plan"].clone())
        .with_context(|| format!("{}: sweep.json has no readable plan", dir.display()))?;
    let mut all = Vec::new();
    for c in cmps {
        all.extend(pairs(&plan, c)?);
    }
    let wanted: BTreeSet<usize> = all.iter().flat_map(|&(a, b)| [a, b]).collect();
    let stats = read_rows(&dir.join("rows.csv"), &wanted)?;
    let points = plan.points();
    // A point's values in the sweep's key order, as summary.csv lists them.
    let name = |p: usize| {
        let kv = plan.varies.iter().zip(&points[p]);
        kv.map(|(v, x)| format!("{}={x}", v.key))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut rows = Vec::new();
    for (a, b) in all {
        let (sa, sb) = match (stats.get(&a), stats.get(&b)) {
            (Some(x), Some(y)) => (x, y),
            _ => bail!(
                "{}: no rows for point {} (a shard folder? compare the merged one)",
                dir.display(),
                if stats.contains_key(&a) { b } else { a }
            ),
        };
        for &(statistic, f) in COMPARED {
            let (xa, xb): (Vec<f64>, Vec<f64>) = sa
                .iter()
                .filter_map(|(r, s)| Some((f(s)?, f(sb.get(r)?)?)))
                .unzip();
            let p = reports::stats::paired_t(&xa, &xb);
            let c = |g: fn(&reports::stats::Paired) -> f64, d: usize| {
                p.map(|p| reports::table::fmt_f64(g(&p), d))
                    .unwrap_or_default()
            };
            rows.push(Row {
                a_point: a,
                b_point: b,
                a: name(a),
                b: name(b),
                statistic,
                pairs: xa.len(),
                mean_a: c(|p| p.mean_a, 3),
                mean_b: c(|p| p.mean_b, 3),
                diff_b_minus_a: c(|p| p.diff, 3),
                diff_ci95_low: c(|p| p.ci95_low, 3),
                diff_ci95_high: c(|p| p.ci95_high, 3),
                t: c(|p| p.t, 3),
                p_value: c(|p| p.p_value, 6),
            });
        }
    }
    Ok(rows)
}

/// Per point of `wanted`, per replicate, the statistics of its leechers in `rows.csv`.
fn read_rows(
    path: &Path,
    wanted: &BTreeSet<usize>,
) -> anyhow::Result<BTreeMap<usize, BTreeMap<u32, ReplicateStats>>> {
    let mut rd =
        csv::Reader::from_path(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let headers = rd.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column {name}", path.display()))
    };
    let [point, replicate, role, days, completion] =
        ["point", "replicate", "role", "online_days", "completion_s"].map(col);
    let (point, replicate, role, days, completion) =
        (point?, replicate?, role?, days?, completion?);
    // Per (point, replicate): each leecher's online days and completion.
    type Leechers = Vec<(f64, Option<f64>)>;
    let mut leechers: BTreeMap<(usize, u32), Leechers> = BTreeMap::new();
    for (line, rec) in rd.records().enumerate() {
        let rec = rec?;
        let bad = || format!("{}: bad data line {}", path.display(), line + 1);
        let p: usize = rec[point].parse().with_context(bad)?;
        if !wanted.contains(&p) || &rec[role] != "leecher" {
            continue;
        }
        let r: u32 = rec[replicate].parse().with_context(bad)?;
        let d: f64 = rec[days].parse().with_context(bad)?;
        let c = match &rec[completion] {
            "" => None,
            x => Some(x.parse::<f64>().with_context(bad)?),
        };
        leechers.entry((p, r)).or_default().push((d, c));
    }
    let mut out: BTreeMap<usize, BTreeMap<u32, ReplicateStats>> = BTreeMap::new();
    for ((p, r), ls) in leechers {
        out.entry(p).or_default().insert(r, ReplicateStats::of(&ls));
    }
    Ok(out)
}

/// Writes `comparisons.csv` for the plan's `[[compare]]` pairs (nothing when it has none).
pub fn write_declared(dir: &Path, plan: &Plan) -> anyhow::Result<()> {
    if plan.compare.is_empty() {
        return Ok(());
    }
    let rows = compare(dir, &plan.compare)?;
    reports::table::write_csv(dir.join("comparisons.csv"), &rows)
}

/// The comparisons as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.a.clone(),
                r.b.clone(),
                r.statistic.to_string(),
                r.pairs.to_string(),
                r.mean_a.clone(),
                r.mean_b.clone(),
                r.diff_b_minus_a.clone(),
                format!("{} .. {}", r.diff_ci95_low, r.diff_ci95_high),
                r.p_value.clone(),
            ]
        })
        .collect();
    reports::table::render_table(
        &[
            "A",
            "B",
            "statistic",
            "pairs",
            "mean A",
            "mean B",
            "B - A",
            "95% CI",
            "p",
        ],
        &cells,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Vary;

    fn plan() -> Plan {
        Plan {
            scenario: "x".into(),
            replicates: 2,
            varies: vec![
                Vary::parse("seeders=1,2,3").unwrap(),
                Vary::parse("variant=a,b").unwrap(),
            ],
            set: vec![],
            compare: vec![],
            progress: false,
        }
    }

    fn sel(xs: &[(&str, &str)]) -> Selector {
        xs.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unnamed_keys_are_held_equal() {
        let c = Compare {
            a: sel(&[("seeders", "1")]),
            b: sel(&[("seeders", "3")]),
        };
        // Points: (1,a)=0 (1,b)=1 (2,a)=2 (2,b)=3 (3,a)=4 (3,b)=5.
        assert_eq!(pairs(&plan(), &c).unwrap(), [(0, 4), (1, 5)]);
        let c = Compare {
            a: sel(&[("seeders", "2"), ("variant", "b")]),
            b: sel(&[("seeders", "1"), ("variant", "a")]),
        };
        assert_eq!(pairs(&plan(), &c).unwrap(), [(3, 0)]);
    }

    #[test]
    fn bad_selectors_name_what_the_sweep_has() {
        let err = |a: &[(&str, &str)], b: &[(&str, &str)]| {
            let c = Compare {
                a: sel(a),
                b: sel(b),
            };
            pairs(&plan(), &c).unwrap_err().to_string()
        };
        assert_eq!(
            err(&[("seeder", "1")], &[("seeder", "2")]),
            "`seeder` is not varied by this sweep (did you mean `seeders`?); it varies: \
             seeders=1,2,3 variant=a,b"
        );
        assert_eq!(
            err(&[("seeders", "1")], &[("seeders", "7")]),
            "seeders=7 is not in this sweep: seeders takes 1,2,3"
        );
        assert!(err(&[("seeders", "1")], &[("variant", "a")]).starts_with("A and B must name"));
        assert_eq!(
            err(&[("seeders", "1")], &[("seeders", "1")]),
            "A and B select the same points"
        );
    }

    /// The example plan's comparisons: incentive none vs seniority at each of 3 seeder counts
    /// × 2 variants, and 1 vs 3 seeders at each of 2 incentives × 2 variants.
    #[test]
    fn the_example_plan_declares_its_pairs() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sweeps/seeders-incentive.toml"
        );
        let plan = Plan::load(Path::new(path)).unwrap();
        let n: Vec<usize> = plan
            .compare
            .iter()
            .map(|c| pairs(&plan, c).unwrap().len())
            .collect();
        assert_eq!(n, [6, 4]);
    }

    #[test]
    fn plan_files_take_numbers_or_strings() {
        let c: Compare = toml::from_str("a = { seeders = 1 }\nb = { seeders = \"3\" }").unwrap();
        assert_eq!(
            (c.a, c.b),
            (sel(&[("seeders", "1")]), sel(&[("seeders", "3")]))
        );
    }
}
