//! `table.csv`: each (setting, policy, class) cell of `runs.csv` summarised over replicates.
//!
//! - completion: mean over replicates of the cell's mean completion, with a 95% Student-t CI;
//! - speed-up: per replicate, the reference peers' mean completion over the cell's (same run,
//!   same classes: >1 means faster than the reference), then its mean and 95% CI over
//!   replicates — a paired comparison, so run-to-run noise shared by both cancels;
//! - `finished`: the fraction of the cell's peers done by `max_time` (free-riders' outcome);
//! - `share_ratio`: bytes uploaded / downloaded by the cell's peers, over all replicates;
//! - `jain`: the setting's fairness, the mean over replicates of Jain's index of every
//!   leecher's share ratio (1: everyone gives back the same share of what it takes).

use serde::{Deserialize, Serialize};

use super::{r3, Kind, RunRow};

/// One row of `table.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub setting: usize,
    pub kind: Kind,
    pub a: String,
    pub b: String,
    pub policy: String,
    pub class: String,
    pub replicates: u32,
    /// Peers of the cell in each run.
    pub n: u32,
    pub finished: f64,
    pub completion_s: f64,
    pub completion_ci95_low_s: Option<f64>,
    pub completion_ci95_high_s: Option<f64>,
    pub vs: String,
    pub speedup: Option<f64>,
    pub speedup_ci95_low: Option<f64>,
    pub speedup_ci95_high: Option<f64>,
    pub share_ratio: Option<f64>,
    pub jain: Option<f64>,
}

/// The cells of `rows`, in the order their first rows appear (rows come grouped by setting,
/// then replicate, so that is setting, policy, class order).
pub fn table(rows: &[RunRow]) -> Vec<Cell> {
    let mut cells = Vec::new();
    for setting in rows.chunk_by(|x, y| x.setting == y.setting) {
        let mut keys: Vec<(&str, &str)> = Vec::new();
        for r in setting {
            if !keys.contains(&(&r.policy, &r.class)) {
                keys.push((&r.policy, &r.class));
            }
        }
        cells.extend(keys.into_iter().map(|(policy, class)| {
            let cell: Vec<&RunRow> = setting
                .iter()
                .filter(|r| r.policy == policy && r.class == class)
                .collect();
            summarize(&cell)
        }));
    }
    cells
}

/// One cell over its replicates.
fn summarize(cell: &[&RunRow]) -> Cell {
    use reports::stats::{mean, mean_ci};
    let first = cell[0];
    let times: Vec<f64> = cell.iter().map(|r| r.completion_s).collect();
    let speedups: Vec<f64> = cell
        .iter()
        .filter_map(|r| Some(r.vs_completion_s? / r.completion_s))
        .filter(|x| x.is_finite())
        .collect();
    let jains: Vec<f64> = cell.iter().filter_map(|r| r.jain).collect();
    let ci = |xs: &[f64]| mean_ci(xs).map_or((None, None), |(l, h)| (Some(r3(l)), Some(r3(h))));
    let (c_lo, c_hi) = ci(&times);
    let (s_lo, s_hi) = ci(&speedups);
    let (up, down) = cell
        .iter()
        .fold((0u64, 0u64), |(u, d), r| (u + r.bytes_up, d + r.bytes_down));
    let peers: u32 = cell.iter().map(|r| r.n).sum();
    let finished: u32 = cell.iter().map(|r| r.finished).sum();
    Cell {
        setting: first.setting,
        kind: first.kind,
        a: first.a.clone(),
        b: first.b.clone(),
        policy: first.policy.clone(),
        class: first.class.clone(),
        replicates: cell.len() as u32,
        n: first.n,
        finished: r3(f64::from(finished) / f64::from(peers.max(1))),
        completion_s: r3(mean(&times).unwrap_or(f64::NAN)),
        completion_ci95_low_s: c_lo,
        completion_ci95_high_s: c_hi,
        vs: first.vs.clone(),
        speedup: mean(&speedups).map(r3),
        speedup_ci95_low: s_lo,
        speedup_ci95_high: s_hi,
        share_ratio: (down > 0).then(|| r3(up as f64 / down as f64)),
        jain: mean(&jains).map(r3),
    }
}
