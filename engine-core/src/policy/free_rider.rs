//! `free-rider`: downloads and never uploads (it unchokes nobody, even as a seed). The
//! baseline adversary every incentive mechanism is meant to punish.

use rand_chacha::ChaCha8Rng;

use super::{Context, PeerView, Policy, Unchoke};

#[derive(Clone, Copy, Debug)]
pub struct FreeRider;

impl Policy for FreeRider {
    fn rechoke(&mut self, _: &Context, _: &[PeerView], _: &mut ChaCha8Rng) -> Unchoke {
        Unchoke::default()
    }

    fn unchoke_on_interest(&mut self, _: usize) -> bool {
        false
    }

    fn max_unchoked(&self) -> usize {
        0
    }
}
