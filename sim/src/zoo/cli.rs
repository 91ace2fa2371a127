//! `sim zoo`'s arguments and driver (kept out of main.rs, which holds the other commands).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct ZooArgs {
    /// Seeded replicates per swarm.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(2..))]
    pub replicates: u32,
    /// Run the full-size scenario files instead of their CI-sized variants.
    #[arg(long)]
    pub full: bool,
    /// Only these directions (ids; repeatable or comma-separated) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Folder holding the scenarios.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Output folder.
    #[arg(long, default_value = "out/zoo")]
    pub out: PathBuf,
    /// Worker threads [default: all cores]. Output does not depend on it.
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
}

/// Runs `sim zoo`: the selected directions, their report, and a line per finding.
pub fn run(a: ZooArgs) -> anyhow::Result<()> {
    let dirs: Vec<&super::Direction> = if a.only.is_empty() {
        super::DIRECTIONS.iter().collect()
    } else {
        a.only
            .iter()
            .map(|id| super::direction(id))
            .collect::<Result<_, _>>()?
    };
    let size = if a.full {
        super::Size::Full
    } else {
        super::Size::Ci
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.jobs.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("running {} direction(s)", dirs.len()));
    let t0 = std::time::Instant::now();
    let findings = pool.install(|| {
        super::measure(&dirs, &a.scenarios, size, a.replicates, &|file| {
            bar.println(format!("done: {file}"));
            bar.tick();
        })
    })?;
    bar.finish_and_clear();
    super::report::write(&findings, a.replicates, a.full, &a.out)?;
    for f in &findings {
        println!(
            "{:<28} {:>12.3} [{:.3}, {:.3}]  {}",
            f.id,
            f.stat.mean,
            f.stat.ci95_low,
            f.stat.ci95_high,
            f.verdict()
        );
    }
    println!(
        "wrote {}/findings.csv, report.md and report.html in {:.1} s",
        a.out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
