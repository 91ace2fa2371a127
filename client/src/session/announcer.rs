//! The client's settings of engine-core's peer-set and announce policy
//! ([`engine_core::policy::peer_set`]), and which tracker an announce goes to.

use std::time::Duration;

use engine_core::policy::peer_set::{PeerSetConfig, Retry};
use engine_core::time::{Duration as CoreDuration, Instant as CoreInstant};

/// The floor on a tracker's interval, protecting real trackers from a session that would
/// re-announce in a loop; `Options::min_announce_interval`, and printed by `bt swarm`.
pub const MIN_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(10);
/// The wait after a failed announce.
const ANNOUNCE_RETRY: Duration = Duration::from_secs(30);
/// Redial backoff: real dials fail and real peers restart.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// The policy with a real client's settings; `max_interval` bounds the tracker's interval
/// from above (the magnet metadata phase).
pub fn policy(
    max_connections: usize,
    numwant: u32,
    min_interval: Duration,
    max_interval: Option<Duration>,
) -> PeerSetConfig {
    PeerSetConfig {
        max_connections,
        dials_hold_slots: true,
        retry: Retry::Backoff {
            first: core_duration(FIRST_RETRY),
            max: core_duration(MAX_RETRY),
        },
        numwant,
        min_interval: core_duration(min_interval),
        max_interval: max_interval.map(core_duration),
        announce_retry: core_duration(ANNOUNCE_RETRY),
    }
}

/// A wall-clock duration as engine-core's.
pub fn core_duration(d: Duration) -> CoreDuration {
    CoreDuration(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Engine-core time of `t`, counted from `start`.
pub fn core_time(start: std::time::Instant, t: std::time::Instant) -> CoreInstant {
    CoreInstant(core_duration(t.saturating_duration_since(start)).0)
}

/// The wall-clock instant of engine-core time `t` (the inverse of [`core_time`]), for a
/// driver's timer.
pub fn wall_time(start: std::time::Instant, t: CoreInstant) -> std::time::Instant {
    start + Duration::from_micros(t.0)
}

/// The torrent's `http://` and `udp://` trackers in preference order; a failing one moves to
/// the back.
pub struct Trackers {
    urls: Vec<String>,
    /// The listen port we announce.
    pub port: u16,
}

impl Trackers {
    pub fn new(urls: Vec<String>, port: u16) -> Self {
        Trackers { urls, port }
    }

    pub fn url(&self) -> Option<String> {
        self.urls.first().cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The current tracker failed: try the next one first from now on.
    pub fn failed(&mut self) {
        let n = 1.min(self.urls.len());
        self.urls.rotate_left(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_tracker_moves_to_the_back() {
        let mut t = Trackers::new(vec!["http://a".into(), "http://b".into()], 1);
        t.failed();
        assert_eq!(t.url().as_deref(), Some("http://b"));
        assert!(Trackers::new(vec![], 1).url().is_none());
    }

    #[test]
    fn time_converts_to_microseconds() {
        let t0 = std::time::Instant::now();
        assert_eq!(
            core_time(t0, t0 + Duration::from_millis(1500)),
            CoreInstant(1_500_000)
        );
        assert_eq!(core_time(t0 + Duration::from_secs(1), t0), CoreInstant(0));
        assert_eq!(
            wall_time(t0, CoreInstant(1_500_000)),
            t0 + Duration::from_millis(1500)
        );
    }
}
