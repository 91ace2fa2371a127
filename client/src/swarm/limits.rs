//! The real client's and tracker's limits a scenario meets under `bt swarm`. The simulator
//! takes the scenario's values as they are; real sessions keep `bt`'s floors, which protect
//! real trackers, so a scenario time-compressed below them is run with the floor — said in a
//! warning and in the `[bt]` table printed after the resolved configuration and written to
//! `bt-limits.toml`, never applied silently.

use std::time::Duration;

use std::collections::BTreeMap;

use engine_core::tracker::TrackerConfig;
use scenario::draws::resolve_nodes;
use scenario::Scenario;

use crate::session::announcer::{self, MIN_ANNOUNCE_INTERVAL};

/// Wall-clock values; scenario time is wall time × K.
#[derive(Debug, PartialEq)]
pub struct Limits {
    k: f64,
    /// The sessions' floor on the tracker's interval.
    pub min_announce_interval: Duration,
    /// The most peers `bt tracker` returns per announce (engine-core's tracker default).
    pub tracker_max_numwant: u32,
    /// `tracker.interval` ÷ K as asked for.
    requested_interval: Duration,
    /// What the loopback tracker tells the sessions: whole seconds, at least 1 s (BEP 3's
    /// interval is an integer).
    pub tracker_interval: Duration,
    /// What the sessions use: the tracker's interval, at least the floor.
    pub announce_interval: Duration,
    requested_numwant: u32,
    /// Peers an announce can return.
    pub numwant: u32,
    /// Policies whose own re-announce interval (`large-view`'s `reannounce` ÷ K) the floor
    /// raises: the policy as printed, the wall interval asked and the one run.
    policy_intervals: Vec<(String, Duration, Duration)>,
}

impl Limits {
    pub fn new(sc: &Scenario, k: f64) -> Limits {
        let requested_interval = Duration::from_secs_f64(sc.tracker.interval.0.as_secs_f64() / k);
        let tracker_interval = Duration::from_secs(requested_interval.as_secs().max(1));
        let tracker_max_numwant =
            u32::try_from(TrackerConfig::default().max_numwant).unwrap_or(u32::MAX);
        Limits {
            k,
            min_announce_interval: MIN_ANNOUNCE_INTERVAL,
            tracker_max_numwant,
            requested_interval,
            tracker_interval,
            announce_interval: tracker_interval.max(MIN_ANNOUNCE_INTERVAL),
            requested_numwant: sc.tracker.numwant,
            numwant: sc.tracker.numwant.min(tracker_max_numwant),
            policy_intervals: policy_intervals(sc, k),
        }
    }

    /// The time compression K.
    pub fn scale(&self) -> f64 {
        self.k
    }

    /// One line for each scenario value a limit changes, naming the asked and the effective.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.announce_interval != self.requested_interval {
            w.push(self.interval_raised(
                "tracker.interval is",
                self.requested_interval,
                "sessions re-announce",
                self.announce_interval,
                " and the tracker's interval is whole seconds",
            ));
        }
        if self.numwant != self.requested_numwant {
            w.push(format!(
                "warning: tracker.numwant is {}; bt tracker returns at most {} peers per announce \
                 (its max_numwant), so sessions get at most {}",
                self.requested_numwant, self.tracker_max_numwant, self.numwant
            ));
        }
        for (policy, asked, got) in &self.policy_intervals {
            w.push(self.interval_raised(
                &format!("policy {policy} re-announces every"),
                *asked,
                "it runs",
                *got,
                "",
            ));
        }
        w
    }

    /// An interval asked for (`asked`, wall time) that runs as `got` because of bt's floor.
    fn interval_raised(
        &self,
        asked_what: &str,
        asked: Duration,
        who: &str,
        got: Duration,
        why: &str,
    ) -> String {
        format!(
            "warning: {asked_what} {:.0} s of scenario time, {:.2} s wall at K = {}; {who} every \
             {:.2} s wall ({:.0} s of scenario time): bt's min_announce_interval is {} s{why}",
            asked.as_secs_f64() * self.k,
            asked.as_secs_f64(),
            self.k,
            got.as_secs_f64(),
            got.as_secs_f64() * self.k,
            self.min_announce_interval.as_secs_f64(),
        )
    }

    /// The `[bt]` table: every limit, and the effective values it leads to.
    pub fn to_toml(&self) -> String {
        let s = |d: Duration| d.as_secs_f64();
        format!(
            "# bt swarm: the real client's limits and what they make of the scenario, in wall\n\
             # seconds (scenario time = wall × K)\n\
             [bt]\n\
             scale = {}\n\
             min_announce_interval_s = {}\n\
             tracker_max_numwant = {}\n\
             tracker_interval_s = {}\n\
             announce_interval_s = {}\n\
             numwant = {}\n",
            self.k,
            s(self.min_announce_interval),
            self.tracker_max_numwant,
            s(self.tracker_interval),
            s(self.announce_interval),
            self.numwant,
        )
    }
}

/// The nodes' policies that bound the announce interval themselves, below the floor once
/// time is compressed by `k`: each with the wall interval it asks for and the one it gets.
fn policy_intervals(sc: &Scenario, k: f64) -> Vec<(String, Duration, Duration)> {
    let interval = |policy: &engine_core::policy::spec::PolicySpec, floor: Duration| {
        let base = announcer::policy(1, sc.tracker.numwant, floor, None);
        let cfg = policy.time_compressed(k).peer_set(base);
        cfg.max_interval.map(|d| Duration::from_micros(d.0))
    };
    let policies: BTreeMap<String, _> = resolve_nodes(sc)
        .into_iter()
        .map(|(n, _)| (n.policy.to_string(), n.policy))
        .collect();
    policies
        .into_iter()
        .filter_map(|(name, p)| {
            let asked = interval(&p, Duration::ZERO)?;
            let got = interval(&p, MIN_ANNOUNCE_INTERVAL)?;
            (got != asked).then_some((name, asked, got))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(sets: &[&str]) -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/g1t2.toml");
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Scenario::load(std::path::Path::new(path), &sets).unwrap()
    }

    /// The warning `w` says every one of `parts`.
    fn assert_says(w: &str, parts: &[&str]) {
        for p in parts {
            assert!(w.contains(p), "{p:?} missing from: {w}");
        }
    }

    #[test]
    fn an_interval_below_the_floor_is_raised_and_said() {
        // 5 min ÷ 36 = 8.33 s wall: the tracker says 8 s, the sessions wait 10 s = 360 s.
        let l = Limits::new(&scenario(&[]), 36.0);
        assert_eq!(l.tracker_interval, Duration::from_secs(8));
        assert_eq!(l.announce_interval, Duration::from_secs(10));
        let w = l.warnings();
        assert_eq!(w.len(), 1);
        assert_says(
            &w[0],
            &[
                "300 s of scenario time, 8.33 s wall",
                "every 10.00 s wall (360 s of scenario time)",
            ],
        );
        assert!(l.to_toml().contains("min_announce_interval_s = 10\n"));
        assert!(l.to_toml().contains("announce_interval_s = 10\n"));
    }

    #[test]
    fn values_within_the_limits_pass_unchanged() {
        let l = Limits::new(&scenario(&["tracker.numwant=30"]), 20.0);
        assert_eq!(l.announce_interval, Duration::from_secs(15));
        assert_eq!(l.numwant, 30);
        assert!(l.warnings().is_empty());
    }

    #[test]
    fn a_policys_own_interval_below_the_floor_is_said() {
        // large-view re-announces every 30 s: 3.75 s wall at K = 8, run at the 10 s floor.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/swarm/mixed.toml");
        let sc = Scenario::load(std::path::Path::new(path), &[]).unwrap();
        let w = Limits::new(&sc, 8.0).warnings();
        let lv: Vec<&String> = w.iter().filter(|w| w.contains("large-view")).collect();
        assert_eq!(lv.len(), 1, "{w:?}");
        assert_says(
            lv[0],
            &[
                "30 s of scenario time, 3.75 s wall",
                "every 10.00 s wall (80 s of scenario time)",
            ],
        );
        // At K = 2 (15 s wall) the floor does not bind.
        let w = Limits::new(&sc, 2.0).warnings();
        assert!(w.iter().all(|w| !w.contains("large-view")), "{w:?}");
    }

    #[test]
    fn numwant_above_the_trackers_maximum_is_said() {
        let l = Limits::new(&scenario(&["tracker.numwant=500"]), 20.0);
        assert_eq!(l.numwant, 200);
        let w = l.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("tracker.numwant is 500") && w[0].contains("at most 200"));
    }
}
