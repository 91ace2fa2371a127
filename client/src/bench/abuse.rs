//! `bt bench tracker-abuse`: a `bt tracker` child process under attack on loopback — random
//! announces, idle and trickling connections, malformed and oversized requests — while one
//! well-behaved client keeps announcing. Prints the tracker's peak memory, the attack's
//! announce rate and the good client's latency; fails if the tracker dies or panics.
//!
//! Attackers and the good client use different loopback addresses (127.0.0.1 for the flood,
//! 127.1.x.y for slow clients, 127.0.0.2 for the good client), as they would be different hosts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::tracker::{find, read_response};

#[derive(clap::Args)]
#[command(after_help = "Example:\n  bt bench tracker-abuse --announces 1000000 --slow 2000")]
pub struct AbuseBench {
    /// Announces with random info-hashes and peer ids; every other one goes to one of
    /// `--hot-torrents`, so those fill up to the per-torrent cap.
    #[arg(long, default_value_t = 1_000_000)]
    announces: u64,
    /// Torrents that get half of the announces.
    #[arg(long, default_value_t = 16)]
    hot_torrents: u64,
    /// Flooding keep-alive connections (16 requests pipelined on each).
    #[arg(long, default_value_t = 32)]
    connections: u64,
    /// Slow clients: half open a connection and send nothing, half send a byte every 2 s;
    /// each reconnects when closed, until the flood ends.
    #[arg(long, default_value_t = 2000)]
    slow: u64,
    /// Malformed or oversized requests, each on its own connection.
    #[arg(long, default_value_t = 20_000)]
    malformed: u64,
    /// Extra flags for `bt tracker` (caps, timeouts), e.g. "--max-torrents 1000".
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    tracker_args: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// What a malformed request got back.
#[derive(Default)]
struct Outcomes {
    bencoded_failure: AtomicU64,
    http_error: AtomicU64,
    closed: AtomicU64,
    /// A 200 without `failure reason`: a malformed request was accepted (a bug).
    accepted: AtomicU64,
}

pub fn run(args: AbuseBench) -> Result<()> {
    let mut tracker = TrackerChild::start(&args.tracker_args)?;
    let addr = tracker.addr;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(args.timeout),
            attack(&args, addr, tracker.pid()),
        )
        .await
        .context("benchmark timed out")?
    });
    drop(rt);
    let alive = tracker.child.try_wait()?.is_none();
    let log = tracker.stop();
    let report = report?;
    let mut lat = report.good_latency_us;
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)));
    let ms = |v: Option<&u64>| v.map_or(f64::NAN, |v| *v as f64 / 1000.0);
    println!(
        "flood: {} announces in {:.2} s = {:.0}/s ({} answered with peers, {} refused by a cap)",
        report.sent,
        report.secs,
        report.sent as f64 / report.secs,
        report.ok,
        report.refused
    );
    println!(
        "slow clients: {} connections closed by the tracker after a median {:.1} s idle",
        report.slow_closed, report.slow_close_median_s
    );
    let o = &report.malformed;
    println!(
        "malformed: {} bencoded failures, {} HTTP errors, {} closed, {} accepted",
        o.bencoded_failure.load(Ordering::Relaxed),
        o.http_error.load(Ordering::Relaxed),
        o.closed.load(Ordering::Relaxed),
        o.accepted.load(Ordering::Relaxed)
    );
    println!(
        "good client: {}/{} announces answered, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.good_ok,
        report.good_sent,
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(lat.last())
    );
    println!(
        "tracker memory: VmHWM {} MiB, VmRSS {} MiB at the end of the flood",
        report.hwm_kib / 1024,
        report.rss_kib / 1024
    );
    let panicked = log.contains("panicked");
    println!("tracker alive: {alive}; panics in its log: {panicked}");
    if !alive || panicked || o.accepted.load(Ordering::Relaxed) > 0 {
        bail!("the tracker misbehaved; its log:\n{log}");
    }
    Ok(())
}

struct Report {
    sent: u64,
    ok: u64,
    refused: u64,
    secs: f64,
    slow_closed: u64,
    slow_close_median_s: f64,
    malformed: Arc<Outcomes>,
    good_sent: u64,
    good_ok: u64,
    good_latency_us: Vec<u64>,
    hwm_kib: u64,
    rss_kib: u64,
}

async fn attack(args: &AbuseBench, addr: SocketAddr, pid: u32) -> Result<Report> {
    let done = Arc::new(AtomicBool::new(false));
    let slow: Vec<_> = (0..args.slow)
        .map(|i| tokio::spawn(slow_client(addr, i, done.clone())))
        .collect();
    // Its own thread and runtime: its latency is the tracker's, not the load generator's.
    let good = {
        let done = done.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(good_client(addr, done))
        })
    };
    let malformed = Arc::new(Outcomes::default());
    let bad: Vec<_> = (0..8)
        .map(|w| {
            tokio::spawn(malformed_worker(
                addr,
                w,
                args.malformed / 8,
                malformed.clone(),
            ))
        })
        .collect();
    let t = Instant::now();
    let per_conn = args.announces.div_ceil(args.connections);
    let flood: Vec<_> = (0..args.connections)
        .map(|c| tokio::spawn(flood(addr, c, per_conn, args.hot_torrents.max(1))))
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for f in flood {
        let (o, r) = f.await??;
        ok += o;
        refused += r;
    }
    let secs = t.elapsed().as_secs_f64();
    let (hwm_kib, rss_kib) = memory(pid)?;
    for b in bad {
        b.await??;
    }
    done.store(true, Ordering::Relaxed);
    let mut closes = Vec::new();
    for s in slow {
        closes.extend(s.await?);
    }
    closes.sort_by(f64::total_cmp);
    let (good_sent, good_ok, good_latency_us) = good
        .join()
        .map_err(|_| anyhow::anyhow!("good client panicked"))??;
    Ok(Report {
        sent: ok + refused,
        ok,
        refused,
        secs,
        slow_closed: closes.len() as u64,
        slow_close_median_s: closes.get(closes.len() / 2).copied().unwrap_or(f64::NAN),
        malformed,
        good_sent,
        good_ok,
        good_latency_us,
        hwm_kib,
        rss_kib,
    })
}

/// `n` random announces pipelined 16 deep on one connection: `(answered, refused)`.
async fn flood(addr: SocketAddr, conn: u64, n: u64, hot: u64) -> Result<(u64, u64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(conn);
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let (mut sent, mut ok) = (0, 0);
    while sent < n {
        let batch = 16.min(n - sent);
        out.clear();
        for _ in 0..batch {
            let mut hash: [u8; 20] = rng.gen();
            if rng.gen() {
                hash = [0xee; 20];
                hash[..8].copy_from_slice(&rng.gen_range(0..hot).to_be_bytes());
            }
            let q = announce_query(&hash, &rng.gen(), rng.gen_range(1..65535));
            out.extend_from_slice(
                format!("GET /announce?{q} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
            );
        }
        s.write_all(&out).await?;
        for _ in 0..batch {
            ok += u64::from(read_response(&mut s, &mut buf).await?);
        }
        sent += batch;
    }
    Ok((ok, n - ok))
}

/// Holds connections open without completing a request, reconnecting whenever the tracker
/// closes one, until `done`; returns how long each connection lasted, in seconds.
async fn slow_client(addr: SocketAddr, i: u64, done: Arc<AtomicBool>) -> Vec<f64> {
    // 32 per source address, below the per-IP cap: a distributed attack.
    let ip = Ipv4Addr::new(127, 1, (i / 32 / 250) as u8, (i / 32 % 250 + 1) as u8);
    let mut lasted = Vec::new();
    while !done.load(Ordering::Relaxed) {
        let Ok(mut s) = connect_from(IpAddr::V4(ip), addr).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let t = Instant::now();
        let mut byte = [0u8; 1];
        loop {
            if i % 2 == 1 && s.write_all(b"G").await.is_err() {
                break;
            }
            let wait = tokio::time::timeout(Duration::from_secs(2), s.read(&mut byte)).await;
            if matches!(wait, Ok(Ok(0) | Err(_))) || done.load(Ordering::Relaxed) {
                break;
            }
        }
        if !done.load(Ordering::Relaxed) {
            lasted.push(t.elapsed().as_secs_f64());
        }
    }
    lasted
}

/// One announce every 50 ms on a fresh connection from 127.0.0.2 until `done`:
/// `(sent, answered, latencies in µs)`.
async fn good_client(addr: SocketAddr, done: Arc<AtomicBool>) -> Result<(u64, u64, Vec<u64>)> {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let q = announce_query(&[0x60; 20], b"-GOOD01-goodclient01", 6881);
    let req = format!("GET /announce?{q} HTTP/1.1\r\nHost: t\r\n\r\n");
    let (mut sent, mut ok, mut lat) = (0, 0, Vec::new());
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while !done.load(Ordering::Relaxed) {
        tick.tick().await;
        sent += 1;
        let t = Instant::now();
        let one = async {
            let mut s = connect_from(ip, addr).await?;
            s.write_all(req.as_bytes()).await?;
            read_response(&mut s, &mut Vec::new()).await
        };
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(10), one).await {
            ok += 1;
            lat.push(t.elapsed().as_micros() as u64);
        }
    }
    Ok((sent, ok, lat))
}

/// `n` bad requests from 127.0.0.3, cycling through the kinds of [`bad_request`].
async fn malformed_worker(addr: SocketAddr, w: u64, n: u64, out: Arc<Outcomes>) -> Result<()> {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    for i in 0..n {
        let req = bad_request(w * n + i);
        let res = async {
            let mut s = connect_from(ip, addr).await?;
            // The tracker may close before reading everything: a failed write is an answer.
            let _ = s.write_all(&req).await;
            let mut buf = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), read_to_head_end(&mut s, &mut buf))
                    .await;
            anyhow::Ok(buf)
        };
        let buf = res.await?;
        let counter = match std::str::from_utf8(buf.get(9..12).unwrap_or_default()) {
            _ if buf.is_empty() => &out.closed,
            Ok("200") if find(&buf, b"14:failure reason").is_some() => &out.bencoded_failure,
            Ok("200") => &out.accepted,
            _ => &out.http_error,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Reads until the connection closes or a whole small response has arrived.
async fn read_to_head_end(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<()> {
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(buf, b"\r\n\r\n") {
            // Failure bodies are short; give them a moment to follow the head.
            if buf.len() > end + 4 || find(buf, b"content-length: 0").is_some() {
                return Ok(());
            }
        }
    }
}

/// The `i`-th malformed request: oversized heads and queries, binary garbage, bad escapes,
/// missing fields, wrong methods with large bodies, and unknown paths.
fn bad_request(i: u64) -> Vec<u8> {
    let h = "%aa".repeat(20);
    match i % 8 {
        0 => format!(
            "GET /announce?info_hash={h} HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(100_000)
        )
        .into_bytes(),
        1 => format!(
            "GET /announce?info_hash={h}&pad={} HTTP/1.1\r\n\r\n",
            "b".repeat(20_000)
        )
        .into_bytes(),
        2 => (0..4096u32)
            .map(|b| (b.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect(),
        3 => b"GET /announce?info_hash=%G1%ZZ&peer_id=x&port=1&left=0 HTTP/1.1\r\n\r\n".to_vec(),
        4 => b"GET /announce?peer_id=-AA0001-aaaaaaaaaaaa&port=1 HTTP/1.1\r\n\r\n".to_vec(),
        5 => format!(
            "POST /announce HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n{}",
            "c".repeat(65_536)
        )
        .into_bytes(),
        6 => format!("GET /announce?info_hash={h}&peer_id={h}&port=99999&left=-1 HTTP/1.1\r\n\r\n")
            .into_bytes(),
        _ => b"GET /../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
    }
}

fn announce_query(hash: &[u8; 20], id: &[u8; 20], port: u16) -> String {
    let esc = |b: &[u8]| -> String { b.iter().map(|b| format!("%{b:02x}")).collect() };
    format!(
        "info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left=1000&compact=1",
        esc(hash),
        esc(id)
    )
}

async fn connect_from(ip: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(ip, 0))?;
    s.connect(to).await
}

/// `(VmHWM, VmRSS)` of process `pid` in KiB.
fn memory(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| {
                l.strip_prefix(k)?
                    .trim()
                    .strip_suffix(" kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .with_context(|| format!("no {k} in /proc/{pid}/status"))
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

/// `bt tracker` on a free loopback port, its stderr kept for the panic check.
struct TrackerChild {
    child: Child,
    addr: SocketAddr,
    log: tempfile::NamedTempFile,
}

impl TrackerChild {
    fn start(extra: &str) -> Result<TrackerChild> {
        use std::io::BufRead;
        let log = tempfile::NamedTempFile::new()?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["tracker", "--listen", "127.0.0.1:0", "--threads", "1"])
            .args(extra.split_whitespace())
            .stdout(Stdio::piped())
            .stderr(log.reopen()?)
            .spawn()
            .context("starting bt tracker")?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("tracker stdout")?;
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            bail!("bt tracker did not start: {line:?}");
        };
        let addr = addr.parse()?;
        Ok(TrackerChild { child, addr, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the tracker and returns its log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for TrackerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
