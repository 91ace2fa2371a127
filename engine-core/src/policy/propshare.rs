//! `propshare`: Levin, LaCurts, Spring and Bhattacharjee, "BitTorrent is an auction: analyzing
//! and improving BitTorrent's incentives" (SIGCOMM 2008), §5.
//!
//! BitTorrent's rechoke is an auction in which peers bid with the data they gave us last
//! round. PropShare pays each bidder in proportion to its bid: of our upload capacity `U`,
//! `(1−f)·U` is shared among the interested peers that sent us data in the round just ended
//! (`round_down > 0`), each capped at its part in proportion to what it sent, and `f·U` goes to
//! optimistic unchokes rotating as mainline's do (every optimistic interval, new peers three
//! times as likely), split equally among them. Default `f = 0.1`.
//!
//! Choices the paper leaves open:
//! - **No contributors** (the start of a download, or nobody sent us anything last round)
//!   and **as a seed** (nothing to reciprocate): mainline's choker picks up to its slot count
//!   and they share `U` uncapped, as mainline's unchokes do; a newly interested peer is then
//!   unchoked at once while a slot is free.
//! - No optimistic peer to give `f·U` to: the contributors share all of `U`. A paid peer that
//!   loses interest mid-round leaves its part to the others ([`spend_all`]).
//! - Contributors beyond [`MAX_ACTIVE`] (the largest bidders win) are not paid.
//! - **Capacity**: the driver's, or without one an estimate ([`Capacity`]).

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;

use super::choker::{Choker, ChokerConfig};
use super::rates::{spend_all, Capacity, MAX_ACTIVE};
use super::{Context, PeerView, Policy, Unchoke};
use crate::PeerKey;

/// The default share of capacity spent on optimistic unchokes (the paper's 10%).
pub const DEFAULT_F: f64 = 0.1;

#[derive(Clone, Debug)]
pub struct PropShare {
    f: f64,
    /// Mainline's choker: seeds and rounds without contributors.
    mainline: Choker,
    /// The rotating optimistic unchokes of proportional rounds (no regular slots).
    optimistic: Choker,
    capacity: Capacity,
    /// Each paid peer's fraction of capacity this round; empty when mainline decides.
    shares: BTreeMap<PeerKey, f64>,
}

impl PropShare {
    pub fn new(choker: ChokerConfig, f: f64) -> Self {
        PropShare {
            f,
            optimistic: Choker::new(ChokerConfig {
                regular_slots: 0,
                ..choker.clone()
            }),
            mainline: Choker::new(choker),
            capacity: Capacity::default(),
            shares: BTreeMap::new(),
        }
    }
}

impl Policy for PropShare {
    fn rechoke(&mut self, ctx: &Context, peers: &[PeerView], rng: &mut ChaCha8Rng) -> Unchoke {
        self.capacity.observe(ctx, peers);
        self.shares.clear();
        let mut bidders: Vec<&PeerView> = peers
            .iter()
            .filter(|p| p.interested && p.round_down > 0)
            .collect();
        if ctx.am_seed || bidders.is_empty() {
            return self.mainline.rechoke(ctx.now, peers, ctx.am_seed, rng);
        }
        bidders.sort_by_key(|p| std::cmp::Reverse(p.round_down));
        bidders.truncate(MAX_ACTIVE);
        let pool: Vec<PeerView> = peers
            .iter()
            .filter(|p| !bidders.iter().any(|b| b.key == p.key))
            .cloned()
            .collect();
        let optimistic = self
            .optimistic
            .rechoke(ctx.now, &pool, false, rng)
            .optimistic;
        let paid = if optimistic.is_empty() {
            1.0
        } else {
            1.0 - self.f
        };
        let total: u64 = bidders.iter().map(|p| p.round_down).sum();
        for b in &bidders {
            let share = paid * b.round_down as f64 / total as f64;
            self.shares.insert(b.key, share);
        }
        for &k in &optimistic {
            self.shares.insert(k, self.f / optimistic.len() as f64);
        }
        Unchoke {
            regular: bidders.iter().map(|p| p.key).collect(),
            optimistic,
        }
    }

    fn unchoke_on_interest(&mut self, unchoked: usize) -> bool {
        self.shares.is_empty() && unchoked < self.mainline.slots()
    }

    fn max_unchoked(&self) -> usize {
        let cfg = self.mainline.config();
        (MAX_ACTIVE + cfg.optimistic_slots).max(self.mainline.slots())
    }

    fn sets_caps(&self) -> bool {
        true
    }

    /// Each unchoked peer's share of the capacity; none when mainline decides or there is no
    /// capacity to divide.
    fn caps(&mut self, ctx: &Context, peers: &[PeerView]) -> Vec<(PeerKey, Option<f64>)> {
        let capacity = self.capacity.get(ctx);
        let mut caps: Vec<_> = peers
            .iter()
            .map(|p| {
                let share = self.shares.get(&p.key).filter(|_| p.unchoked);
                (p.key, capacity.zip(share).map(|(c, s)| c * s))
            })
            .collect();
        if let Some(c) = capacity {
            spend_all(&mut caps, peers, c);
        }
        caps
    }

    fn forget(&mut self, key: PeerKey) {
        self.mainline.forget(key);
        self.optimistic.forget(key);
        self.shares.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Duration, Instant};
    use rand::SeedableRng;

    const C: f64 = 100_000.0;

    fn ctx(am_seed: bool) -> Context {
        Context {
            now: Instant(1_000_000_000),
            am_seed,
            upload_capacity: Some(C),
            round: Duration::from_secs(10),
            piece_length: 16_384,
        }
    }

    /// Peers 1..=6, interested; peer 1 sent 30 kB last round, peer 2 10 kB, peer 3 20 kB but
    /// is not interested in us.
    fn swarm() -> Vec<PeerView> {
        let mut peers: Vec<PeerView> = (1..=6)
            .map(|key| PeerView {
                key,
                interested: true,
                ..PeerView::default()
            })
            .collect();
        peers[0].round_down = 30_000;
        peers[1].round_down = 10_000;
        peers[2].round_down = 20_000;
        peers[2].interested = false;
        peers
    }

    fn caps_after(f: f64) -> (Unchoke, BTreeMap<PeerKey, f64>) {
        let mut ps = PropShare::new(ChokerConfig::default(), f);
        let mut peers = swarm();
        let u = ps.rechoke(&ctx(false), &peers, &mut ChaCha8Rng::seed_from_u64(5));
        for p in &mut peers {
            p.unchoked = u.contains(&p.key);
        }
        let caps = ps
            .caps(&ctx(false), &peers)
            .into_iter()
            .filter_map(|(k, c)| Some((k, c?)))
            .collect();
        (u, caps)
    }

    #[test]
    fn contributors_share_one_minus_f_in_proportion_to_what_they_gave() {
        let (u, caps) = caps_after(DEFAULT_F);
        assert_eq!(u.regular, [1, 2].into_iter().collect());
        assert_eq!(u.optimistic.len(), 1);
        let opt = *u.optimistic.first().unwrap();
        assert!((4..=6).contains(&opt), "{u:?}");
        // 90 kB/s split 3:1; the optimistic unchoke gets 10 kB/s; nothing else is capped.
        assert!((caps[&1] - 67_500.0).abs() < 1e-9);
        assert!((caps[&2] - 22_500.0).abs() < 1e-9);
        assert!((caps[&opt] - 10_000.0).abs() < 1e-9);
        assert_eq!(caps.len(), 3);
        assert!((caps[&1] + caps[&2] - (1.0 - DEFAULT_F) * C).abs() < 1e-9);
    }

    #[test]
    fn f_sets_the_optimistic_share() {
        let (u, caps) = caps_after(0.2);
        let opt = *u.optimistic.first().unwrap();
        assert!((caps[&opt] - 20_000.0).abs() < 1e-9);
        assert!((caps[&1] - 60_000.0).abs() < 1e-9);
    }

    #[test]
    fn without_an_optimistic_candidate_contributors_share_everything() {
        let mut ps = PropShare::new(ChokerConfig::default(), DEFAULT_F);
        let mut peers = swarm();
        peers.truncate(3);
        let u = ps.rechoke(&ctx(false), &peers, &mut ChaCha8Rng::seed_from_u64(5));
        assert!(u.optimistic.is_empty());
        for p in &mut peers {
            p.unchoked = u.contains(&p.key);
        }
        let caps = ps.caps(&ctx(false), &peers);
        assert_eq!(
            caps,
            vec![(1, Some(75_000.0)), (2, Some(25_000.0)), (3, None)]
        );
    }

    #[test]
    fn no_contributors_or_a_seed_is_mainline_uncapped() {
        for am_seed in [false, true] {
            let mut ps = PropShare::new(ChokerConfig::default(), DEFAULT_F);
            let mut peers = swarm();
            if !am_seed {
                peers.iter_mut().for_each(|p| p.round_down = 0);
            }
            let u = ps.rechoke(&ctx(am_seed), &peers, &mut ChaCha8Rng::seed_from_u64(5));
            assert_eq!(u.regular.len() + u.optimistic.len(), 5);
            assert!(ps.unchoke_on_interest(4) && !ps.unchoke_on_interest(5));
            for p in &mut peers {
                p.unchoked = u.contains(&p.key);
            }
            let caps = ps.caps(&ctx(am_seed), &peers);
            assert!(caps.iter().all(|(_, c)| c.is_none()), "{caps:?}");
        }
    }
}
