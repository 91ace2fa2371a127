//! `bt`: create and inspect torrents, run a tracker, seed and download on real sockets.
//!
//! All protocol decisions (choking, piece picking, upload allocation) come from engine-core;
//! this crate only moves bytes between sockets, disk and the core.

mod announce;
mod bench;
mod create;
mod experiment;
mod ondemand;
mod peer;
mod progress;
mod ratelimit;
mod session;
mod show;
mod storage;
mod swarm;
mod torrent_file;
mod tracker;
mod units;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bt",
    version,
    about = "BitTorrent client and tracker on the engine-core sans-IO core",
    after_help = "\
Examples:
  bt create data/ -t http://127.0.0.1:6969/announce -o data.torrent
  bt show data.torrent
  bt verify data.torrent .
  bt tracker --listen 0.0.0.0:6969"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a .torrent from a file or directory.
    Create(create::CreateArgs),
    /// Print a .torrent's name, info-hash, sizes, files and trackers.
    Show(show::ShowArgs),
    /// Recheck data on disk against a .torrent's piece hashes.
    Verify(verify::VerifyArgs),
    /// Run an HTTP and UDP (BEP 15) tracker.
    Tracker(tracker::TrackerArgs),
    /// Seed a torrent from data on disk until interrupted.
    Seed(session::cli::SeedArgs),
    /// Download a torrent; exits 0 once every piece verifies.
    Download(session::cli::DownloadArgs),
    /// Measure hashing and tracker throughput on this machine.
    Bench(bench::BenchArgs),
    /// Reproduce seed 002's benchmark: one seeder, three leechers, per file size (CSVs, figure).
    Experiment(experiment::ExperimentArgs),
    /// Add seeders from a pool while the swarm's seeder/leecher ratio is below a target.
    Ondemand(ondemand::OndemandArgs),
    /// Run a simulator scenario as a real swarm of sessions on loopback; writes `sim run`'s
    /// results.csv and compares with the simulator.
    Swarm(swarm::SwarmArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that only print may be piped into `head`: let a closed pipe end them quietly,
    // as it does other Unix tools, instead of panicking in `println!`. Peer sessions keep
    // Rust's default (SIGPIPE ignored), so a reset socket is an error, not a kill.
    if matches!(cli.cmd, Cmd::Create(_) | Cmd::Show(_) | Cmd::Verify(_)) {
        restore_default_sigpipe();
    }
    let res: anyhow::Result<()> = match cli.cmd {
        Cmd::Create(a) => create::run(a),
        Cmd::Show(a) => show::run(a),
        Cmd::Verify(a) => verify::run(a),
        Cmd::Tracker(a) => tracker::run(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::Experiment(a) => experiment::run(a),
        Cmd::Ondemand(a) => ondemand::run(a),
        Cmd::Swarm(a) => swarm::run(a),
        Cmd::Seed(a) => a.into_options().and_then(session::run_blocking),
        Cmd::Download(a) => a.into_options().and_then(session::run_blocking),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(unix)]
fn restore_default_sigpipe() {
    // SAFETY: setting a signal's disposition to the default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}
