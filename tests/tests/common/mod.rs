//! Helpers shared by the cross-crate tests.
// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::path::PathBuf;

use sim::Scenario;

/// How many `<tag` elements of an SVG carry `colour` (`#0072B2`).
pub fn count(svg: &str, tag: &str, colour: &str) -> usize {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .filter(|el| el[..el.find('>').unwrap()].contains(colour))
        .count()
}

/// Runs `sim plot ARGS`; the error as the CLI would print it.
pub fn sim_plot(args: &[&str]) -> Result<(), String> {
    use clap::Parser;
    let mut argv = vec!["plot"];
    argv.extend_from_slice(args);
    let a = sim::plot_cmd::PlotArgs::try_parse_from(argv).map_err(|e| e.to_string())?;
    sim::plot_cmd::plot(&a).map_err(|e| e.to_string())
}

/// The repository's `scenarios/` folder.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Loads `scenarios/<name>.toml` with optional `key=value` overrides.
pub fn load(name: &str, overrides: &[&str]) -> Scenario {
    let path = scenarios_dir().join(format!("{name}.toml"));
    let sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Scenario::load(&path, &sets).unwrap_or_else(|e| panic!("{e}"))
}

/// The thesis scenarios (every file but the large flash crowd).
pub const THESIS: &[&str] = &[
    "g1t1",
    "g1t2",
    "g1t3",
    "g2t1",
    "g2t2",
    "g2t3",
    "g3t1",
    "g3t2",
    "g3t3",
    "g4t1",
    "g4t2",
    "g4t3",
    "verify-inc",
    "verify-dec",
];

/// Renders rows as CSV text, the form snapshots and determinism checks compare.
pub fn csv_text(r: &sim::RunResult) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    r.write(dir.path()).expect("write results");
    std::fs::read_to_string(dir.path().join("results.csv")).expect("read results.csv")
}

/// The incentive-zoo scenarios under `scenarios/zoo/`, as `load` names them.
pub const ZOO: &[&str] = &[
    "zoo/bittyrant-lone",
    "zoo/bittyrant-all-selfish",
    "zoo/propshare-vs-bittyrant",
    "zoo/fairtorrent-classes",
    "zoo/fairtorrent-free-riders",
    "zoo/false-have-swarm",
    "zoo/large-view-ci",
    "zoo/whitewash-tft",
    "zoo/whitewash-seniority",
];

/// Seeded replicates of every statistical zoo test.
pub const REPLICATES: u32 = 30;

/// A zoo scenario at CI size (`sim::zoo::ci_overrides`); `extra` overrides go last.
pub fn zoo_ci(name: &str, extra: &[&str]) -> Scenario {
    let mut sets = sim::zoo::ci_overrides(name);
    sets.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = sets.iter().map(String::as_str).collect();
    load(name, &refs)
}

/// Runs the `sim::zoo` directions `ids` (their shared setups once) with [`REPLICATES`] seeds
/// at CI size and asserts each reproduces, printing every finding.
pub fn assert_reproduced(ids: &[&str]) {
    let dirs: Vec<&sim::zoo::Direction> = ids
        .iter()
        .map(|id| sim::zoo::direction(id).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let findings = sim::zoo::measure(
        &dirs,
        &scenarios_dir(),
        sim::zoo::Size::Ci,
        REPLICATES,
        &|_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for f in &findings {
        eprintln!("{}: {:?} (reference {:?})", f.id, f.stat, f.reference);
    }
    for (f, d) in findings.iter().zip(&dirs) {
        assert!(
            f.reproduced,
            "{}: {} — {}: {:.3} [{:.3}, {:.3}]{}",
            f.id,
            d.claim,
            d.statistic,
            f.stat.mean,
            f.stat.ci95_low,
            f.stat.ci95_high,
            f.reference.as_ref().map_or(String::new(), |r| format!(
                " vs {:.3} [{:.3}, {:.3}]",
                r.mean, r.ci95_low, r.ci95_high
            ))
        );
    }
}

/// Runs a sweep plan on `threads` workers (one shard of it, if given) into `out`.
pub fn run_sweep(
    plan: &sim::sweep::Plan,
    threads: usize,
    shard: Option<sim::sweep::Shard>,
    out: &std::path::Path,
) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let opts = sim::sweep::Options {
        resume: false,
        runs: &|_, _| {},
        note: &mut |_| {},
    };
    pool.install(|| sim::sweep::run(plan, shard, out, opts))
        .unwrap();
}
