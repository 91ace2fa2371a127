//! `sim sweep --resume` after a real SIGKILL mid-sweep: the restarted run keeps the points the
//! killed one checkpointed and its folder ends byte-identical to an uninterrupted run's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sweep(out: &Path, jobs: &str) -> Command {
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/g1t2.toml");
    let mut c = Command::new(env!("CARGO_BIN_EXE_sim"));
    // Points big enough (~0.1 s of CPU each) that the kill lands between two of them.
    c.arg("sweep")
        .arg(scenario)
        .args(["--vary", "seeders=1..=4", "--set", "torrent.size=64MiB"])
        .args(["--progress", "--resume", "-j", jobs, "--out"])
        .arg(out);
    c
}

/// Every file of a finished sweep folder, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_killed_sweep_resumes_to_the_uninterrupted_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (killed, whole) = (dir.path().join("killed"), dir.path().join("whole"));
    let mut child = sweep(&killed, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = killed.join("points/0/SHA256SUMS");
    let t0 = Instant::now();
    while !first.exists() && child.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no point finished");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, buffers of the running point are lost
    child.wait().unwrap();
    assert!(
        killed.join("points").exists() && !killed.join("summary.csv").exists(),
        "the sweep finished before it could be killed"
    );

    let again = sweep(&killed, "1").output().unwrap();
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{log}");
    let resumed: usize = log
        .split("resuming: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `resuming:` line in {log}"));
    assert!((1..4).contains(&resumed), "{log}");

    assert!(sweep(&whole, "2").output().unwrap().status.success());
    let (a, b) = (files(&whole), files(&killed));
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["progress.csv", "rows.csv", "summary.csv", "sweep.json"]
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs after resuming");
    }
    assert_eq!(a.len(), b.len());
}
