//! `sim tournament`: incentive policies compared in one base swarm, in three settings —
//! every policy alone (all leechers run it), one peer running it among tft leechers, and every
//! unordered pair half and half — each over seeded replicates.
//!
//! Each leecher group of the base scenario is one upload *class*. The lone peer is the first
//! node of the middle class (class ⌊k/2⌋ of k: 200 KiB/s in `scenarios/tournament.toml`), or
//! of each class in turn with [`Plan::every_class`]; in a pair, leechers alternate A, B, A, … in node order, so with even class sizes each half has
//! the same capacity mix. Every setting runs the same replicate seeds (common random numbers:
//! the same join times, latencies and tracker draws), so differences between settings are the
//! policies', and a strategic peer is compared with the reference peers *of the same run*.
//!
//! Outputs (see [`run`]): `runs.csv` (one row per setting × replicate × policy × class),
//! `table.csv` (over replicates, [`table`]), `report.md`/`report.html` with figures
//! ([`report`]), `tournament.json` (the plan) and `scenario.resolved.toml`. `--shard i/n`
//! runs settings `s % n == i`; [`merge`] joins shards and writes the report.

pub mod figures;
pub mod report;
pub mod table;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{ensure, Context};
use engine_core::policy::spec::{PolicySpec, NAMES};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::RunResult;
use crate::replicate::replicate_seed;
use crate::scenario::{Bandwidth, Group, JoinSpec, JoinTime, NodeCount, PerNode, Role, Scenario};
use crate::shard::{owns, Layout, Shard};
use crate::units::Rate;

/// What the tournament compares, and how often.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The base swarm scenario.
    pub scenario: PathBuf,
    /// Overrides applied to the base (`key=value`).
    pub set: Vec<String>,
    /// The policies, in the order tables list them.
    pub policies: Vec<PolicySpec>,
    pub replicates: u32,
    /// One-among-tft settings for every upload class, not only the middle one.
    pub every_class: bool,
}

/// How a setting assigns policies to leechers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Every leecher runs `a`.
    Alone,
    /// One leecher (the first of a class) runs `a`, the others `b` (tft).
    Lone,
    /// Leechers alternate `a`, `b` in node order.
    Pair,
}

/// One setting of the tournament.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub kind: Kind,
    pub a: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<String>,
    /// Lone: the class whose first leecher runs `a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lone: Option<LonePeer>,
}

/// Where a lone setting's strategic peer sits: its class's index and label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LonePeer {
    pub class: usize,
    pub label: String,
}

/// The policy everyone else runs in a lone setting.
pub const BACKGROUND: &str = "tft";

impl Setting {
    /// How tables and figures name the setting.
    pub fn label(&self) -> String {
        match (self.kind, &self.b) {
            (Kind::Alone, _) => format!("{} alone", self.a),
            (Kind::Lone, b) => format!(
                "one {} among {} in {}",
                self.a,
                b.as_deref().unwrap_or(BACKGROUND),
                self.lone.as_ref().map_or("?", |l| l.label.as_str())
            ),
            (Kind::Pair, b) => format!("{} + {}", self.a, b.as_deref().unwrap_or_default()),
        }
    }

    /// The setting's policies, `a` first.
    pub fn policies(&self) -> Vec<&str> {
        std::iter::once(self.a.as_str())
            .chain(self.b.as_deref())
            .collect()
    }

    /// Whom a policy's peers are compared with in the same run: the tft peers for the lone
    /// peer, the other half in a pair; nobody for everyone-alike swarms and the tft
    /// background.
    pub fn reference(&self, policy: &str) -> Option<&str> {
        match self.kind {
            Kind::Alone => None,
            Kind::Lone => (policy == self.a).then_some(self.b.as_deref()?),
            Kind::Pair => self.policies().into_iter().find(|p| *p != policy),
        }
    }

    /// The policy (`a` or `b`) of the `k`-th leecher, `j`-th of class `class`.
    fn policy_at(&self, class: usize, j: usize, k: usize) -> &str {
        let b = self.b.as_deref().unwrap_or(&self.a);
        match self.kind {
            Kind::Alone => &self.a,
            Kind::Lone if self.lone.as_ref().is_some_and(|l| l.class == class) && j == 0 => &self.a,
            Kind::Lone => b,
            Kind::Pair if k % 2 == 0 => &self.a,
            Kind::Pair => b,
        }
    }
}

/// Splits `--policies` values into specs: a comma-separated list where a piece with `=` but
/// no `:` continues the previous policy's parameters (`tft,bittyrant:selfish=true,rounds=3`).
pub fn parse_policies(args: &[String]) -> anyhow::Result<Vec<PolicySpec>> {
    let mut texts: Vec<String> = Vec::new();
    for piece in args.iter().flat_map(|a| a.split(',')).map(str::trim) {
        match texts.last_mut() {
            Some(prev) if piece.contains('=') && !piece.contains(':') => {
                prev.push(',');
                prev.push_str(piece);
            }
            _ => texts.push(piece.to_string()),
        }
    }
    let specs: Vec<PolicySpec> = if texts.is_empty() {
        NAMES.iter().map(|n| n.parse()).collect::<Result<_, _>>()?
    } else {
        texts
            .iter()
            .map(|t| t.parse().with_context(|| format!("--policies: {t:?}")))
            .collect::<anyhow::Result<_>>()?
    };
    for (i, p) in specs.iter().enumerate() {
        ensure!(!specs[..i].contains(p), "--policies: {p} is listed twice");
    }
    Ok(specs)
}

impl Plan {
    /// Every setting, in output order: each policy alone, each lone among tft (in the middle
    /// class, or in each class from the slowest; tft itself excepted: that is its alone
    /// setting), then each unordered pair in list order.
    pub fn settings(&self, classes: &Classes) -> Vec<Setting> {
        let names: Vec<String> = self.policies.iter().map(|p| p.to_string()).collect();
        let setting = |kind, a: &String, b: Option<&str>, lone| Setting {
            kind,
            a: a.clone(),
            b: b.map(str::to_string),
            lone,
        };
        let mut out: Vec<Setting> = names
            .iter()
            .map(|a| setting(Kind::Alone, a, None, None))
            .collect();
        let lone_classes: Vec<usize> = if self.every_class {
            (0..classes.labels.len()).collect()
        } else {
            vec![classes.middle()]
        };
        for a in names.iter().filter(|a| *a != BACKGROUND) {
            out.extend(lone_classes.iter().map(|&class| {
                let label = classes.labels[class].clone();
                setting(
                    Kind::Lone,
                    a,
                    Some(BACKGROUND),
                    Some(LonePeer { class, label }),
                )
            }));
        }
        for (i, a) in names.iter().enumerate() {
            out.extend(
                names[i + 1..]
                    .iter()
                    .map(|b| setting(Kind::Pair, a, Some(b), None)),
            );
        }
        out
    }

    /// The base scenario with the plan's overrides.
    pub fn base(&self) -> anyhow::Result<Scenario> {
        Ok(Scenario::load(&self.scenario, &self.set)?)
    }
}

/// The base swarm's leechers: `(node id, class)` in node order, and the class labels (one
/// class per leecher group with a fixed upload, named by it; one per upload class, slowest
/// first, for a group whose upload is a distribution).
#[derive(Clone, Debug)]
pub struct Classes {
    pub leechers: Vec<(u32, usize)>,
    pub labels: Vec<String>,
}

impl Classes {
    pub fn of(base: &Scenario) -> anyhow::Result<Classes> {
        let nodes = base.nodes();
        let mut leechers = Vec::new();
        let mut labels = Vec::new();
        let mut id = 0u32;
        for g in &base.groups {
            if g.role == Role::Leecher {
                let upload = g.upload.as_ref().unwrap_or(&base.defaults.upload);
                let first = labels.len();
                match upload.fixed() {
                    Some(rate) => labels.push(Rate(rate).to_string()),
                    None => labels.extend(upload.classes().iter().map(|c| c.label.clone())),
                }
                for n in &nodes[id as usize..(id + g.count.0) as usize] {
                    let class = n
                        .upload_class
                        .as_ref()
                        .map_or(Some(0), |c| labels[first..].iter().position(|l| l == c));
                    leechers.push((n.id, first + class.unwrap_or(0)));
                }
            }
            id += g.count.0;
        }
        ensure!(
            leechers.len() >= 2,
            "a tournament needs at least two leechers"
        );
        Ok(Classes { leechers, labels })
    }

    /// The lone peer's class by default: the middle one.
    pub fn middle(&self) -> usize {
        self.labels.len() / 2
    }
}

/// Each leecher's policy in setting `s` (the leechers of [`Classes`], in order).
fn assignment<'a>(classes: &Classes, s: &'a Setting) -> Vec<&'a str> {
    let mut in_class = vec![0usize; classes.labels.len()];
    classes
        .leechers
        .iter()
        .enumerate()
        .map(|(k, &(_, class))| {
            in_class[class] += 1;
            s.policy_at(class, in_class[class] - 1, k)
        })
        .collect()
}

/// The base scenario with each leecher in a group of its own running its policy. Node ids,
/// bandwidths, join times and every random draw (keyed by node id) stay the base's.
fn scenario_for(base: &Scenario, classes: &Classes, policies: &[&str]) -> anyhow::Result<Scenario> {
    let nodes = base.nodes();
    let mut sc = base.clone();
    sc.groups = base
        .groups
        .iter()
        .filter(|g| g.role == Role::Seeder)
        .cloned()
        .collect();
    ensure!(
        base.groups[..sc.groups.len()]
            .iter()
            .all(|g| g.role == Role::Seeder),
        "a tournament's base lists its seeder groups before its leecher groups"
    );
    for (&(id, _), policy) in classes.leechers.iter().zip(policies) {
        let n = &nodes[id as usize - 1];
        sc.groups.push(Group {
            role: Role::Leecher,
            count: NodeCount(1),
            online_days: Some(PerNode::Same(n.online_days)),
            incentive: None,
            policy: Some(policy.parse()?),
            upload: Some(Bandwidth(n.upload).into()),
            download: Some(Bandwidth(n.download).into()),
            bandwidth_spread: (n.bandwidth_spread != base.defaults.bandwidth_spread)
                .then_some(n.bandwidth_spread),
            join: Some(match n.join {
                JoinTime::At(d) => JoinSpec::At(d),
                JoinTime::Uniform(from, to) => JoinSpec::Uniform { from, to },
                JoinTime::OnDemand => anyhow::bail!("leecher {id} has no join time"),
            }),
            leave: Some(n.leave),
            arrivals: None,
            abort: n.abort,
        });
    }
    Ok(sc)
}

/// One policy's peers of one class (or `all`) in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub setting: usize,
    pub kind: Kind,
    pub a: String,
    pub b: String,
    pub replicate: u32,
    pub seed: u64,
    pub policy: String,
    pub class: String,
    /// Peers in the cell, and how many finished by `max_time`.
    pub n: u32,
    pub finished: u32,
    /// Mean completion; a peer unfinished at `max_time` counts with its time online then
    /// (a lower bound on its true time).
    pub completion_s: f64,
    /// The reference policy's peers in the same run and the same classes, and their mean.
    pub vs: String,
    pub vs_completion_s: Option<f64>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Jain's index of all leechers' share ratios (bytes up / bytes down) in the run.
    pub jain: Option<f64>,
}

/// Rounds to the 3 decimals the CSV files keep, so what is computed from memory equals what
/// is computed from the files.
pub(crate) fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Jain's fairness index `(Σx)² / (n·Σx²)`: 1 when all equal, 1/n when one has everything;
/// `None` when every value is 0 or there are none.
pub fn jain(xs: &[f64]) -> Option<f64> {
    let (s, s2) = xs.iter().fold((0.0, 0.0), |(s, s2), x| (s + x, s2 + x * x));
    (s2 > 0.0).then(|| s * s / (xs.len() as f64 * s2))
}

/// The rows of one run: per policy of the setting, per class it has peers in, then `all`.
fn rows_of(
    r: &RunResult,
    classes: &Classes,
    s: &Setting,
    policies: &[&str],
    (setting, replicate): (usize, u32),
) -> Vec<RunRow> {
    let max_s = r.scenario.max_time.0.as_secs_f64();
    // (class, policy, completion, node result) per leecher.
    let peers: Vec<_> = classes
        .leechers
        .iter()
        .zip(policies)
        .map(|(&(id, class), &policy)| {
            let res = &r.nodes[id as usize - 1];
            let t = res
                .completion_s
                .unwrap_or(max_s - res.join_s.unwrap_or(0.0));
            (class, policy, t, res)
        })
        .collect();
    let ratios: Vec<f64> = peers
        .iter()
        .filter(|p| p.3.bytes_down > 0)
        .map(|p| p.3.bytes_up as f64 / p.3.bytes_down as f64)
        .collect();
    let jain = jain(&ratios).map(r3);
    let mean = |xs: &[f64]| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    let mut rows = Vec::new();
    for policy in s.policies() {
        let reference = s.reference(policy);
        for class in (0..classes.labels.len()).map(Some).chain([None]) {
            let mine: Vec<_> = peers
                .iter()
                .filter(|p| p.1 == policy && class.is_none_or(|c| p.0 == c))
                .collect();
            let Some(completion) = mean(&mine.iter().map(|p| p.2).collect::<Vec<_>>()) else {
                continue;
            };
            let vs_times: Vec<f64> = peers
                .iter()
                .filter(|p| Some(p.1) == reference && mine.iter().any(|m| m.0 == p.0))
                .map(|p| p.2)
                .collect();
            rows.push(RunRow {
                setting,
                kind: s.kind,
                a: s.a.clone(),
                b: s.b.clone().unwrap_or_default(),
                replicate,
                seed: r.scenario.seed,
                policy: policy.to_string(),
                class: class.map_or_else(|| "all".to_string(), |c| classes.labels[c].clone()),
                n: mine.len() as u32,
                finished: mine.iter().filter(|p| p.3.completion_s.is_some()).count() as u32,
                completion_s: r3(completion),
                vs: reference.unwrap_or_default().to_string(),
                vs_completion_s: mean(&vs_times).map(r3),
                bytes_up: mine.iter().map(|p| p.3.bytes_up).sum(),
                bytes_down: mine.iter().map(|p| p.3.bytes_down).sum(),
                jain,
            });
        }
    }
    rows
}

/// The plan as `tournament.json` records it, with what the report needs to read back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub scenario: PathBuf,
    pub name: String,
    pub set: Vec<String>,
    /// Canonical specs, as runs and tables name them.
    pub policies: Vec<String>,
    /// What the nodes run: the specs with the scenario's defaults filled in (the seniority
    /// variant).
    pub resolved: Vec<String>,
    pub replicates: u32,
    /// The base seed; replicate `r` runs `replicate_seed(seed, r)` in every setting.
    pub seed: u64,
    pub max_time_s: f64,
    pub classes: Vec<String>,
    pub settings: Vec<Setting>,
}

/// A tournament folder, as [`crate::shard::merge`] joins it.
pub const LAYOUT: Layout<'static> = Layout {
    what: "tournament",
    manifest: "tournament.json",
    csvs: &["runs.csv", "table.csv"],
    same: &["scenario.resolved.toml"],
};

/// Runs the plan (or one shard of it) into `out`, calling `progress(done, total)` per run.
/// Without a shard it also writes the report; shards get theirs from [`merge`].
pub fn run(
    plan: &Plan,
    shard: Option<Shard>,
    out: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> anyhow::Result<()> {
    ensure!(plan.replicates >= 1, "replicates must be at least 1");
    ensure!(!plan.policies.is_empty(), "no policies to compare");
    let base = plan.base()?;
    let classes = Classes::of(&base)?;
    let settings = plan.settings(&classes);
    let manifest = Manifest {
        scenario: plan.scenario.clone(),
        name: base.name.clone(),
        set: plan.set.clone(),
        policies: plan.policies.iter().map(|p| p.to_string()).collect(),
        resolved: plan
            .policies
            .iter()
            .map(|p| {
                p.clone()
                    .with_default_variant(base.engine.seniority)
                    .to_string()
            })
            .collect(),
        replicates: plan.replicates,
        seed: base.seed,
        max_time_s: base.max_time.0.as_secs_f64(),
        classes: classes.labels.clone(),
        settings: settings.clone(),
    };
    let mine: Vec<usize> = (0..settings.len()).filter(|&s| owns(shard, s)).collect();
    let assigned: Vec<Vec<&str>> = mine
        .iter()
        .map(|&s| assignment(&classes, &settings[s]))
        .collect();
    let scenarios: Vec<Scenario> = assigned
        .iter()
        .map(|a| scenario_for(&base, &classes, a))
        .collect::<anyhow::Result<_>>()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = serde_json::json!({ "plan": manifest, "points": settings.len(), "shard": shard });
    std::fs::write(
        out.join(LAYOUT.manifest),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    std::fs::write(out.join("scenario.resolved.toml"), base.to_toml())?;

    let jobs: Vec<(usize, u32)> = (0..mine.len())
        .flat_map(|i| (0..plan.replicates).map(move |r| (i, r)))
        .collect();
    let total = jobs.len() as u64;
    let done = AtomicU64::new(0);
    let rows: Vec<Vec<RunRow>> = jobs
        .par_iter()
        .map(|&(i, r)| {
            let mut sc = scenarios[i].clone();
            sc.seed = replicate_seed(base.seed, r);
            let res = crate::run(&sc);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            rows_of(
                &res,
                &classes,
                &settings[mine[i]],
                &assigned[i],
                (mine[i], r),
            )
        })
        .collect();
    let rows: Vec<RunRow> = rows.into_iter().flatten().collect();
    reports::table::write_csv(out.join("runs.csv"), &rows)?;
    reports::table::write_csv(out.join("table.csv"), table::table(&rows))?;
    if shard.is_none() {
        report::write(out)?;
    }
    Ok(())
}

/// Joins the folders of `--shard i/n` runs into `out` and writes the report there.
pub fn merge(out: &Path, shards: &[PathBuf]) -> anyhow::Result<()> {
    crate::shard::merge(&LAYOUT, out, shards)?;
    report::write(out)
}

#[cfg(test)]
mod tests;
