//! FairTorrent's findings (Sherman, Nieh, Stein, CoNEXT 2009) and the false-have adversary, as
//! statistical tests over 30 seeded replicates of `scenarios/zoo/`. The FairTorrent claims are
//! the shared directions of `sim::zoo` (per-replicate statistic, mean and 95% t-interval over
//! replicates, the verdict rule `sim zoo` reports); each test asserts their verdict.

mod common;

use reports::stats::{summarize, Summary};
use sim::scenario::Role;
use sim::zoo::stats::mean_completion;
use sim::RunResult;

/// Per-run statistic → its summary over replicates.
fn over(runs: &[RunResult], stat: impl Fn(&RunResult) -> Option<f64>) -> Summary {
    let xs: Vec<f64> = runs
        .iter()
        .map(|r| stat(r).expect("every leecher finishes"))
        .collect();
    summarize(&xs).expect("30 finite replicates")
}

/// Mean completion of the leechers whose ids are in `ids`.
fn ids(ids: std::ops::RangeInclusive<u32>) -> impl Fn(&RunResult) -> Option<f64> {
    move |r| mean_completion(r, |n| ids.contains(&n.id))
}

/// The three claims on the heterogeneous swarm, from one set of replicates per policy.
/// Measured: largest pair imbalance 0.22 MB [0.21, 0.23] against tft's 1.10 MB [1.06, 1.14];
/// within-class CV 0.069 [0.065, 0.073] against 0.44 [0.43, 0.46]; fastest/slowest class rate
/// 1.32 [1.30, 1.34] against 1.13 [1.04, 1.22] — the direction of the paper's claim, far from
/// its proportionality (see the ignored test below).
#[test]
fn fairtorrent_balances_pairs_and_rewards_by_contribution() {
    common::assert_reproduced(&[
        "fairtorrent-deficit",
        "fairtorrent-spread",
        "fairtorrent-class-order",
    ]);
}

#[test]
#[ignore = "not reproduced: the fastest class downloads 1.32× [1.30, 1.34] the slowest's rate \
            under FairTorrent, not the 4× of their uploads; see README §fairtorrent"]
fn fairtorrent_download_rate_is_proportional_to_upload() {
    common::assert_reproduced(&["fairtorrent-proportional"]);
}

/// Measured: lag 1.18 [1.17, 1.20] against 1.04 [0.98, 1.10]; completion 86.5 s [85.5, 87.5]
/// against 73.7 s [70.0, 77.4].
#[test]
fn fairtorrent_free_riders_finish_later_than_under_tft() {
    common::assert_reproduced(&["fairtorrent-free-riders", "fairtorrent-free-rider-time"]);
}

#[test]
#[ignore = "not reproduced as 'far': free-riders finish 1.18× [1.17, 1.20] as late as \
            contributors under FairTorrent (1.04× under tft), 86.5 s against 73.7 s; see README"]
fn fairtorrent_free_riders_finish_far_later() {
    common::assert_reproduced(&["fairtorrent-free-riders-far"]);
}

/// Honest leechers beside liars all finish, with no protocol disconnect and no rejected input.
#[test]
fn honest_leechers_finish_beside_false_have_liars() {
    let runs = |set: &[&str]| {
        let sc = common::load("zoo/false-have-swarm", set);
        sim::replicate::run_replicates(&sc, common::REPLICATES)
    };
    let rs = runs(&[]);
    for r in &rs {
        assert!(r
            .nodes
            .iter()
            .all(|n| n.role == Role::Seeder || n.completion_s.is_some()));
        assert_eq!(r.stats.protocol_disconnects, 0);
        assert_eq!(r.stats.rejected_inputs, 0);
    }
    let honest = over(&rs, ids(2..=25));
    let liars = over(&rs, ids(26..=31));
    let without = over(&runs(&["group.3.policy=\"tft\""]), ids(2..=25));
    eprintln!("false-have swarm: honest {honest:?}, liars {liars:?}; no liars: {without:?}");
}
