//! `false-have`: an adversary that announces pieces it does not have. At every rechoke it
//! sends `have` for `per_round` random pieces it lacks and has not claimed yet (peers that
//! connect later get the claims in its bitfield), so it looks further along and faster than
//! it is (BitTyrant estimates a peer's rate from its `have`s) and peers stay interested in
//! it for pieces it cannot give. Otherwise it plays tit-for-tat.
//!
//! The controller keeps the claims and answers requests for them with a reject (BEP 6) or,
//! without the fast extension, not at all; it never disconnects over them. Per-round `have`s
//! rather than one inflated bitfield at connect, because a rate estimate counts `have`s over
//! time and a bitfield alone would raise no one's estimate.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::protocol::bitfield::Bitfield;

/// What a false-have node claims: `per_round` pieces at each rechoke. Tit-for-tat
/// ([`super::tft::Tft::claiming`]) plays the rest of the game.
#[derive(Clone, Copy, Debug)]
pub struct FalseClaims {
    per_round: u32,
}

impl FalseClaims {
    pub fn new(per_round: u32) -> Self {
        FalseClaims { per_round }
    }

    /// `per_round` random pieces neither held nor claimed (fewer when fewer are left).
    pub fn pick(&self, have: &Bitfield, claimed: &Bitfield, rng: &mut ChaCha8Rng) -> Vec<u32> {
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

    #[test]
    fn claims_only_missing_unclaimed_pieces_per_round() {
        let p = FalseClaims::new(4);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut have = Bitfield::new(10);
        for i in [0, 2, 4] {
            have.set(i);
        }
        let mut claimed = Bitfield::new(10);
        claimed.set(1);
        let mut all = Vec::new();
        for want in [4, 2, 0] {
            let got = p.pick(&have, &claimed, &mut rng);
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
