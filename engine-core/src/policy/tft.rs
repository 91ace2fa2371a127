//! `tft`: mainline BitTorrent's tit-for-tat (the reference every other mechanism is compared
//! with). Unchoke the peers we download from fastest plus a rotating optimistic unchoke; a
//! seed ranks by its own upload. No per-peer caps: unchoked peers share the upload by the
//! transport's fairness.

use rand_chacha::ChaCha8Rng;

use super::choker::{Choker, ChokerConfig};
use super::false_have::FalseClaims;
use super::{Context, PeerView, Policy, Unchoke};
use crate::protocol::bitfield::Bitfield;
use crate::PeerKey;

#[derive(Clone, Debug)]
pub struct Tft {
    choker: Choker,
    /// The `false-have` adversary: tit-for-tat that also announces pieces it lacks.
    claims: Option<FalseClaims>,
}

impl Tft {
    pub fn new(cfg: ChokerConfig) -> Self {
        Tft {
            choker: Choker::new(cfg),
            claims: None,
        }
    }

    /// This tit-for-tat as the `false-have` adversary.
    pub fn claiming(self, claims: FalseClaims) -> Self {
        Tft {
            claims: Some(claims),
            ..self
        }
    }
}

impl Policy for Tft {
    fn rechoke(&mut self, ctx: &Context, peers: &[PeerView], rng: &mut ChaCha8Rng) -> Unchoke {
        self.choker.rechoke(ctx.now, peers, ctx.am_seed, rng)
    }

    fn unchoke_on_interest(&mut self, unchoked: usize) -> bool {
        unchoked < self.choker.slots()
    }

    fn max_unchoked(&self) -> usize {
        self.choker.slots()
    }

    fn forget(&mut self, key: PeerKey) {
        self.choker.forget(key);
    }

    fn advertise(
        &mut self,
        _: &Context,
        have: &Bitfield,
        claimed: &Bitfield,
        rng: &mut ChaCha8Rng,
    ) -> Vec<u32> {
        self.claims
            .map_or_else(Vec::new, |c| c.pick(have, claimed, rng))
    }
}
