//! Physical invariants of every run: bytes conserved, each leecher receives the file exactly
//! once (plus only end-game duplicates), no capacity or cap exceeded, and no run beats the
//! Kumar–Ross lower bound.

mod common;

use sim::scenario::Role;

fn check(name: &str, overrides: &[&str]) {
    let sc = common::load(name, overrides);
    let r = sim::run_checked(&sc);
    let ctx = format!("scenario {name} {overrides:?} seed {}", sc.seed);
    let up: u64 = r.nodes.iter().map(|n| n.bytes_up).sum();
    let down: u64 = r.nodes.iter().map(|n| n.bytes_down).sum();
    let pairs: u64 = r.pairs.iter().map(|p| p.bytes).sum();
    let (flight, lost) = (r.stats.bytes_in_flight, r.stats.bytes_lost);
    assert_eq!(up, down + flight + lost, "{ctx}: bytes not conserved");
    assert_eq!(up, pairs, "{ctx}: per-pair bytes do not add up");
    let k = &r.stats.event_kinds;
    let kinds = [
        k.have,
        k.request,
        k.interest,
        k.choke,
        k.cancel_reject,
        k.other_message,
        k.block,
        k.flow_done,
        k.timer,
        k.other,
    ];
    assert_eq!(
        kinds.iter().sum::<u64>(),
        r.stats.events,
        "{ctx}: event kinds"
    );
    assert!(
        k.flow_done_stale < k.flow_done,
        "{ctx}: stale flow completions"
    );
    assert!(
        k.block <= k.flow_done - k.flow_done_stale,
        "{ctx}: more blocks delivered than sent"
    );
    assert_eq!(
        r.stats.cap_violations, 0,
        "{ctx}: a rate exceeded a capacity or cap"
    );
    assert_eq!(
        r.stats.protocol_disconnects, 0,
        "{ctx}: engine-core flagged a protocol error"
    );
    assert_eq!(
        r.stats.rejected_inputs, 0,
        "{ctx}: engine-core rejected an input of the well-behaved simulator"
    );
    // Each block exactly once, but for what whitewashing threw away (0 without it).
    let mut useful = 0;
    let mut leechers = 0;
    for n in r.nodes.iter().filter(|n| n.role == Role::Leecher) {
        assert!(
            n.completion_s.is_some(),
            "{ctx}: node {} never finished",
            n.id
        );
        assert!(
            n.bytes_down - n.duplicate_bytes >= r.file_size,
            "{ctx}: node {} is missing blocks",
            n.id
        );
        useful += n.bytes_down - n.duplicate_bytes;
        leechers += 1;
    }
    assert_eq!(
        useful,
        leechers * r.file_size + r.stats.whitewash_discarded_bytes,
        "{ctx}: a block was received more than once"
    );
    let s = r.summary();
    let bound = s.kumar_ross_s;
    let last = s.max_s.expect("leechers finished");
    assert!(
        last >= bound,
        "{ctx}: finished in {last} s, below the Kumar-Ross bound {bound} s"
    );
}

#[test]
fn invariants_hold_for_every_thesis_scenario() {
    for name in common::THESIS {
        check(name, &[]);
    }
}

#[test]
fn invariants_hold_under_other_variants_and_policies() {
    for o in [
        &["engine.seniority=formula"][..],
        &["engine.seniority=work-conserving"],
        &["engine.seed_choke=round-robin", "seed=3"],
        &["network.latency=0ms", "network.latency_jitter=0"],
        &["torrent.size=3MiB", "torrent.piece_length=16KiB", "seed=5"],
        &["torrent.size=1000000", "engine.pipeline_depth=1"],
    ] {
        check("g1t2", o);
    }
}

#[test]
fn invariants_hold_for_the_zoo_adversaries() {
    for name in [
        "zoo/large-view-ci",
        "zoo/whitewash-tft",
        "zoo/whitewash-seniority",
    ] {
        check(name, &[]);
    }
    let r = sim::run(&common::load("zoo/whitewash-tft", &[]));
    assert!(r.stats.whitewashes > 0 && r.stats.whitewash_discarded_bytes > 0);
}

#[test]
fn without_end_game_no_block_is_delivered_twice() {
    for name in ["g1t2", "g4t1"] {
        let r = sim::run(&common::load(name, &["engine.end_game=false"]));
        for n in &r.nodes {
            assert_eq!(n.duplicate_bytes, 0, "{name}: node {} got duplicates", n.id);
        }
    }
}

#[test]
fn leavers_leave_and_the_rest_still_finish() {
    let r = sim::run(&common::load("g4t3", &["defaults.leave=immediately"]));
    for n in r.nodes.iter().filter(|n| n.role == Role::Leecher) {
        let (done, left) = (n.completion_s.unwrap(), n.left_s.unwrap());
        assert!(
            (left - done - n.join_s.unwrap()).abs() < 1e-6,
            "node {} left at {left}",
            n.id
        );
    }
}
