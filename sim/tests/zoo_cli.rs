//! `sim zoo` as a user runs it: findings.csv's columns, bytes independent of -j, bad ids.

use std::path::PathBuf;
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}
#[test]
fn zoo_writes_findings_independent_of_threads() {
    let scenarios = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let run = |jobs: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = sim()
            .args([
                "zoo",
                "--only",
                "propshare-vs-bittyrant,fairtorrent-free-riders",
            ])
            .args(["--replicates", "3", "-j", jobs, "--scenarios"])
            .arg(&scenarios)
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for f in [
            "report.md",
            "report.html",
            "figures/propshare-vs-bittyrant.svg",
            "figures/fairtorrent-free-riders.svg",
        ] {
            assert!(dir.path().join(f).is_file(), "{f} missing");
        }
        std::fs::read_to_string(dir.path().join("findings.csv")).unwrap()
    };
    let one = run("1");
    let lines: Vec<&str> = one.lines().collect();
    assert_eq!(
        lines[0],
        "id,paper_value,statistic,mean,ci95_low,ci95_high,reference_mean,n,verdict"
    );
    assert_eq!(lines.len(), 3, "{one}");
    assert!(lines[1].starts_with("propshare-vs-bittyrant,"), "{one}");
    assert!(lines[2].starts_with("fairtorrent-free-riders,"), "{one}");
    // The reference column is filled only for a direction compared against a second setup.
    assert!(
        lines[1].contains(",,3,") && !lines[2].contains(",,3,"),
        "{one}"
    );
    assert_eq!(one, run("2"), "findings.csv depends on the thread count");
    let bad = sim().args(["zoo", "--only", "nope"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no direction \"nope\""));
}
