//! Settings, assignments and the scenario rewrite, on a small hand-made base.

use super::*;

fn base() -> Scenario {
    let text = "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n\
        [[group]]\nrole = \"seeder\"\ncount = 1\n\
        [[group]]\nrole = \"leecher\"\ncount = 4\nupload = \"50KiB/s\"\n\
        online_days = { from = 1, step = 1 }\njoin = { from = \"0s\", every = \"2s\" }\n\
        [[group]]\nrole = \"leecher\"\ncount = 2\nupload = \"100KiB/s\"\n\
        [[group]]\nrole = \"leecher\"\ncount = 2\nupload = \"200KiB/s\"\n";
    Scenario::parse("t", text, &[]).unwrap()
}

fn plan(policies: &str) -> Plan {
    Plan {
        scenario: PathBuf::new(),
        set: Vec::new(),
        policies: parse_policies(&[policies.to_string()]).unwrap(),
        replicates: 1,
        every_class: false,
    }
}

#[test]
fn policy_lists_split_between_policies_not_parameters() {
    let p = parse_policies(&["tft,seniority:variant=formula".into(), "free-rider".into()]).unwrap();
    let names: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    assert_eq!(names, ["tft", "seniority:variant=formula", "free-rider"]);
    let all = parse_policies(&[]).unwrap();
    assert_eq!(all.len(), NAMES.len());
    let e = parse_policies(&["tft,tft".into()]).unwrap_err().to_string();
    assert_eq!(e, "--policies: tft is listed twice");
    assert!(parse_policies(&["nope".into()]).is_err());
}

#[test]
fn settings_are_alone_then_lone_then_unordered_pairs() {
    let classes = Classes::of(&base()).unwrap();
    let s = plan("tft,seniority,free-rider").settings(&classes);
    let labels: Vec<String> = s.iter().map(Setting::label).collect();
    assert_eq!(
        labels,
        [
            "tft alone",
            "seniority alone",
            "free-rider alone",
            "one seniority among tft in 100KiB/s",
            "one free-rider among tft in 100KiB/s",
            "tft + seniority",
            "tft + free-rider",
            "seniority + free-rider",
        ]
    );
    assert_eq!(s[3].reference("seniority"), Some("tft"));
    assert_eq!(s[3].reference("tft"), None);
    assert_eq!(s[7].reference("free-rider"), Some("seniority"));
    assert_eq!(s[0].reference("tft"), None);
    let every = Plan {
        every_class: true,
        ..plan("tft,free-rider")
    };
    let lone: Vec<String> = every.settings(&classes)[2..5]
        .iter()
        .map(Setting::label)
        .collect();
    assert_eq!(
        lone,
        [
            "one free-rider among tft in 50KiB/s",
            "one free-rider among tft in 100KiB/s",
            "one free-rider among tft in 200KiB/s",
        ]
    );
}

#[test]
fn pairs_split_every_class_in_half_and_the_lone_peer_sits_in_the_middle_class() {
    let base = base();
    let classes = Classes::of(&base).unwrap();
    assert_eq!(classes.labels, ["50KiB/s", "100KiB/s", "200KiB/s"]);
    assert_eq!(classes.middle(), 1);
    let settings = plan("tft,seniority").settings(&classes);
    let pair = assignment(&classes, &settings[3]);
    assert_eq!(pair, ["tft", "seniority"].repeat(4));
    let lone = assignment(&classes, &settings[2]);
    let lone_at: Vec<usize> = (0..lone.len()).filter(|&k| lone[k] != "tft").collect();
    assert_eq!(lone_at, [4], "first node of the 100KiB/s class");
}

#[test]
fn a_setting_changes_policies_and_nothing_else() {
    let base = base();
    let classes = Classes::of(&base).unwrap();
    let s = &plan("tft,free-rider").settings(&classes)[2];
    let sc = scenario_for(&base, &classes, &assignment(&classes, s)).unwrap();
    let (before, after) = (base.nodes(), sc.nodes());
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        let expect = if a.id == 6 { "free-rider" } else { "tft" };
        assert_eq!(a.policy.to_string(), expect, "node {}", a.id);
        let mut a = a.clone();
        a.policy = b.policy.clone();
        assert_eq!(*b, a);
    }
}

#[test]
fn jain_index_hand_values() {
    assert_eq!(jain(&[1.0, 1.0, 1.0]), Some(1.0));
    assert_eq!(jain(&[1.0, 0.0, 0.0, 0.0]), Some(0.25));
    // (1 + 3)² / (2 · (1 + 9)) = 0.8
    assert_eq!(jain(&[1.0, 3.0]), Some(0.8));
    assert_eq!(jain(&[0.0, 0.0]), None);
    assert_eq!(jain(&[]), None);
}
