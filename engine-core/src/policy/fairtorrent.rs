//! `fairtorrent`: FairTorrent (Sherman, Nieh, Stein, "FairTorrent: bringing fairness to
//! peer-to-peer systems", CoNEXT 2009). No rounds and no choking game: every interested peer
//! is unchoked, and each next block goes to the waiting peer with the smallest deficit
//! `sent − received` over its connection. A peer that gives us more gets more back, block by
//! block, so each pair's exchange stays balanced; a seed (nothing received) splits evenly.
//!
//! Uploads in this core are pulled by the driver per connection, so the rule is applied as an
//! admission test ([`Policy::admit_upload`]): a peer more than `slack` bytes above the smallest
//! deficit among waiting peers is refused and parked by the controller until it is within
//! reach again. The slack (one block by default) lets peers whose deficits differ by less than
//! a block share the uplink, as FairTorrent's one-block-at-a-time sending does over time.

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;

use super::{Context, PeerView, Policy, Unchoke, UploadDemand};
use crate::PeerKey;

#[derive(Clone, Copy, Debug)]
pub struct FairTorrent {
    slack: u64,
}

impl FairTorrent {
    /// `slack`: how far above the smallest deficit (bytes) a peer may still be served.
    pub fn new(slack: u64) -> Self {
        FairTorrent { slack }
    }
}

/// Bytes sent to the peer beyond those received from it (negative: we owe it).
fn deficit(d: &UploadDemand) -> i128 {
    i128::from(d.total_up) - i128::from(d.total_down)
}

impl Policy for FairTorrent {
    fn rechoke(&mut self, _: &Context, peers: &[PeerView], _: &mut ChaCha8Rng) -> Unchoke {
        Unchoke {
            regular: peers
                .iter()
                .filter(|p| p.interested)
                .map(|p| p.key)
                .collect(),
            optimistic: BTreeSet::new(),
        }
    }

    fn unchoke_on_interest(&mut self, _: usize) -> bool {
        true
    }

    fn max_unchoked(&self) -> usize {
        usize::MAX
    }

    fn paces_uploads(&self) -> bool {
        true
    }

    /// Yes for every peer within `slack` of the smallest deficit, so always for one.
    fn admit_upload(&self, peer: PeerKey, waiting: &[UploadDemand]) -> bool {
        let Some(min) = waiting.iter().map(deficit).min() else {
            return true;
        };
        waiting
            .iter()
            .find(|d| d.key == peer)
            .is_none_or(|d| deficit(d) <= min + i128::from(self.slack))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(key: PeerKey, total_up: u64, total_down: u64) -> UploadDemand {
        UploadDemand {
            key,
            total_up,
            total_down,
        }
    }

    #[test]
    fn serves_the_smallest_deficit_within_the_slack() {
        let ft = FairTorrent::new(16384);
        // Deficits: 1 → −50,000 (it gave us more), 2 → 0, 3 → −40,000.
        let w = [
            demand(1, 10_000, 60_000),
            demand(2, 0, 0),
            demand(3, 0, 40_000),
        ];
        assert!(ft.admit_upload(1, &w));
        assert!(
            ft.admit_upload(3, &w),
            "−40,000 is within 16,384 of −50,000"
        );
        assert!(!ft.admit_upload(2, &w));
        // A peer not waiting is not held back by the others.
        assert!(ft.admit_upload(9, &w));
    }

    #[test]
    fn a_seed_serves_everyone_evenly_and_someone_always() {
        let ft = FairTorrent::new(16384);
        // A seed receives nothing: deficits are bytes sent, so whoever got least goes next.
        let mut sent = [0u64; 4];
        for _ in 0..400 {
            let w: Vec<_> = (0..4).map(|k| demand(k, sent[k as usize], 0)).collect();
            let admitted: Vec<PeerKey> = (0..4).filter(|&k| ft.admit_upload(k, &w)).collect();
            assert!(!admitted.is_empty(), "nobody admitted: {w:?}");
            // The driver pulls for the first admitted connection.
            sent[admitted[0] as usize] += 16384;
        }
        // Within one block of each other, plus the block that put the leader ahead.
        let (lo, hi) = (sent.iter().min().unwrap(), sent.iter().max().unwrap());
        assert!(hi - lo <= 2 * 16384, "{sent:?}");
        assert_eq!(sent.iter().sum::<u64>(), 400 * 16384);
    }
}
