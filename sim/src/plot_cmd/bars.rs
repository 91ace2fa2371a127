//! `sim plot bars`: per-node or per-class completion bars, absolute or relative to the swarm
//! mean, with 95% CIs over the file's runs.
//!
//! A file may hold one run (results.csv), several (replicates.csv, one seed each; a sweep's
//! rows.csv, one `replicate` each) or several sweep points (rows.csv), which are refused
//! ([`one_point`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{ensure, Context};
use reports::plot::{bars_from, pool_by_group, relative_to_run_mean, BarChart, Sample, Scale};

use super::{num, one_point, PlotArgs, Table, CLASS_COLUMNS};

/// One node's bar before averaging: online days, class and completion per run.
struct Node<'a> {
    days: f64,
    class: &'a str,
    runs: Vec<Option<f64>>,
}

pub(super) fn bars(t: &Table, a: &PlotArgs, out: &Path, source: &str) -> anyhow::Result<()> {
    one_point(t, &[])?;
    let (node, done, days) = (
        t.col("node")?,
        t.col("completion_s")?,
        t.col("online_days")?,
    );
    let run_col = t.col_any(&["replicate", "seed"]);
    let class_col = match &a.by {
        Some(b) => Some(t.col(b)?),
        None => t.col_any(CLASS_COLUMNS),
    };
    let runs: Vec<&str> = run_col.map_or_else(|| vec!["0"], |i| t.values(i));

    let mut nodes: BTreeMap<u32, Node> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for r in &t.rows {
        let id: u32 = r[node]
            .parse()
            .with_context(|| format!("bad node id `{}`", r[node]))?;
        let run = run_col.map_or(0, |i| runs.iter().position(|x| *x == r[i]).unwrap_or(0));
        ensure!(
            seen.insert((id, run)),
            "node {id} appears twice in run {}: is this several results files joined?",
            runs[run]
        );
        let n = nodes.entry(id).or_insert_with(|| Node {
            days: num(&r[days]).unwrap_or(0.0),
            class: class_col.map_or("", |i| &r[i]),
            runs: vec![None; runs.len()],
        });
        n.runs[run] = num(&r[done]);
    }
    // Nodes that never finish anywhere (seeders) have no bar.
    nodes.retain(|_, n| n.runs.iter().any(Option::is_some));
    ensure!(!nodes.is_empty(), "no completed nodes to plot");
    // Classes of the nodes drawn: seeders' class takes no colour or legend entry.
    let mut classes: Vec<&str> = nodes.values().map(|n| n.class).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut nodes: Vec<(u32, Node)> = nodes.into_iter().collect();
    nodes.sort_by(|a, b| a.1.days.total_cmp(&b.1.days).then(a.0.cmp(&b.0)));
    let samples: Vec<Sample> = nodes
        .into_iter()
        .map(|(id, n)| Sample {
            label: format!("{id} ({:.0}d)", n.days),
            group: classes.binary_search(&n.class).unwrap_or(0),
            runs: n.runs,
        })
        .collect();
    // Relative values first, then pooled: a class's bar is its nodes' mean distance from the
    // mean of *all* nodes in the run, whatever the class sizes.
    let samples = if a.relative {
        relative_to_run_mean(&samples)
    } else {
        samples
    };
    let (samples, per, x_label) = match &a.by {
        Some(by) => (pool_by_group(&samples, &classes), by.as_str(), by.clone()),
        None => (
            samples,
            "node",
            "node (online days), ordered by online_days".to_string(),
        ),
    };
    let title = a.title.clone().unwrap_or_else(|| {
        let n = runs.len();
        format!(
            "{source}: completion per {per}{}, {}",
            if a.relative { " vs swarm mean" } else { "" },
            if n > 1 {
                format!("mean of {n} runs, 95% CI")
            } else {
                "1 run".to_string()
            }
        )
    });
    BarChart {
        title: &title,
        x_label: &x_label,
        quantity: "completion_s",
        unit: "s",
        scale: if a.relative {
            Scale::RelativeToMean
        } else {
            Scale::Absolute
        },
        y_min: a.ymin,
        y_max: a.ymax,
        group_names: &classes,
    }
    .draw(out, &bars_from(&samples))
}
