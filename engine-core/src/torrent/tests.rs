//! Unit tests of the controller, and regression tests for defects found in it.

use super::*;
use crate::policy::seniority::SeniorityVariant;
use crate::protocol::metadata::MetadataMsg;

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
    cfg.policy = PolicySpec::Seniority {
        variant: Some(SeniorityVariant::ThesisCode),
    };
    cfg.upload_limit = Some(100.0);
    let mut t = Torrent::new(cfg, Bitfield::full(16), [0; 32], Instant::ZERO);
    for peer in [1, 2] {
        let (fast, extensions) = (true, false);
        let _ = t.handle_input(
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
    let _ = t.handle_input(
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
        let _ = t.handle_input(
            Instant::ZERO,
            Input::PeerSeniority {
                peer: 1,
                weight: bad,
            },
        );
        assert!(caps(&mut t).is_empty(), "{bad} accepted");
    }
    let _ = t.handle_input(
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
    let _ = t.handle_input(
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
    let _ = t.handle_input(
        now,
        Input::Message {
            peer: 1,
            msg: ext(0, theirs.to_payload()),
        },
    );
    let ask = |t: &mut Torrent, piece| {
        let msg = ext(metadata::LOCAL_ID, MetadataMsg::Request { piece }.encode());
        let _ = t.handle_input(now, Input::Message { peer: 1, msg });
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
    let _ = t.handle_input(
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

/// A leecher of two one-block pieces, connected to seed `1` that has unchoked it; returns
/// the torrent with its outputs drained and the blocks requested from the seed.
fn leecher_with_seed() -> (Torrent, Vec<BlockRequest>) {
    let geo = Geometry::new(2 * 16384, 16384);
    let mut t = Torrent::new(
        TorrentConfig::new(geo),
        Bitfield::new(2),
        [0; 32],
        Instant::ZERO,
    );
    let requested = connect_seed(&mut t, 1);
    assert_eq!(requested.len(), 2);
    (t, requested)
}

/// Connects `peer` as a seed that unchokes us; returns what we requested from it.
fn connect_seed(t: &mut Torrent, peer: PeerKey) -> Vec<BlockRequest> {
    let now = Instant::ZERO;
    let connect = Input::Connected {
        peer,
        fast: true,
        extensions: false,
    };
    assert_eq!(t.handle_input(now, connect), Ok(()));
    for msg in [Message::HaveAll, Message::Unchoke] {
        assert_eq!(t.handle_input(now, Input::Message { peer, msg }), Ok(()));
    }
    requests(t)
}

fn requests(t: &mut Torrent) -> Vec<BlockRequest> {
    std::iter::from_fn(|| t.poll_output())
        .filter_map(|o| match o {
            Output::Send {
                msg: Message::Request(r),
                ..
            } => Some(r),
            _ => None,
        })
        .collect()
}

/// Defect: a second `Verified { ok: true }` decremented every peer's `wanted` again (a u32
/// underflow: a panic in debug, a wrong interest forever in release).
#[test]
fn verified_twice_does_not_underflow_wanted() {
    let (mut t, requested) = leecher_with_seed();
    let now = Instant::ZERO;
    let block = Input::Block {
        peer: 1,
        block: requested[0],
    };
    assert_eq!(t.handle_input(now, block), Ok(()));
    let verified = Input::Verified { piece: 0, ok: true };
    assert_eq!(t.handle_input(now, verified.clone()), Ok(()));
    assert_eq!(t.peers.get(&1).unwrap().wanted, 1);
    for _ in 0..2 {
        assert_eq!(
            t.handle_input(now, verified.clone()),
            Err(Rejected::AlreadyVerified)
        );
    }
    let p = t.peers.get(&1).unwrap();
    assert_eq!((p.wanted, p.am_interested), (1, true));
    // Piece 1 was never fully received: its verdict is rejected too, nobody is blamed.
    let early = Input::Verified {
        piece: 1,
        ok: false,
    };
    assert_eq!(t.handle_input(now, early), Err(Rejected::NotAwaitingVerify));
    assert_eq!(t.stats().hash_failures, 0);
    t.check_invariants().unwrap();
}

/// Defect: a second `Connected` for a present key replaced the peer without releasing its
/// requests or its availability counts, so both leaked for good.
#[test]
fn duplicate_connect_keeps_requests_and_availability() {
    let (mut t, requested) = leecher_with_seed();
    let now = Instant::ZERO;
    let again = Input::Connected {
        peer: 1,
        fast: false,
        extensions: true,
    };
    assert_eq!(t.handle_input(now, again), Err(Rejected::DuplicateConnect));
    assert!(t.poll_output().is_none(), "a rejected input emits nothing");
    assert_eq!(t.peers.get(&1).unwrap().requests_out, requested);
    assert_eq!(t.picker.availability(0), 1);
    t.check_invariants().unwrap();
    // Leaving releases everything it held: another seed gets the same blocks.
    assert_eq!(t.handle_input(now, Input::Disconnected { peer: 1 }), Ok(()));
    assert_eq!(t.picker.availability(0), 0);
    assert_eq!(
        t.handle_input(now, Input::Disconnected { peer: 1 }),
        Err(Rejected::UnknownPeer)
    );
    let mut again = connect_seed(&mut t, 2);
    again.sort();
    assert_eq!(again, requested);
    t.check_invariants().unwrap();
}

/// New data from a peer we never asked cancels the request outstanding elsewhere, so no
/// request for a block we hold stays open (and is not re-counted after a failed hash).
#[test]
fn unsolicited_block_cancels_the_other_request() {
    let (mut t, requested) = leecher_with_seed();
    let now = Instant::ZERO;
    let other = Input::Connected {
        peer: 2,
        fast: true,
        extensions: false,
    };
    assert_eq!(t.handle_input(now, other), Ok(()));
    while t.poll_output().is_some() {}
    let block = Input::Block {
        peer: 2,
        block: requested[1],
    };
    assert_eq!(t.handle_input(now, block), Ok(()));
    let outs: Vec<Output> = std::iter::from_fn(|| t.poll_output()).collect();
    assert!(
        outs.iter().any(|o| matches!(o,
            Output::Send { peer: 1, msg: Message::Cancel(r) } if *r == requested[1])),
        "{outs:?}"
    );
    assert_eq!(t.peers.get(&1).unwrap().requests_out, [requested[0]]);
    t.check_invariants().unwrap();
}

/// A `now` earlier than one already seen is handled at the latest time: the rechoke
/// schedule never moves back.
#[test]
fn time_going_backwards_is_clamped() {
    let (mut t, _) = leecher_with_seed();
    let later = Instant(100_000_000);
    assert_eq!(t.handle_input(later, Input::Timeout), Ok(()));
    let next = t.poll_timeout();
    assert_eq!(t.handle_input(Instant::ZERO, Input::Timeout), Ok(()));
    assert_eq!(t.poll_timeout(), next);
    assert_eq!(next, Some(later + Duration::from_secs(10)));
}

/// The kinds reported after a rechoke are the policy's split: every unchoked peer has one,
/// regular peers fill at most the regular slots, optimistic ones the optimistic slots.
#[test]
fn unchoke_kinds_follow_the_rechoke() {
    let cfg = TorrentConfig::new(Geometry::new(1 << 20, 1 << 16));
    let (regular_slots, optimistic_slots) = (cfg.choker.regular_slots, cfg.choker.optimistic_slots);
    let mut t = Torrent::new(cfg, Bitfield::new(16), [7; 32], Instant::ZERO);
    let peers: Vec<PeerKey> = (1..=8).collect();
    for &peer in &peers {
        let connected = Input::Connected {
            peer,
            fast: true,
            extensions: false,
        };
        assert_eq!(t.handle_input(Instant::ZERO, connected), Ok(()));
        let msg = Message::Interested;
        assert_eq!(
            t.handle_input(Instant::ZERO, Input::Message { peer, msg }),
            Ok(())
        );
    }
    let later = Instant::ZERO + Duration::from_secs(10);
    assert_eq!(t.handle_input(later, Input::Timeout), Ok(()));
    let kinds: Vec<Option<UnchokeKind>> = peers.iter().map(|&p| t.unchoke_kind(p)).collect();
    let count = |k| kinds.iter().filter(|&&x| x == Some(k)).count();
    assert_eq!(count(UnchokeKind::Regular), regular_slots, "{kinds:?}");
    assert_eq!(
        count(UnchokeKind::Optimistic),
        optimistic_slots,
        "{kinds:?}"
    );
    let regular: Vec<PeerKey> = t.regular_unchoked().collect();
    let want: Vec<PeerKey> = peers
        .iter()
        .copied()
        .filter(|&p| t.unchoke_kind(p) == Some(UnchokeKind::Regular))
        .collect();
    assert_eq!(regular, want);
    for (&p, k) in peers.iter().zip(&kinds) {
        assert_eq!(t.is_unchoked(p), k.is_some());
    }
    assert_eq!(t.unchoke_kind(99), None, "unknown peer");
}
