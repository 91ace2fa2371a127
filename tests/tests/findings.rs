//! The thesis's findings (seed 004, §6) as statistical tests over 30 seeded replicates each.
//!
//! Statistic: Spearman ρ between a leecher's online days and its completion time, per
//! replicate; we test the mean over replicates with its 95% t-interval. "Longer online ⇒
//! faster" means the whole interval lies below −0.2; "no ordering" means |mean ρ| < 0.15.

mod common;

use reports::stats::{spearman, summarize, Summary};
use sim::scenario::Role;

const REPLICATES: u32 = 30;

fn runs(name: &str) -> Vec<sim::RunResult> {
    sim::replicate::run_replicates(&common::load(name, &[]), REPLICATES)
}

/// Mean ρ(x, completion) over replicates, with x chosen per node.
fn rho_summary(runs: &[sim::RunResult], x: impl Fn(&sim::metrics::NodeResult) -> f64) -> Summary {
    let rhos: Vec<f64> = runs
        .iter()
        .map(|r| {
            let ls: Vec<_> = r.nodes.iter().filter(|n| n.role == Role::Leecher).collect();
            let xs: Vec<f64> = ls.iter().map(|n| x(n)).collect();
            let ys: Vec<f64> = ls
                .iter()
                .map(|n| n.completion_s.expect("finished"))
                .collect();
            spearman(&xs, &ys).unwrap_or(0.0)
        })
        .collect();
    summarize(&rhos).expect("30 replicates")
}

fn days_rho(name: &str) -> Summary {
    rho_summary(&runs(name), |n| n.online_days)
}

#[test]
fn longer_online_finishes_faster_in_g1t2_g1t3_g3t2() {
    for name in ["g1t2", "g1t3", "g3t2"] {
        let s = days_rho(name);
        assert!(
            s.ci95_high < -0.2,
            "{name}: mean rho {:.3}, CI [{:.3}, {:.3}] is not clearly negative",
            s.mean,
            s.ci95_low,
            s.ci95_high
        );
    }
}

#[test]
fn no_ordering_when_only_seeders_or_nobody_run_it() {
    for name in ["g2t1", "g2t2", "g2t3", "g4t1", "g4t2", "g4t3"] {
        let s = days_rho(name);
        assert!(
            s.mean.abs() < 0.15,
            "{name}: mean rho {:.3}, CI [{:.3}, {:.3}] shows an ordering",
            s.mean,
            s.ci95_low,
            s.ci95_high
        );
    }
}

#[test]
fn verification_order_follows_online_time_not_node_index() {
    // Node index rises left to right in the thesis's Figure 27.
    let inc = rho_summary(&runs("verify-inc"), |n| n.id as f64);
    let dec = rho_summary(&runs("verify-dec"), |n| n.id as f64);
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
