//! The torrent controller: one torrent's protocol and policy state machine, sans I/O.
//!
//! A driver (the simulator or the `bt` client) owns the sockets and disk and calls, in the
//! quinn-proto style:
//! - [`Torrent::handle_input`] with what arrived (a peer connected, a message, a block of
//!   piece data, a hash result, a timer), always with an explicit `now`;
//! - [`Torrent::poll_output`] to drain what the core wants done (send a message, cap a peer's
//!   upload rate, hash a piece, disconnect);
//! - [`Torrent::poll_timeout`] for when it next wants [`Input::Timeout`];
//! - [`Torrent::next_upload`] when the connection to a peer can carry another block: uploads
//!   are pulled, so the driver's send path (socket buffer or modelled flow) sets the pace.
//!
//! All choking, piece picking and allocation decisions live here, so both drivers share them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::allocator::{self, Contribution, Incentive, Share};
use crate::bitfield::Bitfield;
use crate::block::{BlockRequest, Geometry};
use crate::choker::{Candidate, Choker, ChokerConfig};
use crate::extension::{self, ExtHandshake, SENIORITY_EXT_NAME};
use crate::metadata::{self, MetadataError, MetadataMsg};
use crate::peer_map::PeerMap;
use crate::picker::{Picker, PickerConfig, Received};
use crate::time::{Duration, Instant};
use crate::wire::Message;
use crate::PeerKey;

/// Our local id for the seniority extension message (BEP 10 `m` dictionary).
const SENIORITY_LOCAL_ID: u8 = 1;

/// Everything that shapes one torrent's behaviour.
#[derive(Clone, Debug)]
pub struct TorrentConfig {
    pub geometry: Geometry,
    pub picker: PickerConfig,
    pub choker: ChokerConfig,
    /// Outstanding requests per peer (thesis §2.5: 5).
    pub pipeline_depth: usize,
    /// Requests a peer may queue with us before further ones are rejected (bounds memory).
    pub max_queued_requests: usize,
    pub incentive: Incentive,
    pub contribution: Contribution,
    /// The node's upload limit for this torrent in bytes/s (the thesis's `L`).
    pub upload_limit: Option<f64>,
    /// Send `have` also to peers that already have the piece. They ignore it (nothing of ours
    /// depends on it), so the default saves messages; libtorrent's `send_redundant_have`.
    pub send_redundant_have: bool,
    /// The raw info dictionary, served to peers over BEP 9 `ut_metadata` (`None`: the driver
    /// has none to give, e.g. the simulator, and the extension is not advertised).
    pub metadata: Option<bytes::Bytes>,
}

impl TorrentConfig {
    /// Mainline's policy ([`EngineSettings::default`]), no incentive, no upload limit.
    pub fn new(geometry: Geometry) -> Self {
        let EngineSettings {
            picker,
            choker,
            pipeline_depth,
        } = EngineSettings::default();
        TorrentConfig {
            geometry,
            picker,
            choker,
            pipeline_depth,
            max_queued_requests: 250,
            incentive: Incentive::None,
            contribution: Contribution {
                online_secs: 0.0,
                files_seeding: 1,
            },
            upload_limit: None,
            send_redundant_have: false,
            metadata: None,
        }
    }
}

/// The policy a driver runs all its torrents with: a scenario's `[engine]` (the simulator and
/// `bt swarm`) or `bt seed`/`bt download`'s flags. Every driver builds its [`TorrentConfig`]
/// from one with [`TorrentConfig::for_node`], so none can configure the core differently.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub picker: PickerConfig,
    pub choker: ChokerConfig,
    /// Outstanding requests per peer (thesis §2.5: 5).
    pub pipeline_depth: usize,
}

impl Default for EngineSettings {
    /// Mainline BitTorrent's policy, as the thesis ran it.
    fn default() -> Self {
        EngineSettings {
            picker: PickerConfig::default(),
            choker: ChokerConfig::default(),
            pipeline_depth: 5,
        }
    }
}

impl TorrentConfig {
    /// One node's configuration: the driver's `settings` plus what differs between nodes
    /// (incentive, the seniority counter's inputs, the upload limit `L`).
    pub fn for_node(
        geometry: Geometry,
        settings: &EngineSettings,
        incentive: Incentive,
        contribution: Contribution,
        upload_limit: Option<f64>,
    ) -> Self {
        TorrentConfig {
            picker: settings.picker.clone(),
            choker: settings.choker.clone(),
            pipeline_depth: settings.pipeline_depth.max(1),
            incentive,
            contribution,
            upload_limit,
            ..TorrentConfig::new(geometry)
        }
    }
}

/// What arrives at the core.
#[derive(Clone, Debug)]
pub enum Input {
    /// A peer finished the handshake. `fast`/`extensions`: both sides set BEP 6 / BEP 10 bits.
    Connected {
        peer: PeerKey,
        fast: bool,
        extensions: bool,
    },
    Disconnected {
        peer: PeerKey,
    },
    /// Any message but `Piece`, whose data the driver stores before sending [`Input::Block`].
    Message {
        peer: PeerKey,
        msg: Message,
    },
    /// A block of piece data arrived from `peer` and was stored by the driver.
    Block {
        peer: PeerKey,
        block: BlockRequest,
    },
    /// The driver hashed a fully received piece.
    Verified {
        piece: u32,
        ok: bool,
    },
    Timeout,
    /// `peer`'s seniority weight, learned outside the peer wire (the thesis's port-59500
    /// query); treated like a value from the BEP 10 extension. Invalid values are ignored.
    PeerSeniority {
        peer: PeerKey,
        weight: f64,
    },
}

/// Why the core asks to close a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    Protocol(String),
    /// The peer sent data that failed hash checks too often.
    BadData,
}

/// What the core wants the driver to do.
#[derive(Clone, Debug)]
pub enum Output {
    Send {
        peer: PeerKey,
        msg: Message,
    },
    /// Cap (or uncap with `None`) the upload rate to `peer`, bytes/s.
    SetUploadCap {
        peer: PeerKey,
        cap: Option<f64>,
    },
    /// Requests for `peer` are queued and it is unchoked: call [`Torrent::next_upload`].
    UploadReady {
        peer: PeerKey,
    },
    /// Hash piece `piece` and answer with [`Input::Verified`].
    Verify {
        piece: u32,
    },
    Disconnect {
        peer: PeerKey,
        reason: DisconnectReason,
    },
    /// The last piece verified: we are a seed now.
    Completed,
}

/// Counters a driver may report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TorrentStats {
    pub uploaded: u64,
    pub downloaded: u64,
    /// Block bytes received twice (end-game races); downloaded includes them.
    pub duplicate_bytes: u64,
    pub hash_failures: u32,
    pub requests_rejected: u64,
}

/// Bytes seen in the current and previous rate window (a 2-bucket sliding window).
#[derive(Clone, Copy, Debug, Default)]
struct RateMeter {
    current: u64,
    previous: u64,
}

impl RateMeter {
    fn add(&mut self, n: u64) {
        self.current += n;
    }
    fn roll(&mut self) {
        self.previous = self.current;
        self.current = 0;
    }
    fn rate(&self, window: Duration) -> f64 {
        (self.current + self.previous) as f64 / (2.0 * window.as_secs_f64().max(1e-6))
    }
}

#[derive(Clone, Debug)]
struct Peer {
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
    has: Bitfield,
    /// Pieces it has that we lack: it is interesting iff this is > 0.
    wanted: u32,
    fast: bool,
    requests_out: Vec<BlockRequest>,
    requests_in: VecDeque<BlockRequest>,
    connected_at: Instant,
    /// Last block from it, or when it unchoked us: basis of snub detection.
    last_block_at: Instant,
    snubbed: bool,
    down: RateMeter,
    up: RateMeter,
    total_up: u64,
    /// Seniority weight it reported; `None` if it runs no mechanism.
    seniority: Option<f64>,
    /// Its id for our seniority extension message, if it supports it.
    seniority_ext_id: Option<u8>,
    /// Its id for `ut_metadata`, and how many metadata pieces we sent it.
    metadata_ext_id: Option<u8>,
    metadata_served: u32,
    cap: Option<f64>,
    hash_failures: u32,
}

/// One torrent's state machine. See the module docs for the driving protocol.
pub struct Torrent {
    cfg: TorrentConfig,
    picker: Picker,
    choker: Choker,
    peers: PeerMap<Peer>,
    /// Peers that sent blocks of each partial piece: blamed if the piece fails its hash.
    contributors: BTreeMap<u32, BTreeSet<PeerKey>>,
    rng: ChaCha8Rng,
    out: VecDeque<Output>,
    next_rechoke: Instant,
    own_weight: Option<f64>,
    /// Our BEP 10 handshake, the same for every peer: encoded once, shared by reference.
    ext_handshake: bytes::Bytes,
    stats: TorrentStats,
    completed: bool,
}

/// What we announce in the BEP 10 handshake: our extensions, seniority weight and queue depth.
fn ext_handshake(cfg: &TorrentConfig, own_weight: Option<f64>) -> bytes::Bytes {
    let mut hs = ExtHandshake::default();
    if let Some(w) = own_weight {
        hs.m.insert(SENIORITY_EXT_NAME.to_string(), SENIORITY_LOCAL_ID);
        hs.seniority = Some(w);
    }
    if let Some(m) = &cfg.metadata {
        hs.m.insert(metadata::EXT_NAME.to_string(), metadata::LOCAL_ID);
        hs.metadata_size = Some(m.len() as u64);
    }
    hs.reqq = Some(cfg.max_queued_requests as u32);
    hs.to_payload().into()
}

/// Hash failures after which a peer is disconnected.
const MAX_HASH_FAILURES: u32 = 2;

impl Torrent {
    /// `have`: pieces already verified on disk. `rng_seed`: the driver's per-node stream.
    pub fn new(cfg: TorrentConfig, have: Bitfield, rng_seed: [u8; 32], now: Instant) -> Self {
        let own_weight = match cfg.incentive {
            Incentive::None => None,
            Incentive::Seniority(v) => Some(allocator::own_weight(v, &cfg.contribution)),
        };
        let completed = have.is_full();
        let ext_handshake = ext_handshake(&cfg, own_weight);
        Torrent {
            picker: Picker::new(cfg.geometry, cfg.picker.clone(), have),
            choker: Choker::new(cfg.choker.clone()),
            cfg,
            peers: PeerMap::default(),
            contributors: BTreeMap::new(),
            rng: ChaCha8Rng::from_seed(rng_seed),
            out: VecDeque::new(),
            next_rechoke: now,
            ext_handshake,
            own_weight,
            stats: TorrentStats::default(),
            completed,
        }
    }

    // ---- getters -------------------------------------------------------------------------

    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }
    pub fn is_complete(&self) -> bool {
        self.picker.is_complete()
    }
    pub fn stats(&self) -> TorrentStats {
        self.stats
    }
    /// The seniority weight this node serves, if it runs the mechanism.
    pub fn own_weight(&self) -> Option<f64> {
        self.own_weight
    }
    pub fn num_peers(&self) -> usize {
        self.peers.len()
    }
    pub fn is_unchoked(&self, peer: PeerKey) -> bool {
        self.peers.get(&peer).is_some_and(|p| !p.am_choking)
    }

    // ---- driver interface ------------------------------------------------------------------

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_rechoke)
    }

    /// The next block to send to `peer`, if it is unchoked and has requests queued.
    /// The driver sends it (a `Piece` message, or a modelled flow) and calls again when the
    /// connection can take more.
    pub fn next_upload(&mut self, peer: PeerKey) -> Option<BlockRequest> {
        let p = self.peers.get_mut(&peer)?;
        if p.am_choking {
            return None;
        }
        let r = p.requests_in.pop_front()?;
        p.up.add(r.length as u64);
        p.total_up += r.length as u64;
        self.stats.uploaded += r.length as u64;
        Some(r)
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Connected {
                peer,
                fast,
                extensions,
            } => self.on_connected(now, peer, fast, extensions),
            Input::Disconnected { peer } => self.on_disconnected(peer),
            Input::Message { peer, msg } => self.on_message(now, peer, msg),
            Input::Block { peer, block } => self.on_block(now, peer, block),
            Input::Verified { piece, ok } => self.on_verified(piece, ok),
            Input::PeerSeniority { peer, weight } => self.on_peer_seniority(peer, weight),
            Input::Timeout => {
                if now >= self.next_rechoke {
                    self.rechoke(now);
                    self.next_rechoke = now + self.choker.config().rechoke_interval;
                }
            }
        }
    }

    // ---- handlers ------------------------------------------------------------------------

    fn on_connected(&mut self, now: Instant, key: PeerKey, fast: bool, extensions: bool) {
        let n = self.cfg.geometry.num_pieces();
        self.peers.insert(
            key,
            Peer {
                am_choking: true,
                am_interested: false,
                peer_choking: true,
                peer_interested: false,
                has: Bitfield::new(n),
                wanted: 0,
                fast,
                requests_out: Vec::new(),
                requests_in: VecDeque::new(),
                connected_at: now,
                last_block_at: now,
                snubbed: false,
                down: RateMeter::default(),
                up: RateMeter::default(),
                total_up: 0,
                seniority: None,
                seniority_ext_id: None,
                metadata_ext_id: None,
                metadata_served: 0,
                cap: None,
                hash_failures: 0,
            },
        );
        if extensions {
            let payload = self.ext_handshake.clone();
            self.send(key, Message::Extended { id: 0, payload });
        }
        let have = self.picker.have();
        let msg = if fast && have.is_full() {
            Some(Message::HaveAll)
        } else if fast && have.count() == 0 {
            Some(Message::HaveNone)
        } else if have.count() > 0 {
            Some(Message::Bitfield(have.as_bytes().to_vec().into()))
        } else {
            None
        };
        if let Some(m) = msg {
            self.send(key, m);
        }
        self.update_caps();
    }

    fn on_disconnected(&mut self, key: PeerKey) {
        let Some(p) = self.peers.remove(&key) else {
            return;
        };
        self.picker.add_peer_bitfield(&p.has, -1);
        for r in &p.requests_out {
            self.picker.release(r);
        }
        self.choker.forget(key);
        for c in self.contributors.values_mut() {
            c.remove(&key);
        }
        self.update_caps();
    }

    fn on_message(&mut self, now: Instant, key: PeerKey, msg: Message) {
        if !self.peers.contains_key(&key) {
            return;
        }
        match msg {
            Message::KeepAlive
            | Message::Port(_)
            | Message::SuggestPiece { .. }
            | Message::AllowedFast { .. } => {}
            Message::Choke => {
                let p = self.peer(key);
                p.peer_choking = true;
                if !p.fast {
                    // Without BEP 6, a choke silently drops every pending request.
                    let dropped = std::mem::take(&mut p.requests_out);
                    for r in &dropped {
                        self.picker.release(r);
                    }
                }
            }
            Message::Unchoke => {
                let p = self.peer(key);
                p.peer_choking = false;
                p.last_block_at = now;
                self.request_more(key);
            }
            Message::Interested => {
                self.peer(key).peer_interested = true;
                // Fill a free upload slot at once rather than idle until the next rechoke.
                let unchoked = self.peers.values().filter(|p| !p.am_choking).count();
                if self.peer(key).am_choking && unchoked < self.choker.slots() {
                    self.set_choke(key, false);
                    self.update_caps();
                }
            }
            Message::NotInterested => self.peer(key).peer_interested = false,
            Message::Have { index } => {
                if index >= self.cfg.geometry.num_pieces() {
                    return self.protocol_error(key, format!("have for piece {index}"));
                }
                if self.peer(key).has.set(index) {
                    self.picker.add_have(index, 1);
                    if !self.picker.have().get(index) {
                        self.peer(key).wanted += 1;
                    }
                    self.update_interest(key);
                }
            }
            Message::Bitfield(bytes) => {
                let n = self.cfg.geometry.num_pieces();
                match Bitfield::from_bytes(&bytes, n) {
                    Ok(bf) => self.set_peer_has(key, bf),
                    Err(e) => self.protocol_error(key, e.to_string()),
                }
            }
            Message::HaveAll => {
                let n = self.cfg.geometry.num_pieces();
                self.set_peer_has(key, Bitfield::full(n));
            }
            Message::HaveNone => {}
            Message::Request(r) => self.on_request(key, r),
            Message::Cancel(r) => self.peer(key).requests_in.retain(|q| *q != r),
            Message::RejectRequest(r) => {
                let p = self.peer(key);
                let before = p.requests_out.len();
                p.requests_out.retain(|q| *q != r);
                if p.requests_out.len() != before {
                    self.picker.release(&r);
                }
            }
            Message::Piece { index, begin, data } => {
                let block = BlockRequest {
                    index,
                    begin,
                    length: data.len() as u32,
                };
                self.on_block(now, key, block);
            }
            Message::Extended { id, payload } => self.on_extended(key, id, &payload),
        }
    }

    fn on_extended(&mut self, key: PeerKey, id: u8, payload: &[u8]) {
        if id == 0 {
            match ExtHandshake::from_payload(payload) {
                Ok(hs) => {
                    let p = self.peer(key);
                    p.seniority_ext_id = hs.m.get(SENIORITY_EXT_NAME).copied().filter(|&i| i != 0);
                    p.metadata_ext_id = hs.id_of(metadata::EXT_NAME);
                    p.seniority = hs.seniority.filter(|w| w.is_finite() && *w > 0.0);
                    self.update_caps();
                }
                Err(e) => self.protocol_error(key, e.to_string()),
            }
        } else if id == SENIORITY_LOCAL_ID {
            match extension::parse_seniority_payload(payload) {
                Ok(w) => {
                    self.peer(key).seniority = Some(w);
                    self.update_caps();
                }
                Err(e) => self.protocol_error(key, e.to_string()),
            }
        } else if let Some(msg) = metadata::parse_extended(id, payload) {
            match msg {
                Ok(MetadataMsg::Request { piece }) => self.on_metadata_request(key, piece),
                // We never ask: we have the metadata. Unknown types are for future use.
                Ok(_) | Err(MetadataError::UnknownType(_)) => {}
                Err(e) => self.protocol_error(key, e.to_string()),
            }
        }
    }

    fn on_metadata_request(&mut self, key: PeerKey, piece: u32) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(id) = p.metadata_ext_id else {
            return; // it never told us where to answer
        };
        let reply = metadata::answer(self.cfg.metadata.as_deref(), piece, p.metadata_served);
        if matches!(reply, MetadataMsg::Data { .. }) {
            p.metadata_served += 1;
        }
        let payload = reply.encode().into();
        self.send(key, Message::Extended { id, payload });
    }

    fn on_peer_seniority(&mut self, key: PeerKey, weight: f64) {
        if !(weight.is_finite() && weight > 0.0) {
            return;
        }
        if let Some(p) = self.peers.get_mut(&key) {
            p.seniority = Some(weight);
            self.update_caps();
        }
    }

    fn on_request(&mut self, key: PeerKey, r: BlockRequest) {
        let valid = self.cfg.geometry.is_valid_block(&r) && self.picker.have().get(r.index);
        let max = self.cfg.max_queued_requests;
        let p = self.peer(key);
        if !valid || p.am_choking || p.requests_in.len() >= max {
            if !valid && !p.am_choking {
                return self.protocol_error(key, format!("invalid request {r:?}"));
            }
            self.stats.requests_rejected += 1;
            if self.peer(key).fast {
                self.send(key, Message::RejectRequest(r));
            }
            return;
        }
        if p.requests_in.contains(&r) {
            return;
        }
        p.requests_in.push_back(r);
        if p.requests_in.len() == 1 {
            self.out.push_back(Output::UploadReady { peer: key });
        }
    }

    fn on_block(&mut self, now: Instant, key: PeerKey, block: BlockRequest) {
        if !self.cfg.geometry.is_valid_block(&block) {
            return self.protocol_error(key, format!("invalid block {block:?}"));
        }
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.requests_out.retain(|q| *q != block);
        p.down.add(block.length as u64);
        p.last_block_at = now;
        p.snubbed = false;
        self.stats.downloaded += block.length as u64;
        match self.picker.on_block(&block) {
            Received::Duplicate => self.stats.duplicate_bytes += block.length as u64,
            Received::New {
                piece_done,
                also_requested,
            } => {
                self.contributors
                    .entry(block.index)
                    .or_default()
                    .insert(key);
                if also_requested {
                    self.cancel_duplicates(key, &block);
                }
                if piece_done {
                    self.out.push_back(Output::Verify { piece: block.index });
                }
            }
        }
        self.request_more(key);
    }

    /// End game: the block arrived, so withdraw the same request from every other peer.
    fn cancel_duplicates(&mut self, from: PeerKey, block: &BlockRequest) {
        let others: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(k, p)| **k != from && p.requests_out.contains(block))
            .map(|(k, _)| *k)
            .collect();
        for k in others {
            self.peer(k).requests_out.retain(|q| q != block);
            self.picker.release(block);
            self.send(k, Message::Cancel(*block));
        }
    }

    fn on_verified(&mut self, piece: u32, ok: bool) {
        let contributors = self.contributors.remove(&piece).unwrap_or_default();
        self.picker.on_verified(piece, ok);
        if !ok {
            self.stats.hash_failures += 1;
            for k in contributors {
                if let Some(p) = self.peers.get_mut(&k) {
                    p.hash_failures += 1;
                    if p.hash_failures >= MAX_HASH_FAILURES {
                        self.out.push_back(Output::Disconnect {
                            peer: k,
                            reason: DisconnectReason::BadData,
                        });
                    }
                }
            }
            let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
            for k in keys {
                self.request_more(k);
            }
            return;
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        let redundant = self.cfg.send_redundant_have;
        for k in keys {
            let p = self.peer(k);
            if p.has.get(piece) {
                p.wanted -= 1;
                self.update_interest(k);
                if !redundant {
                    continue;
                }
            }
            self.send(k, Message::Have { index: piece });
        }
        if self.picker.is_complete() && !self.completed {
            self.completed = true;
            self.out.push_back(Output::Completed);
        }
    }

    // ---- policy ----------------------------------------------------------------------------

    fn rechoke(&mut self, now: Instant) {
        let window = self.choker.config().rechoke_interval;
        let snub = self.choker.config().snub_timeout;
        let mut cands = Vec::with_capacity(self.peers.len());
        for (&key, p) in self.peers.iter_mut() {
            if !p.peer_choking && p.am_interested && now.saturating_since(p.last_block_at) > snub {
                p.snubbed = true;
            }
            cands.push(Candidate {
                key,
                interested: p.peer_interested,
                down_rate: p.down.rate(window),
                up_rate: p.up.rate(window),
                total_uploaded: p.total_up,
                snubbed: p.snubbed,
                connected_at: p.connected_at,
            });
            p.down.roll();
            p.up.roll();
        }
        let am_seed = self.picker.is_complete();
        let unchoke = self.choker.rechoke(now, &cands, am_seed, &mut self.rng);
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.set_choke(k, !unchoke.contains(&k));
        }
        self.update_caps();
    }

    fn set_choke(&mut self, key: PeerKey, choke: bool) {
        let p = self.peer(key);
        if p.am_choking == choke {
            return;
        }
        p.am_choking = choke;
        if choke {
            let dropped = std::mem::take(&mut p.requests_in);
            let fast = p.fast;
            self.send(key, Message::Choke);
            if fast {
                for r in dropped {
                    self.send(key, Message::RejectRequest(r));
                }
            }
        } else {
            self.send(key, Message::Unchoke);
        }
    }

    /// Recomputes per-peer upload caps from the allocator and emits the changed ones.
    fn update_caps(&mut self) {
        let Incentive::Seniority(variant) = self.cfg.incentive else {
            return;
        };
        let Some(limit) = self.cfg.upload_limit else {
            return;
        };
        if self.peers.is_empty() {
            return;
        }
        let shares: Vec<Share> = self
            .peers
            .iter()
            .map(|(&key, p)| Share {
                key,
                weight: p.seniority,
                can_use: !p.am_choking && p.peer_interested,
            })
            .collect();
        for (key, cap) in allocator::caps(variant, limit, &shares) {
            let p = self.peer(key);
            if p.cap != cap {
                p.cap = cap;
                self.out.push_back(Output::SetUploadCap { peer: key, cap });
            }
        }
    }

    fn set_peer_has(&mut self, key: PeerKey, bf: Bitfield) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let have = self.picker.have();
        p.wanted = bf.iter_set_without([have]).count() as u32;
        let old = std::mem::replace(&mut p.has, bf);
        self.picker.add_peer_bitfield(&old, -1);
        self.picker.add_peer_bitfield(&p.has, 1);
        self.update_interest(key);
    }

    /// Sends Interested / NotInterested when that changes, and requests blocks if allowed.
    fn update_interest(&mut self, key: PeerKey) {
        let p = self.peer(key);
        let want = p.wanted > 0;
        if want != p.am_interested {
            p.am_interested = want;
            let msg = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.send(key, msg);
        }
        if want {
            self.request_more(key);
        }
    }

    /// Tops up the request pipeline to `pipeline_depth` if the peer lets us download.
    fn request_more(&mut self, key: PeerKey) {
        let depth = self.cfg.pipeline_depth;
        let Some(p) = self.peers.get(&key) else {
            return;
        };
        if p.peer_choking || !p.am_interested || p.requests_out.len() >= depth {
            return;
        }
        let n = depth - p.requests_out.len();
        let picked = self.picker.pick(&p.has, n, &p.requests_out, &mut self.rng);
        for r in picked {
            self.peer(key).requests_out.push(r);
            self.send(key, Message::Request(r));
        }
    }

    fn protocol_error(&mut self, key: PeerKey, what: String) {
        self.out.push_back(Output::Disconnect {
            peer: key,
            reason: DisconnectReason::Protocol(what),
        });
    }

    fn send(&mut self, peer: PeerKey, msg: Message) {
        self.out.push_back(Output::Send { peer, msg });
    }

    /// Callers check membership first; every handler returns early for unknown peers.
    fn peer(&mut self, key: PeerKey) -> &mut Peer {
        self.peers.get_mut(&key).expect("peer checked by caller")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::SeniorityVariant;

    fn caps(t: &mut Torrent) -> Vec<(PeerKey, Option<f64>)> {
        std::iter::from_fn(|| t.poll_output())
            .filter_map(|o| match o {
                Output::SetUploadCap { peer, cap } => Some((peer, cap)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn out_of_band_seniority_sets_caps() {
        let mut cfg = TorrentConfig::new(Geometry::new(1 << 20, 1 << 16));
        cfg.incentive = Incentive::Seniority(SeniorityVariant::ThesisCode);
        cfg.upload_limit = Some(100.0);
        let mut t = Torrent::new(cfg, Bitfield::full(16), [0; 32], Instant::ZERO);
        for peer in [1, 2] {
            let (fast, extensions) = (true, false);
            t.handle_input(
                Instant::ZERO,
                Input::Connected {
                    peer,
                    fast,
                    extensions,
                },
            );
        }
        assert_eq!(caps(&mut t).last(), Some(&(2, Some(50.0))));
        // Σ int(Y) = 2 + 1: the weighted peer gets 2.5/3 of L, the other 1/3.
        t.handle_input(
            Instant::ZERO,
            Input::PeerSeniority {
                peer: 1,
                weight: 2.5,
            },
        );
        let got = caps(&mut t);
        assert!(
            got.iter()
                .any(|&(k, c)| k == 1 && (c.unwrap() - 250.0 / 3.0).abs() < 1e-9),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|&(k, c)| k == 2 && (c.unwrap() - 100.0 / 3.0).abs() < 1e-9),
            "{got:?}"
        );
        for bad in [f64::NAN, -1.0, 0.0, f64::INFINITY] {
            t.handle_input(
                Instant::ZERO,
                Input::PeerSeniority {
                    peer: 1,
                    weight: bad,
                },
            );
            assert!(caps(&mut t).is_empty(), "{bad} accepted");
        }
        t.handle_input(
            Instant::ZERO,
            Input::PeerSeniority {
                peer: 9,
                weight: 2.0,
            },
        );
        assert!(caps(&mut t).is_empty(), "unknown peer");
    }

    #[test]
    fn serves_metadata_over_ut_metadata() {
        let info: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let mut cfg = TorrentConfig::new(Geometry::new(1 << 20, 1 << 16));
        cfg.metadata = Some(info.clone().into());
        let mut t = Torrent::new(cfg, Bitfield::full(16), [0; 32], Instant::ZERO);
        let now = Instant::ZERO;
        let (fast, extensions) = (true, true);
        t.handle_input(
            now,
            Input::Connected {
                peer: 1,
                fast,
                extensions,
            },
        );
        let sent: Vec<Message> = std::iter::from_fn(|| t.poll_output())
            .filter_map(|o| match o {
                Output::Send { msg, .. } => Some(msg),
                _ => None,
            })
            .collect();
        let Some(Message::Extended { id: 0, payload }) = sent.first() else {
            panic!("no extended handshake first: {sent:?}");
        };
        let ours = ExtHandshake::from_payload(payload).unwrap();
        assert_eq!(ours.id_of(metadata::EXT_NAME), Some(metadata::LOCAL_ID));
        assert_eq!(ours.metadata_size, Some(20_000));
        let mut theirs = ExtHandshake::default();
        theirs.m.insert(metadata::EXT_NAME.into(), 5);
        let ext = |id, payload: Vec<u8>| Message::Extended {
            id,
            payload: payload.into(),
        };
        t.handle_input(
            now,
            Input::Message {
                peer: 1,
                msg: ext(0, theirs.to_payload()),
            },
        );
        let ask = |t: &mut Torrent, piece| {
            let msg = ext(metadata::LOCAL_ID, MetadataMsg::Request { piece }.encode());
            t.handle_input(now, Input::Message { peer: 1, msg });
            match t.poll_output() {
                Some(Output::Send {
                    peer: 1,
                    msg: Message::Extended { id: 5, payload },
                }) => MetadataMsg::decode(&payload).unwrap(),
                other => panic!("{other:?}"),
            }
        };
        for piece in [0, 1] {
            assert_eq!(ask(&mut t, piece), metadata::answer(Some(&info), piece, 0));
        }
        assert_eq!(ask(&mut t, 2), MetadataMsg::Reject { piece: 2 });
        let garbage = ext(metadata::LOCAL_ID, b"i1e".to_vec());
        t.handle_input(
            now,
            Input::Message {
                peer: 1,
                msg: garbage,
            },
        );
        assert!(matches!(
            t.poll_output(),
            Some(Output::Disconnect {
                peer: 1,
                reason: DisconnectReason::Protocol(_)
            })
        ));
    }
}
