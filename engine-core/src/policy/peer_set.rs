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
    /// The idle learned entries by learning order: the dial queue, so choosing the next dial
    /// is not a scan of every entry (a scan per dial made joining a 1,000-peer swarm quadratic).
    idle: BTreeMap<u64, A>,
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
            idle: BTreeMap::new(),
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
            let e = self.entries.entry(a.clone()).or_insert(Entry {
                state: State::Idle,
                next_try: now,
                failures: 0,
                learned: None,
            });
            if e.learned.is_none() {
                e.learned = Some(seq);
                self.learned += 1;
                if e.state == State::Idle {
                    self.idle.insert(seq, a);
                }
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
            State::Idle => {
                if let Some(seq) = e.learned {
                    self.idle.remove(&seq);
                }
            }
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
            (Some(wait), Some(seq)) => {
                e.next_try = now + wait;
                self.idle.insert(seq, addr.clone());
            }
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

    /// Whether a dial of ours to `addr` is in progress (the simulator drops a dial that
    /// arrives after its node changed identity, `whitewash`).
    pub fn is_dialing(&self, addr: &A) -> bool {
        self.entries
            .get(addr)
            .is_some_and(|e| e.state == State::Dialing)
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
        if let Some((seq, addr)) = self.next_dial(now) {
            let e = self.entries.get_mut(&addr).expect("queued entries exist");
            e.state = State::Dialing;
            self.idle.remove(&seq);
            self.dialing += 1;
            return Some(Action::Dial(addr));
        }
        if self.cfg.retry == Retry::Never {
            // Candidates not dialed when learned are forgotten (see `Retry::Never`).
            for addr in std::mem::take(&mut self.idle).into_values() {
                self.entries.remove(&addr);
            }
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

    /// The earliest-learned idle address whose retry time has come, with its learning order.
    fn next_dial(&self, now: Instant) -> Option<(u64, A)> {
        if self.free_slots() == 0 {
            return None;
        }
        self.idle
            .iter()
            .find(|(_, a)| self.entries[*a].next_try <= now)
            .map(|(seq, a)| (*seq, a.clone()))
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

    /// The dial queue holds exactly the idle learned entries (checked by the model test).
    #[cfg(test)]
    fn dial_queue_is_consistent(&self) -> bool {
        let want: BTreeMap<u64, &A> = self
            .entries
            .iter()
            .filter(|(_, e)| e.state == State::Idle)
            .filter_map(|(a, e)| Some((e.learned?, a)))
            .collect();
        want.len() == self.idle.len() && want.iter().all(|(seq, a)| self.idle.get(seq) == Some(*a))
    }

    fn forget(&mut self, addr: &A) {
        if let Some(e) = self.entries.remove(addr) {
            match e.state {
                State::Idle => {
                    if let Some(seq) = e.learned {
                        self.idle.remove(&seq);
                    }
                }
                State::Dialing => self.dialing -= 1,
                State::Connected => self.connected -= 1,
            }
        }
    }
}

#[cfg(test)]
mod tests;
