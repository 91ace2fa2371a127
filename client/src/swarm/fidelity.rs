//! `bt swarm --replicates N`: does the real swarm agree with the simulator *as a statistic*?
//!
//! One run of each side says little about the seniority ordering: with 18 leechers a single
//! run's Spearman ρ has a 95% CI about ±0.3 wide, and the simulator's own ρ varies as much
//! from seed to seed. So replicate `r` runs the same seed ([`replicate_seed`], shared with
//! `sim run --replicates`) on sockets and in the simulator — the same draws on both sides —
//! and each metric is reported as a mean with a 95% CI per side plus the *paired* difference
//! (sockets − sim) with its CI and p-value, which removes what a seed does to both.
//!
//! [`replicate_seed`]: scenario::draws::replicate_seed

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use reports::stats::{self, Paired};
use reports::table::{fmt_f64, render_table, write_csv};
use scenario::RunResult;
use serde::Serialize;

/// One replicate, reduced to what the report needs: its seed and the statistics of the real
/// run and of the simulator's run of the same seed (each measured once, as it finishes).
pub struct Replicate {
    seed: u64,
    real: Metrics,
    sim: Option<Metrics>,
}

impl Replicate {
    pub fn new(seed: u64, real: &RunResult, sim: Option<&RunResult>) -> Replicate {
        Replicate {
            seed,
            real: metrics(real),
            sim: sim.map(metrics),
        }
    }
}

/// The per-run statistics compared, in report order.
const METRICS: [&str; 6] = [
    "mean_completion_s",
    "spearman_rho",
    "slope_s_per_day",
    "thirds_gap_s",
    "top_partner_share",
    "partner_days_apart",
];

/// [`METRICS`] of one run, `None` where a run cannot say (e.g. no leecher done).
type Metrics = [Option<f64>; 6];

/// [`METRICS`] of one run. Outcomes: mean leecher completion, ρ(online days, completion), the
/// least-squares slope of completion on online days, and the fewest-days third's mean minus the
/// most-days third's (the last two say *how much* seniority buys, which ρ, a rank statistic,
/// does not). Allocation, from `pairs.csv`: how tit-for-tat spread each leecher's upload to
/// leechers — the share its `regular_slots` largest partners got, and the bytes-weighted mean
/// difference in online days between partners. These moved first when the real client's
/// chokes lagged (issue #17), so they say *where* two runs differ, not only that they do.
fn metrics(r: &RunResult) -> Metrics {
    let done: Vec<_> = r.leechers().filter(|n| n.completion_s.is_some()).collect();
    let days: Vec<f64> = done.iter().map(|n| n.online_days).collect();
    let times: Vec<f64> = done.iter().filter_map(|n| n.completion_s).collect();
    let (top, apart) = allocation(r);
    [
        stats::mean(&times),
        stats::spearman(&days, &times),
        stats::ols_slope(&days, &times),
        stats::thirds_gap(&days, &times),
        top,
        apart,
    ]
}

/// (mean top-partner share, bytes-weighted |Δ online days|) over leecher-to-leecher bytes.
fn allocation(r: &RunResult) -> (Option<f64>, Option<f64>) {
    let leecher: BTreeMap<u32, f64> = r.leechers().map(|n| (n.id, n.online_days)).collect();
    let mut sent: BTreeMap<u32, Vec<(u64, f64)>> = BTreeMap::new();
    for p in &r.pairs {
        if let (Some(a), Some(b)) = (leecher.get(&p.from), leecher.get(&p.to)) {
            sent.entry(p.from)
                .or_default()
                .push((p.bytes, (a - b).abs()));
        }
    }
    let slots = r.scenario.engine.regular_slots as usize;
    let shares: Vec<f64> = sent
        .values_mut()
        .filter_map(|to| {
            let total: u64 = to.iter().map(|(b, _)| b).sum();
            to.sort_by_key(|&(b, _)| std::cmp::Reverse(b));
            let top: u64 = to.iter().take(slots).map(|(b, _)| b).sum();
            (total > 0).then(|| top as f64 / total as f64)
        })
        .collect();
    let (bytes, weighted) = sent.values().flatten().fold((0.0, 0.0), |(b, w), &(n, d)| {
        (b + n as f64, w + n as f64 * d)
    });
    (
        stats::mean(&shares),
        (bytes > 0.0).then(|| weighted / bytes),
    )
}

/// One row of `replicates.csv`.
#[derive(Serialize)]
struct ReplicateRow {
    replicate: usize,
    seed: u64,
    metric: &'static str,
    real: Option<f64>,
    sim: Option<f64>,
}

/// One row of `agreement.csv` and of the printed table.
#[derive(Serialize)]
pub struct MetricAgreement {
    pub metric: &'static str,
    pub n: usize,
    pub real_mean: Option<f64>,
    pub real_ci95_low: Option<f64>,
    pub real_ci95_high: Option<f64>,
    pub sim_mean: Option<f64>,
    pub sim_ci95_low: Option<f64>,
    pub sim_ci95_high: Option<f64>,
    /// Mean of (real − sim) over replicates both sides measured, with its 95% CI.
    pub diff: Option<f64>,
    pub diff_ci95_low: Option<f64>,
    pub diff_ci95_high: Option<f64>,
    pub p_value: Option<f64>,
}

/// The replicates' agreement, one entry per metric.
pub fn agreement(reps: &[Replicate]) -> Vec<MetricAgreement> {
    METRICS
        .iter()
        .enumerate()
        .map(|(m, &metric)| {
            let real: Vec<f64> = reps.iter().filter_map(|r| r.real[m]).collect();
            let sim: Vec<f64> = reps.iter().filter_map(|r| r.sim?[m]).collect();
            let (pa, pb): (Vec<f64>, Vec<f64>) = reps
                .iter()
                .filter_map(|r| Some((r.sim?[m]?, r.real[m]?)))
                .unzip();
            // `summarize` needs two values: one replicate gets a mean and no CI.
            let (r, s) = (stats::summarize(&real), stats::summarize(&sim));
            let p: Option<Paired> = stats::paired_t(&pa, &pb);
            MetricAgreement {
                metric,
                n: reps.len(),
                real_mean: stats::mean(&real),
                real_ci95_low: r.map(|x| x.ci95_low),
                real_ci95_high: r.map(|x| x.ci95_high),
                sim_mean: stats::mean(&sim),
                sim_ci95_low: s.map(|x| x.ci95_low),
                sim_ci95_high: s.map(|x| x.ci95_high),
                diff: p.map(|p| p.diff),
                diff_ci95_low: p.map(|p| p.ci95_low),
                diff_ci95_high: p.map(|p| p.ci95_high),
                p_value: p.map(|p| p.p_value),
            }
        })
        .collect()
}

/// The agreement table `bt swarm --replicates` prints.
pub fn text(rows: &[MetricAgreement]) -> String {
    let dec = |metric: &str| match metric {
        "spearman_rho" | "top_partner_share" => 3,
        "partner_days_apart" => 2,
        _ => 1,
    };
    let ci = |m: Option<f64>, lo: Option<f64>, hi: Option<f64>, d: usize| match (m, lo, hi) {
        (Some(m), Some(lo), Some(hi)) => {
            format!("{} [{}, {}]", fmt_f64(m, d), fmt_f64(lo, d), fmt_f64(hi, d))
        }
        (Some(m), _, _) => fmt_f64(m, d),
        _ => "-".into(),
    };
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let d = dec(r.metric);
            vec![
                r.metric.to_string(),
                ci(r.real_mean, r.real_ci95_low, r.real_ci95_high, d),
                ci(r.sim_mean, r.sim_ci95_low, r.sim_ci95_high, d),
                ci(r.diff, r.diff_ci95_low, r.diff_ci95_high, d),
                r.p_value.map_or_else(|| "-".into(), |p| fmt_f64(p, 3)),
            ]
        })
        .collect();
    let n = rows.first().map_or(0, |r| r.n);
    format!(
        "sockets vs simulator over {n} replicate(s), same seeds (mean [95% CI]; diff = sockets - sim, paired)\n{}",
        render_table(
            &["metric", "sockets", "sim", "diff", "p"],
            &body
        )
    )
}

/// Writes `replicates.csv` (every replicate's metrics, both sides) and `agreement.csv`.
pub fn write(out: &Path, reps: &[Replicate], rows: &[MetricAgreement]) -> Result<()> {
    let per_rep = reps.iter().enumerate().flat_map(|(i, r)| {
        METRICS
            .iter()
            .enumerate()
            .map(move |(m, &metric)| ReplicateRow {
                replicate: i,
                seed: r.seed,
                metric,
                real: r.real[m],
                sim: r.sim.and_then(|s| s[m]),
            })
    });
    write_csv(out.join("replicates.csv"), per_rep)?;
    write_csv(out.join("agreement.csv"), rows)
}
