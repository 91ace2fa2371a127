//! `report.md` and `report.html`: the table of every policy × setting and the figures, built
//! from `tournament.json` and `table.csv` alone, so a merged shard set reports exactly as the
//! whole run does.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::table::Cell;
use super::{figures, Kind, Manifest, LAYOUT};

/// Reads the plan and table in `dir` and writes the report and its figures there.
pub fn write(dir: &Path) -> anyhow::Result<()> {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(LAYOUT.manifest))
            .with_context(|| format!("{}: no {}", dir.display(), LAYOUT.manifest))?,
    )?;
    let m: Manifest = serde_json::from_value(json["plan"].clone())
        .with_context(|| format!("{}: bad {}", dir.display(), LAYOUT.manifest))?;
    let cells: Vec<Cell> = csv::Reader::from_path(dir.join("table.csv"))
        .with_context(|| format!("{}: no table.csv", dir.display()))?
        .deserialize()
        .collect::<Result<_, _>>()
        .context("reading table.csv")?;
    let figs = dir.join("figures");
    let mut drawn = Vec::new();
    for (file, draw) in [
        ("alone.svg", figures::alone as Figure),
        ("lone-completion.svg", figures::lone_completion),
        ("lone-speedup.svg", figures::lone_speedup),
        ("pairs.svg", figures::pairs),
    ] {
        if draw(&m, &cells, &figs.join(file))? {
            drawn.push(file);
        }
    }
    let md = markdown(&m, &cells, &drawn);
    std::fs::write(dir.join("report.md"), &md)?;
    std::fs::write(
        dir.join("report.html"),
        crate::html::page(&format!("Policy tournament: {}", m.name), &md, &figs)?,
    )?;
    Ok(())
}

type Figure = fn(&Manifest, &[Cell], &Path) -> anyhow::Result<bool>;

/// `mean (low–high)` with `d` decimals; `-` when missing.
fn with_ci(mean: Option<f64>, lo: Option<f64>, hi: Option<f64>, d: usize) -> String {
    match (mean, lo, hi) {
        (Some(m), Some(l), Some(h)) => format!("{m:.d$} ({l:.d$}–{h:.d$})"),
        (Some(m), _, _) => format!("{m:.d$}"),
        _ => "-".to_string(),
    }
}

fn completion(c: &Cell) -> String {
    with_ci(
        Some(c.completion_s),
        c.completion_ci95_low_s,
        c.completion_ci95_high_s,
        1,
    )
}

fn speedup(c: &Cell) -> String {
    with_ci(c.speedup, c.speedup_ci95_low, c.speedup_ci95_high, 3)
}

fn opt(x: Option<f64>, d: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.d$}"))
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn markdown(m: &Manifest, cells: &[Cell], drawn: &[&str]) -> String {
    let mut s = String::new();
    let leechers: u32 = cells
        .iter()
        .find(|c| c.kind == Kind::Alone && c.class == "all")
        .map_or(0, |c| c.n);
    let _ = writeln!(s, "# Policy tournament: {}\n", m.name);
    let _ = writeln!(
        s,
        "Base scenario {} ({} leechers in upload classes {}; seeders and every setting in \
         scenario.resolved.toml), {} replicates per setting, base seed {}: replicate r runs the \
         same derived seed in every setting (common random numbers). Policies: {}.\n",
        m.scenario.display(),
        leechers,
        m.classes.join(", "),
        m.replicates,
        m.seed,
        m.policies.join(", ")
    );
    let _ = writeln!(
        s,
        "Completion: mean leecher completion time in seconds (a peer unfinished at max_time, \
         {:.0} s, counts with its time online then), with its 95% CI over replicates. \
         Speed-up: the reference peers' mean completion divided by the policy's, in the same \
         run and upload class(es), averaged over replicates (paired), with its 95% CI; above 1 \
         is faster than the reference. Finished: fraction of the peers done by max_time. Share \
         ratio: bytes uploaded / downloaded. Jain: Jain's index of every leecher's share ratio \
         in the run (1 = all give back alike; lower = some carry others), mean over replicates.\n",
        m.max_time_s
    );
    let in_setting = |k: Kind| {
        m.settings
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.kind == k)
    };
    let cell = |i: usize, policy: &str, class: &str| {
        cells
            .iter()
            .find(|c| c.setting == i && c.policy == policy && c.class == class)
    };
    let figure = |s: &mut String, file: &str, alt: &str| {
        if drawn.contains(&file) {
            let _ = writeln!(s, "![{alt}](figures/{file})\n");
        }
    };

    s.push_str("## Every policy alone\n\n");
    let mut head = vec!["setting", "policy"];
    head.extend(m.classes.iter().map(String::as_str));
    head.extend(["all", "finished", "share ratio", "Jain"]);
    table_head(&mut s, &head);
    for (i, set) in in_setting(Kind::Alone) {
        let Some(all) = cell(i, &set.a, "all") else {
            continue;
        };
        let mut row = vec![set.label(), set.a.clone()];
        row.extend(
            m.classes
                .iter()
                .map(|c| cell(i, &set.a, c).map_or_else(|| "-".into(), completion)),
        );
        row.extend([
            completion(all),
            percent(all.finished),
            opt(all.share_ratio, 2),
            opt(all.jain, 3),
        ]);
        table_row(&mut s, &row);
    }
    s.push('\n');
    figure(
        &mut s,
        "alone.svg",
        "mean completion by class, each policy alone",
    );

    s.push_str(
        "## One peer among tft\n\nThe lone peer is the first leecher of its class; the tft row \
         is the rest of that class in the same runs.\n\n",
    );
    table_head(
        &mut s,
        &[
            "setting",
            "policy",
            "completion",
            "speed-up vs tft",
            "finished",
            "share ratio",
        ],
    );
    for (i, set) in in_setting(Kind::Lone) {
        let class = set.lone.as_ref().map_or("", |l| l.label.as_str());
        for p in set.policies() {
            if let Some(c) = cell(i, p, class) {
                table_row(
                    &mut s,
                    &[
                        set.label(),
                        p.to_string(),
                        completion(c),
                        speedup(c),
                        percent(c.finished),
                        opt(c.share_ratio, 2),
                    ],
                );
            }
        }
    }
    s.push('\n');
    figure(
        &mut s,
        "lone-completion.svg",
        "lone peer and tft peers of its class",
    );
    figure(&mut s, "lone-speedup.svg", "lone peer's speed-up over tft");

    s.push_str(
        "## Pairs, half and half\n\nLeechers alternate between the two policies in node order, \
         so each half has the same capacity mix. Speed-up is over the other half, per class and \
         for all classes pooled.\n\n",
    );
    let mut head = vec!["setting", "policy", "vs"];
    head.extend(m.classes.iter().map(String::as_str));
    head.extend(["all: completion", "all: speed-up", "finished", "Jain"]);
    table_head(&mut s, &head);
    for (i, set) in in_setting(Kind::Pair) {
        for p in set.policies() {
            let Some(all) = cell(i, p, "all") else {
                continue;
            };
            let mut row = vec![set.label(), p.to_string(), all.vs.clone()];
            row.extend(
                m.classes
                    .iter()
                    .map(|c| cell(i, p, c).map_or_else(|| "-".into(), speedup)),
            );
            row.extend([
                completion(all),
                speedup(all),
                percent(all.finished),
                opt(all.jain, 3),
            ]);
            table_row(&mut s, &row);
        }
    }
    s.push('\n');
    figure(&mut s, "pairs.svg", "pairwise speed-ups");
    s
}

fn table_head(s: &mut String, cols: &[&str]) {
    let _ = writeln!(s, "| {} |", cols.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(cols.len()));
}

fn table_row(s: &mut String, cells: &[String]) {
    let _ = writeln!(s, "| {} |", cells.join(" | "));
}
