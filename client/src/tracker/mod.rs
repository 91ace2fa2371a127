//! `bt tracker`: an in-memory HTTP tracker (BEP 3 announce, BEP 23 compact and dictionary
//! peers, BEP 7 `peers6`, BEP 48 scrape) and UDP tracker (BEP 15) on engine-core's swarm
//! logic: one core ([`Tracker`]), two front ends on the same port number.
//!
//! Abuse resistance: bounded torrents, peers per torrent, connections, request head size and
//! header read time; silent peers expire; every bad request gets a bencoded `failure reason`.

mod http;
mod state;
mod udp;

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

pub use http::{bind, serve, ConnLimits};
pub use state::{Limits, Tracker};
use udp::{serve_udp, UdpFront};

use crate::units::parse_info_hash;

#[derive(clap::Args)]
#[command(after_help = "\
Prints `listening on ADDR` once it accepts connections. Announce URLs: http://ADDR/announce
and udp://ADDR (BEP 15, the same port number), scrape URL: http://ADDR/scrape. Stop with
Ctrl-C or SIGTERM.

Examples:
  bt tracker --listen 0.0.0.0:6969
  bt tracker --listen 127.0.0.1:6969 --allow-list hashes.txt --interval 600")]
pub struct TrackerArgs {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:6969")]
    listen: SocketAddr,
    /// File of hex info-hashes, one per line (`#` starts a comment); others are refused.
    #[arg(long, value_name = "FILE")]
    allow_list: Option<PathBuf>,
    /// Seconds clients should wait between announces; peers silent for twice that are dropped.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    interval: u64,
    /// Most torrents tracked at once.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    max_torrents: usize,
    /// Most peers tracked per torrent.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_peers_per_torrent: usize,
    /// Most peers tracked over all torrents: with `--max-torrents`, what bounds memory.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    max_peers: usize,
    /// Most simultaneous client connections; more wait to be accepted.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_connections: usize,
    /// Most simultaneous connections from one IP address; more are closed at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    max_connections_per_ip: usize,
    /// Seconds a connection may take to send a request head (idle keep-alive included).
    #[arg(long, default_value_t = 15, value_name = "SECS")]
    header_timeout: u64,
    /// Worker threads [default: all cores].
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

pub fn run(args: TrackerArgs) -> Result<()> {
    let allow = args
        .allow_list
        .as_deref()
        .map(load_allow_list)
        .transpose()?;
    let limits = Limits {
        interval: Duration::from_secs(args.interval.max(1)),
        max_torrents: args.max_torrents,
        max_peers_per_torrent: args.max_peers_per_torrent,
        max_peers: args.max_peers,
    };
    let conns = ConnLimits {
        max_connections: args.max_connections,
        max_per_ip: args.max_connections_per_ip,
        header_timeout: Duration::from_secs(args.header_timeout.max(1)),
    };
    let tracker = Arc::new(Tracker::new(&limits, allow));
    runtime(args.threads)?.block_on(async {
        let listener =
            bind(args.listen).with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let udp = tokio::net::UdpSocket::bind(addr)
            .await
            .with_context(|| format!("listening on udp://{addr}"))?;
        // Write errors are ignored: whoever started us may have stopped reading our output.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = writeln!(out, "announce URL: http://{addr}/announce");
        let _ = writeln!(out, "announce URL: udp://{addr}");
        let _ = out.flush();
        drop(out);
        tokio::spawn(expire_periodically(tracker.clone(), limits.interval));
        let front = Arc::new(UdpFront::new(tracker.clone()));
        tokio::spawn(serve_udp(udp, front.clone()));
        let res = tokio::select! {
            res = serve(listener, tracker, conns) => res,
            res = shutdown_signal() => res,
        };
        let _ = writeln!(std::io::stderr(), "udp: {}", front.stats);
        res
    })
}

/// A current-thread runtime for one thread (no cross-thread wakeups), else a work-stealing one.
pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let mut b = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if threads > 1 {
            b.worker_threads(threads);
        }
        b
    };
    b.enable_all().build().context("starting the async runtime")
}

async fn expire_periodically(tracker: Arc<Tracker>, interval: Duration) {
    let every = (interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        tracker.expire();
    }
}

async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    let _ = writeln!(std::io::stderr(), "shutting down");
    Ok(())
}

fn load_allow_list(path: &Path) -> Result<HashSet<[u8; 20]>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut set = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let h = parse_info_hash(line).with_context(|| {
            format!(
                "{}:{}: {line:?} is not a 40-digit hex info-hash",
                path.display(),
                i + 1
            )
        })?;
        set.insert(h);
    }
    Ok(set)
}
