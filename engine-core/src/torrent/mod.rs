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
//!
//! The controller is **total**: every input in every state is either applied or rejected with
//! a [`Rejected`] reason, never a panic and never a corrupted count. A peer's protocol
//! violation still produces [`Output::Disconnect`]; the `Err` only tells the driver what was
//! ignored. Benign races of a well-behaved swarm (a `Cancel` crossing a block, a block arriving
//! after its request was cancelled or choked away, a second `Have`) are applied, not rejected.
//! `model.rs` drives random input sequences against a reference model and checks the
//! invariants (`invariants.rs`) after every step.

mod choking;
mod handlers;
#[cfg(test)]
mod invariants;
#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod zoo_tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::peer_map::PeerMap;
use crate::policy::choker::ChokerConfig;
use crate::policy::picker::{Picker, PickerConfig};
use crate::policy::seniority::Contribution;
use crate::policy::spec::{PolicyEnv, PolicySpec};
use crate::policy::{Policy, UnchokeKind};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::block::{BlockRequest, Geometry};
use crate::protocol::extension::{ExtHandshake, SENIORITY_EXT_NAME};
use crate::protocol::metadata;
use crate::protocol::wire::Message;
use crate::time::{Duration, Instant};
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
    /// The incentive mechanism (its choking and upload allocation).
    pub policy: PolicySpec,
    pub contribution: Contribution,
    /// The node's upload limit for this torrent in bytes/s (the thesis's `L`, the capacity
    /// BitTyrant and PropShare divide).
    pub upload_limit: Option<f64>,
    /// Send `have` also to peers that already have the piece. They ignore it (nothing of ours
    /// depends on it), so the default saves messages; libtorrent's `send_redundant_have`.
    pub send_redundant_have: bool,
    /// The raw info dictionary, served to peers over BEP 9 `ut_metadata` (`None`: the driver
    /// has none to give, e.g. the simulator, and the extension is not advertised).
    pub metadata: Option<bytes::Bytes>,
}

impl TorrentConfig {
    /// Mainline's settings ([`EngineSettings::default`]), tit-for-tat, no upload limit.
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
            policy: PolicySpec::Tft,
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
    /// (policy, the seniority counter's inputs, the upload limit `L`).
    pub fn for_node(
        geometry: Geometry,
        settings: &EngineSettings,
        policy: PolicySpec,
        contribution: Contribution,
        upload_limit: Option<f64>,
    ) -> Self {
        TorrentConfig {
            picker: settings.picker.clone(),
            choker: settings.choker.clone(),
            pipeline_depth: settings.pipeline_depth.max(1),
            policy,
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

/// Why an input was not applied. Every variant leaves the torrent's state as it was, apart from
/// a [`Output::Disconnect`] for the peer that sent a protocol violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// A peer-keyed input for a key that is not connected (never was, or already left).
    #[error("no connected peer has this key")]
    UnknownPeer,
    /// `Connected` for a key already connected: the existing connection's state is kept.
    #[error("peer is already connected")]
    DuplicateConnect,
    /// `Have` or `Verified` for a piece past the torrent's end (a `Have`: disconnect).
    #[error("piece index out of range")]
    PieceOutOfRange,
    /// A `bitfield` of the wrong length or with spare bits set (disconnect).
    #[error("bitfield of the wrong length or with spare bits set")]
    BadBitfield,
    /// A block whose coordinates are not a block of this torrent (disconnect).
    #[error("block outside the torrent's geometry")]
    InvalidBlock,
    /// A request for a block we cannot serve: outside the geometry or of a piece we lack
    /// (disconnect if it is unchoked, else a reject as for any request while choked).
    #[error("request for a block we do not have")]
    InvalidRequest,
    /// A malformed BEP 10 handshake, seniority or `ut_metadata` message (disconnect).
    #[error("malformed extension message")]
    BadExtension,
    /// `Verified` for a piece we have already verified.
    #[error("piece already verified")]
    AlreadyVerified,
    /// `Verified` for a piece not fully received (no `Output::Verify` asked for it).
    #[error("piece is not awaiting verification")]
    NotAwaitingVerify,
    /// `PeerSeniority` with a weight that is not finite and positive.
    #[error("seniority weight is not finite and positive")]
    InvalidSeniority,
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
    /// In the last rechoke's optimistic set (meaningful only while unchoked).
    optimistic: bool,
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
    total_down: u64,
    /// `have`s it sent since the last rechoke.
    round_haves: u32,
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
    policy: Box<dyn Policy>,
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
    /// The latest `now` seen: an input with an earlier one is handled at this time instead.
    now: Instant,
    /// Peers with requests queued whose `next_upload` the policy refused
    /// ([`Policy::admit_upload`]): woken with [`Output::UploadReady`] once admitted.
    parked: BTreeSet<PeerKey>,
    /// Pieces we announced without having them ([`Policy::advertise`]); requests for them are
    /// refused, never served.
    claimed: Bitfield,
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
        let policy = cfg.policy.build(&PolicyEnv {
            choker: cfg.choker.clone(),
            contribution: cfg.contribution,
        });
        let own_weight = policy.advertised_weight();
        let completed = have.is_full();
        let claimed = Bitfield::new(have.len());
        let ext_handshake = ext_handshake(&cfg, own_weight);
        Torrent {
            picker: Picker::new(cfg.geometry, cfg.picker.clone(), have),
            policy,
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
            now,
            parked: BTreeSet::new(),
            claimed,
        }
    }

    /// The `whitewash` identity change ([`crate::policy::whitewash`]), one rule for both
    /// drivers: the torrent of the node's next identity keeps only its verified pieces and
    /// its configuration, with its own seniority counter (online time) back at zero. Blocks
    /// of unfinished pieces, every peer's state and history, rates, claims and counters
    /// belong to the old identity and go with it. `None` once every piece is verified: a
    /// seed has nothing to escape.
    pub fn next_identity(&self, rng_seed: [u8; 32], now: Instant) -> Option<Torrent> {
        if self.is_complete() {
            return None;
        }
        let mut cfg = self.cfg.clone();
        cfg.contribution.online_secs = 0.0;
        Some(Torrent::new(cfg, self.have().clone(), rng_seed, now))
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
    /// Whether `peer` is unchoked, and as which kind.
    pub fn unchoke_kind(&self, peer: PeerKey) -> Option<UnchokeKind> {
        let p = self.peers.get(&peer).filter(|p| !p.am_choking)?;
        Some(if p.optimistic {
            UnchokeKind::Optimistic
        } else {
            UnchokeKind::Regular
        })
    }
    /// The peers unchoked as [`UnchokeKind::Regular`], in peer order. Kinds change only at a
    /// rechoke (`Input::Timeout`), when a choke or unchoke is sent, or when a peer leaves, so
    /// a driver that integrates unchoke time asks only then.
    pub fn regular_unchoked(&self) -> impl Iterator<Item = PeerKey> + '_ {
        self.peers
            .iter()
            .filter(|(_, p)| !p.am_choking && !p.optimistic)
            .map(|(&k, _)| k)
    }

    // ---- driver interface ------------------------------------------------------------------

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_rechoke)
    }

    /// The next block to send to `peer`, if it is unchoked, has requests queued and the
    /// policy admits it now (a policy that paces uploads may park it: it is then woken with
    /// [`Output::UploadReady`]). The driver sends it (a `Piece` message, or a modelled flow)
    /// and calls again when the connection can take more.
    pub fn next_upload(&mut self, peer: PeerKey) -> Option<BlockRequest> {
        let p = self.peers.get(&peer)?;
        if p.am_choking || p.requests_in.is_empty() {
            return None;
        }
        let paced = self.policy.paces_uploads();
        if paced && !self.policy.admit_upload(peer, &self.upload_demand()) {
            self.parked.insert(peer);
            return None;
        }
        let p = self.peers.get_mut(&peer)?;
        let r = p.requests_in.pop_front()?;
        p.up.add(r.length as u64);
        p.total_up += r.length as u64;
        self.stats.uploaded += r.length as u64;
        if paced {
            self.parked.remove(&peer);
            self.wake_parked();
        }
        Some(r)
    }

    /// Applies one input or says why it was ignored (see [`Rejected`]; drivers may ignore
    /// the reason). Time never goes backwards here: a `now` earlier than one already seen is
    /// clamped to it, so a driver's clock glitch delays nothing and loses no data.
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), Rejected> {
        let now = now.max(self.now);
        self.now = now;
        // Only these change what a pacing policy decides on: deficits (a block), or who
        // waits (a cancel, a departure, a rechoke's chokes). A new request only adds a waiter.
        let wake = matches!(
            input,
            Input::Block { .. }
                | Input::Disconnected { .. }
                | Input::Timeout
                | Input::Message {
                    msg: Message::Cancel(_) | Message::Piece { .. },
                    ..
                }
        );
        let applied = self.apply(now, input);
        if wake {
            self.wake_parked();
        }
        applied
    }

    fn apply(&mut self, now: Instant, input: Input) -> Result<(), Rejected> {
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
                // An early wake-up is applied as a no-op: the rechoke is simply not due.
                if now >= self.next_rechoke {
                    self.rechoke(now);
                    self.next_rechoke = now + self.cfg.choker.rechoke_interval;
                }
                Ok(())
            }
        }
    }
}
