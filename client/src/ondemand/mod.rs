//! `bt ondemand`: on-demand seeding (seed 001). A controller watches the swarm through the
//! tracker's scrape and, while seeders/leechers is below the target ratio, starts extra
//! in-process `bt seed` sessions from a fixed pool.
//!
//! It exits 0, as the seed's `onDemandSeeding.js` does, when
//! 1. no leechers are left (or there were none at start),
//! 2. the ratio reaches the target without the seeders it added: the swarm stands on its own,
//!    so the extra seeders stop with the controller rather than seeding until leechers are
//!    gone (they are an expense, and the swarm no longer needs them),
//! 3. the ratio is already sufficient at start.
//!
//! Extra seeders stop gracefully (a `stopped` announce) so the tracker's counts stay true for
//! leechers and for the next controller.

mod scrape;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use engine_core::policy::ondemand::{self, Decision, Exit};
use engine_core::protocol::metainfo::Metainfo;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::session::{self, Options};
use crate::storage::{Mode, Storage};
use crate::torrent_file::load;
use crate::units::{parse_duration, parse_rate};
use scrape::{scrape, scrape_url, Counts};

/// Failed scrapes in a row after which the tracker counts as gone.
const MAX_SCRAPE_FAILURES: u32 = 3;
/// How long to wait for added seeders to show up in the scrape before deciding again.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Exits 0 when no leechers are left, when the swarm meets the ratio without the added
seeders, or when the ratio is already met at start; non-zero on errors or --max-time.

Examples:
  bt ondemand data.torrent /srv/data --ratio 1 --pool 3
  bt ondemand data.torrent /srv/data --ratio 0.5 --seeders 3 --leechers 8")]
pub struct OndemandArgs {
    /// The .torrent file (its first http:// tracker must support scrape).
    torrent: PathBuf,
    /// Directory holding the complete data, read-only, as for `bt seed`.
    dir: PathBuf,
    /// Target seeders per leecher, in [0, 1].
    #[arg(long, value_parser = parse_ratio)]
    ratio: f64,
    /// Most seeders to add.
    #[arg(long, default_value_t = 3)]
    pool: usize,
    /// Time between looks at the swarm.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    check: Duration,
    /// Upload limit of each added seeder, e.g. 500KB/s.
    #[arg(long, value_parser = parse_rate)]
    up: Option<f64>,
    /// Seeders to assume in the first round instead of the scraped count (testing).
    #[arg(long, requires = "leechers")]
    seeders: Option<u64>,
    /// Leechers to assume in the first round instead of the scraped count (testing).
    #[arg(long, requires = "seeders")]
    leechers: Option<u64>,
    /// Give up (exit non-zero, extra seeders stopped) after this long.
    #[arg(long, default_value = "10min", value_parser = parse_duration)]
    max_time: Duration,
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "{s:?} is not a seeder/leecher ratio in [0, 1] (e.g. 0.5)"
        )),
    }
}

pub fn run(args: OndemandArgs) -> Result<()> {
    let meta = load(&args.torrent)?;
    let announce = session::usable_trackers(&meta)
        .into_iter()
        .find(|u| u.starts_with("http://"))
        .ok_or_else(|| anyhow!("{}: no http:// tracker to scrape", args.torrent.display()))?;
    let scrape = scrape_url(&announce)?;
    check_data(&args, &meta)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let res = rt.block_on(Controller::new(args, meta.info_hash, scrape).run());
    rt.shutdown_timeout(Duration::from_secs(1));
    res
}

/// Fails early, before the swarm needs a seeder, if DIR could not seed.
fn check_data(args: &OndemandArgs, meta: &Metainfo) -> Result<()> {
    let at = || format!("{}: data of {:?}", args.dir.display(), meta.info.name);
    let storage = Storage::open(&args.dir, &meta.info, Mode::Read).with_context(at)?;
    let hashes = storage.hash_all(0, |_| {});
    let good = hashes
        .iter()
        .zip(&meta.info.pieces)
        .filter(|(got, want)| got.as_ref().is_ok_and(|h| h == *want))
        .count();
    if good != meta.info.pieces.len() {
        bail!(
            "{}: only {good}/{} pieces verify, cannot seed",
            at(),
            meta.info.pieces.len()
        );
    }
    Ok(())
}

/// One added seeder: an in-process `bt seed` session.
struct Extra {
    stop: Arc<Notify>,
    task: JoinHandle<Result<()>>,
    started: Instant,
}

struct Controller {
    args: OndemandArgs,
    info_hash: [u8; 20],
    scrape: String,
    start: Instant,
    extras: Vec<Extra>,
    /// Seeders added over the run, including any that failed.
    added: usize,
    /// Seconds the stopped extra seeders ran, summed (what on-demand seeding cost).
    seeder_secs: f64,
}

impl Controller {
    fn new(args: OndemandArgs, info_hash: [u8; 20], scrape: String) -> Self {
        Controller {
            args,
            info_hash,
            scrape,
            start: Instant::now(),
            extras: Vec::new(),
            added: 0,
            seeder_secs: 0.0,
        }
    }

    /// Runs the rounds, then stops the extra seeders whatever the outcome.
    async fn run(mut self) -> Result<()> {
        let max_time = self.args.max_time;
        let deadline = self.start + max_time;
        let res = tokio::select! {
            r = self.rounds() => r,
            _ = tokio::time::sleep_until(deadline.into()) => Err(anyhow!(
                "gave up after --max-time {max_time:?}: the swarm still needs seeders"
            )),
            _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
        };
        let stopped = self.stop_extras().await;
        println!(
            "ondemand: done after {:.1} s: {} seeders added, {:.1} seeder-seconds",
            self.start.elapsed().as_secs_f64(),
            self.added,
            self.seeder_secs
        );
        res.and(stopped)
    }

    async fn rounds(&mut self) -> Result<()> {
        // Scraping even with --seeders/--leechers: an unreachable tracker fails at once.
        let scraped = scrape(&self.scrape, &self.info_hash)
            .await
            .context("the tracker must answer scrapes to watch the swarm")?;
        let mut counts = match (self.args.seeders, self.args.leechers) {
            (Some(seeders), Some(leechers)) => Counts { seeders, leechers },
            _ => scraped,
        };
        let mut first = true;
        let mut failures = 0;
        loop {
            if self.decide(counts, first).await? {
                return Ok(());
            }
            first = false;
            tokio::time::sleep(self.args.check).await;
            self.check_extras().await?;
            match scrape(&self.scrape, &self.info_hash).await {
                Ok(c) => {
                    counts = c;
                    failures = 0;
                }
                Err(e) if failures + 1 < MAX_SCRAPE_FAILURES => {
                    failures += 1;
                    self.log(counts, &format!("skip round: {e:#}"));
                    continue;
                }
                Err(e) => return Err(e.context("the tracker stopped answering")),
            }
        }
    }

    /// One round's decision (engine-core's rules, shared with the simulator); true when the
    /// controller is done.
    async fn decide(&mut self, c: Counts, first: bool) -> Result<bool> {
        let added = self.extras.len() as u64;
        let round = ondemand::Round {
            seeders: c.seeders,
            leechers: c.leechers,
            added,
            pool_free: (self.args.pool - self.extras.len()) as u64,
            first,
        };
        match ondemand::decide(self.args.ratio, &round) {
            Decision::Exit(why) => {
                let why = match why {
                    Exit::NoLeechers if first => "exit: no leechers in the swarm",
                    Exit::NoLeechers => "exit: no leechers left",
                    Exit::AlreadySufficient => "exit: ratio already sufficient",
                    Exit::ReachedWithoutExtras => "exit: ratio reached without the added seeders",
                };
                self.log(c, why);
                Ok(true)
            }
            Decision::Hold => {
                if c.seeders as f64 >= self.args.ratio * c.leechers as f64 {
                    self.log(c, "hold: ratio met with the added seeders");
                } else {
                    self.log(c, &format!("hold: pool of {} in use", self.args.pool));
                }
                Ok(false)
            }
            Decision::Add(add) => {
                self.log(
                    c,
                    &format!(
                        "add {add} seeders ({}/{} of the pool)",
                        added + add,
                        self.args.pool
                    ),
                );
                for _ in 0..add {
                    self.add_extra();
                }
                self.await_announces(c.seeders + add).await;
                Ok(false)
            }
        }
    }

    fn add_extra(&mut self) {
        let stop = Arc::new(Notify::new());
        let listen = "0.0.0.0:0".parse().expect("literal address");
        let opts = Options {
            up: self.args.up,
            stop: Some(stop.clone()),
            ..Options::in_process(&self.args.torrent, &self.args.dir, true, listen)
        };
        self.added += 1;
        self.extras.push(Extra {
            stop,
            task: tokio::spawn(async { session::run(opts).await.map(drop) }),
            started: Instant::now(),
        });
    }

    /// Waits (bounded) until the scrape counts the new seeders, so the next round neither
    /// adds them again nor mistakes them for seeders the swarm has on its own.
    async fn await_announces(&self, seeders: u64) {
        let end = Instant::now() + ANNOUNCE_WAIT;
        while Instant::now() < end {
            match scrape(&self.scrape, &self.info_hash).await {
                Ok(c) if c.seeders >= seeders => return,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// An added seeder that ended on its own failed (bad data, no port): report it.
    async fn check_extras(&mut self) -> Result<()> {
        if let Some(i) = self.extras.iter().position(|e| e.task.is_finished()) {
            let e = self.extras.remove(i);
            self.seeder_secs += e.started.elapsed().as_secs_f64();
            e.task.await.context("an added seeder panicked")??;
            bail!("an added seeder stopped by itself");
        }
        Ok(())
    }

    async fn stop_extras(&mut self) -> Result<()> {
        let mut res = Ok(());
        for e in &mut self.extras {
            e.stop.notify_one();
            let ended = tokio::time::timeout(Duration::from_secs(10), &mut e.task).await;
            self.seeder_secs += e.started.elapsed().as_secs_f64();
            match ended {
                Ok(Ok(r)) => res = res.and(r.context("an added seeder failed")),
                Ok(Err(join)) => res = res.and(Err(anyhow!("an added seeder panicked: {join}"))),
                Err(_) => e.task.abort(),
            }
        }
        res
    }

    /// One decision: time since start, the counts it was made on, and what was done.
    fn log(&self, c: Counts, action: &str) {
        let ratio = if c.leechers == 0 {
            "-".to_owned()
        } else {
            format!("{:.2}", c.seeders as f64 / c.leechers as f64)
        };
        println!(
            "ondemand: t={:.1}s seeders={} leechers={} ratio={ratio} target={} action={action}",
            self.start.elapsed().as_secs_f64(),
            c.seeders,
            c.leechers,
            self.args.ratio
        );
    }
}
