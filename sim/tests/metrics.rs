//! The zoo's metrics on tiny swarms, against what the byte counts say they must be.

use sim::scenario::fairness::{node_metrics, policy_summary};
use sim::scenario::Role;
use sim::Scenario;

const TINY: &str = "name = \"tiny\"\nseed = 3\n[torrent]\nsize = \"4MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 2\n";

fn bytes(r: &sim::RunResult, from: u32, to: u32) -> i64 {
    r.pairs
        .iter()
        .find(|p| (p.from, p.to) == (from, to))
        .map_or(0, |p| p.bytes as i64)
}

/// 1 seeder + 2 leechers: the seeder's service error is all it sent (it receives nothing),
/// each leecher's is what it sent the other leecher minus what it got back; utilisation is
/// bytes up over capacity × time online; one class, so every regular unchoke is in-class.
#[test]
fn one_seeder_two_leechers_by_hand() {
    let sc = Scenario::parse("tiny", TINY, &[]).unwrap();
    let r = sim::run(&sc);
    let m = node_metrics(&r);
    let end = r.stats.sim_time_s;
    assert_eq!(r.nodes[0].bytes_down, 0);
    assert_eq!(m[0].service_error, bytes(&r, 1, 2) + bytes(&r, 1, 3));
    assert_eq!(m[1].service_error, bytes(&r, 2, 3) - bytes(&r, 3, 2));
    assert_eq!(m[2].service_error, -m[1].service_error);
    assert!(bytes(&r, 2, 3) > 0 && bytes(&r, 3, 2) > 0, "leechers trade");
    for (n, m) in r.nodes.iter().zip(&m) {
        let want = n.bytes_up as f64 / (100_000.0 * end);
        assert!(
            (m.utilisation.unwrap() - want).abs() < 1e-12,
            "node {}",
            n.id
        );
        assert_eq!(m.clustering, Some(1.0), "node {}", n.id);
        assert!(n.regular_unchoke_s.unwrap() > 0.0);
        assert!(
            n.regular_unchoke_s.unwrap() <= 2.0 * end + 1e-9,
            "two peers at most"
        );
    }
    // A lone seeder serving two leechers at full rate is the busiest node there is.
    assert!(m[0].utilisation.unwrap() > 0.8, "{:?}", m[0]);
    let rows = policy_summary(std::slice::from_ref(&r));
    assert_eq!(rows.len(), 2, "{rows:?}");
    let leechers = &rows[1];
    assert_eq!(
        (leechers.role, leechers.nodes, leechers.completed),
        (Role::Leecher, 2, 2)
    );
    let times: Vec<f64> = r.nodes[1..]
        .iter()
        .map(|n| n.completion_s.unwrap())
        .collect();
    assert!((leechers.mean_completion_s.unwrap() - (times[0] + times[1]) / 2.0).abs() < 1e-9);
    let abs_e = m[1].service_error.unsigned_abs();
    assert_eq!(leechers.max_abs_service_error, Some(abs_e));
    assert_eq!(leechers.clustering, Some(1.0));
}

/// Two upload classes: every node's regular time splits between its class and the other,
/// the per-class rows come slowest first, and an `all` row pools them.
#[test]
fn two_classes_split_regular_time() {
    let text =
        format!("{TINY}upload = {{ classes = {{ \"50KB/s\" = 0.5, \"400KB/s\" = 0.5 }} }}\n")
            .replace("count = 2", "count = 8");
    let sc = Scenario::parse("tiny", &text, &[]).unwrap();
    let r = sim::run(&sc);
    assert_eq!(r.stats.rejected_inputs, 0);
    let classes: Vec<_> = r.nodes[1..]
        .iter()
        .map(|n| n.upload_class.clone().unwrap())
        .collect();
    assert_eq!(classes.iter().filter(|c| *c == "50KB/s").count(), 4);
    let m = node_metrics(&r);
    for (n, m) in r.nodes.iter().zip(&m).skip(1) {
        let c = m.clustering.unwrap();
        assert!((0.0..=1.0).contains(&c), "node {}: {c}", n.id);
    }
    let rows = policy_summary(std::slice::from_ref(&r));
    let labels: Vec<(Role, &str, usize)> = rows
        .iter()
        .map(|r| (r.role, r.upload_class.as_str(), r.nodes))
        .collect();
    assert_eq!(
        labels,
        [
            (Role::Seeder, "100KB/s", 1),
            (Role::Leecher, "50KB/s", 4),
            (Role::Leecher, "400KB/s", 4),
            (Role::Leecher, "all", 8)
        ]
    );
    assert_eq!(rows[3].completed, 8);
}
