//! `bt download` from a Transmission seeder, and `bt` peers finding each other through
//! opentracker. Loopback only; every process is killed when its `Proc` drops.

mod session_util;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use session_util::*;

fn info_hash(torrent: &Path) -> String {
    let out = bt(&["show"]).arg(torrent).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("info-hash:"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| panic!("no info-hash in `bt show` output:\n{text}"))
}

fn download(torrent: &Path, out: &Path, extra: &[&str], log_dir: &Path) {
    let mut cmd = bt(&["download"]);
    cmd.arg(torrent)
        .arg("-o")
        .arg(out)
        .args(["--timeout", "50s", "-v"])
        .args(extra);
    let mut p = Proc::spawn("download", cmd, log_dir);
    let status = p.wait_for(Duration::from_secs(60));
    assert!(status.success(), "bt download failed:\n{}", p.log());
}

#[test]
fn bt_downloads_from_transmission_seeder() {
    if skipped(missing_program("transmission-cli", "transmission-cli")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let torrent = make_torrent(&seed_dir, "from-tr.bin", 4 << 20, "64KiB", &dead_tracker());
    let port = free_port();
    let mut c = std::process::Command::new("transmission-cli");
    c.arg("-w")
        .arg(&seed_dir)
        .arg("-g")
        .arg(tmp.path().join("tr-conf"))
        .args(["-p", &port.to_string(), "-et", "-M"])
        .arg(&torrent);
    let _tr = Proc::spawn("transmission-seed", c, tmp.path());
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for_port(addr, Duration::from_secs(20));
    let out = tmp.path().join("out");
    download(&torrent, &out, &["--peer", &addr.to_string()], tmp.path());
    assert_same_file(&seed_dir.join("from-tr.bin"), &out.join("from-tr.bin"));
}

#[test]
fn bt_peers_meet_through_opentracker() {
    if skipped(missing_program("opentracker", "opentracker")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/announce");
    let seed_dir = tmp.path().join("seed");
    let torrent = make_torrent(&seed_dir, "ot.bin", 2 << 20, "64KiB", &url);
    // Debian's opentracker serves only allow-listed hashes and chroots into -d, dropping
    // privileges, so the folder and list must be world-readable (DESIGN §9).
    let ot_dir = tmp.path().join("ot");
    std::fs::create_dir_all(&ot_dir).unwrap();
    std::fs::write(ot_dir.join("whitelist"), info_hash(&torrent) + "\n").unwrap();
    for p in [tmp.path(), &ot_dir, &ot_dir.join("whitelist")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut c = std::process::Command::new("opentracker");
    c.args([
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-P",
        &port.to_string(),
    ])
    .arg("-d")
    .arg(&ot_dir)
    .args(["-w", "/whitelist"]);
    let _ot = Proc::spawn("opentracker", c, tmp.path());
    wait_for_port(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(10),
    );
    let (_seed, _) = seed(&torrent, &seed_dir, &[], tmp.path());
    let out = tmp.path().join("out");
    // No --peer: the downloader can only learn of the seed from opentracker.
    download(&torrent, &out, &[], tmp.path());
    assert_same_file(&seed_dir.join("ot.bin"), &out.join("ot.bin"));
}
