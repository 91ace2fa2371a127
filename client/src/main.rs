//! `bt`: create and inspect torrents, run a tracker, seed and download on real sockets.
//!
//! All protocol decisions (choking, piece picking, upload allocation) come from engine-core;
//! this crate only moves bytes between sockets, disk and the core.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bt",
    version,
    about = "BitTorrent client and tracker on the engine-core sans-IO core"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    // Subcommands are added here, one variant each, dispatched in `main`.
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res: anyhow::Result<()> = match cli.cmd {};
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
