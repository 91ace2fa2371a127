//! `bt seed` and `bt download`: one torrent on real sockets, driven by engine-core.
//!
//! Startup checks the data on disk (resume by recheck), binds the listener and hands
//! everything to the [`actor::Actor`], which owns the engine-core `Torrent`. Connections
//! ([`crate::peer`]), disk jobs ([`disk`]) and announces ([`crate::announce`]) are tasks that
//! report back to it.

mod actor;
pub mod announcer;
pub mod cli;
pub mod disk;
mod magnet;
mod seniority;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use engine_core::policy::peer_set::PeerSet;
use engine_core::policy::seniority::Contribution;
use engine_core::policy::spec::PolicySpec;
use engine_core::protocol::bitfield::Bitfield;
use engine_core::protocol::magnet::MagnetLink;
use engine_core::protocol::metainfo::{Info, Metainfo};
use engine_core::time::Instant as CoreInstant;
use engine_core::torrent::{EngineSettings, Torrent, TorrentConfig, TorrentStats};
use indicatif::ProgressBar;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::peer;
use crate::progress::bytes_bar;
use crate::ratelimit::Bucket;
use crate::storage::{Mode, Storage};
use actor::{Actor, Finish, Internal, Whitewasher};
use announcer::Trackers;
use disk::Disk;

/// Outstanding requests per peer on real sockets: 64 keeps a loopback link busy (the thesis,
/// and the simulator's default, used 5).
pub const DEFAULT_PIPELINE: usize = 64;

/// Everything one run of `bt seed` / `bt download` needs.
#[derive(Clone, Debug)]
pub struct Options {
    pub torrent: PathBuf,
    /// Where the torrent's file (or top folder) lives or goes.
    pub dir: PathBuf,
    /// Seed: the data must be complete and the session runs until interrupted. Otherwise it
    /// downloads (and exits once every piece verifies if `exit_on_complete`).
    pub seed: bool,
    pub listen: SocketAddr,
    pub up: Option<f64>,
    pub down: Option<f64>,
    pub peers: Vec<SocketAddr>,
    pub max_peers: usize,
    /// Peers asked of the tracker per announce (`bt swarm`: the scenario's `tracker.numwant`).
    pub numwant: u32,
    /// The floor on the tracker's re-announce interval ([`announcer::MIN_ANNOUNCE_INTERVAL`]).
    pub min_announce_interval: Duration,
    pub timeout: Option<Duration>,
    /// The incentive policy (`bt --policy`).
    pub policy: PolicySpec,
    pub contribution: Contribution,
    /// Where our seniority server listens, and the port we query on peers' IPs.
    pub seniority_port: u16,
    pub seniority_query_port: u16,
    pub verbose: bool,
    /// Counts every byte read from peers; `bt experiment` reads it for the protocol overhead.
    pub received: Arc<AtomicU64>,
    /// Ends the session like Ctrl-C (with a `stopped` announce) when notified, so an
    /// in-process owner (`bt ondemand`) can stop one session and keep the tracker accurate.
    pub stop: Option<Arc<Notify>>,
    /// `bt download magnet:…`: fetch the info dictionary from peers instead of reading
    /// `torrent`.
    pub magnet: Option<MagnetLink>,
    /// Write the fetched metadata as a .torrent here.
    pub save_torrent: Option<PathBuf>,
    /// Return once every piece verifies; otherwise keep seeding until stopped (a completed
    /// download then ends successfully). `!seed` from the command line.
    pub exit_on_complete: bool,
    /// Notified when every piece has verified, so an owner (`bt swarm`) can time the download
    /// of a session that stays to seed.
    pub completed: Option<Arc<Notify>>,
    /// engine-core's choker, picker and pipeline depth; `bt swarm` runs a scenario's (with its
    /// intervals divided by the time scale), everyone else mainline's with `--pipeline`.
    pub engine: EngineSettings,
    /// No progress bar or status lines: an owner running many sessions reports for them.
    pub quiet: bool,
    /// Traffic the rate limits let through at once after a pause; `bt swarm` divides it by
    /// its time scale so bursts stay as long in scenario time as they would be unscaled.
    pub burst: Duration,
    /// Our BEP 3 peer id (`None`: a fresh random one). `bt swarm` gives each node a fixed
    /// one, and `whitewash` identities numbered from it (`nth_peer_id`), so its
    /// logs name nodes; its byte counts map peer ids to nodes by [`Report::peer_ids`].
    pub peer_id: Option<[u8; 20]>,
}

impl Options {
    /// A session's defaults: plain BitTorrent, the command line's defaults, no seniority
    /// server. Sessions started from code (`bt experiment`, `bt ondemand`) run them as they
    /// are; `bt seed`/`bt download` override them from their flags.
    pub fn in_process(torrent: &Path, dir: &Path, seed: bool, listen: SocketAddr) -> Options {
        Options {
            torrent: torrent.to_owned(),
            dir: dir.to_owned(),
            seed,
            listen,
            up: None,
            down: None,
            peers: Vec::new(),
            max_peers: 50,
            numwant: 50,
            min_announce_interval: announcer::MIN_ANNOUNCE_INTERVAL,
            timeout: None,
            policy: PolicySpec::Tft,
            contribution: Contribution {
                online_secs: 0.0,
                files_seeding: 1,
            },
            seniority_port: 0,
            seniority_query_port: 0,
            verbose: false,
            received: Default::default(),
            stop: None,
            magnet: None,
            save_torrent: None,
            exit_on_complete: !seed,
            completed: None,
            engine: EngineSettings {
                pipeline_depth: DEFAULT_PIPELINE,
                ..EngineSettings::default()
            },
            quiet: false,
            burst: crate::ratelimit::DEFAULT_BURST,
            peer_id: None,
        }
    }
}

/// Runs a session to its end on a fresh single-threaded runtime. Like libtorrent's network
/// thread, one thread runs the actor and every connection, while disk I/O and hashing run on
/// the blocking pool: with the per-block events and commands all on one thread, no wakeup
/// crosses threads, which on loopback downloads cut system time by half or more and wall time
/// by about a third against the multi-threaded scheduler.
pub fn run_blocking(opts: Options) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let res = rt.block_on(run(opts));
    // Disk jobs still running (a hash of a piece nobody waits for) must not delay the exit.
    rt.shutdown_timeout(Duration::from_secs(1));
    res.map(drop)
}

/// What a finished session measured, for an owner's report.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// engine-core's byte counters, over every identity's torrent.
    pub stats: TorrentStats,
    /// Block bytes sent to each remote peer id.
    pub uploaded_to: BTreeMap<[u8; 20], u64>,
    /// Our peer ids in order: one, or one per identity of a `whitewash` session.
    pub peer_ids: Vec<[u8; 20]>,
    /// Block bytes a `whitewash` session's identity changes threw away (received of pieces
    /// not verified by then).
    pub whitewash_discarded_bytes: u64,
}

/// Runs a session to its end.
pub async fn run(opts: Options) -> Result<Report> {
    let start = Instant::now();
    let peer_id = opts.peer_id.unwrap_or_else(new_peer_id);
    // Bound first: a magnet download announces its port before it has the metadata.
    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let local = listener.local_addr()?;
    let (meta, peers) = match &opts.magnet {
        Some(link) => magnet::fetch(&opts, link, peer_id, local.port(), start).await?,
        None => {
            let raw = std::fs::read(&opts.torrent)
                .with_context(|| format!("reading {}", opts.torrent.display()))?;
            let meta = Metainfo::from_bytes(&raw)
                .with_context(|| format!("parsing {}", opts.torrent.display()))?;
            (meta, opts.peers.clone())
        }
    };
    let info = &meta.info;
    let (storage, have) = open_and_check(&opts, info).await?;
    let total = info.total_len();
    if opts.seed && !have.is_full() {
        bail!(
            "{}: only {}/{} pieces of {:?} verify, cannot seed",
            opts.dir.display(),
            have.count(),
            have.len(),
            info.name
        );
    }
    let status = |line: std::fmt::Arguments| {
        if !opts.quiet {
            eprintln!("{line}");
        }
    };
    status(format_args!(
        "bt: {} {:?} ({} pieces, {} bytes), {}/{} verified on disk, listening on {local}",
        if opts.seed { "seeding" } else { "downloading" },
        info.name,
        have.len(),
        total,
        have.count(),
        have.len()
    ));
    if opts.seed {
        status(format_args!(
            "bt: magnet link {}",
            magnet::link_for(&meta, local).to_uri()
        ));
    }
    let mut cfg = TorrentConfig::for_node(
        info.geometry(),
        &opts.engine,
        opts.policy.clone(),
        opts.contribution,
        opts.up,
    );
    cfg.metadata = Some(meta.info_raw.clone().into());
    let torrent = Torrent::new(cfg, have.clone(), rand::random(), CoreInstant(0));
    let seniority_server = match torrent.own_weight() {
        Some(w) => {
            let at = SocketAddr::new(opts.listen.ip(), opts.seniority_port);
            let l = TcpListener::bind(at)
                .await
                .with_context(|| format!("seniority server on {at}"))?;
            status(format_args!("bt: seniority weight {w} served on {at}"));
            let w = Arc::new(seniority::Weight::new(w));
            Some((tokio::spawn(seniority::serve(l, w.clone())), w))
        }
        None => None,
    };
    let (events_tx, events) = mpsc::channel(actor::EVENT_QUEUE);
    let ctx = Arc::new(peer::Shared {
        info_hash: meta.info_hash,
        peer_id,
        geometry: info.geometry(),
        events: events_tx,
        disk: Arc::new(Disk::new(storage, info, &have)),
        up: Arc::new(Bucket::new(opts.up, opts.burst)),
        down: Arc::new(Bucket::new(opts.down, opts.burst)),
        burst: opts.burst,
        received: opts.received.clone(),
    });
    let trackers = Trackers::new(usable_trackers(&meta), local.port());
    let policy = opts.policy.peer_set(announcer::policy(
        opts.max_peers.max(1),
        opts.numwant,
        opts.min_announce_interval,
        None,
    ));
    let permits = Arc::new(Semaphore::new(policy.max_connections));
    let whitewash = opts.policy.whitewash_every().map(|every| {
        let mut w = Whitewasher::new(
            Duration::from_micros(every.0),
            local.ip(),
            policy.clone(),
            peers.clone(),
            peer_id,
            opts.peer_id.is_some(),
            verified_bytes(info, &have),
        );
        w.weight = seniority_server.as_ref().map(|(_, w)| w.clone());
        w
    });
    let mut peer_set = PeerSet::new(policy);
    if !trackers.is_empty() {
        peer_set.start_announcing(CoreInstant(0));
    }
    peer_set.learn(CoreInstant(0), peers.iter().copied());
    let bar = if opts.seed || opts.quiet {
        ProgressBar::hidden()
    } else {
        let bar = bytes_bar("downloading", total);
        bar.set_position(verified_bytes(info, &have));
        bar
    };
    let mut actor = Actor::new(
        torrent,
        ctx,
        events,
        permits.clone(),
        peer_set,
        trackers,
        bar,
        start,
    );
    actor.exit_on_complete = opts.exit_on_complete;
    actor.completed = opts.completed.clone();
    actor.deadline = opts.timeout.map(|t| start + t);
    actor.verbose = opts.verbose;
    actor.stop = opts.stop.clone();
    actor.whitewash = whitewash;
    // Port 0 (in-process sessions): no side channel; weights travel in the BEP 10 handshake.
    actor.seniority_query_port = seniority_server
        .is_some()
        .then_some(opts.seniority_query_port)
        .filter(|&p| p != 0);
    actor.listen(listener);
    let finish = actor.run().await;
    if let Some(a) = actor.accept.take() {
        a.abort();
    }
    if let Some((s, _)) = seniority_server {
        s.abort();
    }
    actor.announce_stopped().await;
    actor.bar.finish_and_clear();
    let have = actor.torrent.have();
    let report = Report {
        stats: actor.stats(),
        uploaded_to: std::mem::take(&mut actor.uploaded_to),
        peer_ids: actor.peer_ids(),
        whitewash_discarded_bytes: actor.whitewash.as_ref().map_or(0, |w| w.discarded),
    };
    match finish? {
        Finish::Completed => {
            let secs = start.elapsed().as_secs_f64();
            status(format_args!(
                "bt: downloaded {:?}: {total} bytes in {secs:.2} s ({:.1} MB/s)",
                info.name,
                total as f64 / secs / 1e6
            ));
            Ok(report)
        }
        Finish::Interrupted if opts.seed || have.is_full() => Ok(report),
        Finish::Interrupted => bail!(
            "interrupted with {}/{} pieces verified",
            have.count(),
            have.len()
        ),
    }
}

/// Opens the files and finds the pieces already present. A download into a directory holding
/// none of the torrent's files skips hashing the fresh (zero-filled) files.
async fn open_and_check(opts: &Options, info: &Info) -> Result<(Arc<Storage>, Bitfield)> {
    let at = || {
        format!(
            "opening the files of {:?} in {}",
            info.name,
            opts.dir.display()
        )
    };
    let storage = if opts.seed {
        Storage::open(&opts.dir, info, Mode::Read).with_context(at)?
    } else {
        std::fs::create_dir_all(&opts.dir)
            .with_context(|| format!("creating {}", opts.dir.display()))?;
        let probe = Storage::open(&opts.dir, info, Mode::Read).with_context(at)?;
        if !probe.files().iter().any(|f| f.path.exists()) {
            let storage = Storage::open(&opts.dir, info, Mode::ReadWrite).with_context(at)?;
            return Ok((Arc::new(storage), Bitfield::new(info.pieces.len() as u32)));
        }
        Storage::open(&opts.dir, info, Mode::ReadWrite).with_context(at)?
    };
    let storage = Arc::new(storage);
    let bar = bytes_bar("checking", info.total_len());
    let progress = bar.clone();
    let have = Disk::recheck(storage.clone(), info, move |n| progress.inc(n)).await?;
    bar.finish_and_clear();
    Ok((storage, have))
}

fn verified_bytes(info: &Info, have: &Bitfield) -> u64 {
    let g = info.geometry();
    have.iter_set().map(|i| u64::from(g.piece_size(i))).sum()
}

/// The torrent's `http://` and `udp://` trackers, BEP 12 tiers flattened in order; others
/// are skipped.
pub(crate) fn usable_trackers(meta: &Metainfo) -> Vec<String> {
    let (usable, other): (Vec<String>, Vec<String>) = meta
        .trackers()
        .into_iter()
        .partition(|u| crate::announce::supported(u));
    for u in other {
        eprintln!("warning: skipping tracker {u}: only http:// and udp:// trackers are supported");
    }
    usable
}

/// Azureus-style peer id: `-BT0001-` and 12 random alphanumerics.
pub(crate) fn new_peer_id() -> [u8; 20] {
    use rand::distributions::{Alphanumeric, Distribution};
    let mut id = *b"-BT0001-000000000000";
    let mut rng = rand::thread_rng();
    for b in &mut id[8..] {
        *b = Alphanumeric.sample(&mut rng);
    }
    id
}

/// Accepts connections while a connection permit is free; the actor starts their tasks.
pub(super) async fn accept_loop(
    listener: TcpListener,
    permits: Arc<Semaphore>,
    tx: mpsc::UnboundedSender<Internal>,
) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            // EMFILE and friends: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            continue; // full: dropping the stream refuses the peer
        };
        if tx
            .send(Internal::Accepted {
                stream,
                addr,
                permit,
            })
            .is_err()
        {
            return;
        }
    }
}
