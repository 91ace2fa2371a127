//! `large-view`: BitThief's large-view exploit (Locher et al., HotNets 2006; Sirivianos et al.,
//! IPTPS 2007). A free-rider — it never uploads, behaving as [`super::free_rider`] — that
//! widens its view of the swarm instead: it asks the tracker for as many peers as it will give
//! (`numwant`), re-announces as often as allowed (`reannounce`) and connects to all of them
//! (`max_connections`). Every compliant peer it reaches may pick it for an optimistic unchoke
//! or a seed slot, so the more peers it knows the more it gets without giving anything.
//!
//! The behaviour lives in the peer-set rules, which both drivers build: [`LargeView::peer_set`]
//! is applied to a node's [`PeerSetConfig`] by the simulator's world and `bt`'s session alike
//! (through [`super::spec::PolicySpec::peer_set`]).

use super::peer_set::PeerSetConfig;
use super::spec::{Params, PolicyError};
use crate::time::Duration;
use crate::units::Dur;

/// The exploit's parameters; defaults: engine-core's tracker cap on `numwant` (200), a
/// re-announce every 30 s and room for 1,000 connections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LargeView {
    /// Peers asked for per announce; a tracker answers at most its own cap.
    pub numwant: u32,
    /// The wanted re-announce interval. The driver's floor on the tracker's interval still
    /// applies (`bt`: 10 s; the simulated tracker has none).
    pub reannounce: Dur,
    pub max_connections: usize,
}

impl Default for LargeView {
    fn default() -> Self {
        LargeView {
            numwant: 200,
            reannounce: Dur(Duration::from_secs(30)),
            max_connections: 1000,
        }
    }
}

impl LargeView {
    pub(super) fn from_params(p: &mut Params) -> Result<LargeView, PolicyError> {
        let d = LargeView::default();
        let v = LargeView {
            numwant: p.get("numwant", d.numwant)?,
            reannounce: p.get("reannounce", d.reannounce)?,
            max_connections: p.get("max_connections", d.max_connections)?,
        };
        if v.reannounce.0 < Duration::from_secs(1) {
            return Err(p.invalid("reannounce", v.reannounce, "must be at least 1s"));
        }
        if v.max_connections == 0 {
            return Err(p.invalid("max_connections", 0, "must be at least 1"));
        }
        Ok(v)
    }

    pub(super) fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("numwant", self.numwant.to_string()),
            ("reannounce", self.reannounce.to_string()),
            ("max_connections", self.max_connections.to_string()),
        ]
    }

    /// The driver's peer-set rules widened: never fewer peers or connections than the
    /// driver's own, and a re-announce at least every `reannounce` but no more often than the
    /// driver's floor (`min_interval`), which protects real trackers.
    pub fn peer_set(&self, base: PeerSetConfig) -> PeerSetConfig {
        let every = self.reannounce.0.max(base.min_interval);
        PeerSetConfig {
            numwant: base.numwant.max(self.numwant),
            max_connections: base.max_connections.max(self.max_connections),
            max_interval: Some(base.max_interval.map_or(every, |m| m.min(every))),
            ..base
        }
    }

    /// The same exploit with time running `k` times faster (`bt swarm`'s compression).
    pub fn time_compressed(&self, k: f64) -> LargeView {
        LargeView {
            reannounce: Dur(Duration::from_secs_f64_ceil(
                self.reannounce.0.as_secs_f64() / k,
            )),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::peer_set::Retry;

    fn base(min_interval: u64) -> PeerSetConfig {
        PeerSetConfig {
            max_connections: 55,
            dials_hold_slots: false,
            retry: Retry::Never,
            numwant: 50,
            min_interval: Duration::from_secs(min_interval),
            max_interval: None,
            announce_retry: Duration::from_secs(30),
        }
    }

    #[test]
    fn widens_the_view_and_keeps_the_drivers_floor() {
        let lv = LargeView::default();
        let c = lv.peer_set(base(0));
        assert_eq!((c.numwant, c.max_connections), (200, 1000));
        assert_eq!(c.max_interval, Some(Duration::from_secs(30)));
        assert_eq!(c.retry, Retry::Never);
        // `bt`'s 10 s floor wins over a 1 s wish; a driver's own bound that is shorter stays.
        let fast = LargeView {
            reannounce: Dur(Duration::from_secs(1)),
            ..lv
        };
        assert_eq!(
            fast.peer_set(base(10)).max_interval,
            Some(Duration::from_secs(10))
        );
        let magnet = PeerSetConfig {
            max_interval: Some(Duration::from_secs(20)),
            ..base(10)
        };
        assert_eq!(
            lv.peer_set(magnet).max_interval,
            Some(Duration::from_secs(20))
        );
        // Never narrower than the driver's own settings.
        let wide = PeerSetConfig {
            numwant: 500,
            max_connections: 2000,
            ..base(0)
        };
        let c = lv.peer_set(wide);
        assert_eq!((c.numwant, c.max_connections), (500, 2000));
    }

    #[test]
    fn time_compression_divides_the_reannounce_interval() {
        assert!("large-view:reannounce=0s"
            .parse::<crate::policy::spec::PolicySpec>()
            .is_err());
        let lv = LargeView::default().time_compressed(40.0);
        assert_eq!(lv.reannounce.0, Duration::from_millis(750));
        assert_eq!(lv.numwant, 200);
    }
}
