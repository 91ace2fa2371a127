//! The controller under the zoo's upload pacing and false claims: FairTorrent's parking seen
//! through a driver that pulls as the simulator does, and the false-have adversary seen both
//! from its side and from an honest leecher's.

use super::*;

const BLOCK: u32 = 16384;

fn input(t: &mut Torrent, peer: PeerKey, msg: Message) {
    t.handle_input(t.now, Input::Message { peer, msg })
        .expect("applied");
}

fn connect(t: &mut Torrent, peer: PeerKey, fast: bool) {
    let c = Input::Connected {
        peer,
        fast,
        extensions: false,
    };
    t.handle_input(t.now, c).expect("connected");
}

/// A pulling driver with one uplink: per tick it sends one block over the next connection
/// (round-robin) among those it believes can send, as the simulator's flows do. A connection
/// becomes able on [`Output::UploadReady`] and stops when `next_upload` says `None`.
#[derive(Default)]
struct Uplink {
    able: BTreeSet<PeerKey>,
    next: PeerKey,
    served: BTreeMap<PeerKey, u32>,
    woken: Vec<PeerKey>,
}

impl Uplink {
    fn drain(&mut self, t: &mut Torrent) {
        while let Some(o) = t.poll_output() {
            if let Output::UploadReady { peer } = o {
                self.able.insert(peer);
                self.woken.push(peer);
            }
        }
    }

    /// Sends one block; `false` once nothing is left to send. Panics if requests are queued
    /// but no connection can send (the uplink would idle forever).
    fn tick(&mut self, t: &mut Torrent) -> bool {
        loop {
            self.drain(t);
            if self.able.is_empty() {
                let waiting = t.upload_demand();
                assert!(waiting.is_empty(), "uplink idle with {waiting:?} waiting");
                return false;
            }
            let peer = *self
                .able
                .range(self.next..)
                .next()
                .unwrap_or_else(|| self.able.first().expect("non-empty"));
            match t.next_upload(peer) {
                Some(_) => {
                    *self.served.entry(peer).or_default() += 1;
                    self.next = peer + 1;
                    self.drain(t);
                    return true;
                }
                None => {
                    self.able.remove(&peer);
                }
            }
        }
    }
}

/// A leecher holding the first half of 16 pieces (4 blocks each), connected to peers 1–3,
/// which have everything, unchoke it and queue `asks` requests each for its half.
fn half_leecher(policy: PolicySpec, asks: u32) -> Torrent {
    let geo = Geometry::new(16 * 4 * u64::from(BLOCK), 4 * BLOCK);
    let mut cfg = TorrentConfig::new(geo);
    cfg.policy = policy;
    let mut have = Bitfield::new(16);
    (0..8).for_each(|i| {
        have.set(i);
    });
    let mut t = Torrent::new(cfg, have, [3; 32], Instant::ZERO);
    for peer in 1..=3 {
        connect(&mut t, peer, true);
        input(&mut t, peer, Message::HaveAll);
        input(&mut t, peer, Message::Unchoke);
        input(&mut t, peer, Message::Interested);
    }
    for peer in 1..=3 {
        for i in 0..asks {
            input(&mut t, peer, Message::Request(geo.block(i / 4 % 8, i % 4)));
        }
    }
    t
}

/// Peer `peer` answers every block we asked it for, up to `n` blocks.
fn gives(t: &mut Torrent, peer: PeerKey, n: usize) {
    let asked: Vec<BlockRequest> = t.peers.get(&peer).expect("peer").requests_out.clone();
    for block in asked.into_iter().take(n) {
        t.handle_input(t.now, Input::Block { peer, block })
            .expect("block");
    }
}

#[test]
fn fairtorrent_serves_the_smallest_deficit_first_and_never_idles() {
    let mut t = half_leecher(PolicySpec::FairTorrent { slack: 0 }, 8);
    // Peer 1 gives us 5 blocks, peer 2 gives 2, peer 3 nothing: deficits −5, −2, 0 blocks.
    gives(&mut t, 1, 5);
    gives(&mut t, 2, 2);
    let mut up = Uplink::default();
    for _ in 0..3 {
        assert!(up.tick(&mut t));
    }
    // Peer 1 alone until it is level with peer 2 (deficit −2): 3 blocks.
    assert_eq!(up.served, BTreeMap::from([(1, 3)]));
    for _ in 0..3 {
        assert!(up.tick(&mut t));
    }
    // Then 1 and 2 alternate towards peer 3's deficit 0, which stays parked.
    assert_eq!(up.served, BTreeMap::from([(1, 4), (2, 2)]));
    assert!(t.parked.contains(&3));
    // Peer 3 now gives 3 blocks: it is woken and served first.
    up.woken.clear();
    gives(&mut t, 3, 3);
    up.drain(&mut t);
    assert_eq!(up.woken, [3]);
    while up.tick(&mut t) {}
    assert_eq!(up.served, BTreeMap::from([(1, 8), (2, 8), (3, 8)]));
    assert!(t.parked.is_empty());
    t.check_invariants().expect("invariants");
}

#[test]
fn tit_for_tat_shares_the_uplink_regardless_of_what_peers_gave() {
    let mut t = half_leecher(PolicySpec::Tft, 8);
    gives(&mut t, 1, 5);
    let mut up = Uplink::default();
    for _ in 0..6 {
        assert!(up.tick(&mut t));
    }
    assert_eq!(up.served, BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
}

#[test]
fn false_claims_are_announced_and_refused_without_a_disconnect() {
    let geo = Geometry::new(8 * u64::from(BLOCK), BLOCK);
    let mut cfg = TorrentConfig::new(geo);
    cfg.policy = PolicySpec::FalseHave { per_round: 3 };
    let mut have = Bitfield::new(8);
    have.set(0);
    let mut t = Torrent::new(cfg, have, [5; 32], Instant::ZERO);
    connect(&mut t, 1, true);
    connect(&mut t, 2, false);
    t.handle_input(Instant::ZERO, Input::Timeout)
        .expect("rechoke");
    let mut claimed = BTreeMap::<PeerKey, Vec<u32>>::new();
    while let Some(o) = t.poll_output() {
        if let Output::Send {
            peer,
            msg: Message::Have { index },
        } = o
        {
            claimed.entry(peer).or_default().push(index);
        }
    }
    let claims = claimed.get(&1).cloned().unwrap_or_default();
    assert_eq!(claims.len(), 3, "{claimed:?}");
    assert_eq!(
        claimed.get(&2),
        Some(&claims),
        "every peer hears the same claims"
    );
    assert!(!claims.contains(&0));
    // Requests for a claim: a reject over BEP 6, silence without; never a disconnect.
    for peer in [1, 2] {
        input(&mut t, peer, Message::Interested);
        let r = geo.block(claims[0], 0);
        input(&mut t, peer, Message::Request(r));
        let outs: Vec<Output> = std::iter::from_fn(|| t.poll_output()).collect();
        assert!(
            !outs.iter().any(|o| matches!(o, Output::Disconnect { .. })),
            "{outs:?}"
        );
        let rejected = outs.iter().any(|o| {
            matches!(o, Output::Send { peer: p, msg: Message::RejectRequest(q) } if *p == peer && *q == r)
        });
        assert_eq!(rejected, peer == 1, "{outs:?}");
        assert_eq!(t.next_upload(peer), None);
    }
    // A peer connecting later sees the claims in our bitfield.
    connect(&mut t, 3, true);
    let bf = std::iter::from_fn(|| t.poll_output()).find_map(|o| match o {
        Output::Send {
            msg: Message::Bitfield(b),
            ..
        } => Some(Bitfield::from_bytes(&b, 8).expect("bitfield")),
        _ => None,
    });
    let shown: Vec<u32> = bf.expect("bitfield sent").iter_set().collect();
    let mut want = claims.clone();
    want.push(0);
    want.sort_unstable();
    assert_eq!(shown, want);
    t.check_invariants().expect("invariants");
}

/// An honest leecher between a seed (peer 1) and a liar (peer 2) claiming every piece but
/// holding only piece 0: it finishes, with or without end game, whether the liar rejects
/// (BEP 6) or silently skips the requests it cannot serve.
#[test]
fn an_honest_leecher_finishes_beside_a_liar() {
    for (fast, end_game) in [(true, true), (false, true), (true, false), (false, false)] {
        let geo = Geometry::new(16 * u64::from(BLOCK), BLOCK);
        let mut cfg = TorrentConfig::new(geo);
        cfg.picker.end_game = end_game;
        let mut t = Torrent::new(cfg, Bitfield::new(16), [9; 32], Instant::ZERO);
        connect(&mut t, 1, true);
        connect(&mut t, 2, fast);
        input(&mut t, 2, Message::HaveAll);
        input(&mut t, 2, Message::Unchoke);
        input(&mut t, 1, Message::HaveAll);
        input(&mut t, 1, Message::Unchoke);
        let mut steps = 0;
        while !t.is_complete() {
            steps += 1;
            assert!(
                steps < 1000,
                "fast={fast} end_game={end_game}: stalled with {:?}",
                t.have()
            );
            let outs: Vec<Output> = std::iter::from_fn(|| t.poll_output()).collect();
            let mut answered = false;
            for o in outs {
                match o {
                    Output::Send {
                        peer,
                        msg: Message::Request(r),
                    } => {
                        if peer == 1 || r.index == 0 {
                            t.handle_input(t.now, Input::Block { peer, block: r })
                                .expect("block");
                        } else if fast {
                            input(&mut t, 2, Message::RejectRequest(r));
                        }
                        answered = true;
                    }
                    Output::Verify { piece } => {
                        t.handle_input(t.now, Input::Verified { piece, ok: true })
                            .expect("verified");
                        answered = true;
                    }
                    Output::Disconnect { .. } => panic!("fast={fast}: disconnected"),
                    _ => {}
                }
            }
            if !answered {
                // Nothing moves until a timer: the rechoke finds the silent liar snubbing us.
                let at = t.now + Duration::from_secs(10);
                t.handle_input(at, Input::Timeout).expect("timer");
            }
        }
        t.check_invariants().expect("invariants");
    }
}
