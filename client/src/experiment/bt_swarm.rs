//! The loopback swarm: our tracker for every client, and our seeder and leechers as in-process
//! sessions (each on an OS-chosen port, each leecher in its own fresh dir).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

use super::{Measured, SizeRun, LEECHERS};
use crate::session::{self, Options};
use crate::tracker::{self, Limits};

/// A `bt tracker` on a loopback port with its own runtime; dropping it stops everything that
/// ran on that runtime (tracker, seeder, stray connections).
pub struct Swarm {
    rt: Option<Runtime>,
    tracker: Arc<tracker::Tracker>,
    addr: SocketAddr,
}

impl Swarm {
    /// Starts the tracker; it asks peers to re-announce every `interval`.
    pub fn start(interval: Duration) -> Result<Swarm> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let limits = Limits {
            interval,
            max_torrents: 16,
            max_peers_per_torrent: 64,
            max_peers: 16 * 64,
        };
        let tracker = Arc::new(tracker::Tracker::new(&limits, None));
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .context("binding the tracker on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        rt.spawn(tracker::serve(
            listener,
            tracker.clone(),
            tracker::ConnLimits {
                max_per_ip: 1024,
                ..tracker::ConnLimits::new(1024)
            },
        ));
        Ok(Swarm {
            rt: Some(rt),
            tracker,
            addr,
        })
    }

    pub fn announce_url(&self) -> String {
        format!("http://{}/announce", self.addr)
    }

    /// Peers the tracker knows (over all torrents).
    pub fn peers(&self) -> usize {
        self.tracker.stats().1
    }

    /// The runtime the tracker runs on, for the owner's sessions.
    pub fn runtime(&self) -> &Runtime {
        self.rt.as_ref().expect("runtime lives until drop")
    }

    /// Our seeder, then per iteration three leechers started together.
    pub fn run_bt(&self, sr: &SizeRun, work: &Path) -> Result<Vec<Measured>> {
        let rt = self.runtime();
        let seeder = rt.spawn(session::run(options(sr.torrent, sr.seed_dir, true, None)));
        self.wait_for_peers(1, Duration::from_secs(30))?;
        let mut out = Vec::new();
        for it in 1..=sr.size.iterations {
            let dirs: Vec<_> = (1..=LEECHERS)
                .map(|k| work.join(format!("it{it}-l{k}")))
                .collect();
            let leechers: Vec<_> = dirs
                .iter()
                .map(|d| {
                    let opts = options(sr.torrent, d, false, Some(sr.limit));
                    let received = opts.received.clone();
                    let task = rt.spawn(async move {
                        let start = Instant::now();
                        session::run(opts).await.map(|_| start.elapsed())
                    });
                    (task, received)
                })
                .collect();
            for (k, (task, received)) in leechers.into_iter().enumerate() {
                let at = sr.at(it, k + 1);
                let elapsed = rt
                    .block_on(async {
                        tokio::time::timeout(sr.limit + Duration::from_secs(10), task).await
                    })
                    .map_err(|_| anyhow!("{at}: no result within {:?}", sr.limit))?
                    .with_context(|| format!("{at}: the session panicked"))?
                    .with_context(|| format!("{at}: stalled"))?;
                verify(&dirs[k].join(sr.file_name), sr.source, &at)?;
                out.push(Measured {
                    iteration: it,
                    leecher: k + 1,
                    secs: elapsed.as_secs_f64(),
                    bytes_received: received.load(std::sync::atomic::Ordering::Relaxed),
                });
            }
            for d in &dirs {
                std::fs::remove_dir_all(d).ok();
            }
        }
        seeder.abort();
        Ok(out)
    }

    /// Waits until the tracker lists `n` peers: leechers started before the tracker knows the
    /// seeder would wait a whole interval.
    pub fn wait_for_peers(&self, n: usize, limit: Duration) -> Result<()> {
        let end = Instant::now() + limit;
        while self.peers() < n {
            if Instant::now() > end {
                bail!(
                    "only {} of {n} seeder(s) reached the tracker within {limit:?}",
                    self.peers()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// The downloaded file must equal the source byte for byte (beyond the per-piece SHA-1).
pub fn verify(file: &Path, source: &[u8], at: &str) -> Result<()> {
    let got = std::fs::read(file).with_context(|| format!("{at}: reading result"))?;
    if got != source {
        bail!("{at}: downloaded data differs from the source");
    }
    Ok(())
}

fn options(torrent: &Path, dir: &Path, seed: bool, timeout: Option<Duration>) -> Options {
    let listen = "127.0.0.1:0".parse().expect("literal address");
    Options {
        timeout,
        ..Options::in_process(torrent, dir, seed, listen)
    }
}
