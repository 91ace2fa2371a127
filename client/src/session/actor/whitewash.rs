//! `whitewash` on real sockets: every `every` a session that is still downloading drops its
//! identity and rejoins as a new peer. It closes every connection, announces `stopped` under
//! its old peer id (and waits for the answer, so the tracker never lists both identities),
//! takes a new peer id, listens on a new port (the old listener closes, so peers dialing the
//! old identity are refused: on loopback the port is all of the address a tracker and its
//! peers see change), and announces `started` with a fresh peer set. Its torrent is the one
//! engine-core's [`engine_core::torrent::Torrent::next_identity`]
//! makes — the simulator's rule: verified pieces
//! kept; unfinished pieces, per-peer history, counters and its own seniority counter dropped.
//!
//! Whatever the old identity's tasks still report is dropped unread: connections, dials, the
//! accept loop, announces and seniority queries hold the senders of event channels the actor
//! replaces, so a dial that completes late is closed, not adopted under the new identity. A
//! piece hash in flight reports nowhere; the new torrent fetches that piece again and the
//! disk, which has it verified already, confirms it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use engine_core::policy::peer_set::{PeerSet, PeerSetConfig};
use engine_core::torrent::TorrentStats;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};

use super::{Actor, EVENT_QUEUE};
use crate::peer::Shared;
use crate::session::seniority::Weight;

/// A `whitewash` session's identities: when the next change is due and what every identity
/// starts from.
pub struct Whitewasher {
    every: Duration,
    /// `None` once complete (a seed has nothing to escape).
    next: Option<Instant>,
    /// Where later identities listen: this IP, a port the OS picks.
    ip: IpAddr,
    /// A new identity's peer-set rules, and the `--peer`s it learns again with the tracker's.
    peer_set: PeerSetConfig,
    peers: Vec<SocketAddr>,
    /// Whether peer ids are drawn at random or numbered from the first ([`nth_peer_id`]).
    numbered: bool,
    /// Every identity's peer id so far, the current one last.
    pub ids: Vec<[u8; 20]>,
    /// The counters of earlier identities' torrents.
    pub earlier: TorrentStats,
    /// Verified bytes at the start (found on disk), and the block bytes identity changes
    /// threw away: received, not duplicates, and not in a piece verified since the start
    /// (the simulator's `whitewash_discarded_bytes`).
    verified_at_start: u64,
    pub discarded: u64,
    /// What our seniority server answers, if we run one.
    pub weight: Option<Arc<Weight>>,
}

impl Whitewasher {
    /// The first identity's state; the first change is due `every` from now.
    pub fn new(
        every: Duration,
        listen: IpAddr,
        peer_set: PeerSetConfig,
        peers: Vec<SocketAddr>,
        first_id: [u8; 20],
        numbered: bool,
        verified: u64,
    ) -> Whitewasher {
        Whitewasher {
            every,
            next: Some(Instant::now() + every),
            ip: listen,
            peer_set,
            peers,
            numbered,
            ids: vec![first_id],
            earlier: TorrentStats::default(),
            verified_at_start: verified,
            discarded: 0,
            weight: None,
        }
    }
}

/// Identity `n`'s peer id (the first is 0) when the first is fixed (`bt swarm`): the first
/// with characters 8..12 replaced by `n` in four digits, so the client prefix stays and a
/// node's identities stay readable as its own.
pub fn nth_peer_id(first: [u8; 20], n: usize) -> [u8; 20] {
    let mut id = first;
    id[8..12].copy_from_slice(format!("{:04}", n % 10_000).as_bytes());
    id
}

impl Actor {
    /// When the next identity change is due.
    pub(super) fn whitewash_due(&self) -> Option<Instant> {
        self.whitewash.as_ref().and_then(|w| w.next)
    }

    /// Drops our identity and rejoins as a new peer; once every piece is verified, it
    /// stops changing identity instead.
    pub(super) async fn whitewash(&mut self) -> Result<()> {
        let now = self.now();
        let Some(w) = self.whitewash.as_mut() else {
            return Ok(());
        };
        let Some(torrent) = self.torrent.next_identity(rand::random(), now) else {
            w.next = None;
            return Ok(());
        };
        w.next = Some(Instant::now() + w.every);
        let peer_id = match w.numbered {
            true => nth_peer_id(w.ids[0], w.ids.len()),
            false => crate::session::new_peer_id(),
        };
        let listener = TcpListener::bind(SocketAddr::new(w.ip, 0))
            .await
            .with_context(|| format!("whitewash: listening on {}", w.ip))?;
        let port = listener.local_addr()?.port();
        // Closing: every handle and queued event of the old identity goes, and its tasks
        // end as soon as they next talk to us.
        self.peers.clear();
        self.dialing.clear();
        self.pending_hash.clear();
        self.announce_stopped().await;
        let old = std::mem::replace(&mut self.torrent, torrent);
        let verified = self.verified_bytes();
        let w = self.whitewash.as_mut().expect("checked above");
        w.earlier = add(w.earlier, old.stats());
        let kept = verified.saturating_sub(w.verified_at_start);
        w.discarded = (w.earlier.downloaded - w.earlier.duplicate_bytes).saturating_sub(kept);
        w.ids.push(peer_id);
        if let (Some(cell), Some(weight)) = (&w.weight, self.torrent.own_weight()) {
            cell.set(weight);
        }
        let mut peer_set = PeerSet::new(w.peer_set.clone());
        let static_peers = w.peers.clone();
        let identity = w.ids.len();
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (internal_tx, internal) = mpsc::unbounded_channel();
        self.events = events;
        (self.internal_tx, self.internal) = (internal_tx, internal);
        self.ctx = Arc::new(Shared {
            peer_id,
            events: events_tx,
            ..Shared::clone(&self.ctx)
        });
        self.permits = Arc::new(Semaphore::new(w.peer_set.max_connections));
        self.trackers.port = port;
        if !self.trackers.is_empty() {
            peer_set.start_announcing(now);
        }
        peer_set.learn(now, static_peers);
        self.peer_set = peer_set;
        self.listen(listener);
        self.log(format_args!(
            "whitewash: identity {identity}, peer id {}, listening on port {port}",
            String::from_utf8_lossy(&peer_id)
        ));
        Ok(())
    }

    /// Every identity's peer id, the current one last.
    pub fn peer_ids(&self) -> Vec<[u8; 20]> {
        match &self.whitewash {
            Some(w) => w.ids.clone(),
            None => vec![self.ctx.peer_id],
        }
    }

    /// The session's counters: every identity's torrent together.
    pub fn stats(&self) -> TorrentStats {
        let earlier = self.whitewash.as_ref().map(|w| w.earlier);
        add(earlier.unwrap_or_default(), self.torrent.stats())
    }
}

fn add(a: TorrentStats, b: TorrentStats) -> TorrentStats {
    TorrentStats {
        uploaded: a.uploaded + b.uploaded,
        downloaded: a.downloaded + b.downloaded,
        duplicate_bytes: a.duplicate_bytes + b.duplicate_bytes,
        hash_failures: a.hash_failures + b.hash_failures,
        requests_rejected: a.requests_rejected + b.requests_rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_peer_ids_keep_the_prefix_and_the_node() {
        let first = *b"-BT0001-000000000007";
        assert_eq!(nth_peer_id(first, 0), first);
        assert_eq!(&nth_peer_id(first, 3), b"-BT0001-000300000007");
        assert_ne!(nth_peer_id(first, 1), nth_peer_id(first, 2));
    }
}
