//! On-demand seeding (seed 001) in the simulator: the controller shortens a seeder-starved
//! swarm's downloads, at a seeder-time cost, and follows the seed's stopping rules.

mod common;

use reports::stats::summarize;

fn mean_completion(overrides: &[&str]) -> (f64, f64, Vec<sim::RunResult>) {
    let runs = sim::replicate::run_replicates(&common::load("ondemand", overrides), 8);
    let m: Vec<f64> = runs.iter().map(|r| r.summary().mean_s.unwrap()).collect();
    let s = summarize(&m).unwrap();
    (s.ci95_low, s.ci95_high, runs)
}

#[test]
fn on_demand_seeders_shorten_downloads_at_a_seeder_time_cost() {
    let (_, with_high, with) = mean_completion(&[]);
    let (without_low, _, without) = mean_completion(&["ondemand.ratio=0"]);
    assert!(with_high < without_low, "on-demand seeding did not help");
    for r in &with {
        assert!(r.stats.ondemand_started >= 1 && r.stats.ondemand_started <= 5);
        assert!(r.stats.ondemand_seeder_s > 0.0);
        // Started pool seeders left once the controller stopped.
        let pool = r.nodes.iter().rev().take(5);
        for n in pool.filter(|n| n.join_s.is_some()) {
            assert!(n.left_s.is_some(), "pool seeder {} never left", n.id);
        }
    }
    // Ratio 0 is met at the first check: nothing starts, pool nodes never join.
    for r in &without {
        assert_eq!(r.stats.ondemand_started, 0);
        assert!(r.nodes.iter().rev().take(5).all(|n| n.join_s.is_none()));
    }
}

#[test]
fn bad_ratio_is_rejected() {
    let path = common::scenarios_dir().join("ondemand.toml");
    let e = sim::Scenario::load(&path, &["ondemand.ratio=1.5".into()]).unwrap_err();
    assert!(
        e.to_string().contains("ondemand.ratio must be in [0, 1]"),
        "{e}"
    );
}
