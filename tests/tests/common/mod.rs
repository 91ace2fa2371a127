//! Helpers shared by the cross-crate tests.
// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::path::PathBuf;

use sim::Scenario;

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
