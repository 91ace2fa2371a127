//! `sim`: run, check and benchmark swarm scenarios.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sim::Scenario;

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
    /// Sweep parameters: the cartesian product of --vary keys × replicates, in parallel.
    ///
    /// Writes rows.csv (point, replicate, node), summary.csv (per point, mean and 95% CI over
    /// replicates: completion, its ratio to the Kumar-Ross bound; rho, slope and thirds gap
    /// against online days), sweep.json, and comparisons.csv for a plan's [[compare]] pairs.
    /// Example: sim sweep scenarios/g1t2.toml --vary seeders=1,2,3
    /// --vary incentive=none,seniority --replicates 30 --out out/sweep
    Sweep(SweepArgs),
    /// Paired comparison of points of a finished sweep (same seeds per replicate): B - A of
    /// mean completion, rho, slope and thirds gap with paired 95% CI and t-test p-value; keys
    /// neither side names are held equal. Example: sim compare out/sweep --a seeders=1 --b seeders=3
    Compare(sim::compare::Args),
    /// Run every thesis experiment with replicates and write report.html, report.md and
    /// figures/: thesis claim beside the simulator's statistic, a computed verdict, and
    /// experiments beyond the thesis (mechanism cost, variants, bandwidths, swarm size).
    Reproduce {
        /// Output folder.
        #[arg(long, default_value = "report")]
        out: PathBuf,
        #[command(flatten)]
        opts: sim::reproduce::Options,
        /// Worker threads [default: all cores]. Output does not depend on it.
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
    },
    /// Plot a results CSV: per-node bars, completion CDFs, swarm progress, heatmaps, a summary
    /// column against a swept key.
    ///
    /// Examples: sim plot bars out/g1t2/replicates.csv -o g1t2.png;
    /// sim plot line out/sweep/summary.csv --x seeders --y rho_mean --by incentive -o rho.svg;
    /// sim plot progress out/g1t2/progress.csv -o progress.svg;
    /// sim plot heatmap out/sweep/summary.csv --x seeders --y incentive -o heat.png;
    /// sim plot bars out/sweep/rows.csv --where seeders=2 --relative -o rel.svg
    Plot(sim::plot_cmd::PlotArgs),
    /// Compare incentive policies: every policy alone, one peer of it among tft leechers, and
    /// every pair half and half, each over seeded replicates in one base swarm.
    ///
    /// Each leecher group of the base scenario is one upload class. Writes runs.csv (setting ×
    /// replicate × policy × class), table.csv (per cell: mean completion with 95% CI, paired
    /// speed-up over the reference peers of the same run and class with CI, fraction finished,
    /// share ratio, Jain's fairness), report.md and report.html with figures,
    /// tournament.json (the plan) and scenario.resolved.toml.
    /// Example: sim tournament --policies tft,seniority,free-rider --replicates 30
    Tournament(TournamentArgs),
    /// Run the incentive papers' findings (issue #13) and write findings.csv, report.md and
    /// report.html: each paper's claim and number beside our statistic with its 95% CI and a
    /// verdict. Example: sim zoo --replicates 30 --out out/zoo
    Zoo(sim::zoo::cli::ZooArgs),
    /// Open swarms against the Qiu–Srikant fluid model (issue #14): a grid of arrival rates λ
    /// and mean seeding times 1/γ per regime, each point's steady-state leechers, seeds and
    /// download time beside the model's. Writes grid.csv, report.md and figures.
    /// Example: sim fluid --out out/fluid
    Fluid(sim::fluid_grid::FluidArgs),
    /// Join the output folders of `sweep --shard i/n` or `tournament --shard i/n` runs into the
    /// unsharded result (a tournament's report is written here).
    Merge {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Shard folders (any order).
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
}

#[derive(Args)]
struct SweepArgs {
    /// Base scenario (TOML), or a sweep file with --plan.
    #[arg(required_unless_present = "plan")]
    scenario: Option<PathBuf>,
    /// A sweep file: `scenario = "..."`, `replicates = N`, `[[vary]] key = ".." values = [..]`,
    /// `[[compare]] a = { seeders = 1 } b = { seeders = 3 }`.
    #[arg(long, conflicts_with = "scenario")]
    plan: Option<PathBuf>,
    /// `key=v1,v2,...` (repeatable; ranges `1..=19`, `0..=100:10`). Keys: any dotted scenario
    /// path, or seeders, leechers, incentive, size, piece_length, variant, upload, download,
    /// seeder_upload.
    #[arg(long = "vary", value_name = "KEY=VALUES")]
    vary: Vec<String>,
    /// Fixed overrides for every point (`key=value`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Replicates per point (seeds derived from the scenario seed; same seeds at every point).
    #[arg(long)]
    replicates: Option<u32>,
    /// Output folder.
    #[arg(long, default_value = "out/sweep")]
    out: PathBuf,
    /// Worker threads [default: all cores]. Output does not depend on it.
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Run only points p with p % n == i (0-based), e.g. $SLURM_ARRAY_TASK_ID/$N.
    #[arg(long)]
    shard: Option<sim::sweep::Shard>,
    /// Also write progress.csv: every run's swarm progress every 10 simulated seconds.
    #[arg(long)]
    progress: bool,
    /// Keep the points an earlier, killed run of this plan into --out finished (their
    /// checksums are verified; a point that fails the check is redone).
    #[arg(long)]
    resume: bool,
}

#[derive(Args)]
struct TournamentArgs {
    /// Base swarm scenario (TOML): one seeder group or more, then leecher groups (classes).
    #[arg(default_value = "scenarios/tournament.toml")]
    scenario: PathBuf,
    /// Policies to compare, `NAME[:key=value,...]`, comma-separated or repeated
    /// (`tft,bittyrant:selfish=true,seniority`) [default: every policy].
    #[arg(long, value_name = "POLICIES")]
    policies: Vec<String>,
    /// Replicates per setting (the same derived seeds in every setting).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    replicates: u32,
    /// Put the lone peer in every upload class in turn, not only the middle one.
    #[arg(long)]
    every_class: bool,
    #[command(flatten)]
    overrides: Overrides,
    /// Output folder.
    #[arg(long, default_value = "out/tournament")]
    out: PathBuf,
    /// Worker threads [default: all cores]. Output does not depend on it.
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Run only settings s with s % n == i (0-based); `sim merge` joins the shards.
    #[arg(long)]
    shard: Option<sim::shard::Shard>,
}

#[derive(Args)]
struct Overrides {
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override any key, e.g. `--set torrent.size=64MiB --set group.2.count=10`, or a short
    /// name of `sim sweep --vary` (`--set seeders=3`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

impl Overrides {
    fn load(&self, path: &Path) -> anyhow::Result<Scenario> {
        let mut sets = self.set.clone();
        if let Some(seed) = self.seed {
            sets.push(format!("seed={seed}"));
        }
        sim::overrides::load(path, &sets)
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
    /// Directory of scenarios to time.
    #[arg(long, default_value = "scenarios")]
    dir: PathBuf,
    /// Runs per scenario; the fastest counts (a shared machine's noise only adds time).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Flash-crowd scenario for the throughput figure.
    #[arg(long, default_value = "scenarios/flash-crowd-1000.toml")]
    flash: PathBuf,
    /// Skip the flash crowd.
    #[arg(long)]
    no_flash: bool,
    /// Instead of the above: the flash crowd resized to each of these peer counts, each run
    /// in its own process (simulated s per wall s and per CPU s, events, peak memory), e.g.
    /// `--scale 1000,10000,100000`.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(2..=100_000))]
    scale: Vec<u64>,
    /// Overrides for the --scale runs, e.g. `--set engine.granularity=piece`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// One --scale run (what `--scale` starts per size).
    #[arg(long, hide = true)]
    scale_child: Option<u64>,
}

fn main() -> ExitCode {
    // `sim run … | head` must end quietly when the pipe closes, not panic in `println!`.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Run(a) => cmd_run(a),
        Cmd::Check { files } => cmd_check(&files),
        Cmd::Bench(a) => cmd_bench(a),
        Cmd::Sweep(a) => cmd_sweep(a),
        Cmd::Compare(a) => sim::compare::cli(&a),
        Cmd::Tournament(a) => cmd_tournament(a),
        Cmd::Merge { out, shards } => {
            if shards[0].join(sim::tournament::LAYOUT.manifest).exists() {
                sim::tournament::merge(&out, &shards)
            } else {
                sim::sweep::merge(&out, &shards)
            }
        }
        Cmd::Plot(a) => sim::plot_cmd::plot(&a),
        Cmd::Reproduce { out, opts, jobs } => cmd_reproduce(&out, opts, jobs),
        Cmd::Zoo(a) => sim::zoo::cli::run(a),
        Cmd::Fluid(a) => sim::fluid_grid::cli(a),
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
    let pool = thread_pool(a.jobs)?;
    let t0 = std::time::Instant::now();
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        sim::replicate::download_bar(&sc, a.replicates)
    };
    let runs = pool
        .install(|| sim::replicate::run_replicates_observed(&sc, a.replicates, &|b| bar.inc(b)));
    bar.finish_and_clear();
    let wall = t0.elapsed();
    let first = &runs[0]; // with replicates only an example: the headline is over all
    let label = if runs.len() > 1 { " (replicate 0)" } else { "" };
    if !a.quiet {
        println!("{}", sim::metrics::node_table(first));
        if runs.len() > 1 {
            println!("(replicate 0, seed {}, above)", first.scenario.seed);
        }
    }
    if runs.len() > 1 {
        println!("{}", sim::replicate::summary_text(&runs));
    } else {
        println!("{}", first.summary().text());
    }
    if sc.ondemand.is_some() {
        println!(
            "on-demand seeding{label}: {} pool seeder(s) started, {:.0} seeder-seconds",
            first.stats.ondemand_started, first.stats.ondemand_seeder_s
        );
    }
    let mut policies: Vec<&str> = first.nodes.iter().map(|n| n.policy.as_str()).collect();
    policies.sort_unstable();
    policies.dedup();
    if policies.len() > 1 {
        let rows = sim::scenario::fairness::policy_summary(&runs);
        println!("per policy, over {} run(s)", runs.len());
        println!("{}", sim::scenario::fairness::policy_table(&rows));
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

fn cmd_sweep(a: SweepArgs) -> anyhow::Result<()> {
    let mut plan = match (&a.plan, &a.scenario) {
        (Some(p), _) => sim::sweep::Plan::load(p)?,
        (None, Some(s)) => sim::sweep::Plan {
            scenario: s.clone(),
            replicates: 1,
            varies: Vec::new(),
            set: Vec::new(),
            compare: Vec::new(),
            progress: false,
        },
        (None, None) => anyhow::bail!("give a scenario or --plan"),
    };
    for v in &a.vary {
        plan.varies.push(sim::sweep::Vary::parse(v)?);
    }
    plan.set.extend(a.set.iter().cloned());
    plan.progress |= a.progress;
    if let Some(r) = a.replicates {
        plan.replicates = r;
    }
    let pool = thread_pool(a.jobs)?;
    let what = format!(
        "sweep: {} point(s) x {} replicate(s)",
        plan.points().len(),
        plan.replicates
    );
    // In a terminal the bar shows progress; a batch log (Slurm, Kubernetes) gets a line per
    // point instead.
    let per_point = !std::io::stderr().is_terminal();
    run_batch(&what, a.shard, &a.out, |runs, log| {
        let mut note = |n: sim::sweep::Note| {
            if per_point || !matches!(n, sim::sweep::Note::PointDone { .. }) {
                log(&n.to_string());
            }
        };
        let opts = sim::sweep::Options {
            resume: a.resume,
            runs,
            note: &mut note,
        };
        pool.install(|| sim::sweep::run(&plan, a.shard, &a.out, opts))
    })
}

/// Runs a batch command (announced as `what`, its shard and folder) under a progress bar of
/// runs done (stderr) and says what it wrote; the batch may also log lines, stamped with the
/// elapsed time.
fn run_batch(
    what: &str,
    shard: Option<sim::shard::Shard>,
    out: &Path,
    batch: impl FnOnce(&(dyn Fn(u64, u64) + Sync), &(dyn Fn(&str) + Sync)) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    eprintln!(
        "{what}{} -> {}",
        shard
            .map(|s| format!(", shard {}/{}", s.index, s.count))
            .unwrap_or_default(),
        out.display()
    );
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs  {elapsed_precise} elapsed, ETA {eta_precise}",
        )
        .expect("valid template"),
    );
    let t0 = std::time::Instant::now();
    let log = |line: &str| {
        let t = t0.elapsed().as_secs();
        let stamp = format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
        bar.suspend(|| eprintln!("[{stamp}] {line}"));
    };
    batch(
        &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
        &log,
    )?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} runs in {:.1} s)",
        out.display(),
        bar.position(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn cmd_tournament(a: TournamentArgs) -> anyhow::Result<()> {
    let mut set = a.overrides.set.clone();
    if let Some(seed) = a.overrides.seed {
        set.push(format!("seed={seed}"));
    }
    let plan = sim::tournament::Plan {
        scenario: a.scenario.clone(),
        set,
        policies: sim::tournament::parse_policies(&a.policies)?,
        replicates: a.replicates,
        every_class: a.every_class,
    };
    let pool = thread_pool(a.jobs)?;
    let what = format!(
        "tournament: {} policies x {} replicate(s)",
        plan.policies.len(),
        plan.replicates
    );
    run_batch(&what, a.shard, &a.out, |progress, _| {
        pool.install(|| sim::tournament::run(&plan, a.shard, &a.out, progress))
    })
}

fn cmd_reproduce(
    out: &Path,
    opts: sim::reproduce::Options,
    jobs: Option<usize>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        opts.replicates >= 2,
        "--replicates must be at least 2 for intervals"
    );
    let pool = thread_pool(jobs)?;
    let bar = indicatif::ProgressBar::new_spinner();
    let t0 = std::time::Instant::now();
    pool.install(|| {
        sim::reproduce::run(&opts, out, &|what| {
            bar.set_message(format!("running {what}"));
            bar.tick();
        })
    })?;
    bar.finish_and_clear();
    println!(
        "wrote {}/report.html and report.md in {:.1} s",
        out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A rayon pool of `jobs` threads (all cores when `None`).
fn thread_pool(jobs: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .context("starting worker threads")
}

fn cmd_bench(a: BenchArgs) -> anyhow::Result<()> {
    if let Some(n) = a.scale_child {
        return sim::scale::child(&a.flash, n as usize, &a.set);
    }
    if !a.scale.is_empty() {
        let sizes: Vec<usize> = a.scale.iter().map(|&n| n as usize).collect();
        return sim::scale::table(&a.flash, &sizes, &a.set);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&a.dir)
        .with_context(|| format!("reading {}", a.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p != &a.flash)
        .collect();
    files.sort();
    let mut total = std::time::Duration::ZERO;
    let mut thesis_total = std::time::Duration::ZERO;
    let mut thesis_ran = 0;
    let mut events = 0u64;
    anyhow::ensure!(
        !files.is_empty(),
        "no scenario files (*.toml) in {}",
        a.dir.display()
    );
    println!(
        "{:<28} {:>10} {:>12} {:>10}",
        "scenario", "wall_ms", "events", "sim_s"
    );
    let mut ran = 0;
    for f in &files {
        let sc = Scenario::load(f, &[])?;
        // Large swarms belong to the flash-crowd figure, not the per-scenario table.
        if sc.nodes().len() > 200 {
            continue;
        }
        ran += 1;
        let (r, dt) = (0..a.repeat)
            .map(|_| {
                let t0 = std::time::Instant::now();
                let r = sim::run(&sc);
                (r, t0.elapsed())
            })
            .min_by_key(|(_, dt)| *dt)
            .expect("repeat is at least 1");
        total += dt;
        if sim::reproduce::EXPERIMENTS
            .iter()
            .any(|e| e.name == sc.name)
        {
            thesis_total += dt;
            thesis_ran += 1;
        }
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
        "all {} scenarios: {:.1} ms on one core, {:.2} M events/s (fastest of {} runs each)",
        ran,
        total.as_secs_f64() * 1e3,
        events as f64 / total.as_secs_f64() / 1e6,
        a.repeat
    );
    if thesis_ran > 0 {
        println!(
            "thesis experiments ({thesis_ran}): {:.1} ms on one core",
            thesis_total.as_secs_f64() * 1e3
        );
    }
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
        let k = &r.stats.event_kinds;
        let m = |n: u64| format!("{:.1} M", n as f64 / 1e6);
        println!(
            "  events by kind: have {}, request {}, block {}, flow done {} ({} stale), interest {}, choke {}, cancel/reject {}, other {}",
            m(k.have),
            m(k.request),
            m(k.block),
            m(k.flow_done),
            m(k.flow_done_stale),
            m(k.interest),
            m(k.choke),
            m(k.cancel_reject),
            m(k.other_message + k.timer + k.other)
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
