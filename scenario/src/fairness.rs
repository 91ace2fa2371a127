//! What the incentive policies are compared by: per node, upload utilisation, FairTorrent's
//! service error and the clustering index; per policy and upload class, their means and the
//! completion time with its 95% CI (`policies.csv`, and [`policy_summary`] for callers that
//! pool replicates or tournament rounds).
//!
//! - Utilisation: bytes uploaded / (upload capacity × seconds online), online from joining
//!   to leaving or to the end of the run.
//! - Service error (Sherman et al., FairTorrent, CoNEXT 2009): `E(i)` = bytes `i` sent to
//!   leechers − bytes it received from leechers, over every pair in `pairs.csv`; a leecher is
//!   a node that joined without the file, also after it completes.
//! - Clustering index (Legout et al., SIGMETRICS 2007): the share of a node's regular-unchoke
//!   time (summed over the peers it unchoked as regular, not optimistic) spent on peers of its
//!   own upload class ([`crate::spec::class_key`]). Only the simulator measures it.

use std::collections::BTreeMap;

use reports::stats;
use reports::table::{fmt_f64, render_table};
use serde::Serialize;

use crate::result::{NodeResult, RunResult};
use crate::spec::{class_key, Role};

/// One node's incentive metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeMetrics {
    /// `None` if it was never online.
    pub utilisation: Option<f64>,
    pub service_error: i64,
    /// `None` if it never unchoked anyone as regular, or the driver does not measure it.
    pub clustering: Option<f64>,
}

/// Every node's metrics, in node order.
pub fn node_metrics(r: &RunResult) -> Vec<NodeMetrics> {
    let index = |id: u32| r.nodes.binary_search_by_key(&id, |n| n.id).ok();
    let leecher = |i: Option<usize>| i.is_some_and(|i| r.nodes[i].role == Role::Leecher);
    let mut error = vec![0i64; r.nodes.len()];
    for p in &r.pairs {
        let (from, to) = (index(p.from), index(p.to));
        let bytes = p.bytes as i64;
        if let (Some(f), true) = (from, leecher(to)) {
            error[f] += bytes;
        }
        if let (Some(t), true) = (to, leecher(from)) {
            error[t] -= bytes;
        }
    }
    r.nodes
        .iter()
        .zip(error)
        .map(|(n, service_error)| NodeMetrics {
            utilisation: utilisation(n, r.stats.sim_time_s),
            service_error,
            clustering: n
                .regular_same_class_s
                .zip(n.regular_unchoke_s)
                .filter(|&(_, total)| total > 0.0)
                .map(|(same, total)| same / total),
        })
        .collect()
}

fn utilisation(n: &NodeResult, end_s: f64) -> Option<f64> {
    let online = n.left_s.unwrap_or(end_s) - n.join_s?;
    (online > 0.0 && n.upload > 0.0).then(|| n.bytes_up as f64 / (n.upload * online))
}

/// One row of `policies.csv`: the nodes of one role, policy and upload class, pooled over
/// the runs given. `upload_class` is `all` on a policy's row over all its classes (present
/// when it has more than one).
#[derive(Clone, Debug, Serialize)]
pub struct PolicyRow {
    pub role: Role,
    pub policy: String,
    pub upload_class: String,
    pub nodes: usize,
    pub completed: usize,
    pub mean_completion_s: Option<f64>,
    pub ci95_low_s: Option<f64>,
    pub ci95_high_s: Option<f64>,
    pub mean_utilisation: Option<f64>,
    pub mean_abs_service_error: Option<f64>,
    pub max_abs_service_error: Option<u64>,
    /// Σ same-class regular time / Σ regular time over the row's nodes.
    pub clustering: Option<f64>,
}

/// The per-policy summary of `runs` (one run, or replicates of one scenario): rows by role
/// and policy, each policy's classes from the slowest up.
pub fn policy_summary(runs: &[RunResult]) -> Vec<PolicyRow> {
    type Members<'a> = Vec<(&'a NodeResult, NodeMetrics)>;
    let mut groups: BTreeMap<(Role, String, String), Members> = BTreeMap::new();
    for r in runs {
        for (n, m) in r.nodes.iter().zip(node_metrics(r)) {
            let class = class_key(n.upload_class.as_deref(), n.upload);
            let key = (n.role, n.policy.clone(), class);
            groups.entry(key).or_default().push((n, m));
        }
    }
    let rate = |m: &Members| {
        m.iter()
            .map(|(n, _)| n.upload)
            .fold(f64::INFINITY, f64::min)
    };
    let mut keyed: Vec<_> = groups.iter().collect();
    keyed.sort_by(|(a, ma), (b, mb)| {
        (a.0, &a.1)
            .cmp(&(b.0, &b.1))
            .then(rate(ma).total_cmp(&rate(mb)))
            .then(a.2.cmp(&b.2))
    });
    let mut rows = Vec::new();
    for policy in keyed.chunk_by(|(a, _), (b, _)| (a.0, &a.1) == (b.0, &b.1)) {
        for ((role, name, class), members) in policy {
            rows.push(row(*role, name, class, members.iter()));
        }
        if let [((role, name, _), _), _, ..] = policy {
            let all = policy.iter().flat_map(|(_, members)| members.iter());
            rows.push(row(*role, name, "all", all));
        }
    }
    rows
}

fn row<'a>(
    role: Role,
    policy: &str,
    class: &str,
    members: impl Iterator<Item = &'a (&'a NodeResult, NodeMetrics)>,
) -> PolicyRow {
    let members: Vec<_> = members.collect();
    let times: Vec<f64> = members.iter().filter_map(|(n, _)| n.completion_s).collect();
    let utils: Vec<f64> = members.iter().filter_map(|(_, m)| m.utilisation).collect();
    let errors: Vec<u64> = members
        .iter()
        .map(|(_, m)| m.service_error.unsigned_abs())
        .collect();
    let error_f: Vec<f64> = errors.iter().map(|&e| e as f64).collect();
    let (same, total) = members
        .iter()
        .filter_map(|(n, _)| n.regular_same_class_s.zip(n.regular_unchoke_s))
        .fold((0.0, 0.0), |(s, t), (a, b)| (s + a, t + b));
    let ci = stats::mean_ci(&times);
    PolicyRow {
        role,
        policy: policy.to_string(),
        upload_class: class.to_string(),
        nodes: members.len(),
        completed: times.len(),
        mean_completion_s: stats::mean(&times),
        ci95_low_s: ci.map(|c| c.0),
        ci95_high_s: ci.map(|c| c.1),
        mean_utilisation: stats::mean(&utils),
        mean_abs_service_error: stats::mean(&error_f),
        max_abs_service_error: errors.iter().copied().max(),
        clustering: (total > 0.0).then(|| same / total),
    }
}

/// The summary as the table `sim run` prints when a scenario mixes policies.
pub fn policy_table(rows: &[PolicyRow]) -> String {
    let f = |x: Option<f64>, d| x.map_or_else(|| "-".to_string(), |v| fmt_f64(v, d));
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let ci = match (r.ci95_low_s, r.ci95_high_s) {
                (Some(lo), Some(hi)) => format!("{} .. {}", fmt_f64(lo, 1), fmt_f64(hi, 1)),
                _ => "-".to_string(),
            };
            vec![
                r.role.to_string(),
                r.policy.clone(),
                r.upload_class.clone(),
                r.nodes.to_string(),
                f(r.mean_completion_s, 1),
                ci,
                f(r.mean_utilisation, 3),
                f(r.mean_abs_service_error.map(|e| e / 1e6), 2),
                f(r.clustering, 3),
            ]
        })
        .collect();
    render_table(
        &[
            "role",
            "policy",
            "class",
            "n",
            "completion_s",
            "95% CI",
            "utilisation",
            "mean_|E|_MB",
            "clustering",
        ],
        &cells,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{PairBytes, RunStats};
    use crate::Scenario;

    /// Three nodes with made-up counts, every metric computed by hand.
    #[test]
    fn metrics_by_hand() {
        let text = "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 2\nupload = { classes = { \"100B/s\" = 0.5, \"200B/s\" = 0.5 } }\n";
        let sc = Scenario::parse("t", text, &[]).unwrap();
        let mut nodes: Vec<NodeResult> = sc.nodes().iter().map(NodeResult::of).collect();
        let sent = [1500, 300, 100];
        for (n, up) in nodes.iter_mut().zip(sent) {
            n.join_s = Some(0.0);
            n.bytes_up = up;
        }
        nodes[2].left_s = Some(5.0);
        nodes[1].completion_s = Some(8.0);
        nodes[2].completion_s = Some(4.0);
        (nodes[1].regular_unchoke_s, nodes[1].regular_same_class_s) = (Some(10.0), Some(4.0));
        (nodes[2].regular_unchoke_s, nodes[2].regular_same_class_s) = (Some(0.0), Some(0.0));
        let pair = |from, to, bytes| PairBytes { from, to, bytes };
        let r = RunResult {
            file_size: 1 << 20,
            nodes,
            pairs: vec![
                pair(1, 2, 1000),
                pair(1, 3, 500),
                pair(2, 3, 300),
                pair(3, 2, 100),
            ],
            progress: Vec::new(),
            series: Vec::new(),
            stats: RunStats {
                sim_time_s: 20.0,
                ..RunStats::default()
            },
            scenario: sc,
        };
        let m = node_metrics(&r);
        let errors: Vec<i64> = m.iter().map(|m| m.service_error).collect();
        assert_eq!(errors, [1500, 300 - 100, 100 - 300]);
        let up: Vec<f64> = r.nodes.iter().map(|n| n.upload).collect();
        assert_eq!(m[0].utilisation, Some(1500.0 / (up[0] * 20.0)));
        assert_eq!(m[1].utilisation, Some(300.0 / (up[1] * 20.0)));
        assert_eq!(m[2].utilisation, Some(100.0 / (up[2] * 5.0)), "left at 5 s");
        let clustering: Vec<Option<f64>> = m.iter().map(|m| m.clustering).collect();
        assert_eq!(clustering, [None, Some(0.4), None]);

        let rows = policy_summary(std::slice::from_ref(&r));
        let shape: Vec<(Role, &str, usize)> = rows
            .iter()
            .map(|r| (r.role, r.upload_class.as_str(), r.nodes))
            .collect();
        let (slow, fast) = if up[1] < up[2] { (1, 2) } else { (2, 1) };
        let label = |i: usize| r.nodes[i].upload_class.as_deref().unwrap();
        assert_eq!(
            shape,
            [
                (Role::Seeder, "100KB/s", 1),
                (Role::Leecher, label(slow), 1),
                (Role::Leecher, label(fast), 1),
                (Role::Leecher, "all", 2),
            ]
        );
        let all = &rows[3];
        assert_eq!((all.completed, all.mean_completion_s), (2, Some(6.0)));
        // t(0.975, 1) = 12.706; s = √8: 6 ± 12.706 · 2.
        let (lo, hi) = (all.ci95_low_s.unwrap(), all.ci95_high_s.unwrap());
        assert!((lo - (6.0 - 25.412)).abs() < 1e-2 && (hi - (6.0 + 25.412)).abs() < 1e-2);
        assert_eq!(all.mean_abs_service_error, Some(200.0));
        assert_eq!(all.max_abs_service_error, Some(200));
        assert_eq!(all.clustering, Some(0.4));
        assert!(policy_table(&rows).contains("all"));
    }
}
