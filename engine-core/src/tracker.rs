//! Tracker swarm logic: who is in a torrent's swarm and which peers an announce returns.
//!
//! Shared by the simulator's tracker node and the real HTTP tracker, so both hand out peers
//! the same way: a uniformly random subset of up to `numwant` other live peers.
//!
//! Every announce is applied or refused with a typed [`AnnounceError`]; none panics or skews
//! the counts. Decided per input: a `Stopped` from a peer not in the swarm (it may have
//! expired) is applied as a no-op with an empty reply; a repeated `Completed` counts one
//! download only (on the leecher → seed transition); a `now` earlier than one already seen is
//! clamped to it, so expiry never runs against a clock that went back. `model.rs` checks this
//! against a reference model.

use std::collections::BTreeMap;

use rand::seq::index::sample;
use rand::Rng;

use crate::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq)]
pub struct TrackerConfig {
    /// Re-announce interval told to clients.
    pub interval: Duration,
    pub default_numwant: usize,
    pub max_numwant: usize,
    /// Peers silent for longer than this are dropped.
    pub peer_timeout: Duration,
    /// Bound on peers per swarm, so a flood cannot exhaust memory.
    pub max_peers: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            interval: Duration::from_secs(1800),
            default_numwant: 50,
            max_numwant: 200,
            peer_timeout: Duration::from_secs(3600),
            max_peers: 100_000,
        }
    }
}

/// BEP 3 announce `event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceEvent {
    Started,
    Completed,
    Stopped,
    /// A regular periodic announce.
    Update,
}

#[derive(Clone, Debug)]
struct Entry<A> {
    addr: A,
    seed: bool,
    last_seen: Instant,
}

/// The answer to one announce.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnounceReply<A> {
    pub peers: Vec<A>,
    pub interval: Duration,
    /// Seeds in the swarm.
    pub complete: usize,
    /// Leechers in the swarm.
    pub incomplete: usize,
}

/// Scrape counts (BEP 48 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ScrapeCounts {
    pub complete: usize,
    pub incomplete: usize,
    pub downloaded: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnnounceError {
    #[error("swarm is full ({0} peers)")]
    SwarmFull(usize),
}

/// One torrent's swarm, keyed by peer identity `K` (peer id, or node index in the simulator).
#[derive(Clone, Debug)]
pub struct Swarm<K: Ord + Clone, A: Clone> {
    cfg: TrackerConfig,
    peers: BTreeMap<K, Entry<A>>,
    seeds: usize,
    downloaded: u64,
    /// Expiry scans all peers, so announces run it at most every quarter timeout.
    next_expire: Instant,
    /// The latest `now` seen (inputs with an earlier one are clamped to it).
    now: Instant,
}

impl<K: Ord + Clone, A: Clone> Swarm<K, A> {
    pub fn new(cfg: TrackerConfig) -> Self {
        Swarm {
            cfg,
            peers: BTreeMap::new(),
            seeds: 0,
            downloaded: 0,
            next_expire: Instant::ZERO,
            now: Instant::ZERO,
        }
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    pub fn scrape(&self) -> ScrapeCounts {
        ScrapeCounts {
            complete: self.seeds,
            incomplete: self.peers.len() - self.seeds,
            downloaded: self.downloaded,
        }
    }

    /// Handles one announce. `left == 0` marks the peer as a seed.
    #[allow(clippy::too_many_arguments)]
    pub fn announce(
        &mut self,
        now: Instant,
        key: K,
        addr: A,
        event: AnnounceEvent,
        left: u64,
        numwant: Option<usize>,
        rng: &mut impl Rng,
    ) -> Result<AnnounceReply<A>, AnnounceError> {
        let now = self.clamp(now);
        if now >= self.next_expire {
            self.expire(now);
            self.next_expire = now + Duration(self.cfg.peer_timeout.0 / 4);
        }
        if event == AnnounceEvent::Stopped {
            self.remove(&key);
            return Ok(self.reply(Vec::new()));
        }
        let seed = left == 0;
        match self.peers.get_mut(&key) {
            Some(e) => {
                if seed && !e.seed {
                    self.seeds += 1;
                    if event == AnnounceEvent::Completed {
                        self.downloaded += 1;
                    }
                } else if !seed && e.seed {
                    self.seeds -= 1;
                }
                *e = Entry {
                    addr,
                    seed,
                    last_seen: now,
                };
            }
            None => {
                if self.peers.len() >= self.cfg.max_peers {
                    return Err(AnnounceError::SwarmFull(self.cfg.max_peers));
                }
                if seed {
                    self.seeds += 1;
                    if event == AnnounceEvent::Completed {
                        self.downloaded += 1;
                    }
                }
                self.peers.insert(
                    key.clone(),
                    Entry {
                        addr,
                        seed,
                        last_seen: now,
                    },
                );
            }
        }
        let want = numwant
            .unwrap_or(self.cfg.default_numwant)
            .min(self.cfg.max_numwant);
        // Seeds need no other seeds.
        let others: Vec<&Entry<A>> = self
            .peers
            .iter()
            .filter(|(k, e)| **k != key && !(seed && e.seed))
            .map(|(_, e)| e)
            .collect();
        let n = want.min(others.len());
        // `sample` returns a random order too, so clients don't all dial the same peer first.
        let peers = sample(rng, others.len(), n)
            .into_iter()
            .map(|i| others[i].addr.clone())
            .collect();
        Ok(self.reply(peers))
    }

    fn reply(&self, peers: Vec<A>) -> AnnounceReply<A> {
        let s = self.scrape();
        AnnounceReply {
            peers,
            interval: self.cfg.interval,
            complete: s.complete,
            incomplete: s.incomplete,
        }
    }

    fn remove(&mut self, key: &K) {
        if let Some(e) = self.peers.remove(key) {
            if e.seed {
                self.seeds -= 1;
            }
        }
    }

    fn clamp(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    /// Drops peers that have not announced within `peer_timeout`.
    pub fn expire(&mut self, now: Instant) {
        let now = self.clamp(now);
        let timeout = self.cfg.peer_timeout;
        let mut dropped_seeds = 0;
        self.peers.retain(|_, e| {
            let keep = now.saturating_since(e.last_seen) <= timeout;
            if !keep && e.seed {
                dropped_seeds += 1;
            }
            keep
        });
        self.seeds -= dropped_seeds;
    }
}

#[cfg(test)]
mod model;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use AnnounceEvent::{Completed, Started, Stopped, Update};

    /// A swarm of `u32` peers whose address is their key, and the rng its announces draw from.
    struct T {
        s: Swarm<u32, u32>,
        rng: ChaCha8Rng,
    }

    impl T {
        fn new(cfg: TrackerConfig) -> T {
            T {
                s: Swarm::new(cfg),
                rng: ChaCha8Rng::seed_from_u64(1),
            }
        }

        fn at(
            &mut self,
            now: Instant,
            k: u32,
            event: AnnounceEvent,
            left: u64,
            numwant: Option<usize>,
        ) -> Result<AnnounceReply<u32>, AnnounceError> {
            self.s
                .announce(now, k, k, event, left, numwant, &mut self.rng)
        }

        fn ann(&mut self, k: u32, event: AnnounceEvent, left: u64) -> AnnounceReply<u32> {
            self.at(Instant::ZERO, k, event, left, None).unwrap()
        }
    }

    #[test]
    fn announce_returns_random_subset_without_self() {
        let mut t = T::new(TrackerConfig::default());
        for k in 0..100 {
            t.at(Instant::ZERO, k, Started, 10, Some(0)).unwrap();
        }
        let r = t.at(Instant::ZERO, 5, Update, 10, Some(30)).unwrap();
        assert_eq!(r.peers.len(), 30);
        assert!(!r.peers.contains(&5));
        assert_eq!(r.incomplete, 100);
    }

    #[test]
    fn seeds_counted_and_stopped_removed() {
        let mut t = T::new(TrackerConfig::default());
        t.ann(1, Started, 0);
        t.ann(2, Started, 5);
        t.ann(2, Completed, 0);
        assert_eq!(
            t.s.scrape(),
            ScrapeCounts {
                complete: 2,
                incomplete: 0,
                downloaded: 1
            }
        );
        t.ann(1, Stopped, 0);
        assert_eq!(t.s.scrape().complete, 1);
    }

    #[test]
    fn stale_peers_expire_and_swarm_is_bounded() {
        let mut t = T::new(TrackerConfig {
            max_peers: 2,
            ..TrackerConfig::default()
        });
        for k in 0..2 {
            t.ann(k, Started, 1);
        }
        assert_eq!(
            t.at(Instant::ZERO, 9, Started, 1, None),
            Err(AnnounceError::SwarmFull(2))
        );
        let later = Instant::ZERO + Duration::from_secs(4000);
        t.at(later, 9, Started, 1, None).unwrap();
        assert_eq!(t.s.len(), 1);
    }
}
