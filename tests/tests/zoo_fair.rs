//! FairTorrent's findings (Sherman, Nieh, Stein, CoNEXT 2009) and the false-have adversary, as
//! statistical tests over 30 seeded replicates of `scenarios/zoo/`: each statistic per
//! replicate, then the mean over replicates with its 95% t-interval (`reports::stats`), and
//! the claim judged on the intervals.

mod common;

use std::collections::BTreeMap;

use reports::stats::{summarize, Summary};
use sim::scenario::Role;
use sim::RunResult;

const REPLICATES: u32 = 30;

fn runs(name: &str, policy: &str) -> Vec<RunResult> {
    let set = format!("defaults.policy=\"{policy}\"");
    sim::replicate::run_replicates(&common::load(&format!("zoo/{name}"), &[&set]), REPLICATES)
}

/// Per-replicate statistic → its summary over replicates.
fn over(runs: &[RunResult], stat: impl Fn(&RunResult) -> f64) -> Summary {
    let xs: Vec<f64> = runs.iter().map(stat).collect();
    summarize(&xs).expect("30 finite replicates")
}

/// Each leecher's largest imbalance with another leecher, `|sent − received|` in bytes over
/// the run (from the per-pair bytes), averaged over leechers.
fn max_deficit(r: &RunResult) -> f64 {
    let leecher: Vec<bool> = r.nodes.iter().map(|n| n.role == Role::Leecher).collect();
    let is_leecher = |id: u32| leecher[id as usize - 1];
    let mut bytes = BTreeMap::new();
    for p in &r.pairs {
        bytes.insert((p.from, p.to), p.bytes as f64);
    }
    let sent = |a, b| bytes.get(&(a, b)).copied().unwrap_or(0.0);
    let worst: Vec<f64> = r
        .nodes
        .iter()
        .filter(|n| is_leecher(n.id))
        .map(|n| {
            r.nodes
                .iter()
                .filter(|m| m.id != n.id && is_leecher(m.id))
                .map(|m| (sent(n.id, m.id) - sent(m.id, n.id)).abs())
                .fold(0.0, f64::max)
        })
        .collect();
    worst.iter().sum::<f64>() / worst.len() as f64
}

/// A finished leecher's download rate, bytes/s.
fn download_rate(r: &RunResult, id: u32) -> f64 {
    let n = &r.nodes[id as usize - 1];
    r.file_size as f64 / n.completion_s.expect("every leecher finishes")
}

/// Leechers' download rates grouped by upload class (bytes/s).
fn by_class(r: &RunResult) -> BTreeMap<u64, Vec<f64>> {
    let mut classes: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for n in r.nodes.iter().filter(|n| n.role == Role::Leecher) {
        classes
            .entry(n.upload as u64)
            .or_default()
            .push(download_rate(r, n.id));
    }
    classes
}

/// The spread of download rates within each upload class (coefficient of variation), averaged
/// over the classes: how differently peers that give the same are treated.
fn class_spread(r: &RunResult) -> f64 {
    let cvs: Vec<f64> = by_class(r)
        .values()
        .map(|rates| {
            let s = summarize(rates).expect("a class of several peers");
            s.std / s.mean
        })
        .collect();
    cvs.iter().sum::<f64>() / cvs.len() as f64
}

/// Fastest class's mean download rate over the slowest's (their uploads differ 4×).
fn class_ratio(r: &RunResult) -> f64 {
    let classes = by_class(r);
    let mean = |rates: &Vec<f64>| rates.iter().sum::<f64>() / rates.len() as f64;
    mean(classes.values().last().expect("classes"))
        / mean(classes.values().next().expect("classes"))
}

/// Mean completion time of the leechers whose ids are in `ids`.
fn mean_completion(r: &RunResult, ids: std::ops::RangeInclusive<u32>) -> f64 {
    let times: Vec<f64> = ids
        .map(|id| r.nodes[id as usize - 1].completion_s.expect("finishes"))
        .collect();
    times.iter().sum::<f64>() / times.len() as f64
}

/// Per-statistic summaries of one swarm under FairTorrent and under tit-for-tat.
fn both(name: &str, stat: impl Fn(&RunResult) -> f64 + Copy) -> [(Vec<RunResult>, Summary); 2] {
    ["fairtorrent", "tft"].map(|p| {
        let rs = runs(name, p);
        let s = over(&rs, stat);
        (rs, s)
    })
}

/// The three claims on the heterogeneous swarm, from one set of replicates (each costs ~5 s of
/// CPU under FairTorrent, whose many concurrent flows make the rate solver work).
#[test]
fn fairtorrent_balances_pairs_and_rewards_by_contribution() {
    let [(ft_runs, ft_def), (tft_runs, tft_def)] = both("fairtorrent-classes", max_deficit);
    let (ft_cv, tft_cv) = (over(&ft_runs, class_spread), over(&tft_runs, class_spread));
    let (ft_ratio, tft_ratio) = (over(&ft_runs, class_ratio), over(&tft_runs, class_ratio));
    eprintln!("largest pair imbalance (bytes): fairtorrent {ft_def:?}, tft {tft_def:?}");
    eprintln!("within-class spread (CV): fairtorrent {ft_cv:?}, tft {tft_cv:?}");
    eprintln!("fastest/slowest class rate: fairtorrent {ft_ratio:?}, tft {tft_ratio:?}");
    // Measured: 0.22 MB [0.21, 0.23] against 1.10 MB [1.06, 1.14].
    assert!(
        ft_def.ci95_high < 0.5 * tft_def.ci95_low,
        "largest |sent − received| per leecher: fairtorrent {ft_def:?}, tft {tft_def:?}"
    );
    // Measured: coefficient of variation 0.069 [0.065, 0.073] against 0.44 [0.43, 0.46].
    assert!(
        ft_cv.ci95_high < 0.5 * tft_cv.ci95_low,
        "download-rate spread within upload classes: fairtorrent {ft_cv:?}, tft {tft_cv:?}"
    );
    // Measured: 1.32 [1.30, 1.34] against 1.13 [1.04, 1.22]: the direction of the paper's
    // claim, far from its proportionality (see the ignored test below).
    assert!(
        ft_ratio.ci95_low > 1.0 && ft_ratio.ci95_low > tft_ratio.ci95_high,
        "fastest/slowest class download rate: fairtorrent {ft_ratio:?}, tft {tft_ratio:?}"
    );
}

#[test]
#[ignore = "not reproduced: the fastest class downloads 1.32× [1.30, 1.34] the slowest's rate \
            under FairTorrent, not the 4× of their uploads; see README §fairtorrent"]
fn fairtorrent_download_rate_is_proportional_to_upload() {
    let ft = over(&runs("fairtorrent-classes", "fairtorrent"), class_ratio);
    // The paper: a peer's download rate tracks its upload rate (here 4× from slowest to fastest).
    assert!(
        ft.ci95_low > 3.0,
        "fastest/slowest class download rate {ft:?}"
    );
}

/// Free-riders' completion over contributors' (free-riders are the last 6 of 31 nodes).
fn free_rider_lag(r: &RunResult) -> f64 {
    mean_completion(r, 26..=31) / mean_completion(r, 2..=25)
}

#[test]
fn fairtorrent_free_riders_finish_later_than_under_tft() {
    let [(ft_runs, ft), (tft_runs, tft)] = both("fairtorrent-free-riders", free_rider_lag);
    let free = |rs: &[RunResult]| over(rs, |r| mean_completion(r, 26..=31));
    let (ft_free, tft_free) = (free(&ft_runs), free(&tft_runs));
    eprintln!("free-rider lag: fairtorrent {ft:?}, tft {tft:?}");
    eprintln!("free-rider completion (s): fairtorrent {ft_free:?}, tft {tft_free:?}");
    // Measured: lag 1.18 [1.17, 1.20] against 1.04 [0.98, 1.10]; completion 86.5 s
    // [85.5, 87.5] against 73.7 s [70.0, 77.4].
    assert!(
        ft.ci95_low > tft.ci95_high,
        "free-rider / contributor completion: fairtorrent {ft:?}, tft {tft:?}"
    );
    assert!(
        ft_free.ci95_low > tft_free.ci95_high,
        "free-rider completion: fairtorrent {ft_free:?}, tft {tft_free:?}"
    );
}

#[test]
#[ignore = "not reproduced as 'far': free-riders finish 1.18× [1.17, 1.20] as late as \
            contributors under FairTorrent (1.04× under tft), 86.5 s against 73.7 s; see README"]
fn fairtorrent_free_riders_finish_far_later() {
    let [(_, ft), _] = both("fairtorrent-free-riders", free_rider_lag);
    assert!(
        ft.ci95_low > 1.5,
        "free-rider / contributor completion: {ft:?}"
    );
}

/// Honest leechers beside liars all finish, with no protocol disconnect and no rejected input.
#[test]
fn honest_leechers_finish_beside_false_have_liars() {
    let rs = runs("false-have-swarm", "tft");
    for r in &rs {
        assert!(r
            .nodes
            .iter()
            .all(|n| n.role == Role::Seeder || n.completion_s.is_some()));
        assert_eq!(r.stats.protocol_disconnects, 0);
        assert_eq!(r.stats.rejected_inputs, 0);
    }
    let honest = over(&rs, |r| mean_completion(r, 2..=25));
    let liars = over(&rs, |r| mean_completion(r, 26..=31));
    let clean = common::load("zoo/false-have-swarm", &["group.3.policy=\"tft\""]);
    let without = over(&sim::replicate::run_replicates(&clean, REPLICATES), |r| {
        mean_completion(r, 2..=25)
    });
    eprintln!("false-have swarm: honest {honest:?}, liars {liars:?}; no liars: {without:?}");
}
