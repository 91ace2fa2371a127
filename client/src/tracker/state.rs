//! The tracker's memory: one engine-core [`Swarm`] per torrent, in shards locked separately so
//! announces for different torrents proceed in parallel. Turns query bytes into bencoded
//! response bodies for the HTTP front end and hands parsed announces' peers to the UDP one.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use engine_core::protocol::tracker_proto::{encode_compact_peers, scrape_hashes, Announce};
use engine_core::time::{Duration, Instant};
use engine_core::tracker::{AnnounceEvent, AnnounceReply, ScrapeCounts, Swarm, TrackerConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SHARDS: usize = 16;

/// Most torrents a scrape without `info_hash` lists, so one request cannot dump everything.
pub const MAX_FULL_SCRAPE: usize = 1000;

/// Bounds that keep a tracker's memory and work per request finite.
#[derive(Clone, Debug)]
pub struct Limits {
    pub interval: std::time::Duration,
    pub max_torrents: usize,
    pub max_peers_per_torrent: usize,
    /// Most peers over all torrents: `max_torrents × max_peers_per_torrent` alone would let
    /// random announces grow the tracker to ~100 GB at the defaults.
    pub max_peers: usize,
}

/// A peer's identity. The IP is part of it so that nobody can remove or move another host's
/// entry just by sending its peer id with `event=stopped`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PeerKey {
    id: [u8; 20],
    ip: IpAddr,
}

/// What we hand out about a peer.
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub id: [u8; 20],
}

struct Shard {
    swarms: HashMap<[u8; 20], Swarm<PeerKey, Peer>>,
    rng: ChaCha8Rng,
}

pub struct Tracker {
    shards: Box<[Mutex<Shard>]>,
    cfg: TrackerConfig,
    allow: Option<HashSet<[u8; 20]>>,
    max_torrents: usize,
    torrents: AtomicUsize,
    max_peers: usize,
    peers: AtomicUsize,
    /// Time zero for engine-core's injected clock.
    epoch: std::time::Instant,
}

impl Tracker {
    /// `allow`: when given, only these info-hashes are tracked.
    pub fn new(limits: &Limits, allow: Option<HashSet<[u8; 20]>>) -> Tracker {
        let interval = Duration::from_secs(limits.interval.as_secs().max(1));
        let cfg = TrackerConfig {
            interval,
            // A client may miss one announce (restart, network blip) before it is dropped; the
            // grace covers a slow announce, and shrinks with short test intervals.
            peer_timeout: Duration(interval.0 * 2 + interval.0.min(Duration::from_secs(60).0)),
            max_peers: limits.max_peers_per_torrent.max(1),
            ..TrackerConfig::default()
        };
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    swarms: HashMap::new(),
                    rng: ChaCha8Rng::from_entropy(),
                })
            })
            .collect();
        Tracker {
            shards,
            cfg,
            allow,
            max_torrents: limits.max_torrents,
            torrents: AtomicUsize::new(0),
            max_peers: limits.max_peers,
            peers: AtomicUsize::new(0),
            epoch: std::time::Instant::now(),
        }
    }

    /// The bencoded answer to an announce query from `ip`: peers, or a `failure reason`.
    pub fn announce(&self, query: &[u8], ip: IpAddr) -> Vec<u8> {
        self.try_announce(query, ip)
            .unwrap_or_else(|reason| failure(&reason))
    }

    /// The bencoded answer to a scrape query (BEP 48).
    pub fn scrape(&self, query: &[u8]) -> Vec<u8> {
        let hashes = match scrape_hashes(query) {
            Ok(h) => h,
            Err(e) => return failure(&e.to_string()),
        };
        let files: Vec<([u8; 20], ScrapeCounts)> = if hashes.is_empty() {
            self.all_counts()
        } else {
            hashes
                .into_iter()
                .filter_map(|h| Some((h, self.counts(&h)?)))
                .collect()
        };
        let mut out = b"d5:filesd".to_vec();
        for (h, c) in files {
            bytes(&mut out, &h);
            out.extend_from_slice(b"d8:complete");
            int(&mut out, c.complete as u64);
            out.extend_from_slice(b"10:downloaded");
            int(&mut out, c.downloaded);
            out.extend_from_slice(b"10:incomplete");
            int(&mut out, c.incomplete as u64);
            out.push(b'e');
        }
        out.extend_from_slice(b"ee");
        out
    }

    /// The counts of torrent `h`, zero if unknown; `None` if the allow-list refuses it.
    pub fn counts(&self, h: &[u8; 20]) -> Option<ScrapeCounts> {
        if !self.allowed(h) {
            return None;
        }
        Some(
            self.shard(h)
                .swarms
                .get(h)
                .map(Swarm::scrape)
                .unwrap_or_default(),
        )
    }

    /// Drops silent peers and the swarms they leave empty; run periodically.
    pub fn expire(&self) {
        let now = self.now();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let before = shard.swarms.len();
            let mut dropped = 0;
            shard.swarms.retain(|_, s| {
                let n = s.len();
                s.expire(now);
                dropped += n - s.len();
                !s.is_empty()
            });
            self.torrents
                .fetch_sub(before - shard.swarms.len(), Ordering::Relaxed);
            self.peers.fetch_sub(dropped, Ordering::Relaxed);
        }
    }

    /// `(torrents, peers)` currently tracked.
    pub fn stats(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(t, p), shard| {
            let shard = lock(shard);
            (
                t + shard.swarms.len(),
                p + shard.swarms.values().map(Swarm::len).sum::<usize>(),
            )
        })
    }

    fn try_announce(&self, query: &[u8], ip: IpAddr) -> Result<Vec<u8>, String> {
        let a = Announce::parse(query).map_err(|e| e.to_string())?;
        Ok(self.encode_reply(&a, &self.announce_parsed(&a, ip)?))
    }

    /// Records `a` from `ip` and picks its peers, or says why not: what both front ends share.
    pub fn announce_parsed(&self, a: &Announce, ip: IpAddr) -> Result<AnnounceReply<Peer>, String> {
        if !self.allowed(&a.info_hash) {
            return Err("torrent is not on this tracker's allow-list".into());
        }
        let now = self.now();
        let mut guard = self.shard(&a.info_hash);
        let Shard { swarms, rng } = &mut *guard;
        let swarm = match swarms.entry(a.info_hash) {
            Entry::Occupied(e) => e.into_mut(),
            // Leaving a swarm we do not know: nothing to remove, nothing to create.
            Entry::Vacant(_) if a.event == AnnounceEvent::Stopped => {
                drop(guard);
                return Ok(self.empty_reply());
            }
            Entry::Vacant(e) => {
                if !reserve(&self.torrents, self.max_torrents) {
                    return Err(format!(
                        "tracker is full (limit of {} torrents)",
                        self.max_torrents
                    ));
                }
                e.insert(Swarm::new(self.cfg.clone()))
            }
        };
        let key = PeerKey { id: a.peer_id, ip };
        let peer = Peer {
            addr: SocketAddr::new(ip, a.port),
            id: a.peer_id,
        };
        let before = swarm.len();
        let reply = match swarm.announce(
            now,
            key.clone(),
            peer.clone(),
            a.event,
            a.left,
            a.numwant,
            rng,
        ) {
            Ok(_) if swarm.len() > before && !reserve(&self.peers, self.max_peers) => {
                // Over the global cap: take the newcomer out again.
                let _ = swarm.announce(now, key, peer, AnnounceEvent::Stopped, 0, None, rng);
                Err(format!(
                    "tracker is full (limit of {} peers)",
                    self.max_peers
                ))
            }
            r => {
                // Leaving (or the swarm's own expiry) shrank it.
                self.peers
                    .fetch_sub(before.saturating_sub(swarm.len()), Ordering::Relaxed);
                r.map_err(|e| e.to_string())
            }
        };
        if swarm.is_empty() {
            swarms.remove(&a.info_hash);
            self.torrents.fetch_sub(1, Ordering::Relaxed);
        }
        drop(guard);
        reply
    }

    fn empty_reply(&self) -> AnnounceReply<Peer> {
        AnnounceReply {
            peers: Vec::new(),
            interval: self.cfg.interval,
            complete: 0,
            incomplete: 0,
        }
    }

    /// Keys in sorted order, as bencode requires: complete, incomplete, interval, peers, peers6.
    fn encode_reply(&self, a: &Announce, r: &AnnounceReply<Peer>) -> Vec<u8> {
        let mut out = Vec::with_capacity(80 + r.peers.len() * 6);
        out.extend_from_slice(b"d8:complete");
        int(&mut out, r.complete as u64);
        out.extend_from_slice(b"10:incomplete");
        int(&mut out, r.incomplete as u64);
        out.extend_from_slice(b"8:interval");
        int(&mut out, r.interval.0 / 1_000_000);
        out.extend_from_slice(b"5:peers");
        if a.compact {
            // BEP 23 for IPv4, BEP 7 `peers6` for IPv6.
            let (v4, v6) = encode_compact_peers(r.peers.iter().map(|p| p.addr));
            bytes(&mut out, &v4);
            if !v6.is_empty() {
                out.extend_from_slice(b"6:peers6");
                bytes(&mut out, &v6);
            }
        } else {
            out.push(b'l');
            for p in &r.peers {
                out.extend_from_slice(b"d2:ip");
                bytes(&mut out, p.addr.ip().to_string().as_bytes());
                if !a.no_peer_id {
                    out.extend_from_slice(b"7:peer id");
                    bytes(&mut out, &p.id);
                }
                out.extend_from_slice(b"4:port");
                int(&mut out, p.addr.port().into());
                out.push(b'e');
            }
            out.push(b'e');
        }
        out.push(b'e');
        out
    }

    /// Counts of up to [`MAX_FULL_SCRAPE`] torrents, lowest info-hashes first.
    fn all_counts(&self) -> Vec<([u8; 20], ScrapeCounts)> {
        let mut all: Vec<_> = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            all.extend(shard.swarms.iter().map(|(h, s)| (*h, s.scrape())));
            // Keep the memory of this list bounded too.
            if all.len() > 4 * MAX_FULL_SCRAPE {
                all.sort_unstable_by_key(|(h, _)| *h);
                all.truncate(MAX_FULL_SCRAPE);
            }
        }
        all.sort_unstable_by_key(|(h, _)| *h);
        all.truncate(MAX_FULL_SCRAPE);
        all
    }

    fn allowed(&self, h: &[u8; 20]) -> bool {
        self.allow.as_ref().is_none_or(|a| a.contains(h))
    }

    fn shard(&self, h: &[u8; 20]) -> MutexGuard<'_, Shard> {
        lock(&self.shards[usize::from(h[0]) % SHARDS])
    }

    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed().as_micros() as u64)
    }
}

/// Counts one more in `count` unless that would pass `max`.
fn reserve(count: &AtomicUsize, max: usize) -> bool {
    count
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}

/// A panic while holding a shard cannot leave a swarm half-updated in a way that matters
/// more than refusing all later requests would, so a poisoned lock is used as is.
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `d14:failure reason...e`: how trackers refuse a request (with HTTP 200, which clients expect).
pub fn failure(reason: &str) -> Vec<u8> {
    let mut out = b"d14:failure reason".to_vec();
    bytes(&mut out, reason.as_bytes());
    out.push(b'e');
    out
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

fn int(out: &mut Vec<u8>, n: u64) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine_core::protocol::bencode::{decode, Value};
    use std::net::Ipv4Addr;

    fn tracker(max_torrents: usize) -> Tracker {
        let limits = Limits {
            interval: std::time::Duration::from_secs(900),
            max_torrents,
            max_peers_per_torrent: 3,
            max_peers: 5,
        };
        Tracker::new(&limits, None)
    }

    fn esc(b: &[u8]) -> String {
        b.iter().map(|b| format!("%{b:02x}")).collect()
    }

    fn announce(t: &Tracker, hash: u8, peer: u8, extra: &str) -> Vec<u8> {
        let left = if extra.contains("left=") {
            ""
        } else {
            "&left=10"
        };
        let q = format!(
            "info_hash={}&peer_id={}&port={}{left}{extra}",
            esc(&[hash; 20]),
            esc(&[peer; 20]),
            1000 + u16::from(peer)
        );
        t.announce(q.as_bytes(), IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    fn field<'a>(v: &'a Value<'a>, k: &str) -> &'a Value<'a> {
        v.get(k).unwrap_or_else(|| panic!("no {k} in {v:?}"))
    }

    #[test]
    fn replies_are_strict_bencode_in_both_peer_forms() {
        let t = tracker(10);
        announce(&t, 1, 1, "");
        let body = announce(&t, 1, 2, "&compact=0");
        let v = decode(&body).expect("strict bencode");
        assert_eq!(field(&v, "incomplete").as_int(), Some(2));
        assert_eq!(field(&v, "interval").as_int(), Some(900));
        let peers = field(&v, "peers").as_list().unwrap();
        assert_eq!(field(&peers[0], "peer id").as_bytes(), Some(&[1u8; 20][..]));
        assert_eq!(field(&peers[0], "ip").as_str(), Some("127.0.0.1"));
        assert_eq!(field(&peers[0], "port").as_int(), Some(1001));
        let body = announce(&t, 1, 2, "&compact=0&no_peer_id=1");
        let v = decode(&body).unwrap();
        assert!(field(&v, "peers").as_list().unwrap()[0]
            .get("peer id")
            .is_none());
        let body = announce(&t, 1, 2, "");
        let v = decode(&body).unwrap();
        assert_eq!(
            field(&v, "peers").as_bytes(),
            Some(&[127, 0, 0, 1, 0x03, 0xe9][..])
        );
    }

    #[test]
    fn limits_and_failures() {
        let t = tracker(1);
        announce(&t, 1, 1, "");
        let full = decode(&announce(&t, 2, 1, "")).unwrap().to_bytes();
        assert_eq!(full, failure("tracker is full (limit of 1 torrents)"));
        for p in 2..=3 {
            announce(&t, 1, p, "");
        }
        assert_eq!(announce(&t, 1, 4, ""), failure("swarm is full (3 peers)"));
        assert_eq!(t.stats(), (1, 3));
        for p in 1..=3 {
            announce(&t, 1, p, "&event=stopped");
        }
        assert_eq!(t.stats(), (0, 0));
        // The slot freed by the emptied swarm is reusable; stopping an unknown one creates none.
        announce(&t, 2, 1, "&event=stopped");
        assert_eq!(t.stats(), (0, 0));
        announce(&t, 2, 1, "");
        assert_eq!(t.stats(), (1, 1));
    }

    #[test]
    fn peers_over_all_torrents_are_capped() {
        let t = tracker(10);
        for (hash, peer) in [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1)] {
            assert!(decode(&announce(&t, hash, peer, ""))
                .unwrap()
                .get("peers")
                .is_some());
        }
        let full = failure("tracker is full (limit of 5 peers)");
        assert_eq!(announce(&t, 3, 2, ""), full);
        assert_eq!(announce(&t, 4, 1, ""), full);
        // The refused newcomer left no trace: its fresh swarm is gone too.
        assert_eq!(t.stats(), (3, 5));
        // Known peers keep announcing; a leaver frees a slot for someone else.
        assert!(decode(&announce(&t, 1, 1, ""))
            .unwrap()
            .get("peers")
            .is_some());
        announce(&t, 1, 1, "&event=stopped");
        assert!(decode(&announce(&t, 4, 1, ""))
            .unwrap()
            .get("peers")
            .is_some());
        assert_eq!(t.stats(), (4, 5));
    }

    #[test]
    fn scrape_counts_and_allow_list() {
        let limits = Limits {
            interval: std::time::Duration::from_secs(60),
            max_torrents: 10,
            max_peers_per_torrent: 10,
            max_peers: 100,
        };
        let t = Tracker::new(&limits, Some(HashSet::from([[1; 20], [3; 20]])));
        announce(&t, 1, 1, "&left=0");
        announce(&t, 1, 2, "");
        let denied = announce(&t, 2, 1, "");
        assert_eq!(
            denied,
            failure("torrent is not on this tracker's allow-list")
        );
        let q = format!(
            "info_hash={}&info_hash={}&info_hash={}",
            esc(&[1; 20]),
            esc(&[2; 20]),
            esc(&[3; 20])
        );
        let v = decode(&t.scrape(q.as_bytes())).unwrap().to_bytes();
        let mut want = b"d5:filesd20:".to_vec();
        want.extend_from_slice(&[1; 20]);
        want.extend_from_slice(b"d8:completei1e10:downloadedi0e10:incompletei1ee20:");
        want.extend_from_slice(&[3; 20]);
        want.extend_from_slice(b"d8:completei0e10:downloadedi0e10:incompletei0eeee");
        assert_eq!(v, want);
        let body = t.scrape(b"");
        let all = decode(&body).unwrap();
        assert_eq!(field(&all, "files").as_dict().unwrap().len(), 1);
    }
}
