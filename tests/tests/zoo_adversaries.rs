//! The driver-level adversaries of the policy zoo — `large-view` (BitThief) and `whitewash` —
//! over 30 seeded replicates each: per replicate, the mean completion time of one kind of
//! leecher over that of another in the same swarm; the mean of that ratio over replicates with
//! its 95% t-interval (`reports::stats`). Measured numbers are in the README.

mod common;

use reports::stats::{mean, summarize, Summary};
use scenario::draws::resolve_nodes;
use scenario::Role;
use sim::RunResult;

const REPLICATES: u32 = 30;

fn runs(name: &str, overrides: &[&str]) -> Vec<RunResult> {
    sim::replicate::run_replicates(&common::load(name, overrides), REPLICATES)
}

/// Mean completion time of the leechers whose policy is named `a`, over that of those named
/// `b`; a leecher that never finished fails the test.
fn completion_ratio(r: &RunResult, a: &str, b: &str) -> f64 {
    let specs = resolve_nodes(&r.scenario);
    let of = |policy: &str| -> f64 {
        let times: Vec<f64> = r
            .nodes
            .iter()
            .filter(|n| n.role == Role::Leecher)
            .filter(|n| specs[n.id as usize - 1].0.policy.name() == policy)
            .map(|n| {
                n.completion_s.unwrap_or_else(|| {
                    panic!(
                        "seed {}: leecher {} ({policy}) never finished",
                        r.scenario.seed, n.id
                    )
                })
            })
            .collect();
        mean(&times).unwrap_or_else(|| panic!("no {policy} leecher"))
    };
    of(a) / of(b)
}

fn ratios(runs: &[RunResult], a: &str, b: &str) -> Summary {
    let per: Vec<f64> = runs.iter().map(|r| completion_ratio(r, a, b)).collect();
    summarize(&per).expect("finite ratios")
}

fn show(what: &str, s: &Summary) -> String {
    format!(
        "{what}: mean {:.3}, 95% CI [{:.3}, {:.3}]",
        s.mean, s.ci95_low, s.ci95_high
    )
}

/// `large-view-ci` with `free_riders` of its 60 leechers running large-view.
fn large_view_share(free_riders: u32) -> Summary {
    let runs = runs(
        "zoo/large-view-ci",
        &[
            &format!("group.2.count={}", 60 - free_riders),
            &format!("group.3.count={free_riders}"),
        ],
    );
    let s = ratios(&runs, "large-view", "tft");
    println!(
        "{}",
        show(&format!("large-view/tft, {free_riders} of 60"), &s)
    );
    s
}

/// The widened view takes effect end to end: the simulated tracker hands a large-view node
/// up to 200 peers and it re-announces every 30 s, so its blocks come from more peers than
/// the same nodes get as plain free-riders (which ask for 10 a minute, like everyone).
#[test]
fn large_view_downloads_from_more_peers_than_a_free_rider() {
    let distinct_uploaders = |policy: &str| -> f64 {
        let r = sim::run(&common::load(
            "zoo/large-view-ci",
            &[&format!("group.3.policy={policy}")],
        ));
        let specs = resolve_nodes(&r.scenario);
        let counts: Vec<f64> = specs
            .iter()
            .filter(|(s, _)| s.policy.name() == policy)
            .map(|(s, _)| r.pairs.iter().filter(|p| p.to == s.id).count() as f64)
            .collect();
        mean(&counts).unwrap()
    };
    let (wide, plain) = (
        distinct_uploaders("large-view"),
        distinct_uploaders("free-rider"),
    );
    println!("distinct uploaders: large-view {wide:.1}, free-rider {plain:.1}");
    assert!(
        wide > 1.5 * plain,
        "large-view {wide:.1}, free-rider {plain:.1}"
    );
}

#[test]
fn large_view_free_riders_under_40_percent_finish_first() {
    for free_riders in [6, 24] {
        let s = large_view_share(free_riders);
        assert!(
            s.ci95_high < 1.0,
            "{}",
            show(&format!("{free_riders} of 60 large-view"), &s)
        );
    }
}

#[test]
fn large_view_advantage_shrinks_as_free_riders_grow() {
    let (few, many) = (large_view_share(6), large_view_share(36));
    assert!(
        few.ci95_high < many.ci95_low,
        "{} / {}",
        show("10%", &few),
        show("60%", &many)
    );
}

/// What whitewashing does to the nodes that do it: per replicate, their mean completion time
/// over that of the same nodes (same seed, hence same join times and bandwidths) running
/// `base` without changing identity. Group 4 runs `whitewash` (the scenario's if `None`);
/// `extra` overrides both runs.
fn whitewash_effect(
    name: &str,
    whitewash: Option<&str>,
    base: &str,
    extra: &[&str],
) -> (Summary, Summary) {
    let with = |policy: Option<String>| {
        let mut sets: Vec<String> = policy
            .map(|p| format!("group.4.policy={p}"))
            .into_iter()
            .collect();
        sets.extend(extra.iter().map(|s| s.to_string()));
        runs(name, &sets.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let washing = with(whitewash.map(str::to_string));
    let plain = with(Some(base.to_string()));
    let per: Vec<f64> = washing
        .iter()
        .zip(&plain)
        .map(|(w, p)| {
            let specs = resolve_nodes(&w.scenario);
            let ids: Vec<u32> = specs
                .iter()
                .filter(|(s, _)| s.policy.name() == "whitewash")
                .map(|(s, _)| s.id)
                .collect();
            let of = |r: &RunResult| {
                let t: Vec<f64> = ids
                    .iter()
                    .map(|&id| r.nodes[id as usize - 1].completion_s.expect("finished"))
                    .collect();
                mean(&t).expect("whitewashers")
            };
            of(w) / of(p)
        })
        .collect();
    let washes: Vec<f64> = washing.iter().map(|r| r.stats.whitewashes as f64).collect();
    let (s, n) = (summarize(&per).unwrap(), summarize(&washes).unwrap());
    println!(
        "{}; {:.1} identity changes per run",
        show(&format!("{name} {extra:?}: whitewash/{base}"), &s),
        n.mean
    );
    (s, n)
}

#[test]
fn whitewashing_costs_a_free_rider_under_tft() {
    let (s, washes) = whitewash_effect("zoo/whitewash-tft", None, "free-rider", &[]);
    assert!(washes.min >= 1.0);
    assert!(s.ci95_low > 1.0, "{}", show("whitewash/free-rider", &s));
}

/// A liar's reported weight does not depend on its counter, so this is the cost of the
/// identity change alone — and it takes back what lying gains.
#[test]
fn whitewashing_costs_a_seniority_liar() {
    let (s, washes) = whitewash_effect("zoo/whitewash-seniority", None, "seniority-liar", &[]);
    assert!(washes.min >= 1.0);
    assert!(s.ci95_low > 1.0, "{}", show("whitewash/seniority-liar", &s));
}

/// An honest node online 30 days drops its seniority counter with its identity (at 7 days,
/// the weight it loses makes no measurable difference in this swarm).
#[test]
fn whitewashing_costs_an_honest_senior_node() {
    let (s, _) = whitewash_effect(
        "zoo/whitewash-seniority",
        Some("whitewash:every=5min,base=seniority"),
        "seniority",
        &["group.4.online_days=30"],
    );
    assert!(s.ci95_low > 1.0, "{}", show("whitewash/seniority", &s));
}

/// The literature's direction (Feldman et al.): whitewashing pays a free-rider by escaping its
/// history. Under tit-for-tat there is none to escape beyond a connection: rates, snubbing and
/// unchokes are per connection, and a free-rider never earns a regular slot. What is left is
/// mainline's newcomer bias (optimistic unchokes weigh peers connected under 60 s threefold),
/// and it does not pay for what each identity change loses: blocks of unfinished pieces, the
/// peers' unchokes in progress, a new announce and new dials. Measured (paired, 30
/// replicates, every 30 s, ~1.2 changes per whitewasher): whitewashers take 1.052× as long
/// (95% CI 1.033–1.071); `whitewashing_costs_a_free_rider_under_tft` asserts that.
#[test]
#[ignore = "does not hold in this model: whitewashing costs a free-rider 5% under tft (CI 3.3–7.1%), see the doc comment"]
fn whitewashing_gains_a_free_rider_under_tft() {
    let (s, _) = whitewash_effect("zoo/whitewash-tft", None, "free-rider", &[]);
    assert!(s.ci95_high < 1.0, "{}", show("whitewash/free-rider", &s));
}
