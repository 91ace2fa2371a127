//! State-machine property test: random input sequences — including duplicate, late, unknown
//! and malformed ones and a clock that jumps back — are fed to a [`Torrent`] and to a small
//! reference model. After every step the model predicts the input's result, follows the
//! requests, cancels and verifications the torrent emits, and the two are compared, along with
//! [`Torrent::check_invariants`].

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::{Input, Output, Rejected, Torrent, TorrentConfig};
use crate::policy::spec::PolicySpec;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::block::{BlockRequest, Geometry};
use crate::protocol::wire::Message;
use crate::time::Instant;
use crate::PeerKey;

/// 6 pieces of two 16 KiB blocks, the last piece one short block.
fn geometry() -> Geometry {
    Geometry::new(5 * 32768 + 1000, 32768)
}

#[derive(Clone, Debug)]
enum Op {
    Connect {
        peer: PeerKey,
        fast: bool,
    },
    Disconnect {
        peer: PeerKey,
    },
    Have {
        peer: PeerKey,
        piece: u32,
    },
    Bitfield {
        peer: PeerKey,
        bytes: Vec<u8>,
    },
    HaveAll {
        peer: PeerKey,
    },
    Choke {
        peer: PeerKey,
    },
    Unchoke {
        peer: PeerKey,
    },
    Interested {
        peer: PeerKey,
        yes: bool,
    },
    /// A request from the peer; `piece`/`block` may be out of range.
    Request {
        peer: PeerKey,
        piece: u32,
        block: u32,
    },
    /// The peer answers (or, with `reject`, rejects) its `nth` outstanding request from us.
    Answer {
        peer: PeerKey,
        nth: usize,
        reject: bool,
    },
    /// A block from the peer that we may never have asked for, possibly malformed.
    Block {
        peer: PeerKey,
        piece: u32,
        begin: u32,
        length: u32,
    },
    /// The driver hashes the `nth` piece awaiting verification.
    VerifyPending {
        nth: usize,
        ok: bool,
    },
    /// A verification result for any piece: twice, early, or out of range.
    Verified {
        piece: u32,
        ok: bool,
    },
    Seniority {
        peer: PeerKey,
        weight: f64,
    },
    /// Moves the clock by `secs` (backwards too) and fires the timer.
    Timeout {
        secs: i64,
    },
    Upload {
        peer: PeerKey,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let peer = 1u64..5;
    let piece = 0u32..8;
    prop_oneof![
        3 => (peer.clone(), any::<bool>()).prop_map(|(peer, fast)| Op::Connect { peer, fast }),
        1 => peer.clone().prop_map(|peer| Op::Disconnect { peer }),
        3 => (peer.clone(), piece.clone()).prop_map(|(peer, piece)| Op::Have { peer, piece }),
        1 => (peer.clone(), proptest::collection::vec(any::<u8>(), 0..3))
            .prop_map(|(peer, bytes)| Op::Bitfield { peer, bytes }),
        1 => peer.clone().prop_map(|peer| Op::HaveAll { peer }),
        1 => peer.clone().prop_map(|peer| Op::Choke { peer }),
        3 => peer.clone().prop_map(|peer| Op::Unchoke { peer }),
        2 => (peer.clone(), any::<bool>()).prop_map(|(peer, yes)| Op::Interested { peer, yes }),
        2 => (peer.clone(), piece.clone(), 0u32..3)
            .prop_map(|(peer, piece, block)| Op::Request { peer, piece, block }),
        8 => (peer.clone(), 0usize..5, prop::bool::weighted(0.15))
            .prop_map(|(peer, nth, reject)| Op::Answer { peer, nth, reject }),
        1 => (peer.clone(), piece.clone(), prop_oneof![Just(0u32), Just(16384), 0u32..40000],
              prop_oneof![Just(16384u32), Just(1000), 0u32..20000])
            .prop_map(|(peer, piece, begin, length)| Op::Block { peer, piece, begin, length }),
        4 => (0usize..3, prop::bool::weighted(0.8)).prop_map(|(nth, ok)| Op::VerifyPending { nth, ok }),
        1 => (piece, any::<bool>()).prop_map(|(piece, ok)| Op::Verified { piece, ok }),
        1 => (peer.clone(), prop_oneof![Just(f64::NAN), Just(-1.0), 0.5f64..3.0])
            .prop_map(|(peer, weight)| Op::Seniority { peer, weight }),
        2 => (-30i64..40).prop_map(|secs| Op::Timeout { secs }),
        2 => peer.prop_map(|peer| Op::Upload { peer }),
    ]
}

/// What the model knows of one peer.
#[derive(Debug, Default)]
struct MPeer {
    fast: bool,
    has: BTreeSet<u32>,
    /// It chokes us (so we may not request).
    choking: bool,
    /// Our requests outstanding at it, from the `Request`s and `Cancel`s the torrent sent.
    requested: BTreeSet<BlockRequest>,
}

/// The reference model: the few facts every step's result and output follow from.
struct Model {
    geo: Geometry,
    end_game: bool,
    peers: BTreeMap<PeerKey, MPeer>,
    have: BTreeSet<u32>,
    pending: BTreeSet<u32>,
    /// Blocks (by index) received of pieces we neither have nor await verification of.
    received: BTreeMap<u32, BTreeSet<u32>>,
}

impl Model {
    fn n(&self) -> u32 {
        self.geo.num_pieces()
    }
    fn done(&self, piece: u32) -> bool {
        self.have.contains(&piece) || self.pending.contains(&piece)
    }
    fn is_received(&self, r: &BlockRequest) -> bool {
        self.done(r.index)
            || self
                .received
                .get(&r.index)
                .is_some_and(|b| b.contains(&(r.begin / self.geo.block_len)))
    }
    fn peer(&self, k: PeerKey) -> Result<&MPeer, Rejected> {
        self.peers.get(&k).ok_or(Rejected::UnknownPeer)
    }
    /// Every block we still need is outstanding somewhere: only now may end game duplicate.
    fn all_requested(&self) -> bool {
        (0..self.n()).filter(|&p| !self.done(p)).all(|p| {
            (0..self.geo.blocks_in_piece(p)).all(|b| {
                let r = self.geo.block(p, b);
                self.is_received(&r) || self.peers.values().any(|q| q.requested.contains(&r))
            })
        })
    }

    /// Predicts the result of `input` and applies what it does to the model (before the
    /// torrent's outputs, which [`Model::follow`] applies).
    fn apply(&mut self, input: &Input) -> Result<(), Rejected> {
        let geo = self.geo;
        match input {
            Input::Connected { peer, fast, .. } => {
                if self.peers.contains_key(peer) {
                    return Err(Rejected::DuplicateConnect);
                }
                let p = MPeer {
                    fast: *fast,
                    choking: true,
                    ..MPeer::default()
                };
                self.peers.insert(*peer, p);
            }
            Input::Disconnected { peer } => {
                self.peers.remove(peer).ok_or(Rejected::UnknownPeer)?;
            }
            Input::Block { peer, block } => {
                self.peer(*peer)?;
                if !geo.is_valid_block(block) {
                    return Err(Rejected::InvalidBlock);
                }
                self.receive(*peer, block);
            }
            Input::Verified { piece, ok } => {
                if *piece >= self.n() {
                    return Err(Rejected::PieceOutOfRange);
                }
                if self.have.contains(piece) {
                    return Err(Rejected::AlreadyVerified);
                }
                if !self.pending.remove(piece) {
                    return Err(Rejected::NotAwaitingVerify);
                }
                if *ok {
                    self.have.insert(*piece);
                }
            }
            Input::PeerSeniority { peer, weight } => {
                if !(weight.is_finite() && *weight > 0.0) {
                    return Err(Rejected::InvalidSeniority);
                }
                self.peer(*peer)?;
            }
            Input::Timeout => {}
            Input::Message { peer, msg } => {
                self.peer(*peer)?;
                let n = self.n();
                let p = self.peers.get_mut(peer).expect("checked");
                match msg {
                    Message::Have { index } if *index >= n => {
                        return Err(Rejected::PieceOutOfRange)
                    }
                    Message::Have { index } => {
                        p.has.insert(*index);
                    }
                    Message::Bitfield(bytes) => {
                        let bf =
                            Bitfield::from_bytes(bytes, n).map_err(|_| Rejected::BadBitfield)?;
                        p.has = bf.iter_set().collect();
                    }
                    Message::HaveAll => p.has = (0..n).collect(),
                    Message::Choke => {
                        p.choking = true;
                        if !p.fast {
                            p.requested.clear();
                        }
                    }
                    Message::Unchoke => p.choking = false,
                    Message::RejectRequest(r) => {
                        p.requested.remove(r);
                    }
                    Message::Request(r)
                        if !(geo.is_valid_block(r) && self.have.contains(&r.index)) =>
                    {
                        return Err(Rejected::InvalidRequest);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn receive(&mut self, peer: PeerKey, r: &BlockRequest) {
        self.peers
            .get_mut(&peer)
            .expect("checked")
            .requested
            .remove(r);
        if self.done(r.index) {
            return;
        }
        let got = self.received.entry(r.index).or_default();
        got.insert(r.begin / self.geo.block_len);
    }

    /// Follows one output of the torrent, checking it is one the model allows.
    fn follow(&mut self, out: &Output, completed: &mut bool) -> Result<(), String> {
        match out {
            Output::Send { peer, msg } => {
                let all_requested = self.all_requested();
                let end_game = self.end_game;
                let elsewhere = |m: &Model, r| {
                    m.peers
                        .iter()
                        .any(|(k, q)| k != peer && q.requested.contains(r))
                };
                let dup = matches!(msg, Message::Request(r) if elsewhere(self, r));
                let (done, received) = match msg {
                    Message::Request(r) => (self.done(r.index), self.is_received(r)),
                    _ => (false, false),
                };
                let Some(p) = self.peers.get_mut(peer) else {
                    return Err(format!("sent {msg:?} to unknown peer {peer}"));
                };
                match msg {
                    Message::Request(r) => {
                        if done || received || !p.has.contains(&r.index) || p.choking {
                            return Err(format!(
                                "requested {r:?} from {peer}, which may not be asked"
                            ));
                        }
                        if !p.requested.insert(*r) {
                            return Err(format!("requested {r:?} from {peer} twice"));
                        }
                        if dup && !(end_game && all_requested) {
                            return Err(format!(
                                "{r:?} requested from a second peer outside end game"
                            ));
                        }
                    }
                    Message::Cancel(r) if !p.requested.remove(r) => {
                        return Err(format!("cancelled {r:?} at {peer}, never requested"));
                    }
                    _ => {}
                }
            }
            Output::Verify { piece } => {
                let blocks = self.geo.blocks_in_piece(*piece);
                let got = self.received.remove(piece).map_or(0, |b| b.len() as u32);
                if got != blocks || self.done(*piece) {
                    return Err(format!(
                        "verify of piece {piece} with {got} of {blocks} blocks"
                    ));
                }
                self.pending.insert(*piece);
            }
            Output::Completed => {
                if *completed || self.have.len() as u32 != self.n() {
                    return Err("completed twice or too early".into());
                }
                *completed = true;
            }
            Output::SetUploadCap {
                cap: Some(c), peer, ..
            } if !(c.is_finite() && *c >= 0.0) => {
                return Err(format!("cap {c} for {peer}"));
            }
            Output::Disconnect { peer, .. }
            | Output::SetUploadCap { peer, .. }
            | Output::UploadReady { peer } => {
                if !self.peers.contains_key(peer) {
                    return Err(format!("{out:?} for unknown peer"));
                }
            }
        }
        Ok(())
    }

    /// The torrent's view agrees with the model's.
    fn compare(&self, t: &Torrent) -> Result<(), String> {
        let keys: Vec<PeerKey> = t.peers.keys().copied().collect();
        if keys != self.peers.keys().copied().collect::<Vec<_>>() {
            return Err(format!("peers {keys:?}, model {:?}", self.peers.keys()));
        }
        for ((k, p), m) in t.peers.iter().zip(self.peers.values()) {
            let has: BTreeSet<u32> = p.has.iter_set().collect();
            let out: BTreeSet<BlockRequest> = p.requests_out.iter().copied().collect();
            if has != m.has || out != m.requested || p.peer_choking != m.choking {
                return Err(format!("peer {k} differs: has {has:?} out {out:?}"));
            }
        }
        let have: BTreeSet<u32> = t.have().iter_set().collect();
        let pending: BTreeSet<u32> = (0..self.n())
            .filter(|&p| t.picker.is_pending_verify(p))
            .collect();
        if have != self.have || pending != self.pending {
            return Err(format!("have {have:?} pending {pending:?}"));
        }
        Ok(())
    }
}

/// The policy a run uses and the upload limit it divides.
#[derive(Clone, Debug)]
struct Policy {
    spec: PolicySpec,
    upload_limit: Option<f64>,
}

/// Tit-for-tat, and the rate-dividing policies with and without a known capacity.
fn policy() -> impl Strategy<Value = Policy> {
    let spec = prop_oneof![
        Just("tft"),
        Just("bittyrant"),
        Just("bittyrant:selfish=true,r=1"),
        Just("propshare"),
    ]
    .prop_map(|s| s.parse::<PolicySpec>().expect("valid spec"));
    (spec, proptest::option::of(1.0f64..1e6))
        .prop_map(|(spec, upload_limit)| Policy { spec, upload_limit })
}

fn run(
    ops: Vec<Op>,
    have: Vec<bool>,
    end_game: bool,
    depth: usize,
    slots: usize,
    policy: Policy,
) -> Result<(), TestCaseError> {
    let geo = geometry();
    let mut cfg = TorrentConfig::new(geo);
    cfg.picker.end_game = end_game;
    cfg.picker.random_first = 1;
    cfg.pipeline_depth = depth;
    cfg.max_queued_requests = 3;
    cfg.choker.regular_slots = slots;
    cfg.policy = policy.spec;
    cfg.upload_limit = policy.upload_limit;
    let mut bf = Bitfield::new(geo.num_pieces());
    for (i, _) in have.iter().enumerate().filter(|(_, h)| **h) {
        bf.set(i as u32);
    }
    let mut model = Model {
        geo,
        end_game,
        peers: BTreeMap::new(),
        have: bf.iter_set().collect(),
        pending: BTreeSet::new(),
        received: BTreeMap::new(),
    };
    let mut completed = bf.is_full();
    let mut t = Torrent::new(cfg, bf, [7; 32], Instant::ZERO);
    let mut now = Instant(1_000_000_000);
    for op in ops {
        let requested = |k| {
            model
                .peers
                .get(&k)
                .map(|p| p.requested.iter().copied().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let msg = |peer, msg| Some(Input::Message { peer, msg });
        let input = match op {
            Op::Connect { peer, fast } => Some(Input::Connected {
                peer,
                fast,
                extensions: false,
            }),
            Op::Disconnect { peer } => Some(Input::Disconnected { peer }),
            Op::Have { peer, piece } => msg(peer, Message::Have { index: piece }),
            Op::Bitfield { peer, bytes } => msg(peer, Message::Bitfield(bytes.into())),
            Op::HaveAll { peer } => msg(peer, Message::HaveAll),
            Op::Choke { peer } => msg(peer, Message::Choke),
            Op::Unchoke { peer } => msg(peer, Message::Unchoke),
            Op::Interested { peer, yes } => msg(
                peer,
                if yes {
                    Message::Interested
                } else {
                    Message::NotInterested
                },
            ),
            Op::Request { peer, piece, block } => {
                let r = if piece < geo.num_pieces() && block < geo.blocks_in_piece(piece) {
                    geo.block(piece, block)
                } else {
                    BlockRequest {
                        index: piece,
                        begin: block * geo.block_len,
                        length: geo.block_len,
                    }
                };
                msg(peer, Message::Request(r))
            }
            Op::Answer { peer, nth, reject } => {
                let out = requested(peer);
                out.get(nth % out.len().max(1)).map(|&block| {
                    if reject {
                        Input::Message {
                            peer,
                            msg: Message::RejectRequest(block),
                        }
                    } else {
                        Input::Block { peer, block }
                    }
                })
            }
            Op::Block {
                peer,
                piece,
                begin,
                length,
            } => Some(Input::Block {
                peer,
                block: BlockRequest {
                    index: piece,
                    begin,
                    length,
                },
            }),
            Op::VerifyPending { nth, ok } => {
                let pending: Vec<u32> = model.pending.iter().copied().collect();
                pending
                    .get(nth % pending.len().max(1))
                    .map(|&piece| Input::Verified { piece, ok })
            }
            Op::Verified { piece, ok } => Some(Input::Verified { piece, ok }),
            Op::Seniority { peer, weight } => Some(Input::PeerSeniority { peer, weight }),
            Op::Timeout { secs } => {
                now = Instant(now.0.saturating_add_signed(secs * 1_000_000));
                Some(Input::Timeout)
            }
            Op::Upload { peer } => {
                let queued = t.peers.get(&peer).map(|p| p.requests_in.front().copied());
                let got = t.next_upload(peer);
                // A pacing policy may park it instead (the invariants check it was refused).
                let served = t.is_unchoked(peer) && !t.parked.contains(&peer);
                prop_assert_eq!(got, if served { queued.flatten() } else { None });
                None
            }
        };
        if let Some(input) = input {
            let want = model.apply(&input);
            let got = t.handle_input(now, input.clone());
            prop_assert_eq!(got, want, "{:?}", input);
            while let Some(out) = t.poll_output() {
                model
                    .follow(&out, &mut completed)
                    .map_err(TestCaseError::fail)?;
            }
        }
        model.compare(&t).map_err(TestCaseError::fail)?;
        t.check_invariants().map_err(TestCaseError::fail)?;
        if completed {
            prop_assert!(model.peers.values().all(|p| p.requested.is_empty()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A leecher (possibly with some pieces) under arbitrary input sequences.
    #[test]
    fn controller_matches_model(
        ops in proptest::collection::vec(op(), 1..200),
        have in proptest::collection::vec(prop::bool::weighted(0.2), 6),
        end_game in any::<bool>(),
        depth in 1usize..5,
        slots in 0usize..3,
        policy in policy(),
    ) {
        run(ops, have, end_game, depth, slots, policy)?;
    }

    /// FairTorrent: everyone interested unchoked, uploads paced by deficit (parked peers
    /// refused, someone always admitted: [`Torrent::check_invariants`]).
    #[test]
    fn fairtorrent_matches_model(
        ops in proptest::collection::vec(op(), 1..200),
        have in proptest::collection::vec(prop::bool::weighted(0.5), 6),
        end_game in any::<bool>(),
        slack in prop_oneof![Just(0u64), Just(16384)],
    ) {
        run(ops, have, end_game, 3, 4, Policy { spec: PolicySpec::FairTorrent { slack }, upload_limit: None })?;
    }

    /// A seed: it must never request, only serve.
    #[test]
    fn seed_matches_model(
        ops in proptest::collection::vec(op(), 1..100),
        slots in 0usize..3,
        policy in policy(),
    ) {
        run(ops, vec![true; 6], true, 5, slots, policy)?;
    }
}
