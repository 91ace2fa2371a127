//! Transmission (`transmission-cli`) and aria2 (`aria2c`) download from `bt seed`. Loopback only.
//!
//! aria2 finds the seed through `bt tracker`. Transmission refuses to dial 127.0.0.0/8 peers
//! from a tracker ("martian" addresses) but accepts incoming ones, so the seed dials it.

mod session_util;

use std::time::{Duration, Instant};

use session_util::*;

#[test]
fn transmission_downloads_from_bt_seed() {
    if skipped(missing_program("transmission-cli", "transmission-cli")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "tr.bin",
        4 << 20,
        "64KiB",
        &dead_tracker(),
    );
    let out = tmp.path().join("tr");
    let conf = tmp.path().join("tr-conf");
    std::fs::create_dir_all(&out).unwrap();
    let port = free_port().to_string();
    let mut c = std::process::Command::new("transmission-cli");
    c.arg("-w").arg(&out).arg("-g").arg(&conf);
    c.args(["-p", &port, "-et", "-M"]).arg(&torrent);
    let mut tr = Proc::spawn("transmission", c, tmp.path());
    let peer = format!("127.0.0.1:{port}");
    let (_seed, _) = seed(
        &torrent,
        &tmp.path().join("seed"),
        &["--peer", &peer],
        tmp.path(),
    );
    // transmission-cli keeps seeding after it finishes: watch the file instead of the exit.
    let want = std::fs::read(tmp.path().join("seed/tr.bin")).unwrap();
    let end = Instant::now() + Duration::from_secs(50);
    loop {
        if std::fs::read(out.join("tr.bin")).is_ok_and(|got| got == want) {
            break;
        }
        assert!(
            tr.is_running(),
            "transmission-cli exited:\n{}",
            tail(&tr.log())
        );
        assert!(
            Instant::now() < end,
            "transmission did not finish:\n{}",
            tail(&tr.log())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn aria2_downloads_from_bt_seed() {
    if skipped(missing_program("aria2c", "aria2")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, url) = tracker(tmp.path());
    let torrent = make_torrent(&tmp.path().join("seed"), "ar.bin", 4 << 20, "64KiB", &url);
    let (_seed, _) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let out = tmp.path().join("ar");
    let mut c = std::process::Command::new("aria2c");
    c.args([
        "--seed-time=0",
        "--bt-enable-lpd=false",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-require-crypto=false",
        "--follow-torrent=false",
        "--summary-interval=0",
    ]);
    c.arg(format!("--listen-port={}", free_port()))
        .arg("-d")
        .arg(&out)
        .arg(&torrent);
    let mut ar = Proc::spawn("aria2c", c, tmp.path());
    let status = ar.wait_for(Duration::from_secs(50));
    assert!(status.success(), "aria2c failed:\n{}", ar.log());
    assert_same_file(&tmp.path().join("seed/ar.bin"), &out.join("ar.bin"));
}

/// The last lines of a log whose progress lines are joined by carriage returns.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
