//! Capacities as distributions: class allotment, the three syntaxes, their errors.

use proptest::prelude::*;
use scenario::bandwidth::largest_remainder;
use scenario::draws::resolve_nodes;
use scenario::{RateClass, Scenario};

const HEAD: &str =
    "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n";

fn leechers(count: u32, extra: &str) -> String {
    format!("{HEAD}[[group]]\nrole = \"leecher\"\ncount = {count}\n{extra}\n")
}

fn class_counts(sc: &Scenario) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for n in sc.nodes().iter().filter(|n| n.id > 1) {
        *counts.entry(n.upload_class.clone().unwrap()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

#[test]
fn classes_are_allotted_exactly_and_by_seed() {
    let text = leechers(
        20,
        "upload = { classes = { \"100KiB/s\" = 0.5, \"400KiB/s\" = 0.25, \"1MiB/s\" = 0.25 } }",
    );
    let sc = Scenario::parse("t", &text, &[]).unwrap();
    let want = [("100KiB/s", 10), ("1MiB/s", 5), ("400KiB/s", 5)];
    let want: Vec<(String, usize)> = want.iter().map(|(l, n)| (l.to_string(), *n)).collect();
    assert_eq!(class_counts(&sc), want);
    for n in sc.nodes().iter().filter(|n| n.id > 1) {
        let rate = match n.upload_class.as_deref().unwrap() {
            "100KiB/s" => 102_400.0,
            "400KiB/s" => 409_600.0,
            _ => 1_048_576.0,
        };
        assert_eq!(n.upload, rate);
    }
    assert_eq!(
        sc.nodes()[0].upload_class,
        None,
        "the seeder's rate is fixed"
    );
    assert_eq!(
        Scenario::parse("t", &text, &[]).unwrap().nodes(),
        sc.nodes()
    );
    let other = Scenario::parse("t", &text, &["seed=2".into()]).unwrap();
    assert_eq!(
        class_counts(&other),
        want,
        "counts do not depend on the seed"
    );
    assert_ne!(other.nodes(), sc.nodes(), "who gets which class does");
}

#[test]
fn largest_remainder_counts() {
    let third = |label: &str, rate| RateClass {
        label: label.into(),
        rate,
        share: 1.0 / 3.0,
    };
    let c = [third("a", 1.0), third("b", 2.0), third("c", 3.0)];
    assert_eq!(largest_remainder(&c, 7), [3, 2, 2]);
    assert_eq!(largest_remainder(&c, 9), [3, 3, 3]);
    assert_eq!(largest_remainder(&c, 1), [1, 0, 0]);
}

#[test]
fn group_spread_scales_only_its_group() {
    let text = leechers(10, "bandwidth_spread = 0.5");
    let sc = Scenario::parse("t", &text, &[]).unwrap();
    let nodes = resolve_nodes(&sc);
    assert_eq!(nodes[0].0.upload, 100_000.0, "defaults have no spread");
    let ups: Vec<f64> = nodes[1..].iter().map(|(n, _)| n.upload).collect();
    assert!(ups.iter().all(|u| (50_000.0..=150_000.0).contains(u)));
    assert!(ups.windows(2).any(|w| w[0] != w[1]));
    let e = Scenario::parse("t", &leechers(2, "bandwidth_spread = 1.5"), &[]).unwrap_err();
    assert!(e.to_string().contains("group 2 bandwidth_spread"), "{e}");
}

#[test]
fn bad_distributions_are_errors_with_their_position() {
    let cases = [
        (
            "upload = { classes = { \"1KB/s\" = 0.5, \"2KB/s\" = 0.4 } }",
            "sum to 0.9",
        ),
        (
            "upload = { classes = { \"1KB/s\" = 0.5, \"2KB\" = 0.5 } }",
            "is a size, not a rate",
        ),
        ("upload = { classes = { } }", "at least one class"),
        (
            "upload = { clases = { \"1KB/s\" = 1.0 } }",
            "unknown field `clases`",
        ),
        (
            "upload = { file = \"x.csv\", classes = { \"1KB/s\" = 1.0 } }",
            "one of",
        ),
        (
            "download = { classes = { \"1KB/s\" = -1.0, \"2KB/s\" = 2.0 } }",
            "positive",
        ),
    ];
    for (line, want) in cases {
        let e = Scenario::parse("t", &leechers(2, line), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{line}: {e}");
        assert!(e.contains("line 10, column"), "{line}: no position in {e}");
    }
}

#[test]
fn tables_are_read_relative_to_the_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let table = "# a comment\nrate,share\n100KB/s,0.75\n1MB/s,0.25\n";
    std::fs::write(dir.path().join("data/mix.csv"), table).unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, leechers(8, "upload = { file = \"data/mix.csv\" }")).unwrap();
    let sc = Scenario::load(&file, &[]).unwrap();
    let want = vec![("100KB/s".to_string(), 6), ("1MB/s".to_string(), 2)];
    assert_eq!(class_counts(&sc), want);
    // The resolved configuration inlines the table, so it loads anywhere.
    let again = Scenario::parse("elsewhere", &sc.to_toml(), &[]).unwrap();
    assert_eq!(again.nodes(), sc.nodes());

    std::fs::write(&file, leechers(8, "upload = { file = \"data/none.csv\" }")).unwrap();
    let e = Scenario::load(&file, &[]).unwrap_err().to_string();
    assert!(e.contains("none.csv: cannot read"), "{e}");
    std::fs::write(dir.path().join("data/bad.csv"), "rate,share\n1KB/s,x\n").unwrap();
    std::fs::write(&file, leechers(8, "upload = { file = \"data/bad.csv\" }")).unwrap();
    let e = Scenario::load(&file, &[]).unwrap_err().to_string();
    assert!(e.contains("bad.csv: line 2: share `x`"), "{e}");
}

#[test]
fn the_shipped_capacity_table_loads() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/data/bittyrant-upload.csv"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        leechers(100, &format!("upload = {{ file = \"{path}\" }}")),
    )
    .unwrap();
    let sc = Scenario::load(&file, &[]).unwrap();
    let counts = class_counts(&sc);
    assert_eq!(counts.len(), 9);
    assert_eq!(counts.iter().map(|c| c.1).sum::<usize>(), 100);
    assert!(counts.contains(&("50KB/s".to_string(), 20)), "{counts:?}");
}

proptest! {
    /// Counts sum to the group size and each is within one of `n · share`.
    #[test]
    fn allotment_follows_the_shares(weights in proptest::collection::vec(1u32..100, 1..8), n in 1usize..300) {
        let total: u32 = weights.iter().sum();
        let classes: Vec<RateClass> = weights.iter().enumerate().map(|(i, &w)| RateClass {
            label: i.to_string(), rate: (i + 1) as f64, share: w as f64 / total as f64,
        }).collect();
        let counts = largest_remainder(&classes, n);
        prop_assert_eq!(counts.iter().sum::<usize>(), n);
        for (c, k) in classes.iter().zip(&counts) {
            prop_assert!((*k as f64 - c.share * n as f64).abs() < 1.0);
        }
    }

    /// Any classes table, however broken, loads or fails without panicking.
    #[test]
    fn class_tables_never_panic(label in "\\PC{0,12}", share in any::<f64>(), n in 1u32..50) {
        let line = format!("upload = {{ classes = {{ {label:?} = {share:?}, \"1KB/s\" = 0.5 }} }}");
        if let Ok(sc) = Scenario::parse("t", &leechers(n, &line), &[]) {
            prop_assert_eq!(sc.nodes().len(), n as usize + 1);
        }
    }
}
