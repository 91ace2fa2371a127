//! The driver-level adversaries of the policy zoo — `large-view` (BitThief) and `whitewash` —
//! over 30 seeded replicates each. The statistical claims are the shared directions of
//! `sim::zoo` (per replicate, the mean completion of one kind of leecher over another's, or
//! of the same nodes with and without whitewashing; mean and 95% t-interval over replicates);
//! each test asserts their verdict, the rule `sim zoo` reports. Measured numbers: README.

mod common;

use reports::stats::mean;
use scenario::draws::resolve_nodes;

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
    common::assert_reproduced(&["large-view-10", "large-view-40"]);
}

#[test]
fn large_view_advantage_shrinks_as_free_riders_grow() {
    common::assert_reproduced(&["large-view-shrinks"]);
}

/// Every replicate changes identity at least once (the statistic is missing otherwise).
#[test]
fn whitewashing_costs_a_free_rider_under_tft() {
    common::assert_reproduced(&["whitewash-free-rider-cost"]);
}

/// What lying gains under each seniority variant: the same four 7-day leechers report e
/// instead of their weight. The thesis's code rewards it (its Σint(Y) denominator lets caps
/// sum above L), the work-conserving variant less, the formula as printed not at all.
#[test]
fn a_seniority_liar_gains_under_each_variant_but_the_formula() {
    common::assert_reproduced(&[
        "liar-gain-thesis-code",
        "liar-gain-work-conserving",
        "liar-gain-formula",
    ]);
}

/// A liar's reported weight does not depend on its counter, so this is the cost of the
/// identity change alone — and it takes back what lying gains.
#[test]
fn whitewashing_costs_a_seniority_liar() {
    common::assert_reproduced(&["whitewash-liar-cost"]);
}

/// An honest node online 30 days drops its seniority counter with its identity (at 7 days,
/// the weight it loses makes no measurable difference in this swarm).
#[test]
fn whitewashing_costs_an_honest_senior_node() {
    common::assert_reproduced(&["whitewash-senior-cost"]);
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
    common::assert_reproduced(&["whitewash-free-rider-gain"]);
}
