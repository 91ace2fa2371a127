//! The policy half: every decision a peer makes, each behind a small interface the torrent
//! controller calls.
//!
//! - [`Policy`]: the incentive mechanism — whom to unchoke at each rechoke, how much upload each
//!   peer may get, and which peer the next block goes to. One file per mechanism: [`tft`]
//!   (mainline's tit-for-tat, the reference), [`seniority`] (the thesis's incentive and its
//!   liar), [`bittyrant`] and [`propshare`] (rate-dividing, sharing [`rates`]),
//!   [`fairtorrent`] (block by block, by deficit), [`free_rider`] and [`false_have`].
//!   [`spec::PolicySpec`] names them and their parameters (scenario files, `bt --policy`),
//!   and builds one per torrent.
//!   Two adversaries act mostly through their driver: [`large_view`] widens the node's peer
//!   set ([`spec::PolicySpec::peer_set`]) and [`whitewash`] has the driver change its
//!   identity ([`spec::PolicySpec::whitewash_every`]).
//! - [`choker`]: mainline's choker (rate ranking, optimistic unchoke, seed modes), which the
//!   tit-for-tat-based policies share.
//! - [`picker`]: which blocks to request; [`peer_set`]: whom to dial and when to announce;
//!   [`ondemand`]: when to start extra seeders.
//!
//! Policies see peers through [`PeerView`] snapshots and their own node through [`Context`];
//! they hold whatever per-peer memory they need themselves and are told when a peer leaves
//! ([`Policy::forget`]). They run inside the sans-IO core: no clock, no I/O, randomness only
//! from the torrent's seeded stream.

pub mod bittyrant;
pub mod choker;
pub mod fairtorrent;
pub mod false_have;
pub mod free_rider;
pub mod large_view;
pub mod ondemand;
pub mod peer_set;
pub mod picker;
pub mod propshare;
pub mod rates;
pub mod seniority;
pub mod spec;
pub mod tft;
pub mod whitewash;

use std::collections::BTreeSet;
use std::fmt;

use rand_chacha::ChaCha8Rng;

use crate::protocol::bitfield::Bitfield;
use crate::time::{Duration, Instant};
use crate::PeerKey;

/// What a policy sees of one connected peer when it decides.
#[derive(Clone, Debug, Default)]
pub struct PeerView {
    pub key: PeerKey,
    /// It wants to download from us.
    pub interested: bool,
    /// We want to download from it.
    pub am_interested: bool,
    /// It chokes us.
    pub choking_us: bool,
    /// We unchoke it (as of the moment of the call).
    pub unchoked: bool,
    /// It has sent us nothing for the snub timeout while unchoking us and wanted.
    pub snubbed: bool,
    pub connected_at: Instant,
    /// Bytes/s we receive from it, averaged over the last two rechoke rounds.
    pub down_rate: f64,
    /// Bytes/s we send to it, averaged over the last two rechoke rounds.
    pub up_rate: f64,
    /// Bytes received from / sent to it since the previous rechoke: the round just ended
    /// when [`Policy::rechoke`] runs.
    pub round_down: u64,
    pub round_up: u64,
    /// Bytes received from / sent to it over the whole connection.
    pub total_down: u64,
    pub total_up: u64,
    /// `have` messages it sent during the round (BitTyrant's estimate of a peer's rate).
    pub round_haves: u32,
    /// Pieces it has.
    pub pieces: u32,
    /// The seniority weight it reported, if it runs that mechanism.
    pub seniority: Option<f64>,
}

/// What a policy knows of its own node at a decision.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    pub now: Instant,
    /// We have every piece.
    pub am_seed: bool,
    /// Our upload capacity for this torrent in bytes/s, when the driver knows it (a scenario's
    /// upload rate, `bt --upload-limit`).
    pub upload_capacity: Option<f64>,
    /// The rechoke interval: one round of the round-based mechanisms.
    pub round: Duration,
    pub piece_length: u32,
}

/// Whom to unchoke from now until the next rechoke.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unchoke {
    /// Peers unchoked for what they give (or by the mechanism's own ranking).
    pub regular: BTreeSet<PeerKey>,
    /// Peers unchoked to discover them (optimistic unchoke). Disjoint from `regular`.
    pub optimistic: BTreeSet<PeerKey>,
}

/// A peer waiting for upload: unchoked, with requests queued with us. What a policy that
/// paces uploads ([`Policy::paces_uploads`]) decides the next block on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadDemand {
    pub key: PeerKey,
    /// Bytes sent to / received from it over the whole connection (blocks handed out count).
    pub total_up: u64,
    pub total_down: u64,
}

impl Unchoke {
    pub fn contains(&self, key: &PeerKey) -> bool {
        self.regular.contains(key) || self.optimistic.contains(key)
    }
}

/// Which half of an [`Unchoke`] a peer is in: the clustering metric counts only regular
/// unchokes (reciprocation), not discovery. Peers unchoked between rechokes
/// ([`Policy::unchoke_on_interest`]) fill a regular slot and count as regular.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnchokeKind {
    Regular,
    Optimistic,
}

/// One incentive mechanism, run by one torrent. Defaults describe plain tit-for-tat's answers
/// where a mechanism has nothing of its own to say.
pub trait Policy: fmt::Debug + Send {
    /// Every rechoke interval: the peers to unchoke until the next one. `peers` lists every
    /// connected peer in the torrent's (deterministic) peer order; their round counters cover
    /// the round that just ended.
    fn rechoke(&mut self, ctx: &Context, peers: &[PeerView], rng: &mut ChaCha8Rng) -> Unchoke;

    /// A choked peer became interested between rechokes while `unchoked` peers are unchoked:
    /// unchoke it at once? (Mainline: if a slot is free, rather than idle until the rechoke.)
    fn unchoke_on_interest(&mut self, unchoked: usize) -> bool;

    /// The most peers this policy unchokes at once (an invariant the model tests check).
    fn max_unchoked(&self) -> usize;

    /// Whether [`Policy::caps`] sets per-peer upload caps; if not, the controller never asks and
    /// peers share our upload by the transport's fairness.
    fn sets_caps(&self) -> bool {
        false
    }

    /// Per-peer upload caps in bytes/s (`None`: uncapped), for every peer in `peers`. Asked
    /// after each rechoke and whenever who can use our upload changes (a peer connects,
    /// leaves, changes interest, is unchoked, reports its seniority).
    fn caps(&mut self, _ctx: &Context, _peers: &[PeerView]) -> Vec<(PeerKey, Option<f64>)> {
        Vec::new()
    }

    /// The seniority weight we serve (BEP 10 handshake, the thesis's port query), if any.
    fn advertised_weight(&self) -> Option<f64> {
        None
    }

    /// `key` disconnected: drop what the policy remembers of it.
    fn forget(&mut self, _key: PeerKey) {}

    /// Whether the policy chooses, block by block, which waiting peer is served next
    /// ([`Policy::admit_upload`]). If not, every unchoked peer with requests queued is served
    /// as fast as its connection pulls, and the controller never asks.
    fn paces_uploads(&self) -> bool {
        false
    }

    /// May `peer` take its next block now? `waiting` lists every peer waiting for upload
    /// (`peer` among them), in peer order. A peer refused is parked by the controller and
    /// woken ([`crate::torrent::Output::UploadReady`]) once this answers yes, which it asks
    /// again after every block received or handed out, cancel, departure and rechoke (a new
    /// request only adds a waiter, which must not make a refused peer admissible). For liveness the answer must be
    /// yes for at least one waiting peer.
    fn admit_upload(&self, _peer: PeerKey, _waiting: &[UploadDemand]) -> bool {
        true
    }

    /// Pieces to announce (`have`) at this rechoke although we lack them: the false-have
    /// adversary. `have` is what we hold, `claimed` what we already announced falsely; the
    /// controller sends only pieces in neither, and rejects requests for them.
    fn advertise(
        &mut self,
        _ctx: &Context,
        _have: &Bitfield,
        _claimed: &Bitfield,
        _rng: &mut ChaCha8Rng,
    ) -> Vec<u32> {
        Vec::new()
    }
}
