//! `bt experiment`: the benchmark of seed 002 — a tracker, one seeder and three leechers on
//! loopback, per file size many iterations, measuring transfer time, swarm throughput and
//! protocol overhead, for our client and/or libtorrent, written as the seed's three CSVs and
//! a figure.
//!
//! Each iteration starts three fresh leechers (empty temp dirs) against one seeder per size;
//! a leecher's time runs from its start until every piece verifies. Overhead is every byte the
//! leechers read from peers (handshakes and all messages) over size × 3.

pub(crate) mod bt_swarm;
mod lt_swarm;
mod report;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, FromArgMatches, ValueEnum};

use crate::create::{self, CreateArgs};
use crate::units::parse_size;
use bt_swarm::Swarm;
use report::Row;

/// Leechers per iteration, as in the seed.
pub const LEECHERS: usize = 3;

#[derive(Args, Debug)]
#[command(after_help = "\
Writes all_leechers_results.csv, leechers_performance_comparison.csv, all_leechers_summary.csv
and experiment.png into --out, only once every iteration has finished.

Examples:
  bt experiment --out results
  bt experiment --client bt,libtorrent --sizes 10KiB,100KiB --iterations 5,3 --out results
  bt experiment --quick --out /tmp/exp")]
pub struct ExperimentArgs {
    /// Folder for the CSVs and the figure (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Clients to measure, comma-separated; libtorrent needs Debian's python3-libtorrent.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "bt")]
    client: Vec<Client>,
    /// File sizes, comma-separated: KiB, MiB are powers of 1024, kB, MB of 1000.
    #[arg(long, value_delimiter = ',', default_value = "10KiB,100KiB,1MiB,10MiB")]
    sizes: Vec<String>,
    /// Iterations per size, comma-separated, one per size (or one for all).
    #[arg(long, value_delimiter = ',', default_value = "333,33,3,1")]
    iterations: Vec<usize>,
    /// A smoke run: 10KiB,100KiB,1MiB with 5,2,1 iterations (overrides --sizes/--iterations).
    #[arg(long)]
    quick: bool,
    /// Per-iteration time limit before the size-based allowance (1 s per MiB).
    #[arg(long, default_value = "60s", value_parser = crate::units::parse_duration)]
    timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Client {
    Bt,
    Libtorrent,
}

impl Client {
    fn label(self) -> &'static str {
        match self {
            Client::Bt => "bt",
            Client::Libtorrent => "libtorrent",
        }
    }
}

/// One file size of the plan.
#[derive(Clone, Debug)]
pub struct Size {
    pub label: String,
    pub bytes: u64,
    pub iterations: usize,
}

/// Everything one client's run of one size needs.
pub struct SizeRun<'a> {
    pub size: &'a Size,
    pub torrent: &'a Path,
    /// Holds the torrent's file, the seeder's data.
    pub seed_dir: &'a Path,
    pub file_name: &'a str,
    pub source: &'a [u8],
    pub limit: Duration,
}

impl SizeRun<'_> {
    /// Names the iteration and leecher that failed, for error messages.
    fn at(&self, iteration: usize, leecher: usize) -> String {
        format!(
            "size {}, iteration {iteration}, leecher {leecher}",
            self.size.label
        )
    }
}

pub fn run(args: ExperimentArgs) -> Result<()> {
    let plan = plan(&args)?;
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating --out {}", out.display()))?;
    let probe = out.join(".bt-experiment-probe");
    std::fs::write(&probe, b"")
        .with_context(|| format!("--out {} is not writable", out.display()))?;
    std::fs::remove_file(&probe).ok();
    if args.client.contains(&Client::Libtorrent) {
        lt_swarm::require()?;
    }
    let mut clients = args.client.clone();
    clients.dedup();
    let work = tempfile::Builder::new()
        .prefix("bt-experiment-")
        .tempdir()
        .context("creating a temp dir")?;
    let mut rows: Vec<Row> = Vec::new();
    let mut verified = 0;
    for &client in &clients {
        for size in &plan {
            // A fresh tracker per size: the last size's seeder left without a `stopped`.
            // libtorrent re-announces no sooner than its min_announce_interval (5 min) whatever
            // we ask, and the tracker drops peers silent for two intervals: an hour keeps the
            // seeder listed through the longest run.
            let swarm = Swarm::start(Duration::from_secs(3600))?;
            let dir = work
                .path()
                .join(format!("{}-{}", client.label(), size.label));
            let seed_dir = dir.join("seed");
            std::fs::create_dir_all(&seed_dir)?;
            let source = test_data(size.bytes as usize, size.bytes);
            let name = format!("{}.bin", size.label);
            std::fs::write(seed_dir.join(&name), &source)?;
            let torrent = dir.join(format!("{name}.torrent"));
            make_torrent(&seed_dir.join(&name), &torrent, &swarm.announce_url(), None)?;
            let sr = SizeRun {
                size,
                torrent: &torrent,
                seed_dir: &seed_dir,
                file_name: &name,
                source: &source,
                limit: args.timeout + Duration::from_secs(size.bytes >> 20),
            };
            eprintln!(
                "bt experiment: {} {} x {} iterations",
                client.label(),
                size.label,
                size.iterations
            );
            let results = match client {
                Client::Bt => swarm.run_bt(&sr, &dir)?,
                Client::Libtorrent => lt_swarm::run(&sr, &dir)?,
            };
            for r in results {
                verified += 1;
                rows.push(Row::new(client.label(), size, r));
            }
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    report::write_all(out, &rows)?;
    println!(
        "verified: {verified} transfers byte-identical to the source; results in {}",
        out.display()
    );
    println!("{}", report::summary_table(&rows));
    Ok(())
}

/// What one leecher measured in one iteration.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub iteration: usize,
    pub leecher: usize,
    pub secs: f64,
    pub bytes_received: u64,
}

fn plan(args: &ExperimentArgs) -> Result<Vec<Size>> {
    let (sizes, iterations): (Vec<String>, Vec<usize>) = if args.quick {
        (
            ["10KiB", "100KiB", "1MiB"].map(String::from).to_vec(),
            vec![5, 2, 1],
        )
    } else {
        (args.sizes.clone(), args.iterations.clone())
    };
    ensure!(
        iterations.len() == 1 || iterations.len() == sizes.len(),
        "--iterations has {} values for {} sizes: give one per size, or one for all",
        iterations.len(),
        sizes.len()
    );
    sizes
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let bytes = parse_size(label).map_err(|e| anyhow::anyhow!("--sizes: {e}"))?;
            let n = iterations[i.min(iterations.len() - 1)];
            if bytes == 0 || n == 0 {
                bail!("--sizes/--iterations: {label} with {n} iterations measures nothing");
            }
            Ok(Size {
                label: label.clone(),
                bytes,
                iterations: n,
            })
        })
        .collect()
}

/// Makes `torrent` from `file` exactly as `bt create` does (v1; automatic piece length unless
/// one is given).
pub(crate) fn make_torrent(
    file: &Path,
    torrent: &Path,
    announce: &str,
    piece_length: Option<u32>,
) -> Result<()> {
    let cmd = CreateArgs::augment_args(clap::Command::new("create"));
    let mut args: Vec<std::ffi::OsString> = [
        "create".as_ref(),
        file.as_os_str(),
        "-t".as_ref(),
        announce.as_ref(),
        "--no-date".as_ref(),
        "--force".as_ref(),
        "-o".as_ref(),
        torrent.as_os_str(),
    ]
    .map(Into::into)
    .to_vec();
    if let Some(p) = piece_length {
        args.extend(["--piece-length".into(), p.to_string().into()]);
    }
    let m = cmd.try_get_matches_from(args)?;
    create::create(CreateArgs::from_arg_matches(&m)?).map(drop)
}

/// Incompressible pseudo-random bytes from `seed`, so no layer can shortcut the transfer.
pub(crate) fn test_data(len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut v = vec![0; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}
