//! State-machine property test of the [`Swarm`]: random announces (every event, seeds and
//! leechers, unknown stops, repeated completions), explicit expiry and a clock that may jump
//! back, against a reference model of membership, seeds and downloads, with the replies'
//! properties checked after every step.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

const TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug)]
enum Op {
    Announce {
        key: u32,
        event: AnnounceEvent,
        seed: bool,
        numwant: Option<usize>,
    },
    Expire,
    Tick {
        secs: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let event = prop_oneof![
        Just(AnnounceEvent::Started),
        Just(AnnounceEvent::Completed),
        Just(AnnounceEvent::Stopped),
        Just(AnnounceEvent::Update),
    ];
    prop_oneof![
        6 => (0u32..7, event, any::<bool>(), proptest::option::of(0usize..6))
            .prop_map(|(key, event, seed, numwant)| Op::Announce { key, event, seed, numwant }),
        1 => Just(Op::Expire),
        2 => (-600i64..2400).prop_map(|secs| Op::Tick { secs }),
    ]
}

/// The model: each member's seed flag and last announce, and downloads counted.
#[derive(Default)]
struct Model {
    peers: BTreeMap<u32, (bool, Instant)>,
    downloaded: u64,
    now: Instant,
}

impl Model {
    /// Members the swarm dropped must have been silent for over the timeout; members silent
    /// for over 1¼ timeouts must be gone after an announce (`exact`: after `expire`, at once).
    fn reconcile(&mut self, s: &Swarm<u32, u32>, exact: bool) -> Result<(), String> {
        let grace = if exact {
            Duration::ZERO
        } else {
            Duration(TIMEOUT.0 / 4)
        };
        let now = self.now;
        for (k, &(_, seen)) in &self.peers {
            let silent = now.saturating_since(seen);
            let present = s.peers.contains_key(k);
            if !present && silent <= TIMEOUT {
                return Err(format!("peer {k} dropped after {silent:?} of silence"));
            }
            if present && silent > Duration(TIMEOUT.0 + grace.0) {
                return Err(format!("peer {k} kept after {silent:?} of silence"));
            }
        }
        self.peers.retain(|k, _| s.peers.contains_key(k));
        let keys: BTreeSet<u32> = self.peers.keys().copied().collect();
        if keys != s.peers.keys().copied().collect() {
            return Err(format!(
                "swarm has peers the model never admitted: {keys:?}"
            ));
        }
        let seeds = self.peers.values().filter(|(seed, _)| *seed).count();
        let counts = ScrapeCounts {
            complete: seeds,
            incomplete: self.peers.len() - seeds,
            downloaded: self.downloaded,
        };
        if s.scrape() != counts || s.seeds != s.peers.values().filter(|e| e.seed).count() {
            return Err(format!("scrape {:?}, model {counts:?}", s.scrape()));
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn swarm_matches_model(ops in proptest::collection::vec(op(), 1..120)) {
        let cfg = TrackerConfig {
            default_numwant: 2,
            max_numwant: 3,
            peer_timeout: TIMEOUT,
            max_peers: 4,
            ..TrackerConfig::default()
        };
        let mut s: Swarm<u32, u32> = Swarm::new(cfg);
        let mut m = Model::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut now = Instant(10_000_000_000);
        for op in ops {
            match op {
                Op::Tick { secs } => now = Instant(now.0.saturating_add_signed(secs * 1_000_000)),
                Op::Expire => {
                    s.expire(now);
                    m.now = m.now.max(now);
                    m.reconcile(&s, true).map_err(TestCaseError::fail)?;
                }
                Op::Announce { key, event, seed, numwant } => {
                    let left = u64::from(!seed);
                    let got = s.announce(now, key, key, event, left, numwant, &mut rng);
                    m.now = m.now.max(now);
                    let member = s.peers.contains_key(&key);
                    match got {
                        Err(AnnounceError::SwarmFull(n)) => {
                            prop_assert!(event != AnnounceEvent::Stopped && !member && n == 4);
                            prop_assert_eq!(s.len(), 4);
                        }
                        Ok(reply) => {
                            if event == AnnounceEvent::Stopped {
                                prop_assert!(!member && reply.peers.is_empty());
                                m.peers.remove(&key);
                            } else {
                                prop_assert!(member);
                                let before = m.peers.get(&key).copied();
                                let was_seed = before.is_some_and(|(s, _)| s);
                                if seed && !was_seed && event == AnnounceEvent::Completed {
                                    m.downloaded += 1;
                                }
                                // A seed silent past the timeout may have just expired and come
                                // back as new, so its completion may count again.
                                let expired = before.is_some_and(|(_, t)| m.now.saturating_since(t) > TIMEOUT);
                                if was_seed && expired && event == AnnounceEvent::Completed {
                                    m.downloaded = s.scrape().downloaded.clamp(m.downloaded, m.downloaded + 1);
                                }
                                m.peers.insert(key, (seed, m.now));
                                let eligible = s.peers.iter()
                                    .filter(|(k, e)| **k != key && !(seed && e.seed))
                                    .count();
                                let want = numwant.unwrap_or(2).min(3);
                                prop_assert_eq!(reply.peers.len(), want.min(eligible));
                                let distinct: BTreeSet<u32> = reply.peers.iter().copied().collect();
                                prop_assert_eq!(distinct.len(), reply.peers.len());
                                for p in &reply.peers {
                                    let e = &s.peers[p];
                                    prop_assert!(*p != key && !(seed && e.seed), "returned {}", p);
                                }
                            }
                            prop_assert_eq!((reply.complete, reply.incomplete),
                                (s.scrape().complete, s.scrape().incomplete));
                        }
                    }
                    m.reconcile(&s, false).map_err(TestCaseError::fail)?;
                }
            }
            prop_assert!(s.len() <= 4);
        }
    }
}
