//! `sim reproduce`: every thesis experiment with replicates, beside the thesis's claims, with
//! computed verdicts, figures in the style of its Figures 15–27, and experiments beyond it;
//! written as a self-contained HTML page and a Markdown file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use reports::plot::{
    bars_from, relative_to_run_mean, Bar, BarChart, Reference, Sample, Scale, XyChart, XyPoint,
    XySeries,
};
use reports::stats::{summarize, Summary};

use crate::metrics::RunResult;
use crate::replicate::run_replicates;
use crate::scenario::{Role, Scenario};
use crate::sweep::alias_overrides;
use crate::verdict::{judge, Claim, Verdict, CLEAR_RHO, NO_ORDER_RHO};

/// One thesis experiment.
pub struct Experiment {
    pub name: &'static str,
    pub figure: u32,
    pub claim: Claim,
    pub thesis: &'static str,
}

pub const EXPERIMENTS: &[Experiment] = &[
    Experiment {
        name: "g1t1",
        figure: 15,
        claim: Claim::NoOrdering,
        thesis: "one seeder: almost the same as regular BitTorrent",
    },
    Experiment {
        name: "g1t2",
        figure: 16,
        claim: Claim::Ordering,
        thesis: "leechers who contribute more finish faster",
    },
    Experiment {
        name: "g1t3",
        figure: 17,
        claim: Claim::Ordering,
        thesis: "majority of those who contribute more finish faster",
    },
    Experiment {
        name: "g2t1",
        figure: 18,
        claim: Claim::NoOrdering,
        thesis: "approximately the same",
    },
    Experiment {
        name: "g2t2",
        figure: 19,
        claim: Claim::NoOrdering,
        thesis: "the incentive will not influence much",
    },
    Experiment {
        name: "g2t3",
        figure: 20,
        claim: Claim::NoOrdering,
        thesis: "who contribute more don't get better speed",
    },
    Experiment {
        name: "g3t1",
        figure: 21,
        claim: Claim::NoOrdering,
        thesis: "almost the same as regular BitTorrent",
    },
    Experiment {
        name: "g3t2",
        figure: 22,
        claim: Claim::Ordering,
        thesis: "who stay longer get better download speed",
    },
    Experiment {
        name: "g3t3",
        figure: 23,
        claim: Claim::Ordering,
        thesis: "generally, who contribute more get better speeds",
    },
    Experiment {
        name: "g4t1",
        figure: 24,
        claim: Claim::NoOrdering,
        thesis: "approximately the same",
    },
    Experiment {
        name: "g4t2",
        figure: 25,
        claim: Claim::NoOrdering,
        thesis: "bandwidth, not online time, decides",
    },
    Experiment {
        name: "g4t3",
        figure: 26,
        claim: Claim::NoOrdering,
        thesis: "more seeders don't mean faster for all",
    },
    Experiment {
        name: "verify-inc",
        figure: 27,
        claim: Claim::Ordering,
        thesis: "completion decreases left to right (order follows online time)",
    },
    Experiment {
        name: "verify-dec",
        figure: 27,
        claim: Claim::Ordering,
        thesis: "completion increases left to right (order follows online time)",
    },
];

/// How much to run.
#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Folder holding the thesis scenarios.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Replicates per thesis experiment.
    #[arg(long, default_value_t = 30)]
    pub replicates: u32,
    /// Replicates per point of the beyond-the-thesis experiments (default keeps the whole
    /// report within about 30 s on 2 cores).
    #[arg(long, default_value_t = 5)]
    pub extra_replicates: u32,
    /// Swarm sizes (total nodes) for the size sensitivity; add larger ones (`20,50,100,200`)
    /// when you can wait.
    #[arg(long, value_delimiter = ',', default_values_t = [20u32, 50])]
    pub sizes: Vec<u32>,
    /// Override a key in every scenario (e.g. `--set torrent.size=4MiB` for a quick look).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

struct ExperimentResult {
    exp: &'static Experiment,
    runs: Vec<RunResult>,
    rho: Summary,
    verdict: Verdict,
}

fn load(opts: &Options, name: &str, sets: &[String]) -> anyhow::Result<Scenario> {
    let mut all = opts.set.clone();
    all.extend_from_slice(sets);
    Ok(Scenario::load(
        &opts.scenarios.join(format!("{name}.toml")),
        &all,
    )?)
}

fn rho_of(runs: &[RunResult]) -> Summary {
    let rhos: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.summary().spearman_rho)
        .collect();
    summarize(&rhos).unwrap_or(Summary {
        n: rhos.len(),
        mean: f64::NAN,
        std: f64::NAN,
        ci95_low: f64::NAN,
        ci95_high: f64::NAN,
        median: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
    })
}

fn mean_completion(runs: &[RunResult]) -> Option<Summary> {
    summarize(
        &runs
            .iter()
            .filter_map(|r| r.summary().mean_s)
            .collect::<Vec<_>>(),
    )
}

/// Runs everything and writes `report.html`, `report.md` and `figures/` into `out`.
pub fn run(opts: &Options, out: &Path, progress: &(dyn Fn(&str) + Sync)) -> anyhow::Result<()> {
    let figs = out.join("figures");
    std::fs::create_dir_all(&figs).with_context(|| format!("creating {}", figs.display()))?;
    let mut results = Vec::new();
    for exp in EXPERIMENTS {
        progress(exp.name);
        let runs = run_replicates(&load(opts, exp.name, &[])?, opts.replicates);
        let (rho, verdict) = judge(exp.claim, &runs).with_context(|| exp.name)?;
        results.push(ExperimentResult {
            exp,
            verdict,
            rho,
            runs,
        });
    }
    for r in &results {
        per_node_figure(r, &figs.join(format!("{}.png", r.exp.name)))?;
    }
    progress("beyond the thesis");
    let beyond = beyond_thesis(opts, &results, &figs)?;
    let md = markdown(opts, &results, &beyond);
    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(
        out.join("report.html"),
        crate::html::page("Seniority incentive: thesis vs simulator", &md, &figs)?,
    )?;
    Ok(())
}

/// Thesis-style figure, nodes ordered by online days: each leecher's completion as % above or
/// below its run's leecher mean, averaged over runs with a 95% CI. The thesis's orderings are
/// differences of a few percent on ~1,500 s bars, invisible from zero; normalising within each
/// run also strips the run-to-run swing every node shares, so the whiskers show only how
/// consistently a node finishes ahead or behind.
fn per_node_figure(r: &ExperimentResult, path: &Path) -> anyhow::Result<()> {
    let first = &r.runs[0];
    let mut leechers: Vec<_> = first
        .nodes
        .iter()
        .filter(|n| n.role == Role::Leecher)
        .map(|n| (n.online_days, n.id))
        .collect();
    leechers.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let samples: Vec<Sample> = leechers
        .iter()
        .map(|&(days, id)| Sample {
            label: format!("{id} ({days:.0}d)"),
            group: 0,
            runs: r
                .runs
                .iter()
                .map(|run| run.nodes.iter().find(|n| n.id == id)?.completion_s)
                .collect(),
        })
        .collect();
    BarChart {
        title: &format!(
            "{} (thesis Fig. {}): vs swarm mean, {} runs, 95% CI",
            r.exp.name.to_uppercase(),
            r.exp.figure,
            r.runs.len()
        ),
        x_label: "leecher node (online days), ordered by online time",
        quantity: "download completion time",
        unit: "s",
        scale: Scale::RelativeToMean,
        y_min: None,
        y_max: None,
        group_names: &[],
    }
    .draw(path, &bars_from(&relative_to_run_mean(&samples)))
}

struct Beyond {
    cost: Vec<(String, Summary, Summary)>,
    variants: Vec<(String, Summary, Summary)>,
    seeder_upload: Vec<(String, Summary, Summary)>,
    spread: Vec<(String, Summary, Summary)>,
    sizes: Vec<(String, Summary, Summary)>,
}

/// Runs configurations on demand and remembers their statistics, so a configuration met twice
/// (a thesis experiment, or the same swarm reached through other overrides) runs once.
struct Measurer {
    seen: std::collections::BTreeMap<String, (Summary, Summary)>,
    /// Mean Kumar–Ross bound of each configuration's runs, for the swarm-size figure.
    bounds: std::collections::BTreeMap<String, f64>,
}

impl Measurer {
    /// What makes two scenarios the same run: the resolved nodes and every setting the world
    /// reads, not how the file spelled them (a group's own `incentive` or the default's).
    fn key(sc: &Scenario) -> String {
        format!(
            "{:?}",
            (
                sc.seed,
                sc.max_time,
                &sc.torrent.size.0,
                &sc.torrent.piece_length.0,
                &sc.network,
                &sc.engine,
                &sc.tracker,
                sc.defaults.bandwidth_spread,
                &sc.ondemand,
                sc.nodes(),
            )
        )
    }

    fn remember(&mut self, sc: &Scenario, runs: &[RunResult]) {
        let m = mean_completion(runs).unwrap_or_else(|| rho_of(&[]));
        self.seen.insert(Self::key(sc), (m, rho_of(runs)));
        let bound = runs.iter().map(|r| r.summary().kumar_ross_s).sum::<f64>();
        self.bounds
            .insert(Self::key(sc), bound / runs.len().max(1) as f64);
    }

    /// Mean completion and ρ of one configuration over `n` replicates (or the runs it already
    /// had for it).
    fn measure(&mut self, sc: &Scenario, n: u32) -> (Summary, Summary) {
        if let Some(hit) = self.seen.get(&Self::key(sc)) {
            return *hit;
        }
        let runs = run_replicates(sc, n);
        self.remember(sc, &runs);
        self.seen[&Self::key(sc)]
    }
}

fn beyond_thesis(
    opts: &Options,
    thesis: &[ExperimentResult],
    figs: &Path,
) -> anyhow::Result<Beyond> {
    let n = opts.extra_replicates;
    let mut me = Measurer {
        seen: Default::default(),
        bounds: Default::default(),
    };
    for r in thesis {
        me.remember(&load(opts, r.exp.name, &[])?, &r.runs);
    }
    let mut cost = Vec::new();
    for t in 1..=3 {
        for (g, label) in [("g1", "seniority (G1)"), ("g4", "plain (G4)")] {
            let (m, r) = me.measure(&load(opts, &format!("{g}t{t}"), &[])?, n);
            cost.push((format!("T{t} {label}"), m, r));
        }
    }
    let mut variants = Vec::new();
    for v in ["formula", "thesis-code", "work-conserving"] {
        let sc = load(opts, "g1t2", &[format!("engine.seniority={v}")])?;
        let (m, r) = me.measure(&sc, n);
        variants.push((format!("G1T2 {v}"), m, r));
    }
    let (m, r) = me.measure(&load(opts, "g4t2", &[])?, n);
    variants.push(("G4T2 plain".into(), m, r));

    let base = load(opts, "g1t2", &[])?;
    let with_sets = |extra: Vec<String>, incentive: &str| -> anyhow::Result<Scenario> {
        let mut sets = extra;
        sets.extend(alias_overrides(&base, "incentive", incentive)?);
        load(opts, "g1t2", &sets)
    };
    let mut seeder_upload = Vec::new();
    for up in ["100KB/s", "200KB/s", "500KB/s", "1MB/s"] {
        for inc in ["seniority", "none"] {
            let sets = alias_overrides(&base, "seeder_upload", up)?;
            let (m, r) = me.measure(&with_sets(sets, inc)?, n);
            seeder_upload.push((format!("{up} {inc}"), m, r));
        }
    }
    let mut spread = Vec::new();
    for s in ["0", "0.25", "0.5"] {
        for inc in ["seniority", "none"] {
            let (m, r) = me.measure(
                &with_sets(vec![format!("defaults.bandwidth_spread={s}")], inc)?,
                n,
            );
            spread.push((format!("±{s} {inc}"), m, r));
        }
    }
    let mut sizes = Vec::new();
    let mut size_lines = vec![
        XySeries {
            name: "seniority".into(),
            points: Vec::new(),
        },
        XySeries {
            name: "plain BitTorrent".into(),
            points: Vec::new(),
        },
    ];
    let mut bound = Reference {
        name: "Kumar–Ross bound on the last completion".into(),
        points: Vec::new(),
    };
    for &total in &opts.sizes {
        for (line, inc) in ["seniority", "none"].into_iter().enumerate() {
            let sets = alias_overrides(&base, "leechers", &(total.saturating_sub(2)).to_string())?;
            let sc = with_sets(sets, inc)?;
            let (m, r) = me.measure(&sc, n.min(5));
            sizes.push((format!("{total} nodes {inc}"), m, r));
            size_lines[line].points.push(XyPoint {
                x: f64::from(total),
                y: m.mean,
                ci: Some((m.ci95_low, m.ci95_high)),
            });
            if line == 0 {
                bound
                    .points
                    .push((f64::from(total), me.bounds[&Measurer::key(&sc)]));
            }
        }
    }
    XyChart {
        title: "swarm size: mean leecher completion, 95% CI",
        x_label: "nodes (2 seeders), log scale",
        y_label: "mean completion time (s)",
        log_x: true,
        log_y: false,
    }
    .draw(figs.join("beyond_sizes.png"), &size_lines, &[bound])?;
    for (name, rows) in [
        ("cost", &cost),
        ("variants", &variants),
        ("seeder_upload", &seeder_upload),
        ("spread", &spread),
    ] {
        let bars: Vec<Bar> = rows
            .iter()
            .map(|(label, m, _)| Bar {
                label: label.clone(),
                value: m.mean,
                err_low: Some(m.ci95_low),
                err_high: Some(m.ci95_high),
                group: usize::from(label.contains("none") || label.contains("plain")),
            })
            .collect();
        BarChart {
            title: &format!("{name}: mean leecher completion, 95% CI"),
            x_label: "configuration",
            quantity: "mean completion time",
            unit: "s",
            scale: Scale::Absolute,
            y_min: None,
            y_max: None,
            group_names: &["seniority", "plain BitTorrent"],
        }
        .draw(figs.join(format!("beyond_{name}.png")), &bars)?;
    }
    Ok(Beyond {
        cost,
        variants,
        seeder_upload,
        spread,
        sizes,
    })
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}
fn f2(x: f64) -> String {
    format!("{x:+.2}")
}

fn markdown(opts: &Options, results: &[ExperimentResult], b: &Beyond) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Seniority incentive: thesis vs simulator\n");
    let _ = writeln!(
        s,
        "Every experiment of the thesis (seed 004, §6) run {} times with derived seeds. \
         Statistic: Spearman ρ between a leecher's online days and its completion time, per \
         run; mean with 95% t-interval. Verdict rule: an ordering claim is *reproduced* when \
         the interval lies below −{CLEAR_RHO}, *not reproduced* when it reaches 0, *differs* \
         in between; a no-ordering claim is reproduced when |mean ρ| < {NO_ORDER_RHO}, not \
         reproduced when the interval lies beyond ±{CLEAR_RHO}, differs otherwise. Per-node \
         figures show each leecher's completion as % above (slower) or below (faster) the mean \
         of its run's leechers, averaged over the runs with a 95% CI; the table's mean \
         completion is in seconds.\n",
        opts.replicates
    );
    let _ = writeln!(
        s,
        "| experiment | thesis | mean completion (s) | ρ (95% CI) | verdict |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results {
        let m = mean_completion(&r.runs);
        let _ = writeln!(
            s,
            "| {} (Fig. {}) | {} | {} | {} [{}, {}] | **{}** |",
            r.exp.name.to_uppercase(),
            r.exp.figure,
            r.exp.thesis,
            m.map_or("-".into(), |m| f1(m.mean)),
            f2(r.rho.mean),
            f2(r.rho.ci95_low),
            f2(r.rho.ci95_high),
            r.verdict.label()
        );
    }
    for r in results {
        let _ = writeln!(
            s,
            "\n## {} — thesis Figure {}\n\n![{}](figures/{}.png)\n",
            r.exp.name.to_uppercase(),
            r.exp.figure,
            r.exp.name,
            r.exp.name
        );
    }
    let _ = writeln!(
        s,
        "\n# Beyond the thesis ({} runs per new point; rows the thesis experiments cover reuse their {} runs)\n",
        opts.extra_replicates, opts.replicates
    );
    for (title, rows, fig, note) in [
        ("Does the mechanism cost the swarm? (with vs without)", &b.cost, "cost", "Mean leecher completion with every node running thesis-code seniority (G1) against plain BitTorrent (G4), from the thesis runs above."),
        ("Variants", &b.variants, "variants", "`formula` as printed, `thesis-code` as run, `work-conserving` (shares only among unchoked, interested peers), against plain BitTorrent."),
        ("Seeder upload bandwidth (G1T2 setup)", &b.seeder_upload, "seeder_upload", "Seeders' upload varied; leechers stay at 100 KB/s."),
        ("Heterogeneous bandwidths (G1T2 setup)", &b.spread, "spread", "Each node's upload and download scaled by a factor uniform in [1−s, 1+s]."),
        ("Swarm size (2 seeders)", &b.sizes, "sizes", "Leecher k online k days; at most 5 runs per size. The dashed line is the Kumar–Ross lower bound on the *last* completion (the slowest leecher), max(F/u_s, F/d_min, N·F/(u_s + Σu_i))."),
    ] {
        let _ = writeln!(s, "## {title}\n\n{note}\n");
        let _ = writeln!(s, "| configuration | mean completion (s) [95% CI] | ρ |");
        let _ = writeln!(s, "|---|---|---|");
        for (label, m, r) in rows.iter() {
            let _ = writeln!(
                s,
                "| {label} | {} [{}, {}] | {} |",
                f1(m.mean),
                f1(m.ci95_low),
                f1(m.ci95_high),
                f2(r.mean)
            );
        }
        let _ = writeln!(s, "\n![{fig}](figures/beyond_{fig}.png)\n");
    }
    s
}
