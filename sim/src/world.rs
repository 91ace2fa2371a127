//! The discrete-event world: nodes running engine-core, a tracker, and the flow network.
//!
//! Events are ordered by `(time, seq)`, `seq` being a global insertion counter, so ties break
//! the same way every run. Control messages arrive one link latency after they are sent; block
//! data travels as flows whose rates come from the max–min solver in [`crate::network`]. A flow
//! that moves on to its next queued block keeps its rate: only changes to the set of active
//! flows or their caps mark the network dirty, and the solve runs once before time advances.
//! Rate changes reschedule a flow's completion with a new version; stale events are skipped.

use engine_core::policy::ondemand;
use engine_core::policy::peer_set::{Action, Announce, PeerSet, PeerSetConfig, Retry};
use engine_core::protocol::bitfield::Bitfield;
use engine_core::protocol::block::{BlockRequest, Geometry};
use engine_core::protocol::wire::Message;
use engine_core::time::{Duration, Instant};
use engine_core::torrent::{Input, Output, Torrent, TorrentConfig};
use engine_core::tracker::{AnnounceError, AnnounceEvent, AnnounceReply, Swarm, TrackerConfig};
use engine_core::PeerKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scenario::draws::{join_order, resolve_nodes, stream_seed, LATENCY_STREAM_BASE};
use scenario::result::{NodeResult, PairBytes, ProgressPoint, RunResult, RunStats};
use scenario::{JoinTime, Leave, NodeSpec, Role, Scenario};

use crate::network::Network;
use crate::queue::EventQueue;
use crate::regular::{class_numbers, RegularTime};

mod open;
mod whitewash;

/// The receiver's node and the flow packed in an engine-core key (see [`World::key`]).
fn key_parts(key: PeerKey) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// A hint to load `x`'s cache line; no effect on results.
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline, and a prefetch of any address is harmless.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Streams of the simulator's own draws; the per-node ones shared with `bt swarm` are in
/// [`scenario::draws`].
const TRACKER_STREAM: u64 = 0;

#[derive(Debug)]
enum Event {
    Join(u32),
    Announce(u32),
    /// A connection attempt reaches `to`.
    Connect {
        from: u32,
        to: u32,
    },
    /// The handshake answer reaches the initiator (`flow`: initiator → acceptor).
    Connected {
        flow: u32,
        epoch: u32,
    },
    /// A message on the connection side `flow` (`from → to`).
    Deliver {
        flow: u32,
        epoch: u32,
        msg: Message,
    },
    Block {
        flow: u32,
        epoch: u32,
        block: BlockRequest,
    },
    FlowDone {
        flow: u32,
        version: u32,
    },
    Timer {
        node: u32,
        version: u32,
    },
    Leave(u32),
    /// The node drops its identity and rejoins as a new peer (policy `whitewash`).
    Whitewash(u32),
    /// Records swarm progress (every [`SAMPLE_EVERY`]).
    Sample,
    /// The on-demand seeding controller's periodic check.
    OnDemand,
    /// A leecher's abort time (open swarms).
    Abort(u32),
    /// Records a point of the time series (`series.csv`).
    Series,
}

/// Events between two calls of [`World::run_observed`]'s progress callback.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Interval of the swarm progress samples in `progress.csv`.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// One direction `from → to` of a node pair: its connection state and its block transfers.
/// Created at the pair's first connection and kept, so events can name it by index.
struct Flow {
    from: u32,
    to: u32,
    /// The flow `to → from`.
    reverse: u32,
    /// Connected now; `epoch` numbers the pair's connections (both directions share it), so
    /// messages and blocks of a closed connection are recognised and dropped.
    alive: bool,
    epoch: u32,
    /// Block bytes this direction has carried over all its connections.
    uploaded: u64,
    block: Option<BlockRequest>,
    remaining: f64,
    rate: f64,
    last: Instant,
    version: u32,
}

struct Node {
    spec: NodeSpec,
    /// `None` for a pool seeder the on-demand controller has not started.
    join_at: Option<Instant>,
    torrent: Option<Torrent>,
    /// Who it is connected to and when it announces (engine-core's policy, shared with `bt`).
    peer_set: PeerSet<u32>,
    /// `(peer, flow)` for every peer this node ever connected to, sorted by peer: the flow
    /// `this → peer`, looked up when a pair connects or disconnects. Messages need no lookup:
    /// the engine-core key of a peer carries the flow (see [`World::key`]).
    flows_out: Vec<(u32, u32)>,
    timer_at: Option<Instant>,
    timer_version: u32,
    completed_at: Option<Instant>,
    left_at: Option<Instant>,
    uploaded: u64,
    downloaded: u64,
    /// End-game duplicates of the torrents it dropped (left, or whitewashed away).
    duplicate_bytes: u64,
    /// Identities it has had beyond its first (`whitewash`), and the block bytes their
    /// changes threw away.
    identity: u32,
    discarded: u64,
}

/// One simulation run of a scenario.
pub struct World {
    sc: Scenario,
    geo: Geometry,
    /// Per-node access latency; a link's one-way latency is the sum of its ends'.
    access_latency: Vec<Duration>,
    now: Instant,
    seq: u64,
    /// `(time, seq, slot)`; events live in a slab so queue moves stay small.
    queue: EventQueue,
    slab: Vec<Option<Event>>,
    free_slots: Vec<u32>,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    net: Network,
    /// Check every allocation against capacities and caps (tests; costs a full scan per solve).
    check_invariants: bool,
    tracker: Swarm<u32, u32>,
    tracker_rng: ChaCha8Rng,
    pending_leechers: usize,
    stats: RunStats,
    changed_buf: Vec<(u32, f64)>,
    progress: Vec<ProgressPoint>,
    regular: RegularTime,
    ondemand: OnDemandState,
    open: open::OpenState,
}

/// The on-demand seeding controller's state.
#[derive(Default)]
struct OnDemandState {
    /// Pool seeders started so far, in order.
    started: Vec<u32>,
    checks: u32,
    done: bool,
}

impl World {
    pub fn new(sc: &Scenario) -> World {
        let geo = Geometry::new(sc.torrent.size.0, sc.torrent.piece_length.0);
        let nodes: Vec<Node> = resolve_nodes(sc)
            .into_iter()
            .map(|(spec, join_at)| Node {
                peer_set: PeerSet::new(spec.policy.peer_set(peer_set_config(sc))),
                spec,
                join_at,
                torrent: None,
                flows_out: Vec::new(),
                timer_at: None,
                timer_version: 0,
                completed_at: None,
                left_at: None,
                uploaded: 0,
                downloaded: 0,
                duplicate_bytes: 0,
                identity: 0,
                discarded: 0,
            })
            .collect();
        let tracker_cfg = TrackerConfig {
            interval: sc.tracker.interval.0,
            default_numwant: sc.tracker.numwant as usize,
            // A real tracker's cap, so a node may ask for more than the scenario's numwant
            // (`large-view`); the others ask for exactly that and get what they did before.
            max_numwant: (sc.tracker.numwant as usize)
                .max(TrackerConfig::default().max_numwant)
                .max(1),
            peer_timeout: Duration(sc.tracker.interval.0 .0.saturating_mul(3)),
            max_peers: usize::MAX,
        };
        let access_latency = nodes
            .iter()
            .map(|n| {
                let mut rng = ChaCha8Rng::from_seed(stream_seed(
                    sc.seed,
                    LATENCY_STREAM_BASE + n.spec.id as u64,
                ));
                let j = sc.network.latency_jitter;
                let half = sc.network.latency.0 .0 as f64 / 2.0;
                Duration((half * rng.gen_range(1.0 - j..=1.0 + j)).round() as u64)
            })
            .collect();
        let nodes_len = nodes.len();
        let mut w = World {
            access_latency,
            geo,
            now: Instant::ZERO,
            seq: 0,
            queue: EventQueue::default(),
            slab: Vec::new(),
            free_slots: Vec::new(),
            net: Network::new(
                nodes.iter().map(|n| n.spec.upload).collect(),
                nodes.iter().map(|n| n.spec.download).collect(),
            ),
            check_invariants: false,
            regular: RegularTime::new(nodes.len()),
            pending_leechers: nodes
                .iter()
                .filter(|n| n.spec.role == Role::Leecher)
                .count(),
            nodes,
            flows: Vec::new(),
            tracker: Swarm::new(tracker_cfg),
            tracker_rng: ChaCha8Rng::from_seed(stream_seed(sc.seed, TRACKER_STREAM)),
            stats: RunStats::default(),
            changed_buf: Vec::new(),
            progress: Vec::new(),

            ondemand: OnDemandState::default(),
            open: open::OpenState::new(sc.series_step(), nodes_len),
            sc: sc.clone(),
        };
        // Nodes joining at the same instant are processed in a seeded random order, so node
        // index (which follows online days in the thesis scenarios) gives no head start.
        for i in join_order(sc) {
            if let Some(at) = w.nodes[i].join_at {
                w.push(at, Event::Join(i as u32));
            }
        }
        w.push(Instant::ZERO, Event::Sample);
        if w.open.records_series() {
            w.push(Instant::ZERO, Event::Series);
        }
        if let Some(od) = &sc.ondemand {
            // The first check waits one interval, as an operator would, for the swarm to form.
            w.push(Instant::ZERO + od.check_every.0, Event::OnDemand);
        }
        w
    }

    /// Checks every rate allocation against capacities and caps (slower; for tests).
    pub fn with_invariant_checks(mut self) -> Self {
        self.check_invariants = true;
        self
    }

    /// Runs to completion (every leecher done) or `max_time`, and reports.
    pub fn run(self) -> RunResult {
        self.run_observed(&|_| {})
    }

    /// Like [`World::run`], calling `on_bytes` now and then with the bytes downloaded since
    /// its last call (for a progress bar; it sees nothing that could steer the run).
    pub fn run_observed(mut self, on_bytes: &(dyn Fn(u64) + Sync)) -> RunResult {
        let max_time = Instant::ZERO + self.sc.max_time.0;
        let mut reported = 0;
        // An open swarm runs until max_time: arrivals and departures never settle.
        let open = self.sc.is_open();
        while self.pending_leechers > 0 || open {
            if self.stats.events % PROGRESS_EVERY == 0 {
                let bytes: u64 = self.nodes.iter().map(|n| n.downloaded).sum();
                on_bytes(bytes - reported);
                reported = bytes;
            }
            if self.net.is_dirty() && self.queue.peek_time().is_none_or(|t| t > self.now) {
                self.recompute_rates();
            }
            let Some((at, slot)) = self.queue.pop() else {
                break;
            };
            if at > max_time {
                self.now = max_time;
                break;
            }
            debug_assert!(at >= self.now, "time went backwards");
            self.now = at;
            self.stats.events += 1;
            let ev = self.slab[slot as usize]
                .take()
                .expect("queued slot holds an event");
            self.free_slots.push(slot);
            self.prefetch_next();
            self.count(&ev);
            self.handle(ev);
        }
        let bytes: u64 = self.nodes.iter().map(|n| n.downloaded).sum();
        on_bytes(bytes - reported);
        self.finish()
    }

    /// Starts loading the next events' slab entries and the flow of the very next one: at
    /// 10^4 peers they are cache misses that the handling of this event can hide.
    fn prefetch_next(&self) {
        if let Some(s) = self.queue.upcoming(1) {
            prefetch(&self.slab[s as usize]);
        }
        let next = self
            .queue
            .upcoming(0)
            .and_then(|s| self.slab[s as usize].as_ref());
        if let Some(
            Event::Deliver { flow, .. } | Event::Block { flow, .. } | Event::FlowDone { flow, .. },
        ) = next
        {
            prefetch(&self.flows[*flow as usize]);
        }
    }

    fn push(&mut self, at: Instant, ev: Event) {
        self.seq += 1;
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(ev);
                s
            }
            None => {
                self.slab.push(Some(ev));
                self.slab.len() as u32 - 1
            }
        };
        self.queue.push(at, self.seq, slot);
    }

    fn count(&mut self, ev: &Event) {
        let k = &mut self.stats.event_kinds;
        let n = match ev {
            Event::Deliver { msg, .. } => match msg {
                Message::Have { .. } => &mut k.have,
                Message::Request(_) => &mut k.request,
                Message::Interested | Message::NotInterested => &mut k.interest,
                Message::Choke | Message::Unchoke => &mut k.choke,
                Message::Cancel(_) | Message::RejectRequest(_) => &mut k.cancel_reject,
                _ => &mut k.other_message,
            },
            Event::Block { .. } => &mut k.block,
            Event::FlowDone { flow, version } => {
                if self.flows[*flow as usize].version != *version {
                    k.flow_done_stale += 1;
                }
                &mut k.flow_done
            }
            Event::Timer { .. } => &mut k.timer,
            _ => &mut k.other,
        };
        *n += 1;
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Join(n) => self.join(n),
            Event::Announce(n) => self.peer_actions(n),
            Event::Connect { from, to } => self.accept(from, to),
            Event::Connected { flow, epoch } => {
                if self.live_epoch(flow) == Some(epoch) {
                    let (node, _) = self.ends(flow);
                    self.input(
                        node,
                        Input::Connected {
                            peer: self.key(flow),
                            fast: true,
                            extensions: true,
                        },
                    );
                }
            }
            Event::Deliver { flow, epoch, msg } => {
                if self.live_epoch(flow) == Some(epoch) {
                    let (_, to) = self.ends(flow);
                    let peer = self.key(self.flows[flow as usize].reverse);
                    self.input(to, Input::Message { peer, msg });
                }
            }
            Event::Block { flow, epoch, block } => {
                let (_, to) = self.ends(flow);
                if self.live_epoch(flow) != Some(epoch) {
                    // The connection closed while the block was on the wire.
                    self.stats.bytes_lost += block.length as u64;
                } else {
                    let n = &mut self.nodes[to as usize];
                    n.downloaded += block.length as u64;
                    let peer = self.key(self.flows[flow as usize].reverse);
                    self.input(to, Input::Block { peer, block });
                }
            }
            Event::FlowDone { flow, version } => self.flow_done(flow, version),
            Event::Timer { node, version } => {
                if self.nodes[node as usize].timer_version == version {
                    self.nodes[node as usize].timer_at = None;
                    self.input(node, Input::Timeout);
                }
            }
            Event::Leave(n) => self.leave(n),
            Event::Whitewash(n) => self.whitewash(n),
            Event::Sample => {
                self.sample();
                self.push(self.now + SAMPLE_EVERY, Event::Sample);
            }
            Event::OnDemand => self.on_demand(),
            Event::Abort(n) => self.abort(n),
            Event::Series => self.series_point(),
        }
    }

    // ---- nodes --------------------------------------------------------------------------

    fn join(&mut self, n: u32) {
        self.nodes[n as usize].join_at.get_or_insert(self.now);
        let spec = &self.nodes[n as usize].spec;
        let pieces = self.geo.num_pieces();
        let have = match spec.role {
            Role::Seeder => Bitfield::full(pieces),
            Role::Leecher => Bitfield::new(pieces),
        };
        let cfg = TorrentConfig::for_node(
            self.geo,
            &self.sc.engine.settings(),
            spec.policy.clone(),
            spec.contribution(),
            Some(spec.upload),
        );
        let seed = stream_seed(self.sc.seed, spec.id as u64);
        self.start(n, Torrent::new(cfg, have, seed, self.now));
        self.schedule_whitewash(n);
        self.schedule_departures(n);
    }

    /// Starts node `n`'s torrent and its announces.
    fn start(&mut self, n: u32, torrent: Torrent) {
        self.nodes[n as usize].torrent = Some(torrent);
        self.nodes[n as usize].peer_set.start_announcing(self.now);
        self.peer_actions(n);
        self.drain(n);
    }

    /// Carries out node `n`'s peer-set actions: the simulated tracker answers an announce at
    /// once, a dial reaches its peer one latency later. The periodic announce is an event at
    /// the time the peer set names after each `started` or `update`.
    fn peer_actions(&mut self, n: u32) {
        let Some(t) = self.nodes[n as usize].torrent.as_ref() else {
            return;
        };
        let left = u64::from(!t.is_complete());
        let now = self.now;
        let mut next_announce = None;
        while let Some(action) = self.nodes[n as usize].peer_set.poll_action(now) {
            match action {
                Action::Dial(to) => {
                    let at = now + self.latency(n, to);
                    self.push(at, Event::Connect { from: n, to });
                }
                Action::Announce(a) => {
                    let reply = self.tell_tracker(n, a, left);
                    let ps = &mut self.nodes[n as usize].peer_set;
                    ps.announced(now, a.event, reply.as_ref().ok().map(|r| r.interval));
                    if let Ok(r) = reply {
                        ps.learn(now, r.peers);
                    }
                    if a.event != AnnounceEvent::Completed {
                        next_announce = ps.next_announce();
                    }
                }
            }
        }
        if let Some(at) = next_announce {
            self.push(at, Event::Announce(n));
        }
    }

    fn tell_tracker(
        &mut self,
        n: u32,
        a: Announce,
        left: u64,
    ) -> Result<AnnounceReply<u32>, AnnounceError> {
        let numwant = Some(a.numwant as usize);
        let rng = &mut self.tracker_rng;
        self.tracker
            .announce(self.now, n, n, a.event, left, numwant, rng)
    }

    /// `from`'s dial reaches `to`: both peer sets must admit the connection.
    fn accept(&mut self, from: u32, to: u32) {
        let (a, b) = (&self.nodes[from as usize], &self.nodes[to as usize]);
        if a.torrent.is_none()
            || b.torrent.is_none()
            || !a.peer_set.is_dialing(&to)
            || !a.peer_set.completes(&to)
            || !b.peer_set.accepts(&from)
        {
            let now = self.now;
            self.nodes[from as usize].peer_set.dial_refused(now, &to);
            return;
        }
        self.nodes[from as usize].peer_set.connected(to);
        self.nodes[to as usize].peer_set.connected(from);
        let [there, back] = [(from, to), (to, from)].map(|(x, y)| {
            let id = match self.flow_id(x, y) {
                Some(id) => id,
                None => self.new_flow(x, y),
            };
            let f = &mut self.flows[id as usize];
            f.alive = true;
            f.epoch += 1;
            f.block = None;
            f.rate = 0.0;
            self.net.set_cap(id, None);
            id
        });
        self.flows[there as usize].reverse = back;
        self.flows[back as usize].reverse = there;
        let epoch = self.flows[there as usize].epoch;
        // The initiator learns of the connection one latency later, before anything `to` sends.
        let at = self.now + self.latency(from, to);
        self.push(at, Event::Connected { flow: there, epoch });
        self.input(
            to,
            Input::Connected {
                peer: self.key(back),
                fast: true,
                extensions: true,
            },
        );
    }

    fn latency(&self, a: u32, b: u32) -> Duration {
        Duration(self.access_latency[a as usize].0 + self.access_latency[b as usize].0)
    }

    /// The engine-core key under which `flow`'s sender knows its receiver: the receiver's
    /// node index in the high half, so peers iterate in node order, and the flow in the low
    /// half, so the driver finds the flow of an output without a search.
    fn key(&self, flow: u32) -> PeerKey {
        (u64::from(self.flows[flow as usize].to) << 32) | u64::from(flow)
    }

    fn flow_id(&self, from: u32, to: u32) -> Option<u32> {
        let out = &self.nodes[from as usize].flows_out;
        let i = out.binary_search_by_key(&to, |&(peer, _)| peer).ok()?;
        Some(out[i].1)
    }

    /// The flow `from → to`, made at the pair's first connection and kept for good.
    fn new_flow(&mut self, from: u32, to: u32) -> u32 {
        let id = self.flows.len() as u32;
        self.flows.push(Flow {
            from,
            to,
            reverse: u32::MAX,
            alive: false,
            epoch: 0,
            uploaded: 0,
            block: None,
            remaining: 0.0,
            rate: 0.0,
            last: Instant::ZERO,
            version: 0,
        });
        self.regular.add_flow();
        self.net.add_flow(id, from, to);
        let out = &mut self.nodes[from as usize].flows_out;
        let at = out.partition_point(|&(peer, _)| peer < to);
        out.insert(at, (to, id));
        id
    }

    fn ends(&self, flow: u32) -> (u32, u32) {
        let f = &self.flows[flow as usize];
        (f.from, f.to)
    }

    /// The epoch of the connection `flow` belongs to, if that pair is connected.
    fn live_epoch(&self, flow: u32) -> Option<u32> {
        let f = &self.flows[flow as usize];
        f.alive.then_some(f.epoch)
    }

    fn disconnect(&mut self, a: u32, b: u32) {
        if !self.nodes[a as usize].peer_set.is_connected(&b) {
            return;
        }
        let now = self.now;
        for (x, y) in [(a, b), (b, a)] {
            self.nodes[x as usize].peer_set.closed(now, &y, false);
            if let Some(id) = self.flow_id(x, y) {
                let f = &mut self.flows[id as usize];
                f.alive = false;
                f.block = None;
                f.version += 1;
                f.rate = 0.0;
                self.net.deactivate(id);
            }
        }
        for (x, y) in [(a, b), (b, a)] {
            if self.nodes[x as usize].torrent.is_some() {
                if let Some(id) = self.flow_id(x, y) {
                    let peer = self.key(id);
                    self.input(x, Input::Disconnected { peer });
                }
            }
        }
    }

    fn leave(&mut self, n: u32) {
        if self.nodes[n as usize].torrent.is_none() {
            return;
        }
        for a in self.nodes[n as usize].peer_set.stop() {
            let _ = self.tell_tracker(n, a, 0);
        }
        let peer_set = &self.nodes[n as usize].peer_set;
        let peers: Vec<u32> = peer_set.connected_peers().copied().collect();
        for p in peers {
            self.disconnect(n, p);
        }
        let node = &mut self.nodes[n as usize];
        if let Some(t) = node.torrent.take() {
            node.duplicate_bytes += t.stats().duplicate_bytes;
        }
        node.left_at = Some(self.now);
        if node.spec.role == Role::Leecher && node.completed_at.is_none() {
            self.pending_leechers -= 1;
        }
        self.regular.settle(n, self.now, None, |_| 0);
    }

    /// Feeds one input to node `n`'s torrent and carries out what it asks.
    fn input(&mut self, n: u32, input: Input) {
        let now = self.now;
        // A rechoke can move a peer between regular and optimistic without a message.
        if matches!(input, Input::Timeout | Input::Disconnected { .. }) {
            self.regular.mark(n);
        }
        if let Some(t) = self.nodes[n as usize].torrent.as_mut() {
            if let Err(why) = t.handle_input(now, input) {
                // The simulated swarm is well-behaved: a rejection means a driver or core bug.
                self.stats.rejected_inputs += 1;
                debug_assert!(false, "node {n} rejected an input: {why}");
            }
            self.drain(n);
        }
    }

    fn drain(&mut self, n: u32) {
        loop {
            let Some(t) = self.nodes[n as usize].torrent.as_mut() else {
                return;
            };
            let Some(out) = t.poll_output() else {
                break;
            };
            match out {
                Output::Send { peer, msg } => {
                    let (to, flow) = key_parts(peer);
                    if matches!(msg, Message::Choke | Message::Unchoke) {
                        self.regular.mark(n);
                    }
                    if let Some(epoch) = self.live_epoch(flow) {
                        let at = self.now + self.latency(n, to);
                        self.push(at, Event::Deliver { flow, epoch, msg });
                    }
                }
                Output::SetUploadCap { peer, cap } => self.net.set_cap(key_parts(peer).1, cap),
                Output::UploadReady { peer } => {
                    let id = key_parts(peer).1;
                    if self.flows[id as usize].alive && self.flows[id as usize].block.is_none() {
                        self.start_block(id);
                    }
                }
                Output::Verify { piece } => {
                    // The simulator's data is always intact; hashing costs no simulated time.
                    let now = self.now;
                    let applied = t.handle_input(now, Input::Verified { piece, ok: true });
                    debug_assert!(applied.is_ok(), "the core asked to verify {piece}");
                }
                Output::Disconnect { peer, .. } => {
                    self.stats.protocol_disconnects += 1;
                    self.disconnect(n, key_parts(peer).0);
                }
                Output::Completed => self.completed(n),
            }
        }
        if self.regular.is_dirty(n) {
            let t = self.nodes[n as usize].torrent.as_ref();
            self.regular.settle(n, self.now, t, |k| key_parts(k).1);
        }
        self.reschedule_timer(n);
    }

    fn completed(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if node.completed_at.is_some() || node.spec.role != Role::Leecher {
            return;
        }
        node.completed_at = Some(self.now);
        self.pending_leechers -= 1;
        let leave = node.spec.leave;
        node.peer_set.completed(self.now);
        self.peer_actions(n);
        match leave {
            Leave::Stay => {}
            Leave::Immediately => self.leave(n),
            // The draws turned an exponential time into `After`; see `Leave::seeding_time`.
            Leave::After(d) | Leave::Exponential(d) => self.push(self.now + d.0, Event::Leave(n)),
        }
    }

    fn reschedule_timer(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        let want = node.torrent.as_ref().and_then(|t| t.poll_timeout());
        if want != node.timer_at {
            node.timer_at = want;
            node.timer_version += 1;
            if let Some(at) = want {
                let version = node.timer_version;
                self.push(at.max(self.now), Event::Timer { node: n, version });
            }
        }
    }

    // ---- flows --------------------------------------------------------------------------

    /// Pulls the next block for flow `id`; a flow that continues keeps its rate.
    fn start_block(&mut self, id: u32) {
        let (from, key) = (self.flows[id as usize].from, self.key(id));
        let next = self.nodes[from as usize]
            .torrent
            .as_mut()
            .and_then(|t| t.next_upload(key));
        let now = self.now;
        let f = &mut self.flows[id as usize];
        match next {
            Some(b) => {
                f.block = Some(b);
                f.remaining = b.length as f64;
                f.last = now;
                // A newly active flow gets its rate (and completion event) from the next solve.
                if !self.net.activate(id) && f.rate > 0.0 {
                    f.version += 1;
                    let at = now + Duration::from_secs_f64_ceil(f.remaining / f.rate);
                    let version = f.version;
                    self.push(at, Event::FlowDone { flow: id, version });
                }
            }
            None => {
                f.block = None;
                f.rate = 0.0;
                f.version += 1;
                self.net.deactivate(id);
            }
        }
    }

    fn flow_done(&mut self, id: u32, version: u32) {
        let f = &mut self.flows[id as usize];
        if f.version != version || !f.alive {
            return;
        }
        let Some(block) = f.block.take() else {
            return;
        };
        let (from, to, epoch) = (f.from, f.to, f.epoch);
        let len = block.length as u64;
        f.uploaded += len;
        self.nodes[from as usize].uploaded += len;
        let at = self.now + self.latency(from, to);
        self.push(
            at,
            Event::Block {
                flow: id,
                epoch,
                block,
            },
        );
        self.start_block(id);
        // Handing out a block may wake connections a pacing policy parked (UploadReady).
        self.drain(from);
    }

    /// Re-solves the rates the latest changes affect and reschedules flows whose rate moved.
    fn recompute_rates(&mut self) {
        self.stats.recomputes += 1;
        let mut changed = std::mem::take(&mut self.changed_buf);
        changed.clear();
        self.net.resolve(&mut changed);
        if self.check_invariants {
            self.stats.cap_violations += self.net.violations() as u64;
        }
        let now = self.now;
        for &(id, rate) in &changed {
            let f = &mut self.flows[id as usize];
            let elapsed = now.saturating_since(f.last).as_secs_f64();
            f.remaining = (f.remaining - f.rate * elapsed).max(0.0);
            f.last = now;
            f.rate = rate;
            f.version += 1;
            if rate > 0.0 {
                let at = now + Duration::from_secs_f64_ceil(f.remaining / rate);
                let version = f.version;
                self.push(at, Event::FlowDone { flow: id, version });
            }
        }
        self.changed_buf = changed;
    }

    /// One check of the on-demand controller against the tracker's scrape; the rules are
    /// engine-core's, shared with `bt ondemand`.
    fn on_demand(&mut self) {
        let Some(od) = self.sc.ondemand.clone() else {
            return;
        };
        if self.ondemand.done {
            return;
        }
        let counts = self.tracker.scrape();
        let ours: Vec<u32> = self
            .ondemand
            .started
            .iter()
            .copied()
            .filter(|&n| self.nodes[n as usize].torrent.is_some())
            .collect();
        let pool: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&n| {
                let node = &self.nodes[n as usize];
                node.spec.join == JoinTime::OnDemand && node.join_at.is_none()
            })
            .collect();
        let round = ondemand::Round {
            seeders: counts.complete as u64,
            leechers: counts.incomplete as u64,
            added: ours.len() as u64,
            pool_free: pool.len() as u64,
            first: self.ondemand.checks == 0,
        };
        self.ondemand.checks += 1;
        match ondemand::decide(od.ratio, &round) {
            ondemand::Decision::Exit(_) => {
                self.ondemand.done = true;
                for n in ours {
                    self.leave(n);
                }
                return;
            }
            ondemand::Decision::Hold => {}
            ondemand::Decision::Add(k) => {
                for &n in pool.iter().take(k as usize) {
                    self.ondemand.started.push(n);
                    self.join(n);
                }
            }
        }
        self.push(self.now + od.check_every.0, Event::OnDemand);
    }

    fn sample(&mut self) {
        let leechers = self.nodes.iter().filter(|n| n.spec.role == Role::Leecher);
        let (mut done, mut bytes, mut online) = (0, 0, 0);
        for n in leechers {
            done += n.completed_at.is_some() as u32;
            bytes += n.downloaded;
            online += n.torrent.is_some() as u32;
        }
        self.progress.push(ProgressPoint {
            time_s: self.now.as_secs_f64(),
            leechers_done: done,
            leechers_online: online,
            bytes_downloaded: bytes,
        });
    }

    fn finish(mut self) -> RunResult {
        self.sample();
        let end = self.now;
        self.stats.ondemand_started = self.ondemand.started.len() as u32;
        self.stats.ondemand_seeder_s = self
            .ondemand
            .started
            .iter()
            .map(|&n| {
                let node = &self.nodes[n as usize];
                let from = node.join_at.unwrap_or(end);
                node.left_at
                    .unwrap_or(end)
                    .saturating_since(from)
                    .as_secs_f64()
            })
            .fold(0.0, |a, b| a + b);
        self.stats.bytes_in_flight = self
            .slab
            .iter()
            .flatten()
            .map(|ev| match ev {
                Event::Block { block, .. } => block.length as u64,
                _ => 0,
            })
            .sum();
        let class = class_numbers(self.nodes.iter().map(|n| &n.spec));
        let ends = self.flows.iter().map(|f| (f.from, f.to));
        let regular = self.regular.per_node(end, ends, &class);
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let dup =
                    n.duplicate_bytes + n.torrent.as_ref().map_or(0, |t| t.stats().duplicate_bytes);
                NodeResult {
                    join_s: n.join_at.map(|t| t.as_secs_f64()),
                    completion_s: n.completed_at.map(|c| {
                        c.saturating_since(n.join_at.unwrap_or(Instant::ZERO))
                            .as_secs_f64()
                    }),
                    left_s: n.left_at.map(|t| t.as_secs_f64()),
                    bytes_up: n.uploaded,
                    bytes_down: n.downloaded,
                    duplicate_bytes: dup,
                    regular_unchoke_s: Some(regular[i].0 as f64 / 1e6),
                    regular_same_class_s: Some(regular[i].1 as f64 / 1e6),
                    ..NodeResult::of(&n.spec)
                }
            })
            .collect();
        self.stats.sim_time_s = end.as_secs_f64();
        let mut pairs: Vec<PairBytes> = self
            .flows
            .iter()
            .filter(|f| f.uploaded > 0)
            .map(|f| PairBytes {
                from: f.from + 1,
                to: f.to + 1,
                bytes: f.uploaded,
            })
            .collect();
        pairs.sort_by_key(|p| (p.from, p.to));
        // A whitewasher's identities each had their own flows to a peer: one row per pair.
        pairs.dedup_by(|later, kept| {
            let same = (later.from, later.to) == (kept.from, kept.to);
            if same {
                kept.bytes += later.bytes;
            }
            same
        });
        RunResult {
            scenario: self.sc.clone(),
            file_size: self.geo.total_len,
            nodes,
            pairs,
            progress: std::mem::take(&mut self.progress),
            series: self.open.take_series(),
            stats: self.stats,
        }
    }
}

/// The peer-set policy with the simulator's settings: the limit is the scenario's; dials are
/// in flight for one latency, so slots are counted at connection time; an address is tried
/// once, since every announce brings a fresh random sample and simulated dials fail only when
/// the other side is full or gone; the tracker's interval is taken as it is.
fn peer_set_config(sc: &Scenario) -> PeerSetConfig {
    PeerSetConfig {
        max_connections: sc.engine.max_connections as usize,
        dials_hold_slots: false,
        retry: Retry::Never,
        numwant: sc.tracker.numwant,
        min_interval: Duration::ZERO,
        max_interval: None,
        announce_retry: sc.tracker.interval.0,
    }
}
