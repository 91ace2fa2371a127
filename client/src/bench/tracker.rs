//! Tracker load generator: announces over keep-alive HTTP/1.1 connections on loopback
//! against an in-process `bt tracker`, each side on its own runtime and threads.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::tracker::{runtime, serve, ConnLimits, Limits, Tracker};

#[derive(clap::Args)]
#[command(after_help = "Example:\n  bt bench tracker --requests 1000000 --connections 64")]
pub struct TrackerBench {
    /// Announces to send in total.
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: u64,
    /// Requests in flight per connection (1: no pipelining).
    #[arg(long, default_value_t = 1)]
    pipeline: u64,
    /// Distinct torrents announced.
    #[arg(long, default_value_t = 1000)]
    torrents: u64,
    /// Distinct peers per torrent (each gets `numwant` = 50 peers back once swarms fill).
    #[arg(long, default_value_t = 50)]
    peers_per_torrent: u64,
    /// Tracker worker threads.
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// Load generator threads.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

pub fn run(args: TrackerBench) -> Result<()> {
    let limits = Limits {
        interval: Duration::from_secs(1800),
        max_torrents: args.torrents as usize + 1,
        max_peers_per_torrent: args.peers_per_torrent as usize + 1,
        max_peers: (args.torrents * (args.peers_per_torrent + 1)) as usize,
    };
    let tracker = Arc::new(Tracker::new(&limits, None));
    let server_rt = runtime(args.server_threads)?;
    let listener = server_rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let server = {
        let tracker = tracker.clone();
        std::thread::spawn(move || {
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            server_rt.block_on(async {
                let _stop_tx = stop_tx;
                tokio::select! {
                    r = serve(listener, tracker, ConnLimits { max_per_ip: 100_000, ..ConnLimits::new(100_000) }) => r,
                    _ = stop_rx => Ok(()),
                }
            })
        })
    };
    let queries = queries(&args);
    println!(
        "handler only (parse, swarm, encode), 1 thread: {:.0} announces/s",
        handler_only(&limits, &queries, args.requests)
    );
    let pool: Arc<Vec<Vec<u8>>> = Arc::new(
        queries
            .iter()
            .map(|q| format!("GET /announce?{q} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes())
            .collect(),
    );
    let per_conn = args.requests.div_ceil(args.connections);
    let client_rt = runtime(args.client_threads)?;
    let t = Instant::now();
    let ok = client_rt.block_on(async {
        let tasks: Vec<_> = (0..args.connections)
            .map(|c| tokio::spawn(connection(addr, pool.clone(), c, per_conn, args.pipeline)))
            .collect();
        let all = async {
            let mut ok = 0;
            for task in tasks {
                ok += task.await??;
            }
            anyhow::Ok(ok)
        };
        tokio::time::timeout(Duration::from_secs(args.timeout), all)
            .await
            .context("benchmark timed out")?
    })?;
    let secs = t.elapsed().as_secs_f64();
    drop(client_rt);
    let (torrents, peers) = tracker.stats();
    println!(
        "{ok} announces over {} connections (pipeline {}) in {secs:.2} s: {:.0} announces/s",
        args.connections,
        args.pipeline,
        ok as f64 / secs
    );
    println!(
        "tracker: {} server thread(s), {torrents} torrents, {peers} peers; load generator: {} thread(s)",
        args.server_threads, args.client_threads
    );
    // The server thread ends when the process does; it holds no state worth flushing.
    drop(server);
    Ok(())
}

/// Every (torrent, peer) announce query, pre-formatted so the generator spends its CPU on I/O.
fn queries(args: &TrackerBench) -> Vec<String> {
    let esc = |b: &[u8]| -> String { b.iter().map(|b| format!("%{b:02x}")).collect() };
    let mut out = Vec::new();
    for p in 0..args.peers_per_torrent {
        for t in 0..args.torrents {
            let mut hash = [0u8; 20];
            hash[..8].copy_from_slice(&t.to_be_bytes());
            hash[8] = 0xb7;
            let mut id = *b"-BT0001-000000000000";
            id[8..16].copy_from_slice(format!("{p:08}").as_bytes());
            out.push(format!(
                "info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={}&compact=1",
                esc(&hash),
                esc(&id),
                10_000 + p % 50_000,
                if p % 5 == 0 { 0 } else { 1 << 20 }
            ));
        }
    }
    out
}

/// The same announces without HTTP: what the swarm logic and encoding cost on one core.
fn handler_only(limits: &Limits, queries: &[String], n: u64) -> f64 {
    let tracker = Tracker::new(limits, None);
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let t = Instant::now();
    for q in queries.iter().cycle().take(n as usize) {
        std::hint::black_box(tracker.announce(q.as_bytes(), ip));
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// Sends `n` announces on one connection, `depth` at a time; returns how many succeeded.
async fn connection(
    addr: std::net::SocketAddr,
    pool: Arc<Vec<Vec<u8>>>,
    conn: u64,
    n: u64,
    depth: u64,
) -> Result<u64> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut out = Vec::new();
    let (mut sent, mut ok) = (0u64, 0u64);
    let mut next = (conn * 7919) as usize;
    while sent < n {
        let batch = depth.min(n - sent);
        out.clear();
        for _ in 0..batch {
            next = (next + 1) % pool.len();
            out.extend_from_slice(&pool[next]);
        }
        s.write_all(&out).await?;
        for _ in 0..batch {
            if read_response(&mut s, &mut buf).await? {
                ok += 1;
            }
        }
        sent += batch;
    }
    Ok(ok)
}

/// Reads one response; true if its body is an announce reply rather than a failure.
pub(super) async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<bool> {
    loop {
        if let Some(head_end) = find(buf, b"\r\n\r\n") {
            let len = content_length(&buf[..head_end]).context("response without length")?;
            let end = head_end + 4 + len;
            if buf.len() >= end {
                let ok = buf[head_end + 4..end].starts_with(b"d8:complete");
                buf.drain(..end);
                return Ok(ok);
            }
        }
        buf.reserve(16 * 1024);
        if s.read_buf(buf).await? == 0 {
            bail!("tracker closed the connection");
        }
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}
