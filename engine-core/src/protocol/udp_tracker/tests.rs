use super::client::{AnnounceError, Backoff, Step, UdpAnnouncer};
use super::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::time::Instant;

fn announce() -> Announce {
    Announce {
        uploaded: 3,
        downloaded: 2,
        numwant: Some(50),
        ..Announce::new([0xaa; 20], [0xbb; 20], 6881, 1, AnnounceEvent::Started)
    }
}

/// BEP 15's layout, field by field.
fn announce_bytes() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 9];
    b.extend_from_slice(&[0xaa; 20]);
    b.extend_from_slice(&[0xbb; 20]);
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]); // downloaded
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]); // left
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]); // uploaded
    b.extend_from_slice(&[0, 0, 0, 2]); // started
    b.extend_from_slice(&[0, 0, 0, 0]); // ip
    b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // key
    b.extend_from_slice(&[0, 0, 0, 50]); // num_want
    b.extend_from_slice(&[0x1a, 0xe1]); // port 6881
    b
}

#[test]
fn requests_match_bep15_bytes() {
    let connect = [
        0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4,
    ];
    let r = Request::Connect { tid: 0x0102_0304 };
    assert_eq!(r.encode(), connect);
    assert_eq!(Request::decode(&connect), Ok(r));
    let r = Request::Announce {
        conn_id: 7,
        tid: 9,
        announce: announce(),
        key: 0xdead_beef,
    };
    assert_eq!(r.encode(), announce_bytes());
    assert_eq!(r.encode().len(), 98);
    // BEP 41 options after the request are ignored; num_want -1 is "default".
    let mut b = announce_bytes();
    b[92..96].copy_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&[2, 5, b'/', b'a', b'n', b'n', b'o']);
    let Ok(Request::Announce { announce: a, .. }) = Request::decode(&b) else {
        panic!("announce with options refused")
    };
    assert_eq!(a.numwant, None);
    let mut scrape = vec![0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 9];
    scrape.extend_from_slice(&[1; 20]);
    scrape.extend_from_slice(&[2; 20]);
    let r = Request::Scrape {
        conn_id: 7,
        tid: 9,
        hashes: vec![[1; 20], [2; 20]],
    };
    assert_eq!(r.encode(), scrape);
    assert_eq!(Request::decode(&scrape), Ok(r));
}

#[test]
fn malformed_requests_are_typed_errors() {
    let b = announce_bytes();
    let with = |at: usize, v: &[u8]| {
        let mut b = b.clone();
        b[at..at + v.len()].copy_from_slice(v);
        Request::decode(&b)
    };
    assert_eq!(
        Request::decode(&b[..97]),
        Err(DecodeError::Short { len: 97, need: 98 })
    );
    assert_eq!(
        Request::decode(&b[..15]),
        Err(DecodeError::Short { len: 15, need: 16 })
    );
    assert_eq!(with(80, &[0, 0, 0, 4]), Err(DecodeError::BadEvent(4)));
    assert_eq!(with(96, &[0, 0]), Err(DecodeError::BadPort));
    assert_eq!(with(8, &[0, 0, 0, 5]), Err(DecodeError::UnknownAction(5)));
    assert_eq!(with(8, &[0, 0, 0, 0]), Err(DecodeError::BadProtocolId));
    assert_eq!(with(8, &[0, 0, 0, 2]), Err(DecodeError::BadScrape)); // 82 bytes of hashes
    assert_eq!(
        Request::decode(&b[..16]).unwrap_err(),
        DecodeError::Short { len: 16, need: 98 }
    );
}

#[test]
fn responses_match_bep15_bytes_in_both_families() {
    let v4: SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let v6: SocketAddr = "[::1]:6881".parse().unwrap();
    let reply = |peers| AnnounceReply {
        peers,
        interval: Duration::from_secs(1800),
        complete: 1,
        incomplete: 2,
    };
    let r = Response::Announce {
        tid: 9,
        reply: reply(vec![v4, v6]),
    };
    let head = [0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 7, 8, 0, 0, 0, 2, 0, 0, 0, 1];
    let mut want4 = head.to_vec();
    want4.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
    let mut want6 = head.to_vec();
    want6.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1]);
    assert_eq!(r.encode(false), want4);
    assert_eq!(r.encode(true), want6);
    let back = |b: &[u8], v6| Response::decode(b, v6).unwrap();
    assert_eq!(
        back(&want4, false),
        Response::Announce {
            tid: 9,
            reply: reply(vec![v4])
        }
    );
    assert_eq!(
        back(&want6, true),
        Response::Announce {
            tid: 9,
            reply: reply(vec![v6])
        }
    );
    assert_eq!(Response::decode(&want4, true), Err(DecodeError::Ragged(6)));

    let connect = [0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8];
    assert_eq!(
        back(&connect, false),
        Response::Connect {
            tid: 9,
            conn_id: 0x0102_0304_0506_0708
        }
    );
    let scrape = [0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7];
    let counts = vec![ScrapeCounts {
        complete: 5,
        downloaded: 6,
        incomplete: 7,
    }];
    let r = Response::Scrape { tid: 9, counts };
    assert_eq!(r.encode(false), scrape);
    assert_eq!(back(&scrape, false), r);
    let error = b"\0\0\0\x03\0\0\0\x09nope";
    let r = Response::Error {
        tid: 9,
        message: "nope".into(),
    };
    assert_eq!(r.encode(true), error);
    assert_eq!(back(error, true), r);
    assert_eq!(
        Response::decode(&connect[..12], false),
        Err(DecodeError::Short { len: 12, need: 16 })
    );
    let long = Response::Error {
        tid: 1,
        message: "é".repeat(200),
    }
    .encode(false);
    assert_eq!(long.len(), 8 + MAX_MESSAGE);
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(1)
}

fn at(secs: u64) -> Instant {
    Instant(secs * 1_000_000)
}

fn sent(step: Step) -> Request {
    match step {
        Step::Send(b) => Request::decode(&b).unwrap(),
        other => panic!("expected a datagram, got {other:?}"),
    }
}

fn connect_reply(tid: u32) -> Vec<u8> {
    Response::Connect { tid, conn_id: 77 }.encode(false)
}

#[test]
fn unanswered_requests_back_off_15_30_60_then_give_up() {
    let mut rng = rng();
    let mut m = UdpAnnouncer::new(Backoff::default(), false);
    let first = Request::decode(&m.start(at(0), announce(), 1, &mut rng)).unwrap();
    assert!(matches!(first, Request::Connect { .. }));
    let mut deadlines = vec![m.deadline().unwrap()];
    assert_eq!(m.on_timeout(at(14), &mut rng), Step::Wait);
    for _ in 0..8 {
        let now = m.deadline().unwrap();
        // A retransmission keeps its transaction id, so a late answer still counts.
        assert_eq!(sent(m.on_timeout(now, &mut rng)), first);
        deadlines.push(m.deadline().unwrap());
    }
    // 15·(2ⁿ⁺¹ − 1): waits of 15, 30, 60, … 3840 s.
    let want: Vec<Instant> = (1..=9).map(|k| at(15 * ((1 << k) - 1))).collect();
    assert_eq!(deadlines, want);
    let end = m.on_timeout(at(7665), &mut rng);
    assert_eq!(end, Step::Done(Err(AnnounceError::TimedOut(9))));
    assert_eq!(m.deadline(), None);
}

#[test]
fn connection_id_is_reused_for_a_minute_then_renewed() {
    let mut rng = rng();
    let mut m = UdpAnnouncer::new(Backoff::default(), false);
    let Request::Connect { tid } =
        Request::decode(&m.start(at(0), announce(), 1, &mut rng)).unwrap()
    else {
        panic!()
    };
    let Request::Announce {
        conn_id: 77, tid, ..
    } = sent(m.on_datagram(at(1), &connect_reply(tid), &mut rng))
    else {
        panic!("no announce after connect")
    };
    // The announce is lost twice: retransmitted at 16 and 46 s with the id from 1 s ...
    assert!(matches!(
        sent(m.on_timeout(at(16), &mut rng)),
        Request::Announce { conn_id: 77, .. }
    ));
    assert!(matches!(
        sent(m.on_timeout(at(46), &mut rng)),
        Request::Announce { .. }
    ));
    // ... but at 106 s the id is too old: connect again.
    assert!(matches!(
        sent(m.on_timeout(at(106), &mut rng)),
        Request::Connect { .. }
    ));
    assert_eq!(m.deadline(), Some(at(106 + 120)));
    let Request::Connect { tid: t2 } = sent(m.on_timeout(at(226), &mut rng)) else {
        panic!()
    };
    assert_ne!(t2, tid);
    let Request::Announce { tid, .. } = sent(m.on_datagram(at(230), &connect_reply(t2), &mut rng))
    else {
        panic!()
    };
    let ok = Response::Announce {
        tid,
        reply: AnnounceReply {
            peers: vec![],
            interval: Duration::from_secs(60),
            complete: 0,
            incomplete: 1,
        },
    };
    let Step::Done(Ok(r)) = m.on_datagram(at(231), &ok.encode(false), &mut rng) else {
        panic!()
    };
    assert_eq!(r.incomplete, 1);
    // The next announce within a minute of 230 s skips connecting; later ones do not.
    assert!(matches!(
        Request::decode(&m.start(at(289), announce(), 1, &mut rng)),
        Ok(Request::Announce { .. })
    ));
    assert!(matches!(
        Request::decode(&m.start(at(290), announce(), 1, &mut rng)),
        Ok(Request::Connect { .. })
    ));
}

#[test]
fn stray_datagrams_are_ignored_and_counted_errors_end_the_announce() {
    let mut rng = rng();
    let mut m = UdpAnnouncer::new(Backoff::default(), false);
    assert_eq!(m.on_datagram(at(0), b"junk", &mut rng), Step::Wait); // idle
    let Request::Connect { tid } =
        Request::decode(&m.start(at(0), announce(), 1, &mut rng)).unwrap()
    else {
        panic!()
    };
    let strays = [
        connect_reply(tid.wrapping_add(1)),
        connect_reply(tid)[..12].to_vec(),
        Response::Scrape {
            tid,
            counts: vec![],
        }
        .encode(false),
        Response::Announce {
            tid,
            reply: AnnounceReply {
                peers: vec![],
                interval: Duration::ZERO,
                complete: 0,
                incomplete: 0,
            },
        }
        .encode(false),
    ];
    for s in &strays {
        assert_eq!(m.on_datagram(at(1), s, &mut rng), Step::Wait);
    }
    assert_eq!(m.ignored(), 5);
    let Request::Announce { tid, .. } = sent(m.on_datagram(at(2), &connect_reply(tid), &mut rng))
    else {
        panic!()
    };
    let refusal = Response::Error {
        tid,
        message: "unknown torrent".into(),
    }
    .encode(false);
    assert_eq!(
        m.on_datagram(at(3), &refusal, &mut rng),
        Step::Done(Err(AnnounceError::Refused("unknown torrent".into())))
    );
}

fn arb_announce() -> impl Strategy<Value = Announce> {
    let event = prop_oneof![
        Just(AnnounceEvent::Started),
        Just(AnnounceEvent::Completed),
        Just(AnnounceEvent::Stopped),
        Just(AnnounceEvent::Update)
    ];
    (
        any::<([u8; 20], [u8; 20], u16, u64, u64, u64)>(),
        event,
        proptest::option::of(0..=i32::MAX as usize),
    )
        .prop_map(
            |((info_hash, peer_id, port, uploaded, downloaded, left), event, numwant)| Announce {
                uploaded,
                downloaded,
                numwant,
                ..Announce::new(info_hash, peer_id, port.max(1), left, event)
            },
        )
}

proptest! {
    #[test]
    fn announce_requests_round_trip(a in arb_announce(), conn_id: u64, tid: u32, key: u32) {
        let r = Request::Announce { conn_id, tid, announce: a, key };
        prop_assert_eq!(Request::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn announce_replies_round_trip(
        tid: u32,
        secs in 0..=u32::MAX as u64,
        complete in 0..=u32::MAX as usize,
        incomplete in 0..=u32::MAX as usize,
        v6: bool,
        peers in proptest::collection::vec(any::<([u8; 16], u16)>(), 0..40),
    ) {
        let peers: Vec<SocketAddr> = peers
            .into_iter()
            .map(|(ip, port)| if v6 { SocketAddr::from((ip, port)) } else { SocketAddr::from(([ip[0], ip[1], ip[2], ip[3]], port)) })
            .collect();
        let reply = AnnounceReply { peers, interval: Duration::from_secs(secs), complete, incomplete };
        let r = Response::Announce { tid, reply };
        prop_assert_eq!(Response::decode(&r.encode(v6), v6), Ok(r));
    }

    /// Whatever decodes re-encodes to something that decodes to the same value.
    #[test]
    fn arbitrary_datagrams_decode_or_fail_without_panicking(b in proptest::collection::vec(any::<u8>(), 0..200), v6: bool) {
        if let Ok(r) = Request::decode(&b) {
            prop_assert_eq!(Request::decode(&r.encode()), Ok(r));
        }
        if let Ok(r) = Response::decode(&b, v6) {
            prop_assert_eq!(Response::decode(&r.encode(v6), v6), Ok(r));
        }
    }
}
