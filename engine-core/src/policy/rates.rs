//! What the rate-dividing policies ([`bittyrant`](super::bittyrant),
//! [`propshare`](super::propshare)) share: both split an upload capacity among peers by
//! rates measured per rechoke round, so both need that capacity even when the driver does not
//! know it, and a bound on how many peers they unchoke at once.

use super::{Context, PeerView};
use crate::time::Duration;
use crate::PeerKey;

/// The most peers a rate-dividing policy unchokes at once. Their active sets grow as per-peer
/// shares shrink, so without a bound a leecher could unchoke every connection; 32 is well
/// above what they pick at the papers' capacities (5–20 peers) and keeps the controller's
/// "unchoked ≤ `max_unchoked`" invariant meaningful.
pub const MAX_ACTIVE: usize = 32;

/// How far above the largest upload seen an estimated capacity reaches, so that caps summing
/// to the estimate still leave room to discover a larger capacity.
const PROBE: f64 = 1.2;

/// `bytes` over one round, in bytes/s (a zero-length round counts as one microsecond).
pub fn per_sec(bytes: f64, round: Duration) -> f64 {
    bytes / round.as_secs_f64().max(1e-6)
}

/// Our upload capacity as a policy divides it.
#[derive(Clone, Debug, Default)]
pub struct Capacity {
    /// The largest total upload rate over one round seen so far, bytes/s.
    largest: f64,
}

impl Capacity {
    /// Records the total upload of the round that just ended.
    pub fn observe(&mut self, ctx: &Context, peers: &[PeerView]) {
        let total: u64 = peers.iter().map(|p| p.round_up).sum();
        self.largest = self.largest.max(per_sec(total as f64, ctx.round));
    }

    /// The driver's capacity (a scenario's upload rate, `bt --up`) when it knows it; else an
    /// estimate, [`PROBE`] × the largest total upload rate seen so far; `None` before any
    /// upload has been seen (nothing to divide yet).
    pub fn get(&self, ctx: &Context) -> Option<f64> {
        match ctx.upload_capacity {
            Some(c) => Some(c),
            None if self.largest > 0.0 => Some(PROBE * self.largest),
            None => None,
        }
    }
}

/// Scales the caps of the peers that can use upload now (unchoked and interested) so they sum
/// to `capacity`: a share whose peer lost interest goes to the others instead of idling until
/// the next round. `caps` is in `peers`' order; uncapped peers and the rest are left alone.
pub fn spend_all(caps: &mut [(PeerKey, Option<f64>)], peers: &[PeerView], capacity: f64) {
    let usable = |p: &PeerView| p.unchoked && p.interested;
    let used = caps.iter_mut().zip(peers).filter(|(_, p)| usable(p));
    let mut caps: Vec<&mut f64> = used.filter_map(|((_, c), _)| c.as_mut()).collect();
    let sum: f64 = caps.iter().map(|c| **c).sum();
    if sum > 0.0 {
        for c in &mut caps {
            **c *= capacity / sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    #[test]
    fn estimate_follows_the_largest_round_and_the_driver_wins() {
        let mut ctx = Context {
            now: Instant::ZERO,
            am_seed: false,
            upload_capacity: None,
            round: Duration::from_secs(10),
            piece_length: 1,
        };
        let up = |b: u64| PeerView {
            round_up: b,
            ..PeerView::default()
        };
        let mut c = Capacity::default();
        assert_eq!(c.get(&ctx), None);
        c.observe(&ctx, &[up(600), up(400)]);
        c.observe(&ctx, &[up(500)]);
        assert_eq!(c.get(&ctx), Some(120.0));
        ctx.upload_capacity = Some(7.0);
        assert_eq!(c.get(&ctx), Some(7.0));
    }

    #[test]
    fn spend_all_rescales_only_peers_that_can_use_upload() {
        let view = |key, unchoked, interested| PeerView {
            key,
            unchoked,
            interested,
            ..PeerView::default()
        };
        let peers = [
            view(1, true, true),
            view(2, true, false),
            view(3, true, true),
            view(4, false, true),
        ];
        let mut caps = vec![(1, Some(30.0)), (2, Some(50.0)), (3, Some(10.0)), (4, None)];
        spend_all(&mut caps, &peers, 100.0);
        assert_eq!(
            caps,
            vec![(1, Some(75.0)), (2, Some(50.0)), (3, Some(25.0)), (4, None)]
        );
    }
}
