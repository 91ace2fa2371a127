//! Which peers to connect to, how many, when to retry, and when to ask the tracker for more:
//! one policy for the simulator (addresses are node ids) and `bt` (socket addresses), both
//! its session and its magnet metadata phase. Sans-IO: the driver passes `now`, reports what
//! happened to dials, connections and announces, and carries out the [`Action`]s it polls.
//!
//! The policy:
//! - **Candidates** come from tracker answers (and, in `bt`, `--peer` / a link's `x.pe`), one
//!   entry per address, and are dialed in the order they were learned: the tracker answers in
//!   random order, so nodes do not all dial the same peer first. Never dialed: a banned
//!   address (it sent data failing a hash, or a handshake showed it is ourselves — the tracker
//!   leaves us out of its answers), one connected or one being dialed.
//! - **How many**: dials start only while connections plus dials in progress are below
//!   `max_connections`. An incoming connection is refused when that limit is reached; whether
//!   dials in progress count there is [`PeerSetConfig::dials_hold_slots`].
//! - **Retry** after a failed dial or a closed connection: [`Retry`].
//! - **Announces**: `started` once, then `update` every tracker interval clamped to
//!   `[min_interval, max_interval]`; `completed` as soon as the download finishes, outside that
//!   schedule (the next `update` keeps its time); a failed announce is retried after
//!   `announce_retry`; on leaving, a `completed` still owed and `stopped`. `started` and
//!   `update` ask for `numwant` peers, `completed` and `stopped` for none: a seed is found by
//!   the leechers that announce after it. One announce is in flight at a time. There is no
//!   early re-announce when peers run low; neither driver ever had one.

use std::collections::{BTreeMap, BTreeSet};

use crate::time::{Duration, Instant};
use crate::tracker::AnnounceEvent;

/// What to do after a dial fails or a connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Forget the address; a candidate not dialed when learned (no free slot) is forgotten
    /// too. The simulator: its tracker hands out a fresh random sample every interval, and a
    /// simulated dial fails only when the other side is full or gone.
    Never,
    /// Keep every address and retry after `first · 2^failures`, at most `max`; `failures`
    /// counts failed dials since the last connection, so a clean close retries after `first`.
    /// `bt`: 1 s doubling to 60 s, since real dials fail and real peers restart.
    Backoff { first: Duration, max: Duration },
}

impl Retry {
    /// The wait before retrying an address after `failures` failed dials in a row.
    pub fn delay(self, failures: u32) -> Option<Duration> {
        match self {
            Retry::Never => None,
            Retry::Backoff { first, max } => Some(Duration(
                first.0.saturating_mul(1 << failures.min(6)).min(max.0),
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PeerSetConfig {
    pub max_connections: usize,
    /// `true` (`bt`): a dial in progress holds a slot (a socket and a permit), so an incoming
    /// connection is refused when connections plus dials fill `max_connections`, and a dial
    /// that connects is always kept. `false` (the simulator, whose dials are in flight for one
    /// link latency): slots are counted when a connection is made, so an incoming connection
    /// is refused only when connections fill them, and a dial answered when full is dropped.
    pub dials_hold_slots: bool,
    pub retry: Retry,
    /// Peers asked for by `started` and `update`.
    pub numwant: u32,
    /// The floor on a tracker's interval (`bt`: 10 s, protecting real trackers).
    pub min_interval: Duration,
    /// Re-announce at least this often whatever the tracker says (`bt`'s metadata phase,
    /// which has nothing to do without peers).
    pub max_interval: Option<Duration>,
    /// The wait after a failed announce.
    pub announce_retry: Duration,
}

/// One announce to make: its event and how many peers to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announce {
    pub event: AnnounceEvent,
    pub numwant: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<A> {
    /// Connect to this address; report [`PeerSet::connected`] or [`PeerSet::closed`].
    Dial(A),
    /// Send this announce; report [`PeerSet::announced`].
    Announce(Announce),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Dialing,
    Connected,
}

#[derive(Clone, Debug)]
struct Entry {
    state: State,
    next_try: Instant,
    failures: u32,
    /// Learning order (dial order); `None` for an address only seen as an incoming
    /// connection, which is forgotten when it closes (its port is the peer's ephemeral one).
    learned: Option<u64>,
}

/// The announce schedule (see the module doc).
#[derive(Clone, Debug, Default)]
struct Schedule {
    /// Announcing at all (false before `start_announcing` and after `stop`).
    on: bool,
    started: bool,
    /// When `started` (until it succeeds) or the next `update` is due.
    next: Option<Instant>,
    /// When an owed `completed` is due.
    completed: Option<Instant>,
    in_flight: Option<AnnounceEvent>,
}

/// A node's peer set and announce schedule; `A` is how the driver names a peer's address.
#[derive(Clone, Debug)]
pub struct PeerSet<A> {
    cfg: PeerSetConfig,
    entries: BTreeMap<A, Entry>,
    banned: BTreeSet<A>,
    connected: usize,
    dialing: usize,
    learned: u64,
    schedule: Schedule,
}

impl<A: Ord + Clone> PeerSet<A> {
    pub fn new(cfg: PeerSetConfig) -> Self {
        PeerSet {
            cfg,
            entries: BTreeMap::new(),
            banned: BTreeSet::new(),
            connected: 0,
            dialing: 0,
            learned: 0,
            schedule: Schedule::default(),
        }
    }

    pub fn config(&self) -> &PeerSetConfig {
        &self.cfg
    }

    /// Learns candidate addresses in order; known ones keep their state and backoff.
    pub fn learn(&mut self, now: Instant, addrs: impl IntoIterator<Item = A>) {
        for a in addrs {
            if self.banned.contains(&a) {
                continue;
            }
            let seq = self.learned;
            let e = self.entries.entry(a).or_insert(Entry {
                state: State::Idle,
                next_try: now,
                failures: 0,
                learned: None,
            });
            if e.learned.is_none() {
                e.learned = Some(seq);
                self.learned += 1;
            }
        }
    }

    /// Never dial or accept `addr` again (and forget it now).
    pub fn ban(&mut self, addr: A) {
        self.forget(&addr);
        self.banned.insert(addr);
    }

    pub fn is_banned(&self, addr: &A) -> bool {
        self.banned.contains(addr)
    }

    /// Whether an incoming connection from `addr` is welcome now.
    pub fn accepts(&self, addr: &A) -> bool {
        let busy = self.connected
            + if self.cfg.dials_hold_slots {
                self.dialing
            } else {
                0
            };
        !self.banned.contains(addr) && !self.is_connected(addr) && busy < self.cfg.max_connections
    }

    /// Whether our dial to `addr`, answered now, may become a connection.
    pub fn completes(&self, addr: &A) -> bool {
        !self.banned.contains(addr)
            && !self.is_connected(addr)
            && (self.cfg.dials_hold_slots || self.connected < self.cfg.max_connections)
    }

    /// A connection to `addr` is up: a dial of ours that connected, or an incoming one.
    pub fn connected(&mut self, addr: A) {
        let e = self.entries.entry(addr).or_insert(Entry {
            state: State::Idle,
            next_try: Instant::ZERO,
            failures: 0,
            learned: None,
        });
        match e.state {
            State::Connected => return,
            State::Dialing => self.dialing -= 1,
            State::Idle => {}
        }
        e.state = State::Connected;
        e.failures = 0;
        self.connected += 1;
    }

    /// A dial to `addr` failed (`failed`) or its connection ended: retry later per [`Retry`].
    pub fn closed(&mut self, now: Instant, addr: &A, failed: bool) {
        let Some(e) = self.entries.get_mut(addr) else {
            return;
        };
        match e.state {
            State::Idle => return,
            State::Dialing => self.dialing -= 1,
            State::Connected => self.connected -= 1,
        }
        e.state = State::Idle;
        if failed {
            e.failures = e.failures.saturating_add(1);
        }
        match (self.cfg.retry.delay(e.failures), e.learned) {
            (Some(wait), Some(_)) => e.next_try = now + wait,
            _ => {
                self.entries.remove(addr);
            }
        }
    }

    /// Our dial to `addr` was refused; a connection made meanwhile (the other side dialed us
    /// too, and its dial arrived first) is kept.
    pub fn dial_refused(&mut self, now: Instant, addr: &A) {
        if self
            .entries
            .get(addr)
            .is_some_and(|e| e.state == State::Dialing)
        {
            self.closed(now, addr, true);
        }
    }

    pub fn is_connected(&self, addr: &A) -> bool {
        self.entries
            .get(addr)
            .is_some_and(|e| e.state == State::Connected)
    }

    /// Connected addresses, in address order.
    pub fn connected_peers(&self) -> impl Iterator<Item = &A> {
        self.entries
            .iter()
            .filter(|(_, e)| e.state == State::Connected)
            .map(|(a, _)| a)
    }

    pub fn num_connected(&self) -> usize {
        self.connected
    }

    /// Every address learned and not banned (`bt download magnet:` hands them to the session).
    pub fn known(&self) -> impl Iterator<Item = &A> {
        self.entries
            .iter()
            .filter(|(_, e)| e.learned.is_some())
            .map(|(a, _)| a)
    }

    /// The next thing to do now: due dials first (learning order), then a due announce.
    pub fn poll_action(&mut self, now: Instant) -> Option<Action<A>> {
        if let Some(addr) = self.next_dial(now) {
            let e = self.entries.get_mut(&addr).expect("chosen from entries");
            e.state = State::Dialing;
            self.dialing += 1;
            return Some(Action::Dial(addr));
        }
        if self.cfg.retry == Retry::Never {
            // Candidates not dialed when learned are forgotten (see `Retry::Never`).
            self.entries.retain(|_, e| e.state != State::Idle);
        }
        let s = &mut self.schedule;
        if !s.on || s.in_flight.is_some() {
            return None;
        }
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let event = if !s.started {
            due(s.next).then_some(AnnounceEvent::Started)
        } else if due(s.completed) {
            Some(AnnounceEvent::Completed)
        } else {
            due(s.next).then_some(AnnounceEvent::Update)
        }?;
        s.in_flight = Some(event);
        Some(Action::Announce(self.announce(event)))
    }

    fn free_slots(&self) -> usize {
        self.cfg
            .max_connections
            .saturating_sub(self.connected + self.dialing)
    }

    fn next_dial(&self, now: Instant) -> Option<A> {
        if self.free_slots() == 0 {
            return None;
        }
        self.entries
            .iter()
            .filter(|(_, e)| e.state == State::Idle && e.next_try <= now)
            .filter_map(|(a, e)| Some((e.learned?, a)))
            .min_by_key(|&(seq, _)| seq)
            .map(|(_, a)| a.clone())
    }

    /// When [`PeerSet::poll_action`] next has something to do, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = (self.free_slots() > 0)
            .then(|| {
                self.entries
                    .values()
                    .filter(|e| e.state == State::Idle && e.learned.is_some())
                    .map(|e| e.next_try)
                    .min()
            })
            .flatten();
        let s = &self.schedule;
        let announce = if !s.on || s.in_flight.is_some() {
            None
        } else if s.started {
            [s.next, s.completed].into_iter().flatten().min()
        } else {
            s.next
        };
        [retry, announce].into_iter().flatten().min()
    }

    /// Begins announcing: `started` is due now.
    pub fn start_announcing(&mut self, now: Instant) {
        self.schedule = Schedule {
            on: true,
            next: Some(now),
            ..Schedule::default()
        };
    }

    /// When the next `started` or `update` is due (the simulator schedules its event then).
    pub fn next_announce(&self) -> Option<Instant> {
        self.schedule.next.filter(|_| self.schedule.on)
    }

    /// The download finished: `completed` is due now (after `started`, if that is still owed).
    pub fn completed(&mut self, now: Instant) {
        if self.schedule.on {
            self.schedule.completed = Some(now);
        }
    }

    /// The tracker answered `event` (`Some(interval)`) or the announce failed (`None`).
    /// Answers to an announce not in flight are ignored (`bt`'s metadata phase asks every
    /// tracker at once and the first answer counts).
    pub fn announced(&mut self, now: Instant, event: AnnounceEvent, interval: Option<Duration>) {
        let s = &mut self.schedule;
        if s.in_flight != Some(event) {
            return;
        }
        s.in_flight = None;
        let Some(interval) = interval else {
            let retry = Some(now + self.cfg.announce_retry);
            match event {
                AnnounceEvent::Completed => s.completed = retry,
                _ => s.next = retry,
            }
            return;
        };
        let mut every = interval.max(self.cfg.min_interval);
        if let Some(max) = self.cfg.max_interval {
            every = every.min(max);
        }
        match event {
            AnnounceEvent::Started | AnnounceEvent::Update => {
                s.started = true;
                s.next = Some(now + every);
            }
            AnnounceEvent::Completed => s.completed = None,
            AnnounceEvent::Stopped => {}
        }
    }

    /// Stops announcing and returns what is still owed to the tracker, in order: nothing if
    /// `started` never succeeded, else a pending `completed` and `stopped`.
    pub fn stop(&mut self) -> Vec<Announce> {
        let s = std::mem::take(&mut self.schedule);
        if !s.started {
            return Vec::new();
        }
        let owed = s.completed.is_some() || s.in_flight == Some(AnnounceEvent::Completed);
        let mut v = Vec::new();
        if owed {
            v.push(self.announce(AnnounceEvent::Completed));
        }
        v.push(self.announce(AnnounceEvent::Stopped));
        v
    }

    fn announce(&self, event: AnnounceEvent) -> Announce {
        let numwant = match event {
            AnnounceEvent::Started | AnnounceEvent::Update => self.cfg.numwant,
            AnnounceEvent::Completed | AnnounceEvent::Stopped => 0,
        };
        Announce { event, numwant }
    }

    fn forget(&mut self, addr: &A) {
        if let Some(e) = self.entries.remove(addr) {
            match e.state {
                State::Idle => {}
                State::Dialing => self.dialing -= 1,
                State::Connected => self.connected -= 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
            }
        }
    }
}
