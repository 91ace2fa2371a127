//! Golden results of every thesis scenario at its own seed: any change in engine-core or the
//! simulator that moves a single byte shows up here as a reviewed snapshot change.

mod common;

#[test]
fn every_thesis_scenario_matches_its_snapshot() {
    for name in common::THESIS {
        let sc = common::load(name, &[]);
        let r = sim::run(&sc);
        insta::assert_snapshot!(format!("results_{name}"), common::csv_text(&r));
    }
}

/// The incentive zoo at CI size (the full files take seconds each): policies' choking and caps
/// show up here as reviewed changes too.
#[test]
fn every_zoo_scenario_matches_its_snapshot_at_ci_size() {
    for name in common::ZOO {
        let r = sim::run(&common::zoo_ci(name, &[]));
        let file = name.replace('/', "_");
        insta::assert_snapshot!(format!("results_{file}_ci"), common::csv_text(&r));
    }
}

#[test]
fn every_scenario_file_is_valid() {
    let dirs = ["", "zoo", "open"].map(|d| common::scenarios_dir().join(d));
    let mut n = 0;
    for entry in dirs.iter().flat_map(|d| std::fs::read_dir(d).unwrap()) {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            sim::Scenario::load(&p, &[]).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(
        n >= 15 + common::ZOO.len(),
        "expected the 14 thesis scenarios, a flash crowd and the zoo, found {n}"
    );
}
