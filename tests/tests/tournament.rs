//! `sim tournament`: identical bytes at any thread count and when sharded and merged, table
//! statistics that equal a hand computation from runs.csv, a report with every cell, drawn
//! figures, and what free-riding measures in the base swarm.

mod common;

use std::path::{Path, PathBuf};

use sim::shard::Shard;
use sim::tournament::table::Cell;
use sim::tournament::{parse_policies, run, Kind, Plan, RunRow};

fn plan(policies: &str, replicates: u32, set: &[&str]) -> Plan {
    Plan {
        scenario: common::scenarios_dir().join("tournament.toml"),
        set: set.iter().map(|s| s.to_string()).collect(),
        policies: parse_policies(&[policies.to_string()]).unwrap(),
        replicates,
        every_class: false,
    }
}

/// Three policies, three replicates, a 2 MiB file: 8 settings, 24 runs of a few ms.
fn tiny() -> Plan {
    plan("tft,seniority,free-rider", 3, &["torrent.size=2MiB"])
}

fn run_in(plan: &Plan, threads: usize, shard: Option<Shard>, out: &Path) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| run(plan, shard, out, &|_, _| {})).unwrap();
}

/// Every file under `dir` (relative path, bytes), sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_files(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (files(a), files(b));
    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb), "{what}: different files");
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "{what}: {} differs", name.display());
    }
}

fn read_csv<T: serde::de::DeserializeOwned>(path: PathBuf) -> Vec<T> {
    csv::Reader::from_path(path)
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn tournament_bytes_do_not_depend_on_threads_or_shards() {
    let plan = tiny();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_in(&plan, 1, None, one.path());
    run_in(&plan, 2, None, two.path());
    assert_same_files(one.path(), two.path(), "-j1 vs -j2");
    let expected = [
        "figures/alone.svg",
        "figures/lone-completion.svg",
        "figures/lone-speedup.svg",
        "figures/pairs.svg",
        "report.html",
        "report.md",
        "runs.csv",
        "scenario.resolved.toml",
        "table.csv",
        "tournament.json",
    ];
    let names: Vec<String> = files(one.path())
        .into_iter()
        .map(|f| f.0.display().to_string())
        .collect();
    assert_eq!(names, expected);

    let shards: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, d) in shards.iter().enumerate().rev() {
        let shard = Shard {
            index: i as u32,
            count: 3,
        };
        run_in(&plan, 1, Some(shard), d.path());
        assert!(
            !d.path().join("report.md").exists(),
            "a shard has no report"
        );
    }
    let merged = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = shards.iter().map(|d| d.path().to_path_buf()).collect();
    sim::tournament::merge(merged.path(), &dirs).unwrap();
    assert_same_files(one.path(), merged.path(), "merged shards vs whole");
    let e = sim::tournament::merge(merged.path(), &dirs[..2])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expected the 2 shards i/2 of one tournament"),
        "{e}"
    );
}

/// Two-sided 95% t quantile for 2 degrees of freedom (tables: 4.303).
const T_975_DF2: f64 = 4.302_652_729_911_275;

#[test]
fn table_cells_are_hand_computable_from_runs_and_all_are_reported() {
    let plan = tiny();
    let dir = tempfile::tempdir().unwrap();
    run_in(&plan, 2, None, dir.path());
    let runs: Vec<RunRow> = read_csv(dir.path().join("runs.csv"));
    let table: Vec<Cell> = read_csv(dir.path().join("table.csv"));
    // 3 alone settings × (4 classes + all) + 2 lone × (lone peer: its class + all; tft: 4 + all)
    // + 3 pairs × 2 policies × (4 + all), each replicated 3 times.
    assert_eq!(runs.len(), 3 * (15 + 2 * 7 + 3 * 10));
    assert_eq!(table.len(), 15 + 2 * 7 + 3 * 10);

    // The lone free-rider: completion and paired speed-up over the tft peers of its class.
    let cell =
        |c: &&Cell| c.kind == Kind::Lone && c.policy == "free-rider" && c.class == "200KiB/s";
    let got = table.iter().find(cell).unwrap();
    let rows: Vec<&RunRow> = runs
        .iter()
        .filter(|r| r.setting == got.setting && r.policy == "free-rider" && r.class == "200KiB/s")
        .collect();
    assert_eq!(rows.len(), 3);
    let ci = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / 3.0;
        let s = (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 2.0).sqrt();
        let half = T_975_DF2 * s / 3f64.sqrt();
        (m, m - half, m + half)
    };
    let close = |a: f64, b: Option<f64>| (a - b.unwrap()).abs() < 6e-4;
    let times: Vec<f64> = rows.iter().map(|r| r.completion_s).collect();
    let (m, lo, hi) = ci(&times);
    assert!(close(m, Some(got.completion_s)), "{m} vs {got:?}");
    assert!(close(lo, got.completion_ci95_low_s) && close(hi, got.completion_ci95_high_s));
    let ratios: Vec<f64> = rows
        .iter()
        .map(|r| r.vs_completion_s.unwrap() / r.completion_s)
        .collect();
    let (m, lo, hi) = ci(&ratios);
    assert!(close(m, got.speedup), "{m} vs {got:?}");
    assert!(close(lo, got.speedup_ci95_low) && close(hi, got.speedup_ci95_high));
    assert_eq!(got.vs, "tft");
    assert_eq!(got.n, 1);

    // Every policy of every setting has its row in the report.
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let base = plan.base().unwrap();
    for s in plan.settings(&sim::tournament::Classes::of(&base).unwrap()) {
        for p in s.policies() {
            let row = format!("| {} | {p} |", s.label());
            assert!(md.contains(&row), "report lacks {row}");
        }
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("data:image/svg+xml;base64,").count(), 4);
}

/// How many `<tag` elements of an SVG mention `needle` in their attributes.
fn svg_count(svg: &str, tag: &str, needle: &str) -> usize {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .filter(|el| el[..el.find('>').unwrap_or(el.len())].contains(needle))
        .count()
}

#[test]
fn free_riding_is_cheap_alone_among_tft_and_ruinous_for_a_swarm_of_them() {
    // The full base swarm (16 MiB), tft and free-rider only: 4 settings × 20 runs.
    let plan = plan("tft,free-rider", 20, &[]);
    let dir = tempfile::tempdir().unwrap();
    run_in(&plan, 2, None, dir.path());
    let table: Vec<Cell> = read_csv(dir.path().join("table.csv"));
    let find = |kind: Kind, policy: &str, class: &str| {
        table
            .iter()
            .find(|c| c.kind == kind && c.policy == policy && c.class == class)
            .unwrap()
    };
    // Measured: a lone free-rider finishes ~5% sooner than the tft peers of its class
    // (speed-up 1.050, 95% CI 1.010–1.089): optimistic unchokes and seeding peers serve it,
    // and it has nothing to lose by not uploading. Its share ratio is exactly 0.
    let lone = find(Kind::Lone, "free-rider", "200KiB/s");
    assert!(lone.speedup_ci95_low.unwrap() > 1.0, "{lone:?}");
    assert_eq!(lone.share_ratio, Some(0.0));
    assert_eq!(lone.finished, 1.0);
    // A swarm of free-riders has only the seeder: over 3x slower than all-tft, CIs apart.
    let (fr, tft) = (
        find(Kind::Alone, "free-rider", "all"),
        find(Kind::Alone, "tft", "all"),
    );
    assert!(
        fr.completion_ci95_low_s.unwrap() > 3.0 * tft.completion_ci95_high_s.unwrap(),
        "{fr:?} vs {tft:?}"
    );

    // Figures have drawn content: one bar per policy × class (alone), one per lone policy
    // with its whisker and caps, a heatmap cell per ordered pair.
    let svg = |f: &str| std::fs::read_to_string(dir.path().join("figures").join(f)).unwrap();
    let alone = svg("alone.svg");
    assert_eq!(
        svg_count(&alone, "rect", "#0072B2"),
        4 + 1,
        "tft bars and legend"
    );
    assert_eq!(
        svg_count(&alone, "rect", "#E69F00"),
        4 + 1,
        "free-rider bars and legend"
    );
    let speedup = svg("lone-speedup.svg");
    assert_eq!(svg_count(&speedup, "rect", "#0072B2"), 1);
    assert_eq!(svg_count(&speedup, "polyline", "stroke-width=\"2\""), 3);
    // 2 × 2 cells: the diagonal (a policy against itself) is grey, the two pairs coloured.
    let pairs = svg("pairs.svg");
    assert_eq!(svg_count(&pairs, "rect", "#C8C8C8"), 2);
    assert_eq!(pairs.matches("n/a").count(), 2);
}

#[test]
fn tft_alone_is_the_base_scenario_run_unchanged() {
    // Splitting leechers into groups of one keeps node ids and every seeded draw: the tft-alone
    // setting's replicate 0 is `sim run` of the base at its own seed, to the byte.
    let plan = plan("tft", 1, &["torrent.size=2MiB"]);
    let dir = tempfile::tempdir().unwrap();
    run_in(&plan, 1, None, dir.path());
    let runs: Vec<RunRow> = read_csv(dir.path().join("runs.csv"));
    let base = sim::run(&plan.base().unwrap());
    for class in ["50KiB/s", "400KiB/s", "all"] {
        let row = runs.iter().find(|r| r.class == class).unwrap();
        let ids: Vec<u32> = match class {
            "50KiB/s" => (2..=5).collect(),
            "400KiB/s" => (14..=17).collect(),
            _ => (2..=17).collect(),
        };
        let nodes: Vec<_> = ids.iter().map(|&id| &base.nodes[id as usize - 1]).collect();
        let mean = nodes.iter().map(|n| n.completion_s.unwrap()).sum::<f64>() / nodes.len() as f64;
        assert_eq!(
            row.completion_s,
            (mean * 1000.0).round() / 1000.0,
            "{class}"
        );
        assert_eq!(row.bytes_up, nodes.iter().map(|n| n.bytes_up).sum::<u64>());
        assert_eq!(row.n as usize, nodes.len());
        assert_eq!(row.seed, base.scenario.seed);
    }
}
