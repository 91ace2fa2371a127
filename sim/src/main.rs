//! `sim`: run, check and benchmark swarm scenarios.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use reports::table::{fmt_f64, render_table};
use sim::metrics::RunSummary;
use sim::{RunResult, Scenario};

#[derive(Parser)]
#[command(
    name = "sim",
    version,
    about = "Deterministic BitTorrent swarm simulator (engine-core inside)",
    long_about = "Deterministic discrete-event BitTorrent swarm simulator.\n\n\
        Every node runs the same engine-core choker, piece picker and upload allocator as the \
        real `bt` client. Same scenario + seed => byte-identical output.\n\n\
        Example: sim run scenarios/g1t2.toml --seed 7 --set torrent.size=64MiB"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario: prints the resolved config, a per-node table and a summary, and writes
    /// results.csv, pairs.csv, run.json and scenario.resolved.toml.
    Run(RunArgs),
    /// Validate scenario files without running them.
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Benchmark: every scenario in a directory once, and a large flash crowd.
    Bench(BenchArgs),
}

#[derive(Args)]
struct Overrides {
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override any key, e.g. `--set torrent.size=64MiB --set group.2.count=10`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

impl Overrides {
    fn load(&self, path: &Path) -> anyhow::Result<Scenario> {
        let mut sets = self.set.clone();
        if let Some(seed) = self.seed {
            sets.push(format!("seed={seed}"));
        }
        Ok(Scenario::load(path, &sets)?)
    }
}

#[derive(Args)]
struct RunArgs {
    /// Scenario file (TOML), e.g. scenarios/g1t2.toml.
    scenario: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
    /// Output folder [default: out/<scenario name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run this many replicates with derived seeds (in parallel) and summarise over them.
    #[arg(long, default_value_t = 1)]
    replicates: u32,
    /// Worker threads for replicates [default: all cores]. Output does not depend on it.
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Print only the summary.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct BenchArgs {
    /// Directory of scenarios to time (each run once).
    #[arg(long, default_value = "scenarios")]
    dir: PathBuf,
    /// Flash-crowd scenario for the throughput figure.
    #[arg(long, default_value = "scenarios/flash-crowd-1000.toml")]
    flash: PathBuf,
    /// Skip the flash crowd.
    #[arg(long)]
    no_flash: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Run(a) => cmd_run(a),
        Cmd::Check { files } => cmd_check(&files),
        Cmd::Bench(a) => cmd_bench(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn cmd_check(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut bad = 0;
    for f in files {
        match Scenario::load(f, &[]) {
            Ok(sc) => println!("{}: ok ({} nodes)", f.display(), sc.nodes().len()),
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    anyhow::ensure!(bad == 0, "{bad} of {} scenario files invalid", files.len());
    Ok(())
}

fn cmd_run(a: RunArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.replicates >= 1, "--replicates must be at least 1");
    let sc = a.overrides.load(&a.scenario)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(&sc.name));
    if !a.quiet {
        println!("# resolved configuration\n{}", sc.to_toml());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.jobs.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let t0 = std::time::Instant::now();
    let runs = pool.install(|| sim::replicate::run_replicates(&sc, a.replicates));
    let wall = t0.elapsed();
    let first = &runs[0];
    if !a.quiet {
        println!("{}", node_table(first));
    }
    print_summary(&first.summary());
    if runs.len() > 1 {
        println!("{}", sim::replicate::summary_text(&runs));
    }
    first.write(&out)?;
    if runs.len() > 1 {
        sim::replicate::write_replicates(&runs, &out)?;
    }
    println!(
        "wrote {} ({} run(s), {:.0} ms wall, {} events in the first)",
        out.display(),
        runs.len(),
        wall.as_secs_f64() * 1e3,
        first.stats.events
    );
    Ok(())
}

fn node_table(r: &RunResult) -> String {
    let rows: Vec<Vec<String>> = r
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.id.to_string(),
                n.role.to_string(),
                fmt_f64(n.online_days, 0),
                if n.incentive { "on" } else { "off" }.to_string(),
                n.completion_s
                    .map_or_else(|| "-".to_string(), |c| fmt_f64(c, 1)),
                fmt_f64(n.bytes_up as f64 / 1e6, 2),
                fmt_f64(n.bytes_down as f64 / 1e6, 2),
            ]
        })
        .collect();
    render_table(
        &[
            "node",
            "role",
            "online_days",
            "incentive",
            "completion_s",
            "up_MB",
            "down_MB",
        ],
        &rows,
    )
}

fn print_summary(s: &RunSummary) {
    let f = |x: Option<f64>| x.map_or_else(|| "-".into(), |v| fmt_f64(v, 1));
    println!(
        "leechers done {}/{}  mean {} s  median {} s  max {} s  (Kumar-Ross bound {} s)",
        s.completed,
        s.leechers,
        f(s.mean_s),
        f(s.median_s),
        f(s.max_s),
        fmt_f64(s.kumar_ross_s, 1)
    );
    match (s.spearman_rho, s.spearman_ci95) {
        (Some(r), Some((lo, hi))) => println!(
            "Spearman rho(online days, completion) = {} (95% CI {} .. {})",
            fmt_f64(r, 3),
            fmt_f64(lo, 3),
            fmt_f64(hi, 3)
        ),
        _ => println!("Spearman rho(online days, completion) = - (online days constant)"),
    }
}

fn cmd_bench(a: BenchArgs) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&a.dir)
        .with_context(|| format!("reading {}", a.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p != &a.flash)
        .collect();
    files.sort();
    let mut total = std::time::Duration::ZERO;
    let mut events = 0u64;
    println!(
        "{:<28} {:>10} {:>12} {:>10}",
        "scenario", "wall_ms", "events", "sim_s"
    );
    for f in &files {
        let sc = Scenario::load(f, &[])?;
        if sc.nodes().len() > 200 {
            continue;
        }
        let t0 = std::time::Instant::now();
        let r = sim::run(&sc);
        let dt = t0.elapsed();
        total += dt;
        events += r.stats.events;
        println!(
            "{:<28} {:>10.1} {:>12} {:>10.0}",
            sc.name,
            dt.as_secs_f64() * 1e3,
            r.stats.events,
            r.stats.sim_time_s
        );
    }
    println!(
        "all {} scenarios: {:.1} ms on one core, {:.2} M events/s",
        files.len(),
        total.as_secs_f64() * 1e3,
        events as f64 / total.as_secs_f64() / 1e6
    );
    if !a.no_flash {
        let sc = Scenario::load(&a.flash, &[])?;
        let t0 = std::time::Instant::now();
        let r = sim::run(&sc);
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "{}: {} nodes, {:.0} simulated s in {:.2} s wall = {:.0} sim-s/wall-s; {} events ({:.2} M/s), {} rate solves ({:.0}/s); peak RSS {} MiB",
            sc.name,
            r.nodes.len(),
            r.stats.sim_time_s,
            dt,
            r.stats.sim_time_s / dt,
            r.stats.events,
            r.stats.events as f64 / dt / 1e6,
            r.stats.recomputes,
            r.stats.recomputes as f64 / dt,
            peak_rss_mib().map_or_else(|| "?".into(), |m| m.to_string())
        );
    }
    Ok(())
}

/// Peak resident memory from /proc (Linux); `None` elsewhere.
fn peak_rss_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
