//! What the replicates of one scenario point say: per replicate, statistics of its leechers'
//! completion times against their online days; over replicates, their means with 95% CIs.
//! These are `summary.csv`'s columns, `sim run --replicates`' headline and the per-replicate
//! values `sim compare` pairs, so all three agree by construction.

use reports::stats;
use reports::table::fmt_f64;

use crate::scenario::Role;
use crate::RunResult;

/// One replicate's statistics over its completed leechers (unfinished ones are counted, not
/// timed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicateStats {
    pub leechers: usize,
    pub completed: usize,
    /// Mean, sum and largest completion time, s.
    pub mean_s: Option<f64>,
    pub sum_s: f64,
    pub max_s: Option<f64>,
    /// Spearman ρ of online days vs completion: negative when longer-online nodes finish sooner.
    pub rho: Option<f64>,
    /// Least-squares slope of completion on online days, s/day.
    pub slope: Option<f64>,
    /// Mean completion of the third of leechers with the fewest online days minus that of the
    /// third with the most, s: positive when seniority pays.
    pub gap: Option<f64>,
}

impl ReplicateStats {
    /// From every leecher's online days and completion time (`None`: did not finish).
    pub fn of(leechers: &[(f64, Option<f64>)]) -> ReplicateStats {
        let (days, times): (Vec<f64>, Vec<f64>) =
            leechers.iter().filter_map(|&(d, c)| Some((d, c?))).unzip();
        ReplicateStats {
            leechers: leechers.len(),
            completed: times.len(),
            mean_s: stats::mean(&times),
            sum_s: times.iter().sum(),
            max_s: times.iter().copied().reduce(f64::max),
            rho: stats::spearman(&days, &times),
            slope: stats::ols_slope(&days, &times),
            gap: stats::thirds_gap(&days, &times),
        }
    }

    pub fn of_run(r: &RunResult) -> ReplicateStats {
        let leechers: Vec<(f64, Option<f64>)> = r
            .nodes
            .iter()
            .filter(|n| n.role == Role::Leecher)
            .map(|n| (n.online_days, n.completion_s))
            .collect();
        ReplicateStats::of(&leechers)
    }
}

/// A per-replicate statistic `sim compare` pairs across points.
pub type Statistic = (&'static str, fn(&ReplicateStats) -> Option<f64>);

/// The statistics `sim compare` pairs, by the name its table and `comparisons.csv` use.
pub const COMPARED: &[Statistic] = &[
    ("mean_completion_s", |s| s.mean_s),
    ("rho", |s| s.rho),
    ("slope_s_per_day", |s| s.slope),
    ("gap_thirds_s", |s| s.gap),
];

/// Replicates of one point, in replicate order.
#[derive(Clone, Debug, Default)]
pub struct PointStats {
    reps: Vec<ReplicateStats>,
    /// Each replicate's Kumar–Ross bound (bandwidths may be drawn per seed).
    kumar_ross: Vec<f64>,
}

/// A value with three fixed decimals (never `-0.000`), or an empty cell.
fn cell(x: Option<f64>) -> String {
    x.map(|v| fmt_f64(v, 3)).unwrap_or_default()
}

impl PointStats {
    pub fn add(&mut self, r: &RunResult) {
        self.reps.push(ReplicateStats::of_run(r));
        self.kumar_ross.push(r.kumar_ross_bound());
    }

    fn values(&self, f: fn(&ReplicateStats) -> Option<f64>) -> Vec<f64> {
        self.reps.iter().filter_map(f).collect()
    }

    fn summary(&self, f: fn(&ReplicateStats) -> Option<f64>) -> Option<stats::Summary> {
        stats::summarize(&self.values(f))
    }

    /// Mean and 95% CI over replicates of `f`, clamped to `[lo, hi]` (a t-interval near the
    /// edge of ρ's range can overshoot it).
    fn mean_ci(&self, f: fn(&ReplicateStats) -> Option<f64>, lo: f64, hi: f64) -> [String; 3] {
        let s = self.summary(f);
        [
            cell(s.map(|s| s.mean)),
            cell(s.map(|s| s.ci95_low.max(lo))),
            cell(s.map(|s| s.ci95_high.min(hi))),
        ]
    }

    fn incomplete(&self) -> usize {
        self.reps.iter().map(|r| r.leechers - r.completed).sum()
    }

    /// The mean Kumar–Ross bound and the ratio of `f`'s mean over replicates to it.
    fn kumar_ross(&self) -> Option<f64> {
        stats::mean(&self.kumar_ross)
    }

    fn over_kumar_ross(&self, f: fn(&ReplicateStats) -> Option<f64>) -> Option<f64> {
        Some(stats::mean(&self.values(f))? / self.kumar_ross()?)
    }

    /// Summary columns for `summary.csv`: integers, or seconds, ratios and ρ with three fixed
    /// decimals (empty when undefined, e.g. a CI from one replicate).
    pub fn columns(&self) -> Vec<(&'static str, String)> {
        let m = self.summary(|s| s.mean_s);
        let inf = f64::INFINITY;
        let [rho, rho_lo, rho_hi] = self.mean_ci(|s| s.rho, -1.0, 1.0);
        let [slope, slope_lo, slope_hi] = self.mean_ci(|s| s.slope, -inf, inf);
        let [gap, gap_lo, gap_hi] = self.mean_ci(|s| s.gap, -inf, inf);
        vec![
            ("replicates", self.reps.len().to_string()),
            ("incomplete_nodes", self.incomplete().to_string()),
            ("mean_completion_s", cell(m.map(|s| s.mean))),
            ("std_of_means_s", cell(m.map(|s| s.std))),
            ("ci95_low_s", cell(m.map(|s| s.ci95_low))),
            ("ci95_high_s", cell(m.map(|s| s.ci95_high))),
            ("median_of_means_s", cell(m.map(|s| s.median))),
            (
                "mean_sum_completion_s",
                cell(stats::mean(&self.values(|s| Some(s.sum_s)))),
            ),
            (
                "mean_max_completion_s",
                cell(stats::mean(&self.values(|s| s.max_s))),
            ),
            ("kumar_ross_s", cell(self.kumar_ross())),
            (
                "mean_over_kumar_ross",
                cell(self.over_kumar_ross(|s| s.mean_s)),
            ),
            (
                "max_over_kumar_ross",
                cell(self.over_kumar_ross(|s| s.max_s)),
            ),
            ("rho_mean", rho),
            ("rho_ci95_low", rho_lo),
            ("rho_ci95_high", rho_hi),
            ("slope_s_per_day", slope),
            ("slope_ci95_low", slope_lo),
            ("slope_ci95_high", slope_hi),
            ("gap_thirds_s", gap),
            ("gap_ci95_low_s", gap_lo),
            ("gap_ci95_high_s", gap_hi),
        ]
    }

    /// The headline of `sim run --replicates N`: every statistic as mean and 95% CI over the
    /// replicates.
    pub fn text(&self) -> String {
        let line =
            |what: &str, f: fn(&ReplicateStats) -> Option<f64>, unit: &str, d: usize| match self
                .summary(f)
            {
                Some(s) => format!(
                    "  {what}: {}{unit} (95% CI {} .. {}, n = {})",
                    fmt_f64(s.mean, d),
                    fmt_f64(s.ci95_low, d),
                    fmt_f64(s.ci95_high, d),
                    s.n
                ),
                None => format!("  {what}: - (needs 2 replicates where it is defined)"),
            };
        let kr = |f| {
            self.over_kumar_ross(f)
                .map_or("-".into(), |x| fmt_f64(x, 2))
        };
        format!(
            "over {} replicates ({} leecher(s) unfinished in all):\n{}\n  Kumar-Ross bound {} s: \
             mean completion {}x it, last completion {}x it\n{}\n{}\n{}",
            self.reps.len(),
            self.incomplete(),
            line("mean leecher completion", |s| s.mean_s, " s", 1),
            self.kumar_ross().map_or("-".into(), |x| fmt_f64(x, 1)),
            kr(|s| s.mean_s),
            kr(|s| s.max_s),
            line("Spearman rho(online days, completion)", |s| s.rho, "", 3),
            line(
                "slope of completion on online days",
                |s| s.slope,
                " s/day",
                2
            ),
            line(
                "fewest-days third minus most-days third",
                |s| s.gap,
                " s",
                1
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicate_stats_by_hand() {
        // Six leechers, one unfinished: times 10, 20, 30, 50, 70 at days 5, 4, 3, 2, 1.
        let s = ReplicateStats::of(&[
            (5.0, Some(10.0)),
            (4.0, Some(20.0)),
            (3.0, Some(30.0)),
            (2.0, Some(50.0)),
            (1.0, Some(70.0)),
            (6.0, None),
        ]);
        assert_eq!((s.leechers, s.completed), (6, 5));
        assert_eq!(
            (s.mean_s, s.sum_s, s.max_s),
            (Some(36.0), 180.0, Some(70.0))
        );
        assert_eq!(s.rho, Some(-1.0));
        // Sxx = 10, Sxy = (2)(-26) + (1)(-16) + 0 + (-1)(14) + (-2)(34) = -150.
        assert_eq!(s.slope, Some(-15.0));
        // Thirds of one: day 1 (70 s) minus day 5 (10 s).
        assert_eq!(s.gap, Some(60.0));
    }
}
