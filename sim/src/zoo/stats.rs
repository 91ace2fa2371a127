//! Per-replicate statistics of the zoo directions, from one run's [`RunResult`]. `None` when
//! the run has no value (a selected leecher never finished, or nothing is selected).

use std::collections::BTreeMap;

use reports::stats::summarize;

use crate::metrics::NodeResult;
use crate::scenario::Role;
use crate::RunResult;

/// The policy's name (`NodeResult::policy` is the canonical `NAME:k=v,...`).
pub fn policy_name(n: &NodeResult) -> &str {
    n.policy.split(':').next().unwrap_or_default()
}

/// A leecher running `policy`.
pub fn leecher_running(n: &NodeResult, policy: &str) -> bool {
    n.role == Role::Leecher && policy_name(n) == policy
}

/// Mean completion time (s) of the nodes `pick` selects.
pub fn mean_completion(r: &RunResult, pick: impl Fn(&NodeResult) -> bool) -> Option<f64> {
    let times = r
        .nodes
        .iter()
        .filter(|n| pick(n))
        .map(|n| n.completion_s)
        .collect::<Option<Vec<f64>>>()?;
    (!times.is_empty()).then(|| times.iter().sum::<f64>() / times.len() as f64)
}

/// The smallest upload capacity among leechers (the low-capacity class).
pub fn lowest_upload(r: &RunResult) -> f64 {
    r.nodes
        .iter()
        .filter(|n| n.role == Role::Leecher)
        .map(|n| n.upload)
        .fold(f64::INFINITY, f64::min)
}

/// Each leecher's largest imbalance with another leecher, `|sent − received|` in bytes over
/// the run (from the per-pair bytes), averaged over leechers.
pub fn max_deficit(r: &RunResult) -> Option<f64> {
    let leecher = |id: u32| r.nodes.get(id as usize - 1).map(|n| n.role) == Some(Role::Leecher);
    let bytes: BTreeMap<(u32, u32), f64> = r
        .pairs
        .iter()
        .map(|p| ((p.from, p.to), p.bytes as f64))
        .collect();
    let sent = |a, b| bytes.get(&(a, b)).copied().unwrap_or(0.0);
    let worst: Vec<f64> = r
        .nodes
        .iter()
        .filter(|n| leecher(n.id))
        .map(|n| {
            r.nodes
                .iter()
                .filter(|m| m.id != n.id && leecher(m.id))
                .map(|m| (sent(n.id, m.id) - sent(m.id, n.id)).abs())
                .fold(0.0, f64::max)
        })
        .collect();
    (!worst.is_empty()).then(|| worst.iter().sum::<f64>() / worst.len() as f64)
}

/// Leechers' download rates (bytes/s) grouped by upload capacity.
fn by_class(r: &RunResult) -> Option<BTreeMap<u64, Vec<f64>>> {
    let mut classes: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for n in r.nodes.iter().filter(|n| n.role == Role::Leecher) {
        let rate = r.file_size as f64 / n.completion_s?;
        classes.entry(n.upload as u64).or_default().push(rate);
    }
    (!classes.is_empty()).then_some(classes)
}

/// The spread of download rates within each upload class (coefficient of variation), averaged
/// over the classes: how differently peers that give the same are treated.
pub fn class_spread(r: &RunResult) -> Option<f64> {
    let cvs = by_class(r)?
        .values()
        .map(|rates| summarize(rates).map(|s| s.std / s.mean))
        .collect::<Option<Vec<f64>>>()?;
    Some(cvs.iter().sum::<f64>() / cvs.len() as f64)
}

/// Fastest class's mean download rate over the slowest's.
pub fn class_ratio(r: &RunResult) -> Option<f64> {
    let classes = by_class(r)?;
    let mean = |rates: &Vec<f64>| rates.iter().sum::<f64>() / rates.len() as f64;
    Some(mean(classes.values().last()?) / mean(classes.values().next()?))
}

/// Mean completion (s) of the free-riders.
pub fn free_rider_completion(r: &RunResult) -> Option<f64> {
    mean_completion(r, |n| leecher_running(n, "free-rider"))
}

/// Free-riders' mean completion over the other leechers'.
pub fn free_rider_lag(r: &RunResult) -> Option<f64> {
    let others = mean_completion(r, |n| {
        n.role == Role::Leecher && policy_name(n) != "free-rider"
    })?;
    Some(free_rider_completion(r)? / others)
}
