//! Run results: per-node and per-pair metrics, the summary statistics, and output files.

use std::path::Path;

use anyhow::Context;

use reports::stats;
use reports::table::{fmt_f64, render_table};
use serde::{Deserialize, Serialize};

use crate::fairness;
use crate::spec::{NodeSpec, Role, Scenario};

/// One node's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeResult {
    pub id: u32,
    pub role: Role,
    pub online_days: f64,
    pub incentive: bool,
    /// The policy it ran, canonical (`PolicySpec`'s display: name and every parameter).
    #[serde(default)]
    pub policy: String,
    /// Upload and download capacity, bytes/s.
    pub upload: f64,
    pub download: f64,
    /// Its upload class, if its group's upload is a distribution.
    #[serde(default)]
    pub upload_class: Option<String>,
    /// When it joined; `None` for a pool seeder never started.
    pub join_s: Option<f64>,
    /// Seconds from join to having the whole file; `None` if it never finished.
    pub completion_s: Option<f64>,
    pub left_s: Option<f64>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duplicate_bytes: u64,
    /// Seconds it had peers among its regular unchokes (summed over peers), and those of them
    /// spent on peers of its own class ([`NodeSpec::class_key`]): the clustering index's
    /// parts. `None` where the driver does not measure it (`bt swarm`).
    #[serde(default)]
    pub regular_unchoke_s: Option<f64>,
    #[serde(default)]
    pub regular_same_class_s: Option<f64>,
}

impl NodeResult {
    /// A node's identity and policy columns from its spec, with nothing measured yet; every
    /// driver (the simulator, `bt swarm`) fills in the rest.
    pub fn of(spec: &NodeSpec) -> NodeResult {
        NodeResult {
            id: spec.id,
            role: spec.role,
            online_days: spec.online_days,
            incentive: spec.policy.serves_seniority(),
            policy: spec.policy.to_string(),
            upload: spec.upload,
            download: spec.download,
            upload_class: spec.upload_class.clone(),
            join_s: None,
            completion_s: None,
            left_s: None,
            bytes_up: 0,
            bytes_down: 0,
            duplicate_bytes: 0,
            regular_unchoke_s: None,
            regular_same_class_s: None,
        }
    }

    /// The incentive column's value.
    pub fn incentive_label(&self) -> &'static str {
        if self.incentive {
            "seniority"
        } else {
            "none"
        }
    }
}

/// Bytes node `from` uploaded to node `to`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairBytes {
    pub from: u32,
    pub to: u32,
    pub bytes: u64,
}

/// Counters about the run itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunStats {
    pub sim_time_s: f64,
    pub events: u64,
    /// `events` by kind: what a scenario's cost is made of.
    pub event_kinds: EventKinds,
    pub recomputes: u64,
    /// Solver allocations that exceeded a capacity or cap; always 0 unless the model is broken.
    pub cap_violations: u64,
    pub protocol_disconnects: u64,
    /// Inputs the engine-core torrent rejected; always 0 unless the driver or core is broken.
    pub rejected_inputs: u64,
    /// On-demand seeding: pool seeders started, and the seconds they spent seeding.
    pub ondemand_started: u32,
    pub ondemand_seeder_s: f64,
    /// Block bytes sent but not yet delivered when the run ended.
    pub bytes_in_flight: u64,
    /// Block bytes whose connection closed before delivery.
    pub bytes_lost: u64,
    /// Identity changes of `whitewash` nodes, and the block bytes they had received of
    /// pieces not yet verified, which each change throws away (both left out of `run.json`
    /// when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub whitewashes: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub whitewash_discarded_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Events handled, by kind. Messages count when delivered, including those of a connection
/// that closed meanwhile (dropped on arrival).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventKinds {
    pub have: u64,
    pub request: u64,
    /// `interested` and `not interested`.
    pub interest: u64,
    /// `choke` and `unchoke`.
    pub choke: u64,
    /// `cancel` and `reject request`.
    pub cancel_reject: u64,
    /// Handshakes, bitfields, extension messages and the rest.
    pub other_message: u64,
    pub block: u64,
    /// A block finished sending; `flow_done_stale` of them were superseded by a rate change
    /// or a closed connection (skipped).
    pub flow_done: u64,
    pub flow_done_stale: u64,
    pub timer: u64,
    /// Joins, announces, connects, leaves, samples, on-demand checks.
    pub other: u64,
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub scenario: Scenario,
    pub file_size: u64,
    pub nodes: Vec<NodeResult>,
    pub pairs: Vec<PairBytes>,
    /// Swarm progress sampled every 10 simulated seconds, plus the final state.
    pub progress: Vec<ProgressPoint>,
    /// The swarm's time series (open swarms, or `series_every`): `series.csv`.
    pub series: Vec<SeriesPoint>,
    pub stats: RunStats,
}

/// One step of the swarm's time series: who is online and how fast the swarm uploads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    pub time_s: f64,
    /// Online leechers without the whole file (the fluid model's x).
    pub leechers: u32,
    /// Online finished leechers (y).
    pub seeds: u32,
    /// Online seeders of seeder groups (the origin; the fluid model has none).
    pub seeders: u32,
    /// Block bytes per second uploaded since the previous point, by everyone and by the
    /// nodes that were leechers at this point.
    pub upload_bps: f64,
    pub leecher_upload_bps: f64,
    /// Leechers so far: joined, finished, and gave up unfinished.
    pub arrived: u32,
    pub completed: u32,
    pub aborted: u32,
}

/// One sample of swarm progress.
#[derive(Clone, Debug, Serialize)]
pub struct ProgressPoint {
    pub time_s: f64,
    pub leechers_done: u32,
    pub leechers_online: u32,
    /// Bytes all leechers have received so far (duplicates included).
    pub bytes_downloaded: u64,
}

/// Leecher completion statistics and the seniority ordering test statistic.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub leechers: usize,
    pub completed: usize,
    pub mean_s: Option<f64>,
    pub median_s: Option<f64>,
    pub max_s: Option<f64>,
    pub total_s: f64,
    /// Spearman ρ between online days and completion time over completed leechers:
    /// negative means longer-online nodes finish sooner.
    pub spearman_rho: Option<f64>,
    pub spearman_ci95: Option<(f64, f64)>,
    /// Kumar–Ross lower bound on the last completion, for nodes that all join at t = 0.
    pub kumar_ross_s: f64,
}

impl RunSummary {
    /// The two summary lines `sim run` and `bt swarm` print: completion statistics against the
    /// Kumar–Ross bound, and the seniority ordering statistic.
    pub fn text(&self) -> String {
        let f = |x: Option<f64>| x.map_or_else(|| "-".into(), |v| fmt_f64(v, 1));
        let first = format!(
            "leechers done {}/{}  mean {} s  median {} s  max {} s  (Kumar-Ross bound {} s)",
            self.completed,
            self.leechers,
            f(self.mean_s),
            f(self.median_s),
            f(self.max_s),
            fmt_f64(self.kumar_ross_s, 1)
        );
        let second = match (self.spearman_rho, self.spearman_ci95) {
            (Some(r), Some((lo, hi))) => format!(
                "Spearman rho(online days, completion) = {} (95% CI {} .. {})",
                fmt_f64(r, 3),
                fmt_f64(lo, 3),
                fmt_f64(hi, 3)
            ),
            _ => "Spearman rho(online days, completion) = - (online days constant)".to_string(),
        };
        format!("{first}\n{second}")
    }
}

/// The per-node table `sim run` and `bt swarm` print: the policy in place of the incentive
/// flag (the policy says it), capacities in kB/s, and the upload class when there is one.
pub fn node_table(r: &RunResult) -> String {
    let rows: Vec<Vec<String>> = r
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.id.to_string(),
                n.role.to_string(),
                fmt_f64(n.online_days, 0),
                n.policy.clone(),
                fmt_f64(n.upload / 1e3, 1),
                fmt_f64(n.download / 1e3, 1),
                n.upload_class.clone().unwrap_or_else(|| "-".to_string()),
                n.completion_s
                    .map_or_else(|| "-".to_string(), |c| fmt_f64(c, 1)),
                fmt_f64(n.bytes_up as f64 / 1e6, 2),
                fmt_f64(n.bytes_down as f64 / 1e6, 2),
            ]
        })
        .collect();
    render_table(
        &[
            "node",
            "role",
            "online_days",
            "policy",
            "up_kB/s",
            "down_kB/s",
            "class",
            "completion_s",
            "up_MB",
            "down_MB",
        ],
        &rows,
    )
}

impl RunResult {
    pub fn leechers(&self) -> impl Iterator<Item = &NodeResult> {
        self.nodes.iter().filter(|n| n.role == Role::Leecher)
    }

    pub fn summary(&self) -> RunSummary {
        let done: Vec<&NodeResult> = self
            .leechers()
            .filter(|n| n.completion_s.is_some())
            .collect();
        let times: Vec<f64> = done.iter().filter_map(|n| n.completion_s).collect();
        let days: Vec<f64> = done.iter().map(|n| n.online_days).collect();
        let rho = stats::spearman(&days, &times);
        RunSummary {
            leechers: self.leechers().count(),
            completed: done.len(),
            mean_s: stats::mean(&times),
            median_s: stats::median(&times),
            max_s: times.iter().copied().reduce(f64::max),
            total_s: times.iter().sum(),
            spearman_rho: rho,
            spearman_ci95: rho.map(|r| stats::spearman_ci(r, times.len())),
            kumar_ross_s: self.kumar_ross_bound(),
        }
    }

    /// `T_min = max(F/u_s, F/d_min, N·F/(u_s + Σu_i))` (Kumar & Ross 2006).
    pub fn kumar_ross_bound(&self) -> f64 {
        let f = self.file_size as f64;
        let u_s: f64 = self
            .nodes
            .iter()
            .filter(|n| n.role == Role::Seeder)
            .map(|n| n.upload)
            .sum();
        let leechers: Vec<&NodeResult> = self.leechers().collect();
        let d_min = leechers
            .iter()
            .map(|n| n.download)
            .fold(f64::INFINITY, f64::min);
        let u_l: f64 = leechers.iter().map(|n| n.upload).sum();
        let n = leechers.len() as f64;
        (f / u_s).max(f / d_min).max(n * f / (u_s + u_l))
    }

    /// Reads the `pairs.csv` [`RunResult::write`] wrote back into [`RunResult::pairs`] (its
    /// `bytes_back` column is derived, so it is not read).
    pub fn read_pairs(&mut self, csv_path: &Path) -> anyhow::Result<()> {
        let mut r = csv::Reader::from_path(csv_path)
            .with_context(|| format!("reading {}", csv_path.display()))?;
        self.pairs = r
            .deserialize()
            .collect::<Result<_, _>>()
            .with_context(|| format!("parsing {}", csv_path.display()))?;
        Ok(())
    }

    /// Reads back the `run.json` [`RunResult::write`] wrote for `scenario` (how `bt swarm`
    /// gets the simulator's prediction from a `sim run` subprocess). run.json holds the nodes
    /// and the stats, not pairs or progress samples, so those come back empty.
    pub fn from_run_json(scenario: &Scenario, json: &str) -> serde_json::Result<RunResult> {
        #[derive(Deserialize)]
        struct RunJson {
            nodes: Vec<NodeResult>,
            stats: RunStats,
        }
        let r: RunJson = serde_json::from_str(json)?;
        Ok(RunResult {
            scenario: scenario.clone(),
            file_size: scenario.torrent.size.0,
            nodes: r.nodes,
            pairs: Vec::new(),
            progress: Vec::new(),
            series: Vec::new(),
            stats: r.stats,
        })
    }

    /// `results.csv` rows: one per node, fixed decimals so files compare byte for byte.
    pub fn csv_rows(&self) -> Vec<CsvRow> {
        let metrics = fairness::node_metrics(self);
        self.nodes
            .iter()
            .zip(metrics)
            .map(|(n, m)| CsvRow {
                scenario: self.scenario.name.clone(),
                seed: self.scenario.seed,
                node: n.id,
                role: n.role,
                online_days: n.online_days,
                incentive: n.incentive_label(),
                join_s: opt3(n.join_s),
                completion_s: opt3(n.completion_s),
                bytes_up: n.bytes_up,
                bytes_down: n.bytes_down,
                duplicate_bytes: n.duplicate_bytes,
                upload_bps: fmt3(n.upload),
                download_bps: fmt3(n.download),
                upload_class: n.upload_class.clone().unwrap_or_default(),
                utilisation: opt3(m.utilisation),
                service_error: m.service_error,
                clustering: opt3(m.clustering),
                policy: n.policy.clone(),
            })
            .collect()
    }

    /// `pairs.csv` rows: each direction that carried bytes, with the bytes back the other
    /// way beside it (reciprocation per pair).
    pub fn pair_rows(&self) -> Vec<PairRow> {
        let back = |from, to| {
            self.pairs
                .binary_search_by_key(&(to, from), |p| (p.from, p.to))
                .map_or(0, |i| self.pairs[i].bytes)
        };
        self.pairs
            .iter()
            .map(|p| PairRow {
                from: p.from,
                to: p.to,
                bytes: p.bytes,
                bytes_back: back(p.from, p.to),
            })
            .collect()
    }

    /// Writes `results.csv`, `pairs.csv`, `policies.csv`, `progress.csv`, `run.json` and
    /// `scenario.resolved.toml` into `dir`. Each goes to a hidden temp name first and all are
    /// renamed only once every one is written, so a failed write leaves no file that looks
    /// complete (and no stale mix with an earlier run's files).
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating output folder {}", dir.display()))?;
        let mut names = vec![
            "results.csv",
            "pairs.csv",
            "policies.csv",
            "progress.csv",
            "scenario.resolved.toml",
            "run.json",
        ];
        if !self.series.is_empty() {
            names.push("series.csv");
        }
        let tmp = |name: &str| dir.join(format!(".{name}.tmp"));
        let written = (|| -> anyhow::Result<()> {
            reports::table::write_csv(tmp("results.csv"), self.csv_rows())?;
            reports::table::write_csv(tmp("pairs.csv"), self.pair_rows())?;
            let policies = fairness::policy_summary(std::slice::from_ref(self));
            reports::table::write_csv(tmp("policies.csv"), policies)?;
            reports::table::write_csv(tmp("progress.csv"), &self.progress)?;
            if !self.series.is_empty() {
                reports::table::write_csv(tmp("series.csv"), &self.series)?;
            }
            std::fs::write(tmp("scenario.resolved.toml"), self.scenario.to_toml())?;
            let json = serde_json::json!({
                "engine_version": env!("CARGO_PKG_VERSION"),
                "scenario": self.scenario,
                "summary": self.summary(),
                "stats": self.stats,
                "nodes": self.nodes,
            });
            std::fs::write(tmp("run.json"), serde_json::to_string_pretty(&json)? + "\n")?;
            names
                .iter()
                .try_for_each(|n| std::fs::rename(tmp(n), dir.join(n)))?;
            Ok(())
        })();
        if written.is_err() {
            for n in &names {
                std::fs::remove_file(tmp(n)).ok();
            }
        }
        written.with_context(|| format!("writing results into {}", dir.display()))
    }
}

/// One line of `results.csv`.
#[derive(Clone, Debug, Serialize)]
pub struct CsvRow {
    pub scenario: String,
    pub seed: u64,
    pub node: u32,
    pub role: Role,
    pub online_days: f64,
    pub incentive: &'static str,
    pub join_s: String,
    pub completion_s: String,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duplicate_bytes: u64,
    pub upload_bps: String,
    pub download_bps: String,
    pub upload_class: String,
    /// See [`fairness::NodeMetrics`].
    pub utilisation: String,
    pub service_error: i64,
    pub clustering: String,
    /// Last: a policy with several parameters has commas in it (a quoted field), and every
    /// column before it still splits naively.
    pub policy: String,
}

/// One line of `pairs.csv`: bytes `from` sent `to`, and `to` sent back.
#[derive(Clone, Debug, Serialize)]
pub struct PairRow {
    pub from: u32,
    pub to: u32,
    pub bytes: u64,
    pub bytes_back: u64,
}

pub fn fmt3(x: f64) -> String {
    format!("{x:.3}")
}

/// [`fmt3`], or an empty cell for a missing value (a node that never finished or joined).
pub fn opt3(x: Option<f64>) -> String {
    x.map(fmt3).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sim run` writes, `bt swarm` reads back to the same nodes, stats and summary.
    #[test]
    fn run_json_reads_back() {
        let text = "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 2\nonline_days = [3, 1]\n";
        let sc = Scenario::parse("t", text, &[]).unwrap();
        let nodes = sc
            .nodes()
            .iter()
            .map(|spec| NodeResult {
                completion_s: (spec.role == Role::Leecher).then_some(100.0 + spec.id as f64),
                bytes_down: 1 << 20,
                ..NodeResult::of(spec)
            })
            .collect();
        let run = RunResult {
            file_size: 1 << 20,
            nodes,
            pairs: Vec::new(),
            progress: Vec::new(),
            series: Vec::new(),
            stats: RunStats {
                sim_time_s: 123.5,
                events: 42,
                ..RunStats::default()
            },
            scenario: sc.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        run.write(dir.path()).unwrap();
        let json = std::fs::read_to_string(dir.path().join("run.json")).unwrap();
        let back = RunResult::from_run_json(&sc, &json).unwrap();
        assert_eq!(back.csv_rows().len(), 3);
        assert_eq!(
            format!("{:?}", back.csv_rows()),
            format!("{:?}", run.csv_rows())
        );
        assert_eq!(back.summary().text(), run.summary().text());
        assert_eq!((back.stats.sim_time_s, back.stats.events), (123.5, 42));
        assert!(RunResult::from_run_json(&sc, "{\"nodes\": 1}").is_err());
    }
}
