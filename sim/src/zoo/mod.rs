//! The incentive papers' findings, each declared once: the claim, the paper's own number, the
//! swarm it is measured in (CI-sized or full), the per-replicate statistic and the verdict
//! rule. `sim zoo` reports them and `tests/tests/zoo_*.rs` assert them, so the two cannot
//! disagree (as [`crate::verdict`] does for the thesis).

pub mod cli;
pub mod directions;
pub mod report;
pub mod stats;

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use reports::stats::{summarize, Summary};

use crate::{RunResult, Scenario};

pub use directions::DIRECTIONS;

/// Which variant of a direction's scenario files to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Small enough for tests: 30 replicates in seconds.
    Ci,
    /// The files as written (300 leechers for the rate policies).
    Full,
}

/// One swarm a direction measures: a file under `scenarios/` and its overrides.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub file: &'static str,
    pub set: &'static [&'static str],
    /// Another file and overrides at full size, where the CI-sized swarm is its own file
    /// (`None`: `file` without the CI-size overrides).
    pub full: Option<(&'static str, &'static [&'static str])>,
}

impl Setup {
    /// `file` with `set`, the same at both sizes up to [`ci_overrides`].
    pub const fn new(file: &'static str, set: &'static [&'static str]) -> Setup {
        Setup {
            file,
            set,
            full: None,
        }
    }
}

/// How a direction turns replicates into numbers.
#[derive(Clone, Copy)]
pub enum Measure {
    /// One number per replicate from the runs of every setup with that replicate's seed.
    Paired(fn(&[&RunResult]) -> Option<f64>),
    /// One number per run, summarised for the first setup and, as the reference, the second.
    Each(fn(&RunResult) -> Option<f64>),
}

/// The verdict rule, on the 95% interval of the direction's statistic (and of the reference).
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    /// The interval lies wholly above the value.
    Above(f64),
    /// The interval lies wholly below the value.
    Below(f64),
    /// The interval reaches down to the value or below (no evidence of more).
    NotAbove(f64),
    /// The interval contains the value (no evidence of a difference either way).
    Covers(f64),
    /// The upper end is below this fraction of the reference's lower end.
    BelowRefTimes(f64),
    /// The lower end is above the reference's upper end.
    AboveRef,
}

impl Rule {
    /// Whether `stat` (and `reference`, which the reference rules need) meets the rule.
    pub fn holds(self, stat: &Summary, reference: Option<&Summary>) -> bool {
        match (self, reference) {
            (Rule::Above(x), _) => stat.ci95_low > x,
            (Rule::Below(x), _) => stat.ci95_high < x,
            (Rule::NotAbove(x), _) => stat.ci95_low <= x,
            (Rule::Covers(x), _) => stat.ci95_low <= x && x <= stat.ci95_high,
            (Rule::BelowRefTimes(k), Some(r)) => stat.ci95_high < k * r.ci95_low,
            (Rule::AboveRef, Some(r)) => stat.ci95_low > r.ci95_high,
            (Rule::BelowRefTimes(_) | Rule::AboveRef, None) => false,
        }
    }

    /// Whether the rule compares against a reference setup.
    pub fn needs_reference(self) -> bool {
        matches!(self, Rule::BelowRefTimes(_) | Rule::AboveRef)
    }
}

/// One paper direction.
pub struct Direction {
    pub id: &'static str,
    /// Authors, title, venue, year.
    pub paper: &'static str,
    pub claim: &'static str,
    /// The paper's own number, in words.
    pub paper_value: &'static str,
    pub setups: &'static [Setup],
    /// What the statistic is, with its unit.
    pub statistic: &'static str,
    pub measure: Measure,
    pub rule: Rule,
    /// Why our model differs where it does not reproduce (empty when it does).
    pub why: &'static str,
}

/// What a direction measured.
#[derive(Clone, Debug)]
pub struct Finding {
    pub id: &'static str,
    pub stat: Summary,
    /// The reference setup's summary, for [`Measure::Each`].
    pub reference: Option<Summary>,
    pub reproduced: bool,
}

impl Finding {
    /// The verdict in words, as findings.csv and the report print it.
    pub fn verdict(&self) -> &'static str {
        if self.reproduced {
            "reproduced"
        } else {
            "not reproduced"
        }
    }
}

/// Why a direction has no statistic.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    #[error("no direction {0:?} (known: {1})")]
    Unknown(String, String),
    #[error("{id}: a replicate has no statistic (a leecher never finished, or none selected)")]
    Missing { id: &'static str },
    #[error("{id}: fewer than 2 replicates, no interval")]
    TooFew { id: &'static str },
    #[error("loading {file}: {msg}")]
    Load { file: String, msg: String },
}

/// The direction named `id`.
pub fn direction(id: &str) -> Result<&'static Direction, ZooError> {
    DIRECTIONS.iter().find(|d| d.id == id).ok_or_else(|| {
        let ids: Vec<&str> = DIRECTIONS.iter().map(|d| d.id).collect();
        ZooError::Unknown(id.to_string(), ids.join(", "))
    })
}

/// Upload-class leecher counts of a rate-policy file at CI size (10 per class of 4; the lone
/// BitTyrant's class 1 + 9; 5 per policy and class in the head-to-head file); `None` for
/// files that are CI-sized as written.
fn ci_counts(file: &str) -> Option<&'static [u32]> {
    match file {
        "zoo/bittyrant-lone" => Some(&[10, 1, 9, 10, 10]),
        "zoo/bittyrant-all-selfish" => Some(&[10, 10, 10, 10]),
        "zoo/propshare-vs-bittyrant" => Some(&[5; 8]),
        _ => None,
    }
}

/// The overrides that make `file` CI-sized: 40 leechers all arriving in the first 10 s (a
/// flash crowd), an 8 MiB file and a 512 KiB/s seeder.
pub fn ci_overrides(file: &str) -> Vec<String> {
    let Some(counts) = ci_counts(file) else {
        return Vec::new();
    };
    let mut sets: Vec<String> = vec![
        "torrent.size=\"8MiB\"".into(),
        "group.1.upload=\"512KiB/s\"".into(),
    ];
    for (i, n) in counts.iter().enumerate() {
        let g = i + 2;
        sets.push(format!("group.{g}.count={n}"));
        sets.push(format!("group.{g}.join={{ from = \"0s\", to = \"10s\" }}"));
    }
    sets
}

/// Loads a setup from `dir` (the `scenarios/` folder) at `size`.
pub fn load(dir: &Path, setup: &Setup, size: Size) -> Result<Scenario, ZooError> {
    let (file, set, mut sets) = match (size, setup.full) {
        (Size::Ci, _) => (setup.file, setup.set, ci_overrides(setup.file)),
        (Size::Full, Some((file, set))) => (file, set, Vec::new()),
        (Size::Full, None) => (setup.file, setup.set, Vec::new()),
    };
    sets.extend(set.iter().map(|s| s.to_string()));
    let path = dir.join(format!("{file}.toml"));
    Scenario::load(&path, &sets).map_err(|e| ZooError::Load {
        file: file.to_string(),
        msg: e.to_string(),
    })
}

/// Runs the directions' setups (each distinct setup once, shared by the directions that use
/// it) with `replicates` seeds and judges every direction; `done` is told each finished
/// setup. Findings come back in `dirs` order, the same for any thread count.
pub fn measure(
    dirs: &[&Direction],
    dir: &Path,
    size: Size,
    replicates: u32,
    done: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Finding>, ZooError> {
    let mut setups: BTreeMap<_, Setup> = BTreeMap::new();
    for d in dirs {
        for s in d.setups {
            setups.insert((s.file, s.set, s.full), *s);
        }
    }
    let loaded = setups
        .values()
        .map(|s| load(dir, s, size))
        .collect::<Result<Vec<_>, _>>()?;
    let runs: Vec<Vec<RunResult>> = loaded
        .par_iter()
        .zip(setups.values().collect::<Vec<_>>())
        .map(|(sc, s)| {
            let r = crate::replicate::run_replicates(sc, replicates);
            done(s.file);
            r
        })
        .collect();
    let by_key: BTreeMap<_, _> = setups.keys().zip(&runs).collect();
    dirs.iter()
        .map(|d| {
            let of: Vec<&Vec<RunResult>> = d
                .setups
                .iter()
                .map(|s| by_key[&(s.file, s.set, s.full)])
                .collect();
            judge(d, &of)
        })
        .collect()
}

/// The statistic and verdict of `d` from its setups' runs (`runs[i]` for `d.setups[i]`).
pub fn judge(d: &Direction, runs: &[&Vec<RunResult>]) -> Result<Finding, ZooError> {
    let over = |xs: Option<Vec<f64>>| -> Result<Summary, ZooError> {
        let xs = xs.ok_or(ZooError::Missing { id: d.id })?;
        summarize(&xs).ok_or(ZooError::TooFew { id: d.id })
    };
    let (stat, reference) = match d.measure {
        Measure::Paired(f) => {
            let n = runs[0].len();
            let xs = (0..n)
                .map(|i| f(&runs.iter().map(|r| &r[i]).collect::<Vec<_>>()))
                .collect();
            (over(xs)?, None)
        }
        Measure::Each(f) => {
            let side = |rs: &Vec<RunResult>| over(rs.iter().map(f).collect());
            let reference = runs.get(1).map(|rs| side(rs)).transpose()?;
            (side(runs[0])?, reference)
        }
    };
    let reproduced = d.rule.holds(&stat, reference.as_ref());
    Ok(Finding {
        id: d.id,
        stat,
        reference,
        reproduced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(low: f64, high: f64) -> Summary {
        Summary {
            n: 30,
            mean: (low + high) / 2.0,
            std: 0.0,
            ci95_low: low,
            ci95_high: high,
            median: 0.0,
            min: 0.0,
            max: 0.0,
        }
    }

    #[test]
    fn rules_judge_the_interval() {
        let s = ci(1.0, 2.0);
        assert!(Rule::Above(0.9).holds(&s, None) && !Rule::Above(1.0).holds(&s, None));
        assert!(Rule::Below(2.1).holds(&s, None) && !Rule::Below(2.0).holds(&s, None));
        assert!(Rule::NotAbove(1.0).holds(&s, None) && !Rule::NotAbove(0.5).holds(&s, None));
        assert!(Rule::Covers(s.mean).holds(&s, None));
        assert!(!Rule::Covers(s.ci95_high + 0.1).holds(&s, None));
        assert!(!Rule::Covers(s.ci95_low - 0.1).holds(&s, None));
        assert!(Rule::BelowRefTimes(0.5).holds(&s, Some(&ci(4.1, 5.0))));
        assert!(!Rule::BelowRefTimes(0.5).holds(&s, Some(&ci(4.0, 5.0))));
        assert!(Rule::AboveRef.holds(&s, Some(&ci(0.0, 0.9))));
        assert!(!Rule::AboveRef.holds(&s, Some(&ci(0.0, 1.0))));
        assert!(!Rule::AboveRef.holds(&s, None));
    }

    #[test]
    fn directions_are_well_formed() {
        for (i, d) in DIRECTIONS.iter().enumerate() {
            assert!(
                DIRECTIONS[..i].iter().all(|e| e.id != d.id),
                "{} twice",
                d.id
            );
            assert!(!d.setups.is_empty(), "{}", d.id);
            if d.rule.needs_reference() {
                assert!(
                    matches!(d.measure, Measure::Each(_)) && d.setups.len() == 2,
                    "{}",
                    d.id
                );
            }
            assert!(direction(d.id).is_ok());
        }
        assert!(matches!(direction("nope"), Err(ZooError::Unknown(..))));
    }

    #[test]
    fn ci_overrides_shrink_only_the_rate_files() {
        let sets = ci_overrides("zoo/bittyrant-lone");
        assert!(sets.contains(&"group.3.count=1".to_string()), "{sets:?}");
        assert_eq!(sets.len(), 2 + 2 * 5);
        assert!(ci_overrides("zoo/fairtorrent-classes").is_empty());
    }
}
