//! Codec and fetcher examples, and totality properties.

use super::*;
use crate::protocol::extension::ExtHandshake;
use crate::protocol::wire::Message;
use crate::time::Instant;
use crate::torrent::DisconnectReason;
use crate::PeerKey;
use proptest::prelude::*;

const T0: Instant = Instant::ZERO;

pub(super) fn meta(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

pub(super) fn ext(id: u8, payload: Vec<u8>) -> Message {
    Message::Extended {
        id,
        payload: payload.into(),
    }
}

/// A peer's extended handshake offering ut_metadata under id 9.
fn their_handshake(size: Option<u64>) -> Message {
    let mut hs = ExtHandshake::default();
    hs.m.insert(EXT_NAME.into(), 9);
    hs.metadata_size = size;
    ext(0, hs.to_payload())
}

fn join(f: &mut Fetcher, now: Instant, peer: PeerKey, size: u64) {
    let _ = f.handle_input(
        now,
        Input::Connected {
            peer,
            extensions: true,
        },
    );
    let msg = their_handshake(Some(size));
    let _ = f.handle_input(now, Input::Message { peer, msg });
}

fn outputs(f: &mut Fetcher) -> Vec<Output> {
    std::iter::from_fn(|| f.poll_output()).collect()
}

/// The pieces requested of each peer, from `outs`.
fn requests(outs: &[Output]) -> Vec<(PeerKey, u32)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send {
                peer,
                msg: Message::Extended { id: 9, payload },
            } => match MetadataMsg::decode(payload) {
                Ok(MetadataMsg::Request { piece }) => Some((*peer, piece)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn reply(f: &mut Fetcher, now: Instant, peer: PeerKey, msg: MetadataMsg) {
    let msg = ext(LOCAL_ID, msg.encode());
    let _ = f.handle_input(now, Input::Message { peer, msg });
}

/// Answers every request in `outs` with pieces of `m`; returns the new outputs.
fn serve(f: &mut Fetcher, outs: &[Output], m: &[u8]) -> Vec<Output> {
    for (peer, piece) in requests(outs) {
        reply(f, T0, peer, answer(Some(m), piece, 0));
    }
    outputs(f)
}

fn disconnects(outs: &[Output]) -> Vec<(PeerKey, DisconnectReason)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Disconnect { peer, reason } => Some((*peer, reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn codec_examples_from_bep_9() {
    let req = MetadataMsg::Request { piece: 0 };
    assert_eq!(req.encode(), b"d8:msg_typei0e5:piecei0ee");
    let data = MetadataMsg::Data {
        piece: 0,
        total_size: 3425,
        data: Bytes::from_static(b"xyz"),
    };
    assert_eq!(
        data.encode(),
        b"d8:msg_typei1e5:piecei0e10:total_sizei3425eexyz"
    );
    assert_eq!(MetadataMsg::decode(&data.encode()), Ok(data));
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_typei2e5:piecei0ee"),
        Ok(MetadataMsg::Reject { piece: 0 })
    );
}

#[test]
fn codec_rejects_bad_messages() {
    let err = |p: &[u8]| MetadataMsg::decode(p).expect_err("should fail");
    assert_eq!(err(b"le"), MetadataError::NotADict);
    assert!(matches!(err(b"d8:msg_type"), MetadataError::Bencode(_)));
    assert_eq!(err(b"d5:piecei0ee"), MetadataError::Field("msg_type"));
    assert_eq!(err(b"d8:msg_typei0ee"), MetadataError::Field("piece"));
    assert_eq!(
        err(b"d8:msg_typei7e5:piecei0ee"),
        MetadataError::UnknownType(7)
    );
    assert_eq!(
        err(b"d8:msg_typei0e5:piecei-1ee"),
        MetadataError::BadPiece(-1)
    );
    assert_eq!(
        err(b"d8:msg_typei0e5:piecei512ee"),
        MetadataError::BadPiece(512)
    );
    assert_eq!(
        err(b"d8:msg_typei0e5:piecei0eexyz"),
        MetadataError::TrailingData(3)
    );
    assert_eq!(
        err(b"d8:msg_typei1e5:piecei0ee"),
        MetadataError::Field("total_size")
    );
    assert_eq!(
        err(b"d8:msg_typei1e5:piecei0e10:total_sizei8388609ee"),
        MetadataError::BadSize(8388609)
    );
    let mut long = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
    long.extend_from_slice(&[0; 16385]);
    assert_eq!(err(&long), MetadataError::TooLong(16385));
}

#[test]
fn answers_pieces_and_rejects_the_rest() {
    let m = meta(40_000);
    let piece = |p, served| answer(Some(&m), p, served);
    assert!(
        matches!(piece(0, 0), MetadataMsg::Data { ref data, total_size: 40_000, .. } if data.len() == 16384)
    );
    assert!(matches!(piece(2, 0), MetadataMsg::Data { ref data, .. } if data[..] == m[32768..]));
    assert_eq!(piece(3, 0), MetadataMsg::Reject { piece: 3 });
    assert_eq!(piece(0, 6), MetadataMsg::Reject { piece: 0 });
    assert_eq!(answer(None, 0, 0), MetadataMsg::Reject { piece: 0 });
}

#[test]
fn fetches_from_two_peers_and_verifies() {
    let m = meta(100_000);
    let mut f = Fetcher::new();
    join(&mut f, T0, 1, m.len() as u64);
    join(&mut f, T0, 2, m.len() as u64);
    let outs = outputs(&mut f);
    // Seven pieces: as many as peer 1 may have in flight, the rest from peer 2.
    let asked = requests(&outs);
    assert_eq!(asked.len(), 7);
    assert_eq!(asked.iter().filter(|r| r.0 == 1).count(), MAX_IN_FLIGHT);
    let outs = serve(&mut f, &outs, &m);
    assert_eq!(outs, [Output::Verify]);
    assert_eq!(f.metadata(), Some(&m[..]));
    assert!(!f.is_complete());
    let _ = f.handle_input(T0, Input::Verified { ok: true });
    assert!(f.is_complete());
    assert_eq!(f.poll_timeout(), None);
}

#[test]
fn reject_timeout_and_disconnect_move_requests_elsewhere() {
    let m = meta(100);
    let mut f = Fetcher::new();
    join(&mut f, T0, 1, 100);
    assert_eq!(requests(&outputs(&mut f)), [(1, 0)]);
    join(&mut f, T0, 2, 100);
    join(&mut f, T0, 3, 100);
    assert!(requests(&outputs(&mut f)).is_empty(), "piece 0 is asked");
    // Peer 1 rejects: peer 2 is asked.
    reply(&mut f, T0, 1, MetadataMsg::Reject { piece: 0 });
    assert_eq!(requests(&outputs(&mut f)), [(2, 0)]);
    // Peer 2 stays silent: after the timeout, peer 1's backoff is over and it is asked.
    assert_eq!(f.poll_timeout(), Some(T0 + BACKOFF));
    let late = T0 + REQUEST_TIMEOUT;
    let _ = f.handle_input(late, Input::Timeout);
    assert_eq!(requests(&outputs(&mut f)), [(1, 0)]);
    // Peer 1 goes away: peer 3 is asked (peer 2 is backing off).
    let _ = f.handle_input(late, Input::Disconnected { peer: 1 });
    assert_eq!(requests(&outputs(&mut f)), [(3, 0)]);
    // Peer 2's late answer is ignored; peer 3's completes it.
    reply(&mut f, late, 2, answer(Some(&m), 0, 0));
    assert!(outputs(&mut f).is_empty());
    reply(&mut f, late, 3, answer(Some(&m), 0, 0));
    assert_eq!(outputs(&mut f), [Output::Verify]);
}

#[test]
fn a_bad_sole_sender_is_dropped_and_another_peer_asked() {
    let good = meta(100);
    let bad = vec![0u8; 100];
    let mut f = Fetcher::new();
    join(&mut f, T0, 1, 100);
    let outs = outputs(&mut f);
    let outs = serve(&mut f, &outs, &bad);
    assert_eq!(outs, [Output::Verify]);
    join(&mut f, T0, 2, 100);
    let _ = f.handle_input(T0, Input::Verified { ok: false });
    let outs = outputs(&mut f);
    assert_eq!(disconnects(&outs), [(1, DisconnectReason::BadData)]);
    assert_eq!(requests(&outs), [(2, 0)]);
    assert_eq!(serve(&mut f, &outs, &good), [Output::Verify]);
    assert_eq!(f.metadata(), Some(&good[..]));
}

#[test]
fn shared_blame_then_one_source_at_a_time() {
    let good = meta(70_000); // five pieces
    let mut bad = good.clone();
    bad[69_999] ^= 1;
    let mut f = Fetcher::new();
    join(&mut f, T0, 1, 70_000); // honest
    join(&mut f, T0, 2, 70_000); // lies in the last piece
    let outs = outputs(&mut f);
    assert_eq!(requests(&outs), [(1, 0), (1, 1), (1, 2), (1, 3), (2, 4)]);
    for (peer, piece) in requests(&outs) {
        let m = if peer == 1 { &good } else { &bad };
        reply(&mut f, T0, peer, answer(Some(m), piece, 0));
    }
    assert_eq!(outputs(&mut f), [Output::Verify]);
    let _ = f.handle_input(T0, Input::Verified { ok: false });
    // Nobody can be told apart yet: both get a strike, and now one peer serves it all.
    let outs = outputs(&mut f);
    assert!(disconnects(&outs).is_empty());
    assert_eq!(requests(&outs), [(1, 0), (1, 1), (1, 2), (1, 3)]);
    let outs = serve(&mut f, &outs, &good);
    assert_eq!(requests(&outs), [(1, 4)]);
    assert_eq!(serve(&mut f, &outs, &good), [Output::Verify]);
    let _ = f.handle_input(T0, Input::Verified { ok: true });
    assert!(f.is_complete());
    assert_eq!(f.metadata(), Some(&good[..]));
}

#[test]
fn hostile_peers_are_disconnected() {
    let m = meta(100);
    let protocol_drop = |f: &mut Fetcher, peer| {
        let d = disconnects(&outputs(f));
        assert!(
            matches!(d[..], [(p, DisconnectReason::Protocol(_))] if p == peer),
            "{d:?}"
        );
    };
    let mut f = Fetcher::new();
    let _ = f.handle_input(
        T0,
        Input::Connected {
            peer: 1,
            extensions: false,
        },
    );
    protocol_drop(&mut f, 1);
    join(&mut f, T0, 2, MAX_SIZE + 1);
    protocol_drop(&mut f, 2);
    join(&mut f, T0, 3, 100);
    outputs(&mut f);
    let garbage = ext(LOCAL_ID, b"d8:msg_typei0e5:piece".to_vec());
    let _ = f.handle_input(
        T0,
        Input::Message {
            peer: 3,
            msg: garbage,
        },
    );
    protocol_drop(&mut f, 3);
    join(&mut f, T0, 4, 100);
    outputs(&mut f);
    // Data of the wrong length for the advertised size.
    let short = MetadataMsg::Data {
        piece: 0,
        total_size: 100,
        data: Bytes::from_static(b"short"),
    };
    reply(&mut f, T0, 4, short);
    protocol_drop(&mut f, 4);
    // Unknown types are ignored; requests to us are rejected.
    join(&mut f, T0, 5, 100);
    outputs(&mut f);
    let unknown = ext(LOCAL_ID, b"d8:msg_typei9e5:piecei0ee".to_vec());
    let _ = f.handle_input(
        T0,
        Input::Message {
            peer: 5,
            msg: unknown,
        },
    );
    reply(&mut f, T0, 5, MetadataMsg::Request { piece: 0 });
    let outs = outputs(&mut f);
    assert_eq!(
        outs,
        [Output::Send {
            peer: 5,
            msg: ext(9, MetadataMsg::Reject { piece: 0 }.encode()),
        }]
    );
    reply(&mut f, T0, 5, answer(Some(&m), 0, 0));
    assert_eq!(outputs(&mut f), [Output::Verify]);
}

fn arb_msg() -> impl Strategy<Value = MetadataMsg> {
    let piece = 0..piece_count(MAX_SIZE);
    prop_oneof![
        piece
            .clone()
            .prop_map(|piece| MetadataMsg::Request { piece }),
        piece
            .clone()
            .prop_map(|piece| MetadataMsg::Reject { piece }),
        (
            piece,
            1..=MAX_SIZE,
            proptest::collection::vec(any::<u8>(), 0..=PIECE_LEN as usize)
        )
            .prop_map(|(piece, total_size, data)| MetadataMsg::Data {
                piece,
                total_size,
                data: data.into(),
            }),
    ]
}

proptest! {
    #[test]
    fn codec_round_trips(msg in arb_msg()) {
        prop_assert_eq!(MetadataMsg::decode(&msg.encode()), Ok(msg));
    }

    #[test]
    fn decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = MetadataMsg::decode(&bytes);
        let mut prefixed = b"d8:msg_typei1e5:piecei0e10:total_sizei5ee".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = MetadataMsg::decode(&prefixed);
    }

    /// Whatever peers send, the fetcher never panics and never asks the driver to verify
    /// more bytes than a size some peer advertised.
    #[test]
    fn fetcher_is_total(
        events in proptest::collection::vec(
            (1u64..4, any::<u8>(), proptest::collection::vec(any::<u8>(), 0..48)),
            0..40,
        )
    ) {
        let mut f = Fetcher::new();
        let mut now = T0;
        for peer in 1..4 {
            join(&mut f, now, peer, 20_000);
        }
        for (peer, kind, bytes) in events {
            now = now + Duration::from_secs(3);
            let msg = match kind % 4 {
                0 => ext(LOCAL_ID, bytes),
                1 => ext(0, bytes),
                2 => ext(LOCAL_ID, MetadataMsg::Data {
                    piece: u32::from(kind % 3),
                    total_size: 20_000,
                    data: meta(if kind % 3 == 1 { 20_000 - 16384 } else { 16384 }).into(),
                }.encode()),
                _ => {
                    let _ = f.handle_input(now, Input::Timeout);
                    continue;
                }
            };
            let _ = f.handle_input(now, Input::Message { peer, msg });
            for o in outputs(&mut f) {
                if o == Output::Verify {
                    prop_assert_eq!(f.metadata().map(<[u8]>::len), Some(20_000));
                    let _ = f.handle_input(now, Input::Verified { ok: false });
                }
            }
        }
    }
}
