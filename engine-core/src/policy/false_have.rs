//! `false-have`: an adversary that announces pieces it does not have. At every rechoke it
//! sends `have` for `per_round` random pieces it lacks and has not claimed yet (peers that
//! connect later get the claims in its bitfield), so it looks further along and faster than
//! it is: BitTyrant estimates a peer's rate from its `have`s, and rarest-first peers find it
//! interesting for pieces nobody else offers. Otherwise it plays tit-for-tat.
//!
//! The controller keeps the claims and answers requests for them with a reject (BEP 6) or,
//! without the fast extension, not at all; it never disconnects over them. Per-round `have`s
//! rather than one inflated bitfield at connect, because a rate estimate counts `have`s over
//! time and a bitfield alone would raise no one's estimate.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::choker::ChokerConfig;
use super::tft::Tft;
use super::{Context, PeerView, Policy, Unchoke};
use crate::protocol::bitfield::Bitfield;
use crate::PeerKey;

#[derive(Clone, Debug)]
pub struct FalseHave {
    tft: Tft,
    per_round: u32,
}

impl FalseHave {
    pub fn new(cfg: ChokerConfig, per_round: u32) -> Self {
        FalseHave {
            tft: Tft::new(cfg),
            per_round,
        }
    }
}

impl Policy for FalseHave {
    fn rechoke(&mut self, ctx: &Context, peers: &[PeerView], rng: &mut ChaCha8Rng) -> Unchoke {
        self.tft.rechoke(ctx, peers, rng)
    }

    fn unchoke_on_interest(&mut self, unchoked: usize) -> bool {
        self.tft.unchoke_on_interest(unchoked)
    }

    fn max_unchoked(&self) -> usize {
        self.tft.max_unchoked()
    }

    fn forget(&mut self, key: PeerKey) {
        self.tft.forget(key);
    }

    /// `per_round` random pieces neither held nor claimed (fewer when fewer are left).
    fn advertise(
        &mut self,
        _: &Context,
        have: &Bitfield,
        claimed: &Bitfield,
        rng: &mut ChaCha8Rng,
    ) -> Vec<u32> {
        let unclaimed: Vec<u32> = (0..have.len())
            .filter(|&i| !have.get(i) && !claimed.get(i))
            .collect();
        let mut picked: Vec<u32> = unclaimed
            .choose_multiple(rng, self.per_round as usize)
            .copied()
            .collect();
        picked.sort_unstable();
        picked
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::time::{Duration, Instant};

    #[test]
    fn claims_only_missing_unclaimed_pieces_per_round() {
        let mut p = FalseHave::new(ChokerConfig::default(), 4);
        let ctx = Context {
            now: Instant::ZERO,
            am_seed: false,
            upload_capacity: None,
            round: Duration::from_secs(10),
            piece_length: 1,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut have = Bitfield::new(10);
        for i in [0, 2, 4] {
            have.set(i);
        }
        let mut claimed = Bitfield::new(10);
        claimed.set(1);
        let mut all = Vec::new();
        for want in [4, 2, 0] {
            let got = p.advertise(&ctx, &have, &claimed, &mut rng);
            assert_eq!(got.len(), want, "{got:?}");
            for &i in &got {
                assert!(!have.get(i) && claimed.set(i), "piece {i} held or claimed");
            }
            all.extend(got);
        }
        all.sort_unstable();
        assert_eq!(all, [3, 5, 6, 7, 8, 9]);
    }
}
