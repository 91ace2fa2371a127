//! `bt swarm` with a different policy per group on real sockets (tft, free-rider and
//! large-view, `swarm/mixed.toml`): every node runs the policy its group names, free-riders of
//! both kinds upload nothing, the compliant peers carry them, everyone finishes, and the
//! results compare with `sim run`'s row for row. And `scenarios/zoo/whitewash-tft.toml`,
//! shrunk: its whitewashers change identity on sockets and the bytes sent to every identity
//! count for their node.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{run_with_deadline, BT};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/swarm/{name}.toml"))
}

/// `results.csv` rows by column name (a policy's parameters are quoted: they hold commas).
fn rows(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    r.deserialize().map(Result::unwrap).collect()
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

/// CI-sized `zoo/whitewash-tft.toml`: 1 seeder, 4 tft leechers, a free-rider and 2
/// whitewashers (free-riders changing identity every 30 s of scenario time, as written)
/// joining within 10 s; 4 MiB. The simulator takes 54 s, with 2 identity changes (seed 1).
const WHITEWASH_SETS: [&str; 6] = [
    "group.2.count=4",
    "group.3.count=1",
    "group.4.count=2",
    "group.2.join.to=10s",
    "group.3.join.to=10s",
    "group.4.join.to=10s",
];

#[test]
fn whitewashers_change_identity_on_sockets_and_pairs_name_their_node() {
    let tmp = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/zoo/whitewash-tft.toml");
    let sets = WHITEWASH_SETS.map(String::from);
    let sc = sim::Scenario::load(&file, &sets).unwrap();
    let simulated = sim::run(&sc);
    simulated.write(&tmp.path().join("sim")).unwrap();
    assert!(
        simulated.stats.whitewashes > 0,
        "the simulator changed no identity"
    );
    let out = tmp.path().join("bt");
    let mut cmd = std::process::Command::new(BT);
    cmd.args(["swarm", "--scale", "8", "--out"])
        .arg(&out)
        .arg(&file);
    for s in WHITEWASH_SETS {
        cmd.args(["--set", s]);
    }
    let res = run_with_deadline(&mut cmd, Duration::from_secs(40));
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "bt swarm failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("every leecher's data verified"), "{stdout}");

    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let changes = run["stats"]["whitewashes"].as_u64().unwrap_or(0);
    assert!(
        changes > 0,
        "no identity changed on sockets: {}",
        run["stats"]
    );
    let (real, sim) = (rows(&out), rows(&tmp.path().join("sim")));
    assert_eq!(real.len(), sim.len());
    // Bytes each node received from others, by pairs.csv's receiving node; each node's rows
    // there add up to its bytes_up.
    let pairs = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    let (mut to, mut from) = (vec![0u64; real.len()], vec![0u64; real.len()]);
    for line in pairs.lines().skip(1) {
        let f: Vec<u64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        from[f[0] as usize - 1] += f[2];
        to[f[1] as usize - 1] += f[2];
    }
    let size = sc.torrent.size.0;
    for (i, (r, s)) in real.iter().zip(&sim).enumerate() {
        for key in ["node", "role", "online_days", "policy"] {
            assert_eq!(r[key], s[key], "{key}");
        }
        let up: u64 = r["bytes_up"].parse().unwrap();
        assert_eq!(
            up, from[i],
            "node {}: bytes_up against pairs.csv",
            r["node"]
        );
        if r["role"] != "leecher" {
            continue;
        }
        let down: u64 = r["bytes_down"].parse().unwrap();
        r["completion_s"]
            .parse::<f64>()
            .expect("every leecher finishes");
        // Every block a node received was counted by its sender when handed out, under
        // whichever identity of the receiver asked for it: a whitewasher's later identities
        // count for it, so it is credited with all it downloaded.
        assert!(
            down >= size && to[i] >= down,
            "node {}: {r:?}, sent to it {}",
            r["node"],
            to[i]
        );
        if r["policy"].starts_with("whitewash") || r["policy"] == "free-rider" {
            assert_eq!(up, 0, "node {} uploaded", r["node"]);
        }
    }
}
