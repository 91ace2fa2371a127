//! `bittyrant`: the strategic client of Piatek et al., "Do incentives build robustness in
//! BitTorrent?" (NSDI 2007), §4.
//!
//! For each peer `p` it keeps `d_p`, the rate `p` gives us when it reciprocates, and `u_p`, the
//! upload that buys `p`'s reciprocation. Each round (the rechoke interval) it ranks the
//! interested peers by `d_p/u_p` and unchokes them in that order while `Σu_p` fits our upload
//! capacity, capping each at `u_p`. At the end of a round, for each peer it had unchoked: no
//! data from it although we wanted some → `u_p ← (1+δ)u_p`; data → `d_p ←` its observed rate,
//! and after `r` such rounds in a row `u_p ← (1−γ)u_p` each round (never below one block per
//! round).
//!
//! Choices the paper leaves open:
//! - **Initial `u_p`** is mainline's equal split, capacity / (regular + optimistic slots): the
//!   paper starts from the equal split of a typical peer.
//! - **`d_p` of a peer that never sent us data** is its `have` rate (pieces it announced in the
//!   round × piece length / round) divided by the same slot count: what it downloads it
//!   roughly uploads, split among mainline's unchokes. A peer we want nothing from ranks
//!   last (`d_p/u_p` taken as 0): it cannot reciprocate.
//! - **Capacity**: the driver's (a scenario's upload rate, `bt --up`); without one (`bt` with
//!   no `--up`) an estimate from the largest total upload rate seen ([`Capacity`]).
//! - **`selfish`** (default off, the released client): off, the peer whose `u_p` crosses the
//!   capacity is unchoked too and the caps of the unchoked peers that are interested are
//!   scaled to sum to the capacity ([`spend_all`], again whenever interest changes) — spare
//!   capacity goes to the active set in proportion to `u_p`. On, the cut stops before the
//!   crossing peer and caps stay at `u_p`: what reciprocation does not need is withheld (the
//!   paper's §5.3 swarm of selfish clients).
//! - **As a seed** there is nothing to reciprocate: it runs mainline's seed choker uncapped.
//! - Between rounds, a newly interested peer is unchoked at once (capped at `u_p`) only while
//!   nobody is unchoked and a mainline slot is free, so a new node does not idle until its
//!   first round.
//! - The active set holds at most [`MAX_ACTIVE`] peers.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::choker::{Choker, ChokerConfig};
use super::rates::{per_sec, spend_all, Capacity, MAX_ACTIVE};
use super::{Context, PeerView, Policy, Unchoke};
use crate::protocol::block::BLOCK_LEN;
use crate::PeerKey;

/// BitTyrant's parameters (the paper's defaults: δ = 0.2, γ = 0.1, r = 3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BitTyrantParams {
    /// Growth of `u_p` after a round `p` did not reciprocate.
    pub delta: f64,
    /// Shrink of `u_p` after `r` reciprocated rounds in a row.
    pub gamma: f64,
    pub r: u32,
    /// Withhold capacity reciprocation does not need.
    pub selfish: bool,
}

impl Default for BitTyrantParams {
    fn default() -> Self {
        BitTyrantParams {
            delta: 0.2,
            gamma: 0.1,
            r: 3,
            selfish: false,
        }
    }
}

/// What BitTyrant remembers of one peer.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    /// `d_p`, bytes/s.
    down: f64,
    /// `u_p`, bytes/s.
    up: f64,
    /// Reciprocated rounds in a row.
    streak: u32,
    /// It has sent us data: `down` is observed, not estimated from `have`s.
    observed: bool,
}

/// `u_p` never shrinks below one block per round: a smaller offer cannot be measured.
fn floor(ctx: &Context) -> f64 {
    per_sec(BLOCK_LEN as f64, ctx.round)
}

#[derive(Clone, Debug)]
pub struct BitTyrant {
    params: BitTyrantParams,
    /// Mainline's choker: the seed mode, and the slot count of the equal split.
    choker: Choker,
    capacity: Capacity,
    peers: BTreeMap<PeerKey, Estimate>,
    /// This round's active set and each peer's cap, bytes/s.
    active: BTreeMap<PeerKey, f64>,
}

impl BitTyrant {
    pub fn new(choker: ChokerConfig, params: BitTyrantParams) -> Self {
        BitTyrant {
            params,
            choker: Choker::new(choker),
            capacity: Capacity::default(),
            peers: BTreeMap::new(),
            active: BTreeMap::new(),
        }
    }

    fn slots(&self) -> f64 {
        self.choker.slots().max(1) as f64
    }

    /// `u_p` of a peer seen for the first time: the equal split.
    fn initial_up(&self, ctx: &Context, capacity: f64) -> f64 {
        (capacity / self.slots()).max(floor(ctx))
    }

    /// The end-of-round updates of `d_p` and `u_p` (§4). `u_p` grows at most to the capacity:
    /// more cannot be offered, and it keeps the estimate finite.
    fn learn(&mut self, ctx: &Context, peers: &[PeerView], capacity: f64) {
        let initial = self.initial_up(ctx, capacity);
        let floor = floor(ctx);
        let slots = self.slots();
        let BitTyrantParams {
            delta, gamma, r, ..
        } = self.params;
        for p in peers {
            let e = self.peers.entry(p.key).or_insert(Estimate {
                down: 0.0,
                up: initial,
                streak: 0,
                observed: false,
            });
            if p.round_down > 0 {
                e.down = per_sec(p.round_down as f64, ctx.round);
                e.observed = true;
            } else if !e.observed {
                let announced = p.round_haves as f64 * ctx.piece_length as f64;
                e.down = per_sec(announced, ctx.round) / slots;
            }
            if !self.active.contains_key(&p.key) || !p.am_interested {
                continue;
            }
            if p.round_down > 0 {
                e.streak += 1;
                if e.streak >= r {
                    e.up = ((1.0 - gamma) * e.up).max(floor);
                }
            } else {
                e.streak = 0;
                e.up = (e.up * (1.0 + delta)).min(capacity.max(floor));
            }
        }
    }

    /// The active set and caps for `capacity`: interested peers by `d_p/u_p`, cut at the
    /// capacity (see the module doc for `selfish`).
    fn choose(
        &self,
        peers: &[PeerView],
        capacity: f64,
        rng: &mut ChaCha8Rng,
    ) -> Vec<(PeerKey, f64)> {
        let mut ranked: Vec<(PeerKey, f64, f64)> = peers
            .iter()
            .filter(|p| p.interested)
            .filter_map(|p| {
                let e = self.peers.get(&p.key)?;
                let ratio = if p.am_interested { e.down / e.up } else { 0.0 };
                Some((p.key, ratio, e.up))
            })
            .collect();
        // Shuffle first so equal ratios (everyone at 0 at the start) are broken fairly.
        ranked.shuffle(rng);
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut set = Vec::new();
        let mut sum = 0.0;
        for (key, _, up) in ranked.into_iter().take(MAX_ACTIVE) {
            if sum >= capacity || (self.params.selfish && !set.is_empty() && sum + up > capacity) {
                break;
            }
            set.push((key, up.min(capacity)));
            sum += up.min(capacity);
        }
        set
    }
}

impl Policy for BitTyrant {
    fn rechoke(&mut self, ctx: &Context, peers: &[PeerView], rng: &mut ChaCha8Rng) -> Unchoke {
        self.capacity.observe(ctx, peers);
        let capacity = self.capacity.get(ctx).filter(|_| !ctx.am_seed);
        let Some(capacity) = capacity else {
            // A seed, or nothing uploaded yet without a known capacity: mainline, uncapped.
            self.active.clear();
            return self.choker.rechoke(ctx.now, peers, ctx.am_seed, rng);
        };
        self.learn(ctx, peers, capacity);
        self.active = self.choose(peers, capacity, rng).into_iter().collect();
        Unchoke {
            regular: self.active.keys().copied().collect(),
            optimistic: Default::default(),
        }
    }

    fn unchoke_on_interest(&mut self, unchoked: usize) -> bool {
        unchoked == 0 && self.choker.slots() > 0
    }

    fn max_unchoked(&self) -> usize {
        MAX_ACTIVE.max(self.choker.slots())
    }

    fn sets_caps(&self) -> bool {
        true
    }

    /// Active peers get their cap; a peer unchoked between rounds its `u_p` (the equal split
    /// if new); the rest, and everyone when there is no capacity to divide, none.
    fn caps(&mut self, ctx: &Context, peers: &[PeerView]) -> Vec<(PeerKey, Option<f64>)> {
        let capacity = self.capacity.get(ctx).filter(|_| !ctx.am_seed);
        let mut caps: Vec<_> = peers
            .iter()
            .map(|p| {
                let cap = capacity.filter(|_| p.unchoked).map(|c| {
                    self.active.get(&p.key).copied().unwrap_or_else(|| {
                        self.peers
                            .get(&p.key)
                            .map_or(self.initial_up(ctx, c), |e| e.up)
                            .min(c)
                    })
                });
                (p.key, cap)
            })
            .collect();
        if let Some(c) = capacity.filter(|_| !self.params.selfish) {
            spend_all(&mut caps, peers, c);
        }
        caps
    }

    fn forget(&mut self, key: PeerKey) {
        self.choker.forget(key);
        self.peers.remove(&key);
        self.active.remove(&key);
    }
}

#[cfg(test)]
#[path = "bittyrant_tests.rs"]
mod tests;
