//! The thesis's findings (seed 004, §6) as statistical tests over 30 seeded replicates each.
//!
//! The ordering claims are judged by `sim::verdict::judge`, the rule `sim reproduce` prints
//! (Spearman ρ between a leecher's online days and its completion time, per replicate; the
//! mean over replicates with its 95% t-interval), against the claims of
//! `sim::reproduce::EXPERIMENTS`. A replicate without the statistic fails the test.

mod common;

use reports::stats::{summarize, Summary};
use sim::reproduce::EXPERIMENTS;
use sim::verdict::{judge, rho_per_replicate, Verdict};

const REPLICATES: u32 = 30;

fn runs(name: &str) -> Vec<sim::RunResult> {
    sim::replicate::run_replicates(&common::load(name, &[]), REPLICATES)
}

/// The thesis claim of `name` must be reproduced under `sim reproduce`'s verdict rule.
fn assert_reproduced(name: &str, runs: &[sim::RunResult]) {
    let exp = EXPERIMENTS
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} is not a thesis experiment"));
    let (rho, verdict) = judge(exp.claim, runs).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        verdict,
        Verdict::Reproduced,
        "{name} ({:?}): mean rho {:.3}, CI [{:.3}, {:.3}]",
        exp.claim,
        rho.mean,
        rho.ci95_low,
        rho.ci95_high
    );
}

#[test]
fn longer_online_finishes_faster_in_g1t2_g1t3_g3t2() {
    for name in ["g1t2", "g1t3", "g3t2"] {
        assert_reproduced(name, &runs(name));
    }
}

#[test]
fn no_ordering_when_only_seeders_or_nobody_run_it() {
    for name in ["g2t1", "g2t2", "g2t3", "g4t1", "g4t2", "g4t3"] {
        assert_reproduced(name, &runs(name));
    }
}

#[test]
fn verification_order_follows_online_time_not_node_index() {
    // Node index rises left to right in the thesis's Figure 27: completion follows online
    // time (the verdict), so it falls with index in verify-inc and rises in verify-dec.
    let by_index = |name: &str| -> Summary {
        let runs = runs(name);
        assert_reproduced(name, &runs);
        let rhos =
            rho_per_replicate(&runs, |n| n.id as f64).unwrap_or_else(|e| panic!("{name}: {e}"));
        summarize(&rhos).expect("30 replicates")
    };
    let (inc, dec) = (by_index("verify-inc"), by_index("verify-dec"));
    assert!(
        inc.ci95_high < -0.5,
        "verify-inc: completion should fall with index: {inc:?}"
    );
    assert!(
        dec.ci95_low > 0.5,
        "verify-dec: completion should rise with index: {dec:?}"
    );
}

#[test]
fn the_mechanism_lengthens_overall_completion() {
    // Thesis §7: "in some situations, it will increase the overall download completion time".
    for t in 1..=3 {
        let with: Vec<f64> = runs(&format!("g1t{t}"))
            .iter()
            .map(|r| r.summary().total_s)
            .collect();
        let without: Vec<f64> = runs(&format!("g4t{t}"))
            .iter()
            .map(|r| r.summary().total_s)
            .collect();
        let (w, wo) = (summarize(&with).unwrap(), summarize(&without).unwrap());
        assert!(
            w.ci95_low > wo.ci95_high,
            "t{t}: with {w:?} vs without {wo:?}"
        );
    }
}

#[test]
fn work_conserving_variant_removes_most_of_the_cost() {
    let sc = common::load("g1t2", &["engine.seniority=work-conserving"]);
    let wc: Vec<f64> = sim::replicate::run_replicates(&sc, 10)
        .iter()
        .map(|r| r.summary().mean_s.unwrap())
        .collect();
    let tc: Vec<f64> = sim::replicate::run_replicates(&common::load("g1t2", &[]), 10)
        .iter()
        .map(|r| r.summary().mean_s.unwrap())
        .collect();
    let plain: Vec<f64> = sim::replicate::run_replicates(&common::load("g4t2", &[]), 10)
        .iter()
        .map(|r| r.summary().mean_s.unwrap())
        .collect();
    let (wc, tc, plain) = (
        summarize(&wc).unwrap().mean,
        summarize(&tc).unwrap().mean,
        summarize(&plain).unwrap().mean,
    );
    assert!(
        wc < tc * 0.6,
        "work-conserving {wc:.0} s vs thesis-code {tc:.0} s"
    );
    assert!(
        wc < plain * 1.25,
        "work-conserving {wc:.0} s vs plain {plain:.0} s"
    );
}
