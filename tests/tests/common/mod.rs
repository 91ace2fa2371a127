//! Helpers shared by the cross-crate tests.
// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::path::PathBuf;

use sim::Scenario;

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
];

/// Leechers per group of `name` at CI size: 10 per upload class (the lone BitTyrant's class
/// 1 + 9; 5 per policy in the head-to-head file).
fn zoo_ci_counts(name: &str) -> &'static [u32] {
    match name {
        "zoo/bittyrant-lone" => &[10, 1, 9, 10, 10],
        "zoo/bittyrant-all-selfish" => &[10, 10, 10, 10],
        "zoo/propshare-vs-bittyrant" => &[5; 8],
        _ => panic!("{name} is not a zoo scenario"),
    }
}

/// A zoo scenario at CI size: 40 leechers all arriving in the first 10 s (a flash crowd), an
/// 8 MiB file and a 512 KiB/s seeder, so 30 replicates run in a few seconds; `extra`
/// overrides go last.
pub fn zoo_ci(name: &str, extra: &[&str]) -> Scenario {
    let mut sets: Vec<String> = vec![
        "torrent.size=\"8MiB\"".into(),
        "group.1.upload=\"512KiB/s\"".into(),
    ];
    for (i, n) in zoo_ci_counts(name).iter().enumerate() {
        let g = i + 2;
        sets.push(format!("group.{g}.count={n}"));
        sets.push(format!("group.{g}.join={{ from = \"0s\", to = \"10s\" }}"));
    }
    sets.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = sets.iter().map(String::as_str).collect();
    load(name, &refs)
}
