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

#[test]
fn every_scenario_file_is_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir(common::scenarios_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            sim::Scenario::load(&p, &[]).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(
        n >= 15,
        "expected the 14 thesis scenarios and a flash crowd, found {n}"
    );
}
