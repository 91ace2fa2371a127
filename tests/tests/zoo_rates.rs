//! The BitTyrant and PropShare papers' findings as statistical tests: 30 seeded replicates of
//! a CI-sized zoo scenario (`common::zoo_ci`: 40 leechers in upload classes 50/100/200/400
//! KiB/s, 8 MiB, a flash crowd), one statistic per replicate, its mean and 95% t-interval
//! from `reports::stats`; every assertion is on the interval. Comparisons are paired: both
//! sides come from the same replicate (the same derived seed).
//!
//! The lone BitTyrant's gain does not reproduce in our model; its test is `#[ignore]`d with the
//! measured numbers (README §Incentive zoo says why); run it with `--run-ignored all`.

mod common;

use reports::stats::{summarize, Summary};
use scenario::{NodeSpec, Role};
use sim::{RunResult, Scenario};

const REPLICATES: u32 = 30;

fn runs(sc: &Scenario) -> Vec<RunResult> {
    sim::replicate::run_replicates(sc, REPLICATES)
}

/// Mean completion time (s) of the leechers `pick` selects; a leecher that never finished
/// fails the test (the replicate has no statistic).
fn mean_completion(r: &RunResult, nodes: &[NodeSpec], pick: impl Fn(&NodeSpec) -> bool) -> f64 {
    let times: Vec<f64> = r
        .nodes
        .iter()
        .filter(|n| nodes.iter().any(|s| s.id == n.id && pick(s)))
        .map(|n| {
            n.completion_s
                .unwrap_or_else(|| panic!("leecher {} never finished", n.id))
        })
        .collect();
    assert!(!times.is_empty(), "no leecher selected");
    times.iter().sum::<f64>() / times.len() as f64
}

fn leecher_running(policy: &'static str) -> impl Fn(&NodeSpec) -> bool {
    move |n| n.role == Role::Leecher && n.policy.name() == policy
}

/// Per replicate: `a`'s statistic minus `b`'s.
fn paired(a: &[f64], b: &[f64]) -> Summary {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    summarize(&d).expect("30 finite replicates")
}

fn per_replicate(
    runs: &[RunResult],
    nodes: &[NodeSpec],
    pick: &dyn Fn(&NodeSpec) -> bool,
) -> Vec<f64> {
    runs.iter()
        .map(|r| mean_completion(r, nodes, pick))
        .collect()
}

/// Piatek et al. §5.1: one BitTyrant client among tft peers finishes before the tft peers
/// of its own upload class (paper: a median 1.72× speed-up in live swarms).
#[test]
#[ignore = "does not reproduce: BitTyrant − its tft class = +1.4 s, CI [−8.4, 11.2] here, \
            +3.8 s, CI [−14.5, 22.0] in the 300-peer file; see README §Incentive zoo"]
fn a_lone_bittyrant_beats_tft_peers_of_its_class() {
    let sc = common::zoo_ci("zoo/bittyrant-lone", &[]);
    let nodes = sc.nodes();
    let lone = nodes
        .iter()
        .find(|n| n.policy.name() == "bittyrant")
        .expect("one bittyrant node")
        .upload;
    let runs = runs(&sc);
    let tyrant = per_replicate(&runs, &nodes, &leecher_running("bittyrant"));
    let class = per_replicate(&runs, &nodes, &|n| {
        leecher_running("tft")(n) && n.upload == lone
    });
    let d = paired(&tyrant, &class);
    assert!(
        d.ci95_high < 0.0,
        "bittyrant − tft of its class: {:.1} s, CI [{:.1}, {:.1}]",
        d.mean,
        d.ci95_low,
        d.ci95_high
    );
}

/// Piatek et al. §5.3: when every peer runs BitTyrant and withholds what reciprocation does
/// not need, low-capacity peers finish later than in the same swarm on mainline (paper: 314 s
/// → 733 s on PlanetLab).
#[test]
fn all_selfish_bittyrant_slows_low_capacity_peers() {
    let selfish = common::zoo_ci("zoo/bittyrant-all-selfish", &[]);
    let tft = common::zoo_ci("zoo/bittyrant-all-selfish", &["defaults.policy=\"tft\""]);
    let nodes = selfish.nodes();
    let low = nodes.iter().map(|n| n.upload).fold(f64::INFINITY, f64::min);
    let slowest_class = |policy| move |n: &NodeSpec| leecher_running(policy)(n) && n.upload == low;
    let with = per_replicate(&runs(&selfish), &nodes, &slowest_class("bittyrant"));
    let without = per_replicate(&runs(&tft), &tft.nodes(), &slowest_class("tft"));
    let d = paired(&with, &without);
    let base = summarize(&without).expect("30 replicates");
    assert!(
        d.ci95_low > 0.0,
        "selfish − tft, low class: {:.1} s, CI [{:.1}, {:.1}] (tft {:.1} s)",
        d.mean,
        d.ci95_low,
        d.ci95_high,
        base.mean
    );
}

/// Levin et al. §6: head to head, PropShare's peers finish no later than BitTyrant's. Holds
/// in this flash crowd (+1.8 s, CI [−1.2, 4.8]); in the full 300-peer steady swarm PropShare
/// is 25 s slower (CI [16, 34], 10 replicates; README §Incentive zoo).
#[test]
fn propshare_is_not_slower_than_bittyrant_head_to_head() {
    let sc = common::zoo_ci("zoo/propshare-vs-bittyrant", &[]);
    let nodes = sc.nodes();
    let runs = runs(&sc);
    let prop = per_replicate(&runs, &nodes, &leecher_running("propshare"));
    let tyrant = per_replicate(&runs, &nodes, &leecher_running("bittyrant"));
    let d = paired(&prop, &tyrant);
    assert!(
        d.ci95_low <= 0.0,
        "propshare − bittyrant: {:.1} s, CI [{:.1}, {:.1}]",
        d.mean,
        d.ci95_low,
        d.ci95_high
    );
}
