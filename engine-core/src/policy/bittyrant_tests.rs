//! Hand-computed BitTyrant rounds: capacity 100 kB/s, 10 s rounds, mainline's 5 slots, so a
//! new peer's `u_p` is 20 kB/s.

use std::collections::BTreeSet;

use rand::SeedableRng;

use super::*;
use crate::time::{Duration, Instant};

const C: f64 = 100_000.0;

fn ctx() -> Context {
    Context {
        now: Instant(1_000_000_000),
        am_seed: false,
        upload_capacity: Some(C),
        round: Duration::from_secs(10),
        piece_length: 16_384,
    }
}

fn peer(key: PeerKey) -> PeerView {
    PeerView {
        key,
        interested: true,
        am_interested: true,
        ..PeerView::default()
    }
}

fn tyrant(selfish: bool) -> BitTyrant {
    BitTyrant::new(
        ChokerConfig::default(),
        BitTyrantParams {
            selfish,
            ..BitTyrantParams::default()
        },
    )
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(3)
}

fn set(keys: &[PeerKey]) -> BTreeSet<PeerKey> {
    keys.iter().copied().collect()
}

/// Peers `keys` with `d_p`, `u_p` preset, as after some rounds.
fn preset(t: &mut BitTyrant, est: &[(PeerKey, f64, f64)]) {
    for &(key, down, up) in est {
        t.peers.insert(
            key,
            Estimate {
                down,
                up,
                streak: 0,
                observed: true,
            },
        );
    }
}

#[test]
fn non_reciprocation_grows_u_p_and_reciprocation_sets_d_p() {
    let mut t = tyrant(false);
    let mut r = rng();
    let mut peers = vec![peer(1), peer(2), peer(3)];
    let first = t.rechoke(&ctx(), &peers, &mut r);
    assert_eq!(first.regular, set(&[1, 2, 3]));
    assert!(first.optimistic.is_empty());
    // Peer 1 sent nothing, peer 2 50 kB (5 kB/s), peer 3 nothing but we want nothing from it.
    peers[1].round_down = 50_000;
    peers[2].am_interested = false;
    t.rechoke(&ctx(), &peers, &mut r);
    assert!((t.peers[&1].up - 24_000.0).abs() < 1e-9);
    assert!((t.peers[&2].up - 20_000.0).abs() < 1e-9);
    assert!((t.peers[&2].down - 5_000.0).abs() < 1e-9);
    assert!((t.peers[&3].up - 20_000.0).abs() < 1e-9);
}

#[test]
fn r_reciprocated_rounds_shrink_u_p_each_round() {
    let mut t = tyrant(false);
    let mut r = rng();
    let mut peers = vec![peer(1)];
    t.rechoke(&ctx(), &peers, &mut r);
    peers[0].round_down = 10_000;
    let mut ups = Vec::new();
    for _ in 0..4 {
        t.rechoke(&ctx(), &peers, &mut r);
        ups.push(t.peers[&1].up);
    }
    // Streaks 1, 2 keep 20 000; 3 → ×0.9; 4 → ×0.9 again.
    let want = [20_000.0, 20_000.0, 18_000.0, 16_200.0];
    for (got, want) in ups.iter().zip(want) {
        assert!((got - want).abs() < 1e-6, "{ups:?}");
    }
    // One silent round resets the streak and grows u_p by δ.
    peers[0].round_down = 0;
    t.rechoke(&ctx(), &peers, &mut r);
    assert!((t.peers[&1].up - 16_200.0 * 1.2).abs() < 1e-6);
    assert_eq!(t.peers[&1].streak, 0);
    // Silence for long: u_p stops at the capacity.
    for _ in 0..20 {
        t.rechoke(&ctx(), &peers, &mut r);
    }
    assert_eq!(t.peers[&1].up, C);
}

#[test]
fn knapsack_cut_at_capacity_selfish_withholds_the_rest() {
    let est = [
        (1, 4_000.0, 30_000.0),
        (2, 3_000.0, 30_000.0),
        (3, 2_000.0, 30_000.0),
        (4, 1_000.0, 30_000.0),
    ];
    let mut peers: Vec<PeerView> = (1..=4).map(peer).collect();

    // Selfish: peers 1-3 fit (90 kB/s), 4 would cross 100 kB/s; 10 kB/s withheld.
    let mut t = tyrant(true);
    preset(&mut t, &est);
    let u = t.rechoke(&ctx(), &peers, &mut rng());
    assert_eq!(u.regular, set(&[1, 2, 3]));
    for p in &mut peers {
        p.unchoked = u.contains(&p.key);
    }
    let caps = t.caps(&ctx(), &peers);
    assert_eq!(
        caps,
        vec![
            (1, Some(30_000.0)),
            (2, Some(30_000.0)),
            (3, Some(30_000.0)),
            (4, None)
        ]
    );

    // Released client: the crossing peer is unchoked too, caps scaled to sum to C.
    let mut t = tyrant(false);
    preset(&mut t, &est);
    let u = t.rechoke(&ctx(), &peers, &mut rng());
    assert_eq!(u.regular, set(&[1, 2, 3, 4]));
    for p in &mut peers {
        p.unchoked = true;
    }
    let caps = t.caps(&ctx(), &peers);
    for (_, cap) in &caps {
        assert!((cap.unwrap() - 25_000.0).abs() < 1e-9, "{caps:?}");
    }
}

#[test]
fn ranking_is_by_d_over_u_and_uninteresting_peers_come_last() {
    // 5 peers of u = 40 kB/s: two fit (selfish). Peer 5 has the best d_p but has nothing we
    // want; peer 4's ratio beats peer 1's larger d_p at a much larger u_p.
    let mut t = tyrant(true);
    preset(
        &mut t,
        &[
            (1, 9_000.0, 90_000.0),
            (2, 1_000.0, 40_000.0),
            (3, 2_000.0, 40_000.0),
            (4, 3_000.0, 10_000.0),
            (5, 50_000.0, 40_000.0),
        ],
    );
    let mut peers: Vec<PeerView> = (1..=5).map(peer).collect();
    peers[4].am_interested = false;
    let u = t.rechoke(&ctx(), &peers, &mut rng());
    // 4 (0.3) then 1 (0.1): 100 kB/s exactly; 3 would cross.
    assert_eq!(u.regular, set(&[1, 4]));
}

#[test]
fn have_rate_estimates_strangers_and_a_seed_runs_mainline_uncapped() {
    let mut t = tyrant(false);
    let mut p = peer(1);
    p.round_haves = 5;
    t.rechoke(&ctx(), &[p.clone()], &mut rng());
    // 5 pieces of 16 KiB in 10 s, split over 5 slots.
    assert!((t.peers[&1].down - 5.0 * 16_384.0 / 10.0 / 5.0).abs() < 1e-9);

    let seed = Context {
        am_seed: true,
        ..ctx()
    };
    let peers: Vec<PeerView> = (1..=8).map(peer).collect();
    let u = t.rechoke(&seed, &peers, &mut rng());
    assert_eq!(u.regular.len() + u.optimistic.len(), 5);
    let caps = t.caps(&seed, &peers);
    assert!(caps.iter().all(|(_, c)| c.is_none()), "{caps:?}");
}

#[test]
fn without_a_capacity_it_starts_as_mainline_then_divides_an_estimate() {
    let mut t = tyrant(true);
    let unknown = Context {
        upload_capacity: None,
        ..ctx()
    };
    let mut peers: Vec<PeerView> = (1..=3).map(peer).collect();
    let u = t.rechoke(&unknown, &peers, &mut rng());
    assert_eq!(u.regular.len() + u.optimistic.len(), 3);
    assert!(t.caps(&unknown, &peers).iter().all(|(_, c)| c.is_none()));
    // 50 kB uploaded in the round: estimate 1.2 × 5 kB/s = 6 kB/s; u_p is its fifth raised
    // to the one-block floor (1638.4 B/s), so all three fit (4915.2 B/s, the rest withheld).
    peers[0].round_up = 50_000;
    let u = t.rechoke(&unknown, &peers, &mut rng());
    assert_eq!(u.regular.len(), 3);
    assert!((t.active.values().sum::<f64>() - 3.0 * 1_638.4).abs() < 1e-9);
}
