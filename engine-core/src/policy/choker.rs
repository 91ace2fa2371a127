//! Mainline's choker: which interested peers get upload slots under tit-for-tat.
//!
//! A leecher runs tit-for-tat: every `rechoke_interval` it unchokes the `regular_slots` peers
//! it downloads from fastest (snubbed peers excluded), plus `optimistic_slots` random choked
//! peers rotated every `optimistic_interval`, new peers three times as likely (mainline
//! BitTorrent, thesis §2.8–2.10). A seed has nothing to reciprocate, so it ranks peers by its
//! upload rate to them or serves them round-robin (least served first, thesis §2.7).

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::Rng;

use super::{PeerView, Unchoke};
use crate::time::{Duration, Instant};
use crate::PeerKey;

/// How a seed chooses whom to serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeedChoke {
    /// Peers we upload to fastest keep their slots (libtorrent's `fastest_upload`).
    UploadRate,
    /// Peers that received the least from us so far go first, spreading data evenly.
    RoundRobin,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChokerConfig {
    pub regular_slots: usize,
    pub optimistic_slots: usize,
    pub rechoke_interval: Duration,
    pub optimistic_interval: Duration,
    pub snub_timeout: Duration,
    /// Peers connected for less than this are "new" and weighted 3× for optimistic unchokes.
    pub new_peer_age: Duration,
    pub seed_choke: SeedChoke,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        ChokerConfig {
            regular_slots: 4,
            optimistic_slots: 1,
            rechoke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            snub_timeout: Duration::from_secs(60),
            new_peer_age: Duration::from_secs(60),
            seed_choke: SeedChoke::RoundRobin,
        }
    }
}

/// Tit-for-tat and seed choker state: the current optimistic unchokes and their rotation time.
#[derive(Clone, Debug)]
pub struct Choker {
    cfg: ChokerConfig,
    optimistic: BTreeSet<PeerKey>,
    next_optimistic: Instant,
}

impl Choker {
    pub fn new(cfg: ChokerConfig) -> Self {
        Choker {
            cfg,
            optimistic: BTreeSet::new(),
            next_optimistic: Instant::ZERO,
        }
    }

    pub fn config(&self) -> &ChokerConfig {
        &self.cfg
    }

    pub fn slots(&self) -> usize {
        self.cfg.regular_slots + self.cfg.optimistic_slots
    }

    pub fn forget(&mut self, key: PeerKey) {
        self.optimistic.remove(&key);
    }

    /// The peers to unchoke from now until the next rechoke.
    pub fn rechoke(
        &mut self,
        now: Instant,
        peers: &[PeerView],
        am_seed: bool,
        rng: &mut impl Rng,
    ) -> Unchoke {
        // Shuffle first so equal rates (e.g. everyone at 0 at start) are broken fairly.
        let mut cands: Vec<&PeerView> = peers.iter().filter(|c| c.interested).collect();
        cands.shuffle(rng);
        if am_seed {
            match self.cfg.seed_choke {
                SeedChoke::UploadRate => {
                    cands.sort_by(|a, b| b.up_rate.total_cmp(&a.up_rate));
                }
                SeedChoke::RoundRobin => cands.sort_by_key(|c| c.total_up),
            }
        } else {
            cands.retain(|c| !c.snubbed || self.optimistic.contains(&c.key));
            cands.sort_by(|a, b| b.down_rate.total_cmp(&a.down_rate));
        }
        let regular: BTreeSet<PeerKey> = cands
            .iter()
            .take(self.cfg.regular_slots)
            .map(|c| c.key)
            .collect();

        // Keep optimistic peers that are still interested and not promoted to regular slots.
        let interested: BTreeSet<PeerKey> = peers
            .iter()
            .filter(|c| c.interested)
            .map(|c| c.key)
            .collect();
        self.optimistic
            .retain(|k| interested.contains(k) && !regular.contains(k));
        if now >= self.next_optimistic {
            self.optimistic.clear();
            self.next_optimistic = now + self.cfg.optimistic_interval;
        }
        while self.optimistic.len() < self.cfg.optimistic_slots {
            let pool: Vec<&PeerView> = peers
                .iter()
                .filter(|c| {
                    c.interested && !regular.contains(&c.key) && !self.optimistic.contains(&c.key)
                })
                .collect();
            let weight = |c: &PeerView| {
                if now.saturating_since(c.connected_at) < self.cfg.new_peer_age {
                    3
                } else {
                    1
                }
            };
            let total: u32 = pool.iter().map(|c| weight(c)).sum();
            if total == 0 {
                break;
            }
            let mut pick = rng.gen_range(0..total);
            for c in pool {
                let w = weight(c);
                if pick < w {
                    self.optimistic.insert(c.key);
                    break;
                }
                pick -= w;
            }
        }
        Unchoke {
            regular,
            optimistic: self.optimistic.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn cand(key: PeerKey, down: f64) -> PeerView {
        PeerView {
            key,
            interested: true,
            down_rate: down,
            ..PeerView::default()
        }
    }

    fn all(u: Unchoke) -> BTreeSet<PeerKey> {
        u.regular.union(&u.optimistic).copied().collect()
    }

    #[test]
    fn tit_for_tat_keeps_fastest_plus_one_optimistic() {
        let mut ch = Choker::new(ChokerConfig::default());
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let peers: Vec<_> = (0..10).map(|k| cand(k, k as f64)).collect();
        let un = all(ch.rechoke(Instant(100_000_000), &peers, false, &mut rng));
        assert_eq!(un.len(), 5);
        for k in 6..10 {
            assert!(un.contains(&k));
        }
    }

    #[test]
    fn snubbed_peers_lose_regular_slots() {
        let mut ch = Choker::new(ChokerConfig {
            optimistic_slots: 0,
            ..ChokerConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut peers: Vec<_> = (0..6).map(|k| cand(k, k as f64)).collect();
        peers[5].snubbed = true;
        let un = all(ch.rechoke(Instant::ZERO, &peers, false, &mut rng));
        assert_eq!(un, [1, 2, 3, 4].into_iter().collect());
    }

    #[test]
    fn optimistic_rotates_only_after_interval() {
        let mut ch = Choker::new(ChokerConfig {
            regular_slots: 0,
            ..ChokerConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let peers: Vec<_> = (0..50).map(|k| cand(k, 0.0)).collect();
        let a = all(ch.rechoke(Instant::ZERO, &peers, false, &mut rng));
        let b = all(ch.rechoke(Instant(10_000_000), &peers, false, &mut rng));
        assert_eq!(a, b);
        let picks: BTreeSet<_> = (1..20)
            .flat_map(|i| all(ch.rechoke(Instant(i * 30_000_000), &peers, false, &mut rng)))
            .collect();
        assert!(
            picks.len() > 5,
            "optimistic unchoke should rotate: {picks:?}"
        );
    }

    #[test]
    fn round_robin_seed_serves_least_served() {
        let mut ch = Choker::new(ChokerConfig {
            optimistic_slots: 0,
            regular_slots: 2,
            ..ChokerConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut peers: Vec<_> = (0..4).map(|k| cand(k, 0.0)).collect();
        peers[0].total_up = 10;
        peers[1].total_up = 5;
        let un = all(ch.rechoke(Instant::ZERO, &peers, true, &mut rng));
        assert_eq!(un, [2, 3].into_iter().collect());
    }
}
