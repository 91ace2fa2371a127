//! `bt swarm` with a different policy per group on real sockets (tft, free-rider and
//! large-view, `swarm/mixed.toml`): every node runs the policy its group names, free-riders of
//! both kinds upload nothing, the compliant peers carry them, everyone finishes, and the
//! results compare with `sim run`'s row for row. `bt` refuses `whitewash`, which only the
//! simulator can run.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{run_with_deadline, BT};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/swarm/{name}.toml"))
}

/// `results.csv` rows by column name.
fn rows(dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn mixed_policies_run_on_real_sockets() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = sim::Scenario::load(&scenario("mixed"), &[]).unwrap();
    let simulated = sim::run(&sc);
    simulated.write(&tmp.path().join("sim")).unwrap();
    let out = tmp.path().join("bt");
    let res = run_with_deadline(
        std::process::Command::new(BT)
            .args(["swarm", "--scale", "8", "--out"])
            .arg(&out)
            .arg(scenario("mixed")),
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "bt swarm failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("every leecher's data verified"), "{stdout}");

    let (real, sim) = (rows(&out), rows(&tmp.path().join("sim")));
    assert_eq!(real.len(), sim.len());
    let policies = scenario::draws::resolve_nodes(&sc);
    let size = sc.torrent.size.0;
    let mut carried = 0;
    for ((r, s), (spec, _)) in real.iter().zip(&sim).zip(&policies) {
        for key in ["node", "role", "online_days", "incentive"] {
            assert_eq!(r[key], s[key], "{key}");
        }
        if r["role"] != "leecher" {
            continue;
        }
        let up: u64 = r["bytes_up"].parse().unwrap();
        let down: u64 = r["bytes_down"].parse().unwrap();
        let done: f64 = r["completion_s"].parse().expect("every leecher finishes");
        assert!(down >= size && done > 0.0, "node {}: {r:?}", r["node"]);
        match spec.policy.name() {
            "free-rider" | "large-view" => assert_eq!(up, 0, "node {} uploaded", r["node"]),
            "tft" => carried += up,
            other => panic!("unexpected policy {other}"),
        }
    }
    // The tft leechers passed on at least a file's worth between them.
    assert!(carried >= size, "tft leechers uploaded {carried} bytes");
}

#[test]
fn whitewash_is_refused_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let res = std::process::Command::new(BT)
        .args(["swarm", "--scale", "8", "--out"])
        .arg(tmp.path().join("out"))
        .arg(scenario("mixed"))
        .args(["--set", "group.4.policy=whitewash:every=1min"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(e.contains("simulator-only"), "{e}");
    assert!(!tmp.path().join("out/results.csv").exists());
}
