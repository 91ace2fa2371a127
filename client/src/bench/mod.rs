//! `bt bench`: throughput figures for this machine (printed, never asserted).

mod abuse;
mod hash;
mod tracker;

use anyhow::Result;

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// SHA-1 piece hashing as `bt create` does it, on one core and on all cores.
    Hash(hash::HashBench),
    /// Tracker announces per second over loopback keep-alive HTTP/1.1 connections.
    Tracker(tracker::TrackerBench),
    /// A `bt tracker` under attack: peak memory, announce rate, a good client's latency.
    TrackerAbuse(abuse::AbuseBench),
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.which {
        Which::Hash(a) => hash::run(a),
        Which::Tracker(a) => tracker::run(a),
        Which::TrackerAbuse(a) => abuse::run(a),
    }
}
