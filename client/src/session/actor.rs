//! The torrent actor: one task owns the engine-core `Torrent` and makes every decision. It
//! feeds the core what connections, the disk and timers report, and carries out what the core
//! asks (send, cap, upload, hash, disconnect). Connections and disk jobs are separate tasks.
//! A `whitewash` session's identity changes are in [`whitewash`].

mod whitewash;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use engine_core::policy::peer_set::{Action, Announce, PeerSet};
use engine_core::time::Instant as CoreInstant;
use engine_core::torrent::{DisconnectReason, Input, Output, Torrent};
use engine_core::tracker::AnnounceEvent;
use indicatif::ProgressBar;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::announce;
use crate::peer::{self, Command, ConnId, Event};
use crate::ratelimit::Bucket;
use crate::session::announcer::{core_duration, core_time, wall_time, Trackers};
use crate::session::seniority;
pub use whitewash::Whitewasher;

/// Most blocks handed to a connection's writer ahead of the socket: enough to keep a fast one
/// busy across the actor's round trip.
const UPLOAD_QUEUE: usize = 4;
/// ...but never more than the connection sends in this long at its rate limit. A queued block
/// is already handed out, so it still goes after a choke: at the per-peer caps of the seniority
/// allocator (a few kB/s) four blocks were ten seconds of upload to a peer the choker had
/// dropped, which blurred tit-for-tat and the seniority ordering on real sockets (issue #17).
/// The simulator hands out the next block when the previous one is sent, as one block does.
const UPLOAD_QUEUE_TIME: f64 = 0.02;

/// Connection events queued for the actor (bounded: a peer that floods us stalls on TCP
/// backpressure).
pub const EVENT_QUEUE: usize = 1024;

/// Most connection events handled between two drains of the core.
const EVENT_BATCH: usize = 64;

/// What the actor's own helper tasks report.
pub enum Internal {
    /// A hash verdict (and why the piece was unreadable, if it was); `Err` is a failed write.
    Hashed {
        piece: u32,
        verdict: Result<(bool, Option<String>)>,
    },
    Announced {
        event: AnnounceEvent,
        result: Result<announce::Response>,
    },
    /// A peer's weight from its seniority server.
    Seniority { conn: ConnId, result: Result<f64> },
    Accepted {
        stream: TcpStream,
        addr: SocketAddr,
        permit: OwnedSemaphorePermit,
    },
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Finish {
    Completed,
    Interrupted,
}

struct PeerHandle {
    addr: SocketAddr,
    peer_id: [u8; 20],
    commands: mpsc::UnboundedSender<Command>,
    cap: Arc<Bucket>,
    uploads_queued: usize,
}

pub struct Actor {
    pub torrent: Torrent,
    pub ctx: Arc<peer::Shared>,
    pub events: mpsc::Receiver<Event>,
    pub internal_tx: mpsc::UnboundedSender<Internal>,
    pub internal: mpsc::UnboundedReceiver<Internal>,
    pub permits: Arc<Semaphore>,
    /// Whom to dial and accept, and when to announce (engine-core's policy).
    pub peer_set: PeerSet<SocketAddr>,
    pub trackers: Trackers,
    pub bar: ProgressBar,
    /// Exit when the download completes (`bt download`), or keep seeding.
    pub exit_on_complete: bool,
    pub deadline: Option<Instant>,
    /// Stops the run like Ctrl-C when notified.
    pub stop: Option<Arc<Notify>>,
    /// Notified once when the download completes.
    pub completed: Option<Arc<Notify>>,
    pub verbose: bool,
    /// Query each new peer's seniority server on this port (when we run the mechanism).
    pub seniority_query_port: Option<u16>,
    /// Session start: engine-core time is microseconds since then.
    pub start: Instant,
    /// Block bytes handed to each remote peer id's connections, over all of them: a peer that
    /// reconnects is one peer (`bt swarm`'s pairs.csv).
    pub uploaded_to: BTreeMap<[u8; 20], u64>,
    /// The task accepting connections on our listening port ([`Actor::listen`]).
    pub accept: Option<JoinHandle<()>>,
    /// Changes our identity every so often (policy `whitewash`).
    pub whitewash: Option<Whitewasher>,
    peers: BTreeMap<ConnId, PeerHandle>,
    dialing: BTreeMap<ConnId, SocketAddr>,
    pending_hash: BTreeSet<u32>,
    next_conn: ConnId,
}

impl Actor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        torrent: Torrent,
        ctx: Arc<peer::Shared>,
        events: mpsc::Receiver<Event>,
        permits: Arc<Semaphore>,
        peer_set: PeerSet<SocketAddr>,
        trackers: Trackers,
        bar: ProgressBar,
        start: Instant,
    ) -> Self {
        let (internal_tx, internal) = mpsc::unbounded_channel();
        Actor {
            torrent,
            ctx,
            events,
            internal_tx,
            internal,
            permits,
            peer_set,
            trackers,
            bar,
            exit_on_complete: true,
            deadline: None,
            stop: None,
            completed: None,
            verbose: false,
            seniority_query_port: None,
            start,
            uploaded_to: BTreeMap::new(),
            accept: None,
            whitewash: None,
            peers: BTreeMap::new(),
            dialing: BTreeMap::new(),
            pending_hash: BTreeSet::new(),
            next_conn: 1,
        }
    }

    /// The driver loop: drain the core, then wait for the next event or timer.
    pub async fn run(&mut self) -> Result<Finish> {
        let external = self.stop.clone();
        let stop = async move {
            match external {
                Some(n) => tokio::select! {
                    _ = shutdown_signal() => {}
                    _ = n.notified() => {}
                },
                None => shutdown_signal().await,
            }
        };
        tokio::pin!(stop);
        loop {
            self.drain();
            if self.exit_on_complete && self.torrent.is_complete() {
                return Ok(Finish::Completed);
            }
            self.peer_actions();
            let wake = self.next_wake();
            tokio::select! {
                Some(ev) = self.events.recv() => {
                    self.on_event(ev)?;
                    // What else is queued goes in before the next drain, so the requests
                    // it triggers reach each connection's writer together (one flush).
                    for _ in 1..EVENT_BATCH {
                        let Ok(ev) = self.events.try_recv() else { break };
                        self.on_event(ev)?;
                    }
                }
                Some(ev) = self.internal.recv() => self.on_internal(ev)?,
                _ = tokio::time::sleep_until(wake.into()) => self.on_timer().await?,
                _ = &mut stop => return Ok(Finish::Interrupted),
            }
        }
    }

    fn now(&self) -> CoreInstant {
        core_time(self.start, Instant::now())
    }

    /// Whether the core applied `input`. A rejected input needs nothing more from us: a
    /// protocol violation among them already came out as `Output::Disconnect`, the rest
    /// (e.g. a late message, or a verdict for the torrent of an identity we dropped) are
    /// just ignored.
    fn input(&mut self, input: Input) -> bool {
        let now = self.now();
        self.torrent.handle_input(now, input).is_ok()
    }

    /// Accepts peers on `listener` from now on, in place of any earlier listener (closed, so
    /// peers dialing it are refused).
    pub fn listen(&mut self, listener: TcpListener) {
        if let Some(old) = self.accept.take() {
            old.abort();
        }
        let (permits, tx) = (self.permits.clone(), self.internal_tx.clone());
        self.accept = Some(tokio::spawn(super::accept_loop(listener, permits, tx)));
    }

    /// Ends our tracker membership (a `completed` first if one is owed) and waits for the
    /// answers: at the end of the session, and before a `whitewash` identity change.
    pub async fn announce_stopped(&mut self) {
        for a in self.peer_set.stop() {
            if let Some(url) = self.trackers.url() {
                let req = self.announce_request(a);
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), announce::announce(&url, &req))
                        .await;
            }
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.torrent.poll_output() {
            match out {
                Output::Send { peer, msg } => self.command(peer, Command::Send(msg)),
                Output::SetUploadCap { peer, cap } => {
                    if let Some(p) = self.peers.get(&peer) {
                        p.cap.set_rate(cap);
                    }
                }
                Output::UploadReady { peer } => self.pull_uploads(peer),
                Output::Verify { piece } => {
                    self.pending_hash.insert(piece);
                }
                Output::Disconnect { peer, reason } => self.disconnect(peer, reason),
                Output::Completed => {
                    let now = self.now();
                    self.peer_set.completed(now);
                    if let Some(n) = &self.completed {
                        n.notify_one();
                    }
                }
            }
        }
        self.start_hashes();
    }

    fn on_event(&mut self, ev: Event) -> Result<()> {
        match ev {
            Event::Connected(c) => {
                let dup = self.peers.values().any(|p| p.peer_id == c.peer_id);
                self.dialing.remove(&c.conn);
                if c.peer_id == self.ctx.peer_id {
                    self.peer_set.ban(c.addr);
                    return Ok(());
                }
                if dup {
                    // Dropping `c.commands` closes the connection.
                    let now = self.now();
                    self.peer_set.closed(now, &c.addr, false);
                    return Ok(());
                }
                self.peer_set.connected(c.addr);
                self.log(format_args!("connected to {} (conn {})", c.addr, c.conn));
                self.peers.insert(
                    c.conn,
                    PeerHandle {
                        addr: c.addr,
                        peer_id: c.peer_id,
                        commands: c.commands,
                        cap: c.upload_cap,
                        uploads_queued: 0,
                    },
                );
                if let Some(port) = self.seniority_query_port {
                    let (conn, tx) = (c.conn, self.internal_tx.clone());
                    let at = SocketAddr::new(c.addr.ip(), port);
                    tokio::spawn(async move {
                        let result = seniority::query(at).await;
                        let _ = tx.send(Internal::Seniority { conn, result });
                    });
                }
                let (peer, fast, extensions) = (c.conn, c.fast, c.extensions);
                self.input(Input::Connected {
                    peer,
                    fast,
                    extensions,
                });
            }
            Event::Message { conn, msg } if self.peers.contains_key(&conn) => {
                self.input(Input::Message { peer: conn, msg });
            }
            Event::Message { .. } => {}
            Event::Block { conn, block } => {
                self.input(Input::Block { peer: conn, block });
            }
            Event::Uploaded { conn } => {
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.uploads_queued -= 1;
                    self.pull_uploads(conn);
                }
            }
            Event::Closed { conn, error } => self.closed(conn, error),
            Event::DiskFailed(e) => bail!("disk failure: {e}"),
        }
        Ok(())
    }

    fn on_internal(&mut self, ev: Internal) -> Result<()> {
        match ev {
            Internal::Hashed { piece, verdict } => {
                let (ok, error) = verdict.map_err(|e| anyhow!("disk failure: {e:#}"))?;
                if let Some(e) = error {
                    self.log(format_args!("piece {piece}: {e}"));
                }
                if self.input(Input::Verified { piece, ok }) && ok {
                    let g = self.ctx.geometry;
                    self.bar.inc(u64::from(g.piece_size(piece)));
                    // Printed once the piece is on disk: the crash test checks every piece
                    // reported here survives a kill -9.
                    self.log(format_args!("piece {piece} verified"));
                }
            }
            Internal::Announced { event, result } => match result {
                Ok(r) => {
                    if let Some(w) = &r.warning {
                        self.log(format_args!("tracker warning: {w}"));
                    }
                    let now = self.now();
                    self.peer_set.learn(now, r.peers);
                    self.peer_set
                        .announced(now, event, Some(core_duration(r.interval)));
                }
                Err(e) => {
                    self.bar.suspend(|| eprintln!("warning: {e:#}"));
                    self.trackers.failed();
                    let now = self.now();
                    self.peer_set.announced(now, event, None);
                }
            },
            Internal::Seniority { conn, result } => match result {
                Ok(weight) => {
                    self.log(format_args!(
                        "conn {conn}: seniority {weight} (side channel)"
                    ));
                    self.input(Input::PeerSeniority { peer: conn, weight });
                }
                // A peer without the mechanism does not answer and counts as 1.0.
                Err(e) => self.log(format_args!("conn {conn}: {e:#}")),
            },
            Internal::Accepted {
                stream,
                addr,
                permit,
            } => {
                if !self.peer_set.accepts(&addr) {
                    return Ok(()); // dropping the stream refuses the peer
                }
                self.peer_set.connected(addr);
                let conn = self.next_conn();
                self.dialing.insert(conn, addr);
                tokio::spawn(peer::run(
                    self.ctx.clone(),
                    conn,
                    addr,
                    Some(stream),
                    permit,
                ));
            }
        }
        Ok(())
    }

    async fn on_timer(&mut self) -> Result<()> {
        let now = Instant::now();
        if self.whitewash_due().is_some_and(|t| t <= now) {
            return self.whitewash().await;
        }
        if let Some(d) = self.deadline.filter(|d| *d <= now) {
            let have = self.torrent.have();
            bail!(
                "gave up after {:.0?}: {}/{} pieces verified, {} peers connected",
                d - self.start,
                have.count(),
                have.len(),
                self.peers.len()
            );
        }
        self.input(Input::Timeout);
        Ok(())
    }

    fn next_wake(&self) -> Instant {
        let at = |t| wall_time(self.start, t);
        [
            self.torrent.poll_timeout().map(at),
            self.peer_set.poll_timeout().map(at),
            self.deadline,
            self.whitewash_due(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(60))
    }

    /// Spawns an announce with current counters; the answer comes back as `Internal`.
    fn announce(&mut self, a: Announce) {
        let Some(url) = self.trackers.url() else {
            return;
        };
        let req = self.announce_request(a);
        let (tx, event) = (self.internal_tx.clone(), a.event);
        tokio::spawn(async move {
            let result = announce::announce(&url, &req).await;
            let _ = tx.send(Internal::Announced { event, result });
        });
    }

    /// Bytes of the pieces we have verified.
    fn verified_bytes(&self) -> u64 {
        let g = self.ctx.geometry;
        let have = self.torrent.have();
        have.iter_set().map(|i| u64::from(g.piece_size(i))).sum()
    }

    pub fn announce_request(&self, a: Announce) -> announce::Request {
        let g = self.ctx.geometry;
        let have_bytes = self.verified_bytes();
        let stats = self.torrent.stats();
        announce::Request {
            info_hash: self.ctx.info_hash,
            peer_id: self.ctx.peer_id,
            port: self.trackers.port,
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            left: g.total_len - have_bytes,
            event: a.event,
            numwant: a.numwant,
        }
    }

    /// Carries out what the peer set asks now: dials (each holding a connection permit; the
    /// semaphore is also what the accept loop takes) and announces.
    fn peer_actions(&mut self) {
        let now = self.now();
        while let Some(action) = self.peer_set.poll_action(now) {
            match action {
                Action::Dial(addr) => {
                    let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                        // An accepted connection took the slot first: retry later.
                        self.peer_set.closed(now, &addr, false);
                        continue;
                    };
                    let conn = self.next_conn();
                    self.dialing.insert(conn, addr);
                    tokio::spawn(peer::run(self.ctx.clone(), conn, addr, None, permit));
                }
                Action::Announce(a) => self.announce(a),
            }
        }
    }

    fn next_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }

    fn command(&mut self, peer: ConnId, cmd: Command) {
        if let Some(p) = self.peers.get(&peer) {
            // A send fails only once the connection is gone; `Closed` follows.
            let _ = p.commands.send(cmd);
        }
    }

    /// Pulls blocks from the core while the connection's writer has room for them.
    fn pull_uploads(&mut self, conn: ConnId) {
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        let depth = upload_depth(
            [p.cap.rate(), self.ctx.up.rate()],
            self.ctx.geometry.block_len,
        );
        while p.uploads_queued < depth {
            let Some(block) = self.torrent.next_upload(conn) else {
                break;
            };
            // Counted as engine-core counts its `uploaded`: when the block is handed out.
            *self.uploaded_to.entry(p.peer_id).or_default() += u64::from(block.length);
            if p.commands.send(Command::Upload(block)).is_err() {
                break;
            }
            p.uploads_queued += 1;
        }
    }

    /// Hashes every complete piece whose block writes have all landed.
    fn start_hashes(&mut self) {
        let ready: Vec<u32> = self
            .pending_hash
            .iter()
            .copied()
            .filter(|&p| self.ctx.disk.try_begin_hash(p))
            .collect();
        for piece in ready {
            self.pending_hash.remove(&piece);
            let (disk, tx) = (self.ctx.disk.clone(), self.internal_tx.clone());
            tokio::spawn(async move {
                let verdict = disk.hash(piece).await;
                let _ = tx.send(Internal::Hashed { piece, verdict });
            });
        }
    }

    fn disconnect(&mut self, conn: ConnId, reason: DisconnectReason) {
        let Some(p) = self.peers.remove(&conn) else {
            return;
        };
        self.log(format_args!("disconnecting {}: {reason:?}", p.addr));
        if reason == DisconnectReason::BadData {
            self.peer_set.ban(p.addr);
        }
        self.input(Input::Disconnected { peer: conn });
    }

    fn closed(&mut self, conn: ConnId, error: Option<String>) {
        let now = self.now();
        if let Some(addr) = self.dialing.remove(&conn) {
            self.log(format_args!(
                "{addr}: {}",
                error.as_deref().unwrap_or("closed")
            ));
            self.peer_set.closed(now, &addr, true);
        }
        if let Some(p) = self.peers.remove(&conn) {
            let why = error.as_deref().unwrap_or("closed by peer");
            self.log(format_args!("{} disconnected: {why}", p.addr));
            self.peer_set.closed(now, &p.addr, error.is_some());
            self.input(Input::Disconnected { peer: conn });
        }
    }

    fn log(&self, args: std::fmt::Arguments<'_>) {
        if self.verbose {
            self.bar.suspend(|| eprintln!("bt: {args}"));
        }
    }
}

/// Ctrl-C or SIGTERM.
pub(super) async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Blocks a connection's writer may hold: what it sends in [`UPLOAD_QUEUE_TIME`] at the
/// tightest of `limits` (a per-peer cap, the global limit), between one and [`UPLOAD_QUEUE`].
fn upload_depth(limits: [Option<f64>; 2], block_len: u32) -> usize {
    match limits.into_iter().flatten().reduce(f64::min) {
        None => UPLOAD_QUEUE,
        Some(rate) => {
            let blocks = rate * UPLOAD_QUEUE_TIME / f64::from(block_len.max(1));
            (blocks.floor() as usize).clamp(1, UPLOAD_QUEUE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_depth_follows_the_tightest_limit() {
        let block = 16_384;
        // Unlimited: the full look-ahead.
        assert_eq!(upload_depth([None, None], block), UPLOAD_QUEUE);
        // A seniority cap of 5 kB/s × K = 36: 180 kB/s sends 3.6 kB in 20 ms — one block.
        assert_eq!(upload_depth([Some(180e3), None], block), 1);
        // 100 MB/s global, no cap: 2 MB in 20 ms, capped at the look-ahead.
        assert_eq!(upload_depth([None, Some(100e6)], block), UPLOAD_QUEUE);
        // 2 MB/s: 40 kB in 20 ms, two whole blocks; the tighter limit wins.
        assert_eq!(upload_depth([Some(2e6), Some(100e6)], block), 2);
        assert_eq!(upload_depth([Some(100e6), Some(2e6)], block), 2);
    }
}
