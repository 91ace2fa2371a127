//! The simulator's prediction of a scenario for `bt swarm`: the `sim` binary run as a
//! subprocess on the resolved scenario, its `run.json` read back into the shared result model.
//! A subprocess rather than a library call keeps the simulator out of `bt` (and out of its
//! build); the scenario crate's schema and result model are what the two share.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use scenario::{RunResult, Scenario};

/// The `sim` binary: `--sim PATH` if given, else the one beside this `bt` (a workspace build
/// puts both in target/release), else the first on `PATH`. `None` if there is none.
pub fn find_sim(explicit: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(p) = explicit {
        ensure!(p.is_file(), "--sim {}: no such file", p.display());
        return Ok(Some(p.to_owned()));
    }
    let beside = std::env::current_exe()
        .ok()
        .map(|bt| bt.with_file_name("sim"));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("sim"));
    Ok(beside.into_iter().chain(on_path).find(|p| p.is_file()))
}

/// Runs `sim run` on `sc` (written out resolved, seed and defaults included, so the subprocess
/// runs exactly this scenario) and reads its result.
pub fn predict(sim: &Path, sc: &Scenario) -> Result<RunResult> {
    let dir = tempfile::Builder::new()
        .prefix("bt-swarm-sim-")
        .tempdir()
        .context("creating a temp dir")?;
    let file = dir.path().join("scenario.toml");
    std::fs::write(&file, sc.to_toml())?;
    let out = dir.path().join("out");
    let res = Command::new(sim)
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .with_context(|| format!("running {}", sim.display()))?;
    if !res.status.success() {
        bail!(
            "{} run failed ({}): {}",
            sim.display(),
            res.status,
            String::from_utf8_lossy(&res.stderr).trim()
        );
    }
    let json = std::fs::read_to_string(out.join("run.json"))
        .with_context(|| format!("reading {}'s run.json", sim.display()))?;
    let mut run = RunResult::from_run_json(sc, &json).with_context(|| {
        format!(
            "{}'s run.json does not match this bt's result model (rebuild both)",
            sim.display()
        )
    })?;
    // Who served whom, for the allocation statistics of `--replicates`.
    run.read_pairs(&out.join("pairs.csv"))?;
    Ok(run)
}

/// The real run against the simulator's run of the same scenario.
pub struct Agreement {
    /// `real/sim − 1` of each leecher's completion time (those both completed).
    deviations: Vec<f64>,
    sim_mean: Option<f64>,
    real_mean: Option<f64>,
    sim_rho: Option<f64>,
    real_rho: Option<f64>,
}

impl Agreement {
    pub fn text(&self) -> String {
        let pct = |x: f64| format!("{:+.1}%", x * 100.0);
        let dev = &self.deviations;
        let worst = dev
            .iter()
            .copied()
            .fold(0.0_f64, |a, b| if b.abs() > a.abs() { b } else { a });
        let mean_abs = dev.iter().map(|d| d.abs()).sum::<f64>() / dev.len().max(1) as f64;
        let f = |x: Option<f64>, d| x.map_or_else(|| "-".into(), |v| format!("{v:.d$}"));
        let mean_dev = match (self.sim_mean, self.real_mean) {
            (Some(s), Some(r)) => pct(r / s - 1.0),
            _ => "-".into(),
        };
        format!(
            "vs sim run: mean completion {} s (sim {} s, {mean_dev}); per leecher mean |diff| {:.1}%, worst {}; Spearman rho real {} / sim {}",
            f(self.real_mean, 1),
            f(self.sim_mean, 1),
            mean_abs * 100.0,
            pct(worst),
            f(self.real_rho, 3),
            f(self.sim_rho, 3),
        )
    }
}

/// Pairs up the leechers' completion times of two runs of one scenario.
pub fn agreement(sim: &RunResult, real: &RunResult) -> Agreement {
    let deviations = sim
        .leechers()
        .zip(real.leechers())
        .filter_map(|(s, r)| Some(r.completion_s? / s.completion_s? - 1.0))
        .collect();
    let (s, r) = (sim.summary(), real.summary());
    Agreement {
        deviations,
        sim_mean: s.mean_s,
        real_mean: r.mean_s,
        sim_rho: s.spearman_rho,
        real_rho: r.spearman_rho,
    }
}
