//! The verdict on a thesis claim, from replicated runs: one rule that `sim reproduce` prints
//! and the findings tests (tests/tests/findings.rs) assert, so the two cannot disagree. A
//! replicate without the statistic (a leecher that never finished, or ρ undefined because a
//! variable is constant) is an error, never a ρ of 0 that would pass "no ordering".

use reports::stats::{spearman, summarize, Summary};

use crate::metrics::{NodeResult, RunResult};
use crate::scenario::Role;

/// What the thesis says about an experiment's ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nodes online longer finish faster.
    Ordering,
    /// Completion does not follow online time.
    NoOrdering,
}

/// Whether the simulator's statistic agrees with the claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Reproduced,
    NotReproduced,
    /// Same direction but clearly weaker or stronger than the claim.
    Differs,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::Differs => "differs",
        }
    }
}

/// ρ at or beyond which (in absolute value) an ordering counts as clear.
pub const CLEAR_RHO: f64 = 0.2;
/// |mean ρ| below which there is no ordering.
pub const NO_ORDER_RHO: f64 = 0.15;

/// The verdict rule, from the per-replicate Spearman ρ summary:
/// - ordering claimed: reproduced if the CI's upper end is below −0.2, not reproduced if it
///   reaches 0 or above, differs in between (significant but weak);
/// - no ordering claimed: reproduced if |mean ρ| < 0.15, not reproduced if the CI lies wholly
///   beyond ±0.2 (a clear ordering), differs otherwise.
pub fn verdict(claim: Claim, rho: &Summary) -> Verdict {
    match claim {
        Claim::Ordering if rho.ci95_high < -CLEAR_RHO => Verdict::Reproduced,
        Claim::Ordering if rho.ci95_high >= 0.0 => Verdict::NotReproduced,
        Claim::Ordering => Verdict::Differs,
        Claim::NoOrdering if rho.mean.abs() < NO_ORDER_RHO => Verdict::Reproduced,
        Claim::NoOrdering if rho.ci95_high < -CLEAR_RHO || rho.ci95_low > CLEAR_RHO => {
            Verdict::NotReproduced
        }
        Claim::NoOrdering => Verdict::Differs,
    }
}

/// Why a set of runs has no statistic to judge.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum MissingStatistic {
    #[error("{0} replicate(s): a confidence interval needs at least 2")]
    TooFewReplicates(usize),
    #[error("replicate {replicate}: leecher {node} never finished, so its rank is unknown")]
    Unfinished { replicate: usize, node: u32 },
    #[error("replicate {replicate}: Spearman rho is undefined (fewer than 3 leechers, or a constant variable)")]
    UndefinedRho { replicate: usize },
}

/// Spearman ρ(x, completion time) over the leechers of each replicate, `x` chosen per node.
pub fn rho_per_replicate(
    runs: &[RunResult],
    x: impl Fn(&NodeResult) -> f64,
) -> Result<Vec<f64>, MissingStatistic> {
    runs.iter()
        .enumerate()
        .map(|(replicate, r)| {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for n in r.nodes.iter().filter(|n| n.role == Role::Leecher) {
                let done = n.completion_s.ok_or(MissingStatistic::Unfinished {
                    replicate,
                    node: n.id,
                })?;
                xs.push(x(n));
                ys.push(done);
            }
            spearman(&xs, &ys).ok_or(MissingStatistic::UndefinedRho { replicate })
        })
        .collect()
}

/// The summary of ρ(online days, completion) over the replicates and the verdict on `claim`.
pub fn judge(claim: Claim, runs: &[RunResult]) -> Result<(Summary, Verdict), MissingStatistic> {
    let rhos = rho_per_replicate(runs, |n| n.online_days)?;
    let rho = summarize(&rhos).ok_or(MissingStatistic::TooFewReplicates(rhos.len()))?;
    Ok((rho, verdict(claim, &rho)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn rho(mean: f64, half: f64) -> Summary {
        Summary {
            n: 30,
            mean,
            std: half,
            ci95_low: mean - half,
            ci95_high: mean + half,
            median: mean,
            min: mean - 1.0,
            max: mean + 1.0,
        }
    }

    #[test]
    fn verdicts_follow_the_statistics() {
        assert_eq!(
            verdict(Claim::Ordering, &rho(-0.7, 0.05)),
            Verdict::Reproduced
        );
        assert_eq!(
            verdict(Claim::Ordering, &rho(-0.15, 0.05)),
            Verdict::Differs
        );
        assert_eq!(
            verdict(Claim::Ordering, &rho(0.0, 0.05)),
            Verdict::NotReproduced
        );
        assert_eq!(
            verdict(Claim::Ordering, &rho(0.6, 0.05)),
            Verdict::NotReproduced
        );
        assert_eq!(
            verdict(Claim::NoOrdering, &rho(0.05, 0.08)),
            Verdict::Reproduced
        );
        assert_eq!(
            verdict(Claim::NoOrdering, &rho(-0.5, 0.06)),
            Verdict::NotReproduced
        );
        assert_eq!(
            verdict(Claim::NoOrdering, &rho(0.5, 0.06)),
            Verdict::NotReproduced
        );
        assert_eq!(
            verdict(Claim::NoOrdering, &rho(-0.2, 0.1)),
            Verdict::Differs
        );
    }

    fn judged(runs: &[RunResult]) -> Summary {
        judge(Claim::Ordering, runs).unwrap().0
    }

    /// Synthetic runs whose completion follows (or opposes) online days flip the verdict.
    #[test]
    fn verdict_flips_with_synthetic_orderings() {
        let sc = Scenario::parse(
            "synthetic",
            "name = \"s\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 10\nonline_days = { from = 1, step = 1 }\n",
            &[],
        )
        .unwrap();
        let base = crate::run(&sc);
        let with_times = |f: &dyn Fn(f64, usize) -> f64| -> Vec<RunResult> {
            (0..30)
                .map(|rep| {
                    let mut r = base.clone();
                    for n in r.nodes.iter_mut().filter(|n| n.role == Role::Leecher) {
                        n.completion_s = Some(f(n.online_days, rep));
                    }
                    r
                })
                .collect()
        };
        // Longer online => faster, with a little noise.
        let faster = with_times(&|d, rep| 1000.0 - 10.0 * d + ((rep * 7 + d as usize) % 5) as f64);
        // Longer online => slower.
        let slower = with_times(&|d, rep| 1000.0 + 10.0 * d + ((rep * 3 + d as usize) % 5) as f64);
        // Unrelated to online time.
        let flat = with_times(&|d, rep| 1000.0 + ((rep * 13 + d as usize * 7) % 11) as f64);
        assert_eq!(
            verdict(Claim::Ordering, &judged(&faster)),
            Verdict::Reproduced
        );
        assert_eq!(
            verdict(Claim::Ordering, &judged(&slower)),
            Verdict::NotReproduced
        );
        assert_eq!(
            verdict(Claim::NoOrdering, &judged(&faster)),
            Verdict::NotReproduced
        );
        assert_eq!(
            verdict(Claim::NoOrdering, &judged(&flat)),
            Verdict::Reproduced
        );
    }

    /// A statistic that does not exist fails the verdict instead of reading as ρ = 0.
    #[test]
    fn a_missing_statistic_is_an_error() {
        let text = "name = \"s\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 4\n";
        let sc = Scenario::parse("s", text, &[]).unwrap();
        let base = crate::run(&sc);
        // Every leecher online 0 days: ρ(online days, ·) is undefined.
        let flat = vec![base.clone(); 3];
        assert_eq!(
            judge(Claim::NoOrdering, &flat).unwrap_err(),
            MissingStatistic::UndefinedRho { replicate: 0 }
        );
        let mut unfinished = base.clone();
        unfinished.nodes[2].completion_s = None;
        let runs = vec![base.clone(), unfinished];
        assert_eq!(
            rho_per_replicate(&runs, |n| n.id as f64).unwrap_err(),
            MissingStatistic::Unfinished {
                replicate: 1,
                node: 3
            }
        );
        assert_eq!(
            rho_per_replicate(std::slice::from_ref(&base), |n| n.id as f64)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            judge(Claim::NoOrdering, &[]).unwrap_err(),
            MissingStatistic::TooFewReplicates(0)
        );
    }
}
