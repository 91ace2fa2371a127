//! The peer-set policy by hand-computed cases, and its invariants under random driving.

use super::*;
use proptest::prelude::*;

const S: u64 = 1_000_000;

fn cfg(max_connections: usize, retry: Retry) -> PeerSetConfig {
    PeerSetConfig {
        max_connections,
        dials_hold_slots: true,
        retry,
        numwant: 50,
        min_interval: Duration::from_secs(10),
        max_interval: None,
        announce_retry: Duration::from_secs(30),
    }
}

const BACKOFF: Retry = Retry::Backoff {
    first: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

fn t(secs: u64) -> Instant {
    Instant(secs * S)
}

fn drain(p: &mut PeerSet<u32>, now: Instant) -> Vec<Action<u32>> {
    std::iter::from_fn(|| p.poll_action(now)).collect()
}

fn dials(actions: &[Action<u32>]) -> Vec<u32> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial(x) => Some(*x),
            Action::Announce(_) => None,
        })
        .collect()
}

#[test]
fn backoff_doubles_from_one_second_to_sixty() {
    let secs: Vec<u64> = (0..9).map(|f| BACKOFF.delay(f).unwrap().0 / S).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(Retry::Never.delay(3), None);
    // Through the peer set: three failed dials, then a connection resets the count.
    let mut p = PeerSet::new(cfg(5, BACKOFF));
    p.learn(t(0), [7]);
    let mut now = t(0);
    for wait in [2, 4, 8] {
        assert_eq!(dials(&drain(&mut p, now)), [7]);
        p.closed(now, &7, true);
        assert_eq!(p.poll_timeout(), Some(Instant(now.0 + wait * S)));
        assert!(dials(&drain(&mut p, Instant(now.0 + wait * S - 1))).is_empty());
        now = Instant(now.0 + wait * S);
    }
    assert_eq!(dials(&drain(&mut p, now)), [7]);
    p.connected(7);
    p.closed(now, &7, false);
    assert_eq!(p.poll_timeout(), Some(Instant(now.0 + S)));
}

#[test]
fn dials_in_learning_order_up_to_the_limit() {
    let mut p = PeerSet::new(cfg(3, BACKOFF));
    p.learn(t(0), [9, 2, 5, 1]);
    p.learn(t(0), [2, 8]); // known: keeps its place
    assert_eq!(dials(&drain(&mut p, t(0))), [9, 2, 5]);
    assert!(!p.accepts(&4), "dials hold every slot");
    p.closed(t(0), &2, true);
    assert_eq!(dials(&drain(&mut p, t(0))), [1]);
    assert_eq!(p.known().copied().collect::<Vec<_>>(), [1, 2, 5, 8, 9]);
}

#[test]
fn retry_never_forgets_what_it_does_not_dial() {
    let mut c = cfg(2, Retry::Never);
    c.dials_hold_slots = false;
    let mut p = PeerSet::new(c);
    p.learn(t(0), [3, 4, 5]);
    assert_eq!(dials(&drain(&mut p, t(0))), [3, 4]);
    p.connected(3);
    p.dial_refused(t(0), &4);
    assert_eq!(p.known().copied().collect::<Vec<_>>(), [3]);
    // Slots are counted at connection time: one incoming fills the last one.
    assert!(p.accepts(&6));
    p.connected(6);
    assert!(!p.accepts(&7));
    assert!(!p.completes(&8));
    p.closed(t(1), &3, false);
    assert!(drain(&mut p, t(100)).is_empty());
    assert_eq!(p.connected_peers().copied().collect::<Vec<_>>(), [6]);
}

#[test]
fn a_refused_dial_keeps_the_connection_the_other_side_made() {
    let mut p = PeerSet::new(cfg(4, Retry::Never));
    p.learn(t(0), [1]);
    assert_eq!(dials(&drain(&mut p, t(0))), [1]);
    assert!(p.accepts(&1));
    p.connected(1);
    p.dial_refused(t(0), &1);
    assert!(p.is_connected(&1));
    assert_eq!(p.num_connected(), 1);
}

#[test]
fn banned_addresses_are_never_dialed_or_accepted() {
    let mut p = PeerSet::new(cfg(5, BACKOFF));
    p.learn(t(0), [1, 2]);
    assert_eq!(dials(&drain(&mut p, t(0))), [1, 2]);
    p.ban(1); // its handshake carried our own peer id
    p.closed(t(0), &1, false);
    p.learn(t(0), [1]);
    assert!(!p.accepts(&1));
    assert!(dials(&drain(&mut p, t(1000))).is_empty());
    assert_eq!(p.known().copied().collect::<Vec<_>>(), [2]);
}

fn announces(p: &mut PeerSet<u32>, now: Instant) -> Vec<Announce> {
    drain(p, now)
        .into_iter()
        .filter_map(|a| match a {
            Action::Announce(x) => Some(x),
            Action::Dial(_) => None,
        })
        .collect()
}

fn ann(event: AnnounceEvent, numwant: u32) -> Announce {
    Announce { event, numwant }
}

#[test]
fn announce_schedule_honours_the_floor_and_completed_keeps_it() {
    use AnnounceEvent::*;
    let mut p = PeerSet::new(cfg(5, BACKOFF));
    assert!(announces(&mut p, t(0)).is_empty(), "not announcing yet");
    p.start_announcing(t(0));
    assert_eq!(announces(&mut p, t(0)), [ann(Started, 50)]);
    assert!(announces(&mut p, t(0)).is_empty(), "one in flight");
    p.announced(t(1), Started, Some(Duration::from_secs(3)));
    // The tracker asked for 3 s; the floor is 10 s.
    assert_eq!(p.poll_timeout(), Some(t(11)));
    assert!(announces(&mut p, t(10)).is_empty());
    p.completed(t(5));
    assert_eq!(announces(&mut p, t(5)), [ann(Completed, 0)]);
    p.announced(t(6), Completed, None);
    assert_eq!(p.poll_timeout(), Some(t(11)), "the update keeps its time");
    assert_eq!(announces(&mut p, t(11)), [ann(Update, 50)]);
    p.announced(t(12), Update, Some(Duration::from_secs(1800)));
    assert_eq!(
        p.poll_timeout(),
        Some(t(36)),
        "completed retried 30 s after failing"
    );
    assert_eq!(p.stop(), [ann(Completed, 0), ann(Stopped, 0)]);
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn announce_interval_is_capped_and_failures_retried() {
    use AnnounceEvent::*;
    let mut c = cfg(5, BACKOFF);
    c.max_interval = Some(Duration::from_secs(30));
    c.min_interval = Duration::ZERO;
    let mut p = PeerSet::new(c);
    p.start_announcing(t(0));
    assert_eq!(announces(&mut p, t(0)), [ann(Started, 50)]);
    p.announced(t(0), Started, None);
    assert_eq!(p.poll_timeout(), Some(t(30)));
    assert_eq!(announces(&mut p, t(30)), [ann(Started, 50)]);
    p.announced(t(30), Update, Some(Duration::from_secs(5))); // not in flight: ignored
    p.announced(t(30), Started, Some(Duration::from_secs(1800)));
    p.announced(t(30), Started, Some(Duration::from_secs(5))); // a second tracker's
    assert_eq!(p.next_announce(), Some(t(60)));
    assert!(PeerSet::<u32>::new(cfg(1, BACKOFF)).stop().is_empty());
}

#[derive(Clone, Debug)]
enum Op {
    Learn(Vec<u8>),
    Poll,
    Connect(u8),
    Incoming(u8),
    Refuse(u8),
    Close(u8, bool),
    Ban(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let a = 0u8..12;
    prop_oneof![
        prop::collection::vec(a.clone(), 0..6).prop_map(Op::Learn),
        Just(Op::Poll),
        a.clone().prop_map(Op::Connect),
        a.clone().prop_map(Op::Incoming),
        a.clone().prop_map(Op::Refuse),
        (a.clone(), any::<bool>()).prop_map(|(x, f)| Op::Close(x, f)),
        a.prop_map(Op::Ban),
    ]
}

proptest! {
    /// Driven as a driver would (incoming connections and answered dials only when the
    /// peer set admits them), it never dials a banned, connected or dialing address and
    /// never exceeds `max_connections`.
    #[test]
    fn never_dials_the_wrong_peer_nor_exceeds_the_limit(
        max in 1usize..5,
        hold in any::<bool>(),
        never in any::<bool>(),
        ops in prop::collection::vec(op(), 0..80),
    ) {
        let mut c = cfg(max, if never { Retry::Never } else { BACKOFF });
        c.dials_hold_slots = hold;
        let mut p = PeerSet::new(c);
        let mut banned = BTreeSet::new();
        let mut dialing = BTreeSet::new();
        let mut now = Instant::ZERO;
        for op in ops {
            now = now + Duration::from_secs(3);
            match op {
                Op::Learn(v) => p.learn(now, v.into_iter().map(u32::from)),
                Op::Poll => {
                    while let Some(Action::Dial(a)) = p.poll_action(now) {
                        prop_assert!(!banned.contains(&a) && !p.is_connected(&a));
                        prop_assert!(dialing.insert(a), "dialed {a} twice");
                        prop_assert!(dialing.len() + p.num_connected() <= max);
                    }
                }
                Op::Connect(a) => {
                    let a = u32::from(a);
                    if dialing.remove(&a) {
                        if p.completes(&a) { p.connected(a) } else { p.dial_refused(now, &a) }
                    }
                }
                Op::Incoming(a) => {
                    if p.accepts(&u32::from(a)) {
                        dialing.remove(&u32::from(a));
                        p.connected(u32::from(a));
                    }
                }
                Op::Refuse(a) => {
                    if dialing.remove(&u32::from(a)) { p.dial_refused(now, &u32::from(a)) }
                }
                Op::Close(a, failed) => {
                    if p.is_connected(&u32::from(a)) { p.closed(now, &u32::from(a), failed) }
                }
                Op::Ban(a) => {
                    banned.insert(u32::from(a));
                    dialing.remove(&u32::from(a));
                    p.ban(u32::from(a));
                }
            }
            prop_assert!(p.num_connected() <= max);
            prop_assert_eq!(p.num_connected(), p.connected_peers().count());
            prop_assert!(p.connected_peers().all(|a| !banned.contains(a)));
            prop_assert!(p.dial_queue_is_consistent());
        }
    }
}
