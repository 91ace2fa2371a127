//! State-machine property test of the [`Fetcher`]: random sequences of connects, handshakes,
//! answers (good, corrupt, wrong-sized, late, rejected), garbage, timeouts with a clock that
//! may jump back, and verifications, checked against a reference model and the fetcher's
//! invariants after every step.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::tests::{ext, meta};
use super::*;
use crate::protocol::extension::ExtHandshake;
use crate::protocol::wire::Message;
use crate::time::Instant;
use crate::PeerKey;

/// The info dictionary being fetched: three pieces, the last one short.
const SIZE: u64 = 40_000;

impl Fetcher {
    /// The attempt's bookkeeping agrees with itself; `Err` says what disagrees.
    fn check_invariants(&self) -> Result<(), String> {
        let n = self.pieces.len();
        if self.size.map_or(0, |s| piece_count(s) as usize) != n {
            return Err(format!("{n} piece slots for size {:?}", self.size));
        }
        let mut asked = BTreeSet::new();
        for (k, p) in &self.peers {
            if p.requests.len() > MAX_IN_FLIGHT {
                return Err(format!("peer {k}: {} requests in flight", p.requests.len()));
            }
            for (&piece, &sent) in &p.requests {
                if self.pieces.get(piece as usize).is_none_or(Option::is_some) {
                    return Err(format!(
                        "peer {k} asked for piece {piece}, received or absent"
                    ));
                }
                if !asked.insert(piece) || sent > self.now {
                    return Err(format!("piece {piece} asked twice or in the future"));
                }
            }
        }
        if let Some(m) = &self.assembled {
            let whole = self.pieces.iter().all(Option::is_some);
            if Some(m.len() as u64) != self.size || !whole || !asked.is_empty() {
                return Err("assembled metadata disagrees with its attempt".into());
            }
        } else if self.complete {
            return Err("complete without metadata".into());
        }
        if self.single_source {
            let senders = self.pieces.iter().flatten().map(|&(_, k)| k);
            let askers = self.peers.iter().filter(|(_, p)| !p.requests.is_empty());
            let who: BTreeSet<PeerKey> = senders.chain(askers.map(|(&k, _)| k)).collect();
            if who.len() > 1 {
                return Err(format!("single-source attempt uses peers {who:?}"));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum Answer {
    Good,
    Corrupt,
    WrongLength,
    Reject,
}

#[derive(Clone, Debug)]
enum Op {
    Connect {
        peer: PeerKey,
        extensions: bool,
    },
    Disconnect {
        peer: PeerKey,
    },
    /// An extended handshake: `size` 0 is none, 3 is over [`MAX_SIZE`].
    Handshake {
        peer: PeerKey,
        size: u8,
        metadata: bool,
    },
    /// The peer answers the `nth` request it was sent (possibly one given up on).
    Answer {
        peer: PeerKey,
        nth: usize,
        how: Answer,
    },
    /// Good data for a piece that may never have been asked of this peer.
    Unasked {
        peer: PeerKey,
        piece: u32,
    },
    Garbage {
        peer: PeerKey,
        handshake: bool,
        bytes: Vec<u8>,
    },
    /// A non-extended message, which the fetcher ignores.
    Other {
        peer: PeerKey,
    },
    Timeout {
        secs: i64,
    },
    /// The driver's honest verdict on whatever is assembled (or on nothing).
    Verify,
}

fn op() -> impl Strategy<Value = Op> {
    let peer = 1u64..5;
    let how = prop_oneof![
        6 => Just(Answer::Good),
        1 => Just(Answer::Corrupt),
        1 => Just(Answer::WrongLength),
        2 => Just(Answer::Reject),
    ];
    prop_oneof![
        3 => (peer.clone(), prop::bool::weighted(0.9))
            .prop_map(|(peer, extensions)| Op::Connect { peer, extensions }),
        1 => peer.clone().prop_map(|peer| Op::Disconnect { peer }),
        3 => (peer.clone(), prop_oneof![4 => Just(1u8), 1 => 0u8..4], prop::bool::weighted(0.9))
            .prop_map(|(peer, size, metadata)| Op::Handshake { peer, size, metadata }),
        10 => (peer.clone(), 0usize..4, how).prop_map(|(peer, nth, how)| Op::Answer { peer, nth, how }),
        1 => (peer.clone(), 0u32..4).prop_map(|(peer, piece)| Op::Unasked { peer, piece }),
        1 => (peer.clone(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(peer, handshake, bytes)| Op::Garbage { peer, handshake, bytes }),
        1 => peer.prop_map(|peer| Op::Other { peer }),
        2 => (-5i64..25).prop_map(|secs| Op::Timeout { secs }),
        3 => Just(Op::Verify),
    ]
}

/// The reference model: who is connected, what each was asked, what is awaited.
#[derive(Default)]
struct Model {
    peers: BTreeSet<PeerKey>,
    /// Pieces requested of each peer (outstanding, answered late or timed out).
    sent: BTreeMap<PeerKey, Vec<u32>>,
    /// Sizes some peer advertised: the only sizes an attempt may assume.
    advertised: BTreeSet<u64>,
    awaiting: bool,
    complete: bool,
}

fn size_of(code: u8) -> Option<u64> {
    [None, Some(SIZE), Some(SIZE + 1), Some(MAX_SIZE + 1)][code as usize % 4]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fetcher_matches_model(ops in proptest::collection::vec(op(), 1..150)) {
        let good = meta(SIZE as usize);
        let mut f = Fetcher::new();
        let mut m = Model::default();
        let mut now = Instant(1_000_000_000);
        for op in ops {
            if m.complete {
                prop_assert_eq!(f.handle_input(now, Input::Timeout), Err(Rejected::Complete));
                break;
            }
            // The expected result, unless the op decides it from what the fetcher was sent.
            let mut want: Result<(), Rejected> = Ok(());
            let known = |m: &Model, peer| if m.peers.contains(&peer) { Ok(()) } else { Err(Rejected::UnknownPeer) };
            let message = |peer, msg| Input::Message { peer, msg };
            let input = match op {
                Op::Connect { peer, extensions } => {
                    want = if m.peers.contains(&peer) {
                        Err(Rejected::DuplicateConnect)
                    } else if !extensions {
                        Err(Rejected::NoExtensions)
                    } else {
                        m.peers.insert(peer);
                        Ok(())
                    };
                    Input::Connected { peer, extensions }
                }
                Op::Disconnect { peer } => {
                    want = known(&m, peer);
                    m.peers.remove(&peer);
                    Input::Disconnected { peer }
                }
                Op::Handshake { peer, size, metadata } => {
                    let mut hs = ExtHandshake::default();
                    if metadata {
                        hs.m.insert(EXT_NAME.into(), 9);
                    }
                    hs.metadata_size = size_of(size);
                    want = known(&m, peer);
                    if want.is_ok() && size_of(size).is_some_and(|s| s > MAX_SIZE) {
                        want = Err(Rejected::BadMessage);
                    } else if want.is_ok() {
                        m.advertised.extend(size_of(size));
                    }
                    message(peer, ext(0, hs.to_payload()))
                }
                Op::Answer { peer, nth, how } => {
                    let sent = m.sent.get(&peer).cloned().unwrap_or_default();
                    let Some(&piece) = sent.get(nth % sent.len().max(1)) else { continue };
                    let size = f.size.unwrap_or(SIZE);
                    let body = match how {
                        Answer::Good => answer(Some(&good), piece, 0),
                        Answer::Corrupt => answer(Some(&meta(size as usize + 7)[7..]), piece, 0),
                        Answer::WrongLength => MetadataMsg::Data { piece, total_size: size, data: Bytes::from_static(b"x") },
                        Answer::Reject => MetadataMsg::Reject { piece },
                    };
                    let asked = f.peers.get(&peer).is_some_and(|p| p.requests.contains_key(&piece));
                    want = known(&m, peer).and(if asked { Ok(()) } else { Err(Rejected::NotRequested) });
                    let bad_len = matches!(&body, MetadataMsg::Data { data, total_size, .. }
                        if *total_size != size || data.len() != piece_size(size, piece));
                    if want.is_ok() && bad_len {
                        want = Err(Rejected::BadMessage);
                    }
                    message(peer, ext(LOCAL_ID, body.encode()))
                }
                Op::Unasked { peer, piece } => {
                    let asked = f.peers.get(&peer).is_some_and(|p| p.requests.contains_key(&piece));
                    want = known(&m, peer).and(if asked { Ok(()) } else { Err(Rejected::NotRequested) });
                    if want.is_ok() && f.size != Some(SIZE) {
                        want = Err(Rejected::BadMessage);
                    }
                    message(peer, ext(LOCAL_ID, answer(Some(&good), piece, 0).encode()))
                }
                Op::Garbage { peer, handshake, bytes } => {
                    let bad = if handshake {
                        ExtHandshake::from_payload(&bytes).is_err()
                    } else {
                        matches!(MetadataMsg::decode(&bytes), Err(e) if !matches!(e, MetadataError::UnknownType(_)))
                    };
                    want = known(&m, peer);
                    if bad && want.is_ok() {
                        want = Err(Rejected::BadMessage);
                    }
                    if !bad {
                        continue; // a valid message by chance: the other ops cover those
                    }
                    message(peer, ext(if handshake { 0 } else { LOCAL_ID }, bytes))
                }
                Op::Other { peer } => {
                    want = known(&m, peer);
                    message(peer, Message::Have { index: 0 })
                }
                Op::Timeout { secs } => {
                    now = Instant(now.0.saturating_add_signed(secs * 1_000_000));
                    Input::Timeout
                }
                Op::Verify => {
                    want = if m.awaiting { Ok(()) } else { Err(Rejected::NotAwaitingVerify) };
                    let ok = f.metadata() == Some(&good[..]);
                    m.complete |= m.awaiting && ok;
                    m.awaiting = false;
                    Input::Verified { ok }
                }
            };
            let got = f.handle_input(now, input.clone());
            prop_assert_eq!(got, want, "{:?}", input);
            while let Some(out) = f.poll_output() {
                match out {
                    Output::Disconnect { peer, .. } => {
                        m.peers.remove(&peer);
                    }
                    Output::Verify => {
                        prop_assert!(!m.awaiting, "verify asked twice");
                        let len = f.metadata().map_or(0, |d| d.len() as u64);
                        prop_assert!(m.advertised.contains(&len), "assembled {len} bytes");
                        m.awaiting = true;
                    }
                    Output::Send { peer, msg: Message::Extended { id: 9, payload } } => {
                        prop_assert!(m.peers.contains(&peer), "sent to unknown peer {peer}");
                        if let Ok(MetadataMsg::Request { piece }) = MetadataMsg::decode(&payload) {
                            m.sent.entry(peer).or_default().push(piece);
                        }
                    }
                    Output::Send { peer, .. } => {
                        prop_assert!(m.peers.contains(&peer), "sent to unknown peer {peer}");
                    }
                }
            }
            prop_assert_eq!(f.peers.keys().copied().collect::<BTreeSet<_>>(), m.peers.clone());
            prop_assert_eq!(f.is_complete(), m.complete);
            if m.complete {
                prop_assert_eq!(f.metadata(), Some(&good[..]));
            }
            f.check_invariants().map_err(TestCaseError::fail)?;
        }
    }
}
