//! The tournament's figures (SVG, drawn by the `reports` crate from `table.csv`'s cells).
//! Speed-ups are plotted as percent faster than the reference, so the reference is the zero
//! line and differences of a few percent are as tall as the axis allows.

use std::path::Path;

use reports::plot::{self, Bar};

use super::table::Cell;
use super::{Kind, Manifest};

/// Speed-up as percent faster than the reference (0 = as fast).
fn percent(x: f64) -> f64 {
    (x - 1.0) * 100.0
}

/// A cell as a bar of its completion time with its 95% CI.
fn completion_bar(c: &Cell, label: String, group: usize) -> Bar {
    Bar {
        label,
        value: c.completion_s,
        err_low: c.completion_ci95_low_s,
        err_high: c.completion_ci95_high_s,
        group,
    }
}

/// Mean completion by class with 95% CIs, each policy alone (bars grouped by policy).
pub fn alone(m: &Manifest, cells: &[Cell], path: &Path) -> anyhow::Result<bool> {
    let names: Vec<&str> = m.policies.iter().map(String::as_str).collect();
    let bars: Vec<Bar> = cells
        .iter()
        .filter(|c| c.kind == Kind::Alone && c.class != "all")
        .filter_map(|c| {
            let g = names.iter().position(|p| *p == c.policy)?;
            Some(completion_bar(c, c.class.clone(), g))
        })
        .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    plot::labelled_bars(
        path,
        &format!(
            "Every policy alone: mean completion by upload class, 95% CI over {} runs",
            m.replicates
        ),
        &bars,
        "upload class (one colour per policy)",
        "completion time (s)",
        &names,
    )?;
    Ok(true)
}

/// The lone peer's completion beside the tft peers' of its class, per policy.
pub fn lone_completion(m: &Manifest, cells: &[Cell], path: &Path) -> anyhow::Result<bool> {
    let mut bars = Vec::new();
    for lone in cells.iter().filter(|c| is_lone_peer(c)) {
        bars.push(completion_bar(lone, lone_label(m, lone), 0));
        if let Some(bg) = cells
            .iter()
            .find(|c| c.setting == lone.setting && c.policy == lone.vs && c.class == lone.class)
        {
            bars.push(completion_bar(bg, format!("({})", bg.policy), 1));
        }
    }
    if bars.is_empty() {
        return Ok(false);
    }
    plot::labelled_bars(
        path,
        "One peer among tft: completion with 95% CI",
        &bars,
        "lone peer's policy, then the tft peers of its class in the same runs",
        "completion time (s)",
        &["lone peer", "tft peers, same class"],
    )?;
    Ok(true)
}

/// The lone peer's speed-up over tft peers of its class, as percent faster, with 95% CIs.
pub fn lone_speedup(m: &Manifest, cells: &[Cell], path: &Path) -> anyhow::Result<bool> {
    // Lone peers in several classes: one colour per class, so labels stay short.
    let several = lone_classes(m) > 1;
    let bars: Vec<Bar> = cells
        .iter()
        .filter(|c| is_lone_peer(c))
        .filter_map(|c| {
            Some(Bar {
                label: c.policy.clone(),
                value: percent(c.speedup?),
                err_low: c.speedup_ci95_low.map(percent),
                err_high: c.speedup_ci95_high.map(percent),
                group: if several {
                    m.classes.iter().position(|k| *k == c.class)?
                } else {
                    0
                },
            })
        })
        .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    let names: Vec<&str> = m.classes.iter().map(String::as_str).collect();
    plot::labelled_bars(
        path,
        "Lone peer vs tft peers of its class (0 = tft baseline), 95% CI",
        &bars,
        "lone peer's policy",
        "% faster than tft (negative: slower)",
        if several { &names } else { &["speed-up"] },
    )?;
    Ok(true)
}

/// Pairs: each row policy's speed-up over the column policy, all classes pooled.
pub fn pairs(m: &Manifest, cells: &[Cell], path: &Path) -> anyhow::Result<bool> {
    let names = &m.policies;
    let mut values = vec![vec![f64::NAN; names.len()]; names.len()];
    let mut any = false;
    for c in cells
        .iter()
        .filter(|c| c.kind == Kind::Pair && c.class == "all")
    {
        let (Some(i), Some(j), Some(s)) = (
            names.iter().position(|p| *p == c.policy),
            names.iter().position(|p| *p == c.vs),
            c.speedup,
        ) else {
            continue;
        };
        values[i][j] = percent(s);
        any = true;
    }
    if !any {
        return Ok(false);
    }
    plot::heatmap(
        path,
        "Half and half: % faster than the other half (all classes)",
        names,
        names,
        &values,
        "against (the other half)",
        "policy",
        "% faster",
    )?;
    Ok(true)
}

/// The lone peer's cell in its class.
fn is_lone_peer(c: &Cell) -> bool {
    c.kind == Kind::Lone && c.policy == c.a && c.class != "all"
}

/// A lone peer's bar: its policy, and its class when lone peers sit in several classes.
fn lone_label(m: &Manifest, c: &Cell) -> String {
    if lone_classes(m) > 1 {
        format!("{} {}", c.policy, c.class)
    } else {
        c.policy.clone()
    }
}

/// In how many classes the lone peers sit (1, or every class with `--every-class`).
fn lone_classes(m: &Manifest) -> usize {
    let mut classes: Vec<usize> = m
        .settings
        .iter()
        .filter_map(|s| Some(s.lone.as_ref()?.class))
        .collect();
    classes.sort_unstable();
    classes.dedup();
    classes.len()
}
