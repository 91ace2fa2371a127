//! Replicates: the same scenario under independent seeds, run in parallel, reduced in order.

use rayon::prelude::*;

use crate::metrics::opt3;

use crate::{run_observed, RunResult, Scenario};

pub use scenario::draws::replicate_seed;

/// Runs `n` replicates on the current rayon pool; results come back in replicate order
/// whatever the thread count.
pub fn run_replicates(sc: &Scenario, n: u32) -> Vec<RunResult> {
    run_replicates_observed(sc, n, &|_| {})
}

/// [`run_replicates`], reporting every replicate's downloaded bytes to `on_bytes` as they
/// accrue.
pub fn run_replicates_observed(
    sc: &Scenario,
    n: u32,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Vec<RunResult> {
    (0..n)
        .into_par_iter()
        .map(|r| {
            let mut s = sc.clone();
            s.seed = replicate_seed(sc.seed, r);
            run_observed(&s, on_bytes)
        })
        .collect()
}

/// Progress of `replicates` runs of `sc` as the bytes their leechers have downloaded (drawn
/// on stderr, only when it is a terminal).
pub fn download_bar(sc: &Scenario, replicates: u32) -> indicatif::ProgressBar {
    let leechers = sc
        .nodes()
        .iter()
        .filter(|n| n.role == crate::scenario::Role::Leecher)
        .count() as u64;
    let total = leechers * sc.torrent.size.0 * u64::from(replicates);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {percent:>3}% downloaded  {elapsed_precise} elapsed, ETA {eta_precise}",
        )
        .expect("valid template"),
    );
    bar
}

/// One line per replicate: its seed and summary statistics.
#[derive(serde::Serialize)]
struct ReplicateRow {
    replicate: u32,
    seed: u64,
    completed: usize,
    mean_s: String,
    max_s: String,
    spearman_rho: String,
}

/// Statistics across replicates, each a mean with its 95% CI (see
/// [`crate::point_stats::PointStats::text`]).
pub fn summary_text(runs: &[RunResult]) -> String {
    let mut stats = crate::point_stats::PointStats::default();
    runs.iter().for_each(|r| stats.add(r));
    stats.text()
}

/// Writes `replicates.csv` (every node of every replicate), `replicates_summary.csv` and
/// `replicates_policies.csv` (`policies.csv` pooled over the replicates).
pub fn write_replicates(runs: &[RunResult], dir: &std::path::Path) -> anyhow::Result<()> {
    reports::table::write_csv(
        dir.join("replicates_policies.csv"),
        scenario::fairness::policy_summary(runs),
    )?;
    reports::table::write_csv(
        dir.join("replicates.csv"),
        runs.iter().flat_map(|r| r.csv_rows()),
    )?;
    reports::table::write_csv(
        dir.join("replicates_summary.csv"),
        runs.iter().enumerate().map(|(i, r)| {
            let s = r.summary();
            ReplicateRow {
                replicate: i as u32,
                seed: r.scenario.seed,
                completed: s.completed,
                mean_s: opt3(s.mean_s),
                max_s: opt3(s.max_s),
                spearman_rho: opt3(s.spearman_rho),
            }
        }),
    )
}
