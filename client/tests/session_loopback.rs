//! `bt seed` → `bt download` on loopback: through `bt tracker`, with `--peer`, rate-limited,
//! resuming from partial data, and failing clearly.

mod session_util;

use std::time::{Duration, Instant};

use session_util::*;

const LIMIT: Duration = Duration::from_secs(45);

#[test]
fn download_through_bt_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, url) = tracker(tmp.path());
    let torrent = make_torrent(&tmp.path().join("seed"), "a.bin", 6 << 20, "64KiB", &url);
    let (_seed, _) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let out = tmp.path().join("dl");
    let mut dl = Proc::spawn(
        "download",
        {
            let mut c = bt(&["download", "--timeout", "40s", "-v", "-o"]);
            c.arg(&out).arg(&torrent);
            c
        },
        tmp.path(),
    );
    let status = dl.wait_for(LIMIT);
    assert!(status.success(), "download failed:\n{}", dl.log());
    assert_same_file(&tmp.path().join("seed/a.bin"), &out.join("a.bin"));
}

#[test]
fn download_with_peer_flag_respects_download_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "b.bin",
        3 << 20,
        "32KiB",
        &dead_tracker(),
    );
    let (_seed, addr) = seed(
        &torrent,
        &tmp.path().join("seed"),
        &["--up", "20MiB/s"],
        tmp.path(),
    );
    let out = tmp.path().join("dl");
    let start = Instant::now();
    let mut c = bt(&[
        "download",
        "--down",
        "2MiB/s",
        "--timeout",
        "40s",
        "--peer",
        &addr.to_string(),
        "-o",
    ]);
    c.arg(&out).arg(&torrent);
    let mut dl = Proc::spawn("download", c, tmp.path());
    let status = dl.wait_for(LIMIT);
    let took = start.elapsed();
    assert!(status.success(), "download failed:\n{}", dl.log());
    assert_same_file(&tmp.path().join("seed/b.bin"), &out.join("b.bin"));
    // 3 MiB at 2 MiB/s, less the 0.2 MiB burst: at least ~1.3 s.
    assert!(
        took > Duration::from_millis(1300),
        "limit not applied: {took:?}"
    );
}

#[test]
fn resume_rechecks_partial_data() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "c.bin",
        2 << 20,
        "64KiB",
        &dead_tracker(),
    );
    let src = tmp.path().join("seed/c.bin");
    let out = tmp.path().join("dl");
    std::fs::create_dir_all(&out).unwrap();
    // Half the file, with one corrupted piece in it: that piece and the rest are fetched.
    let mut partial = std::fs::read(&src).unwrap();
    partial.truncate(1 << 20);
    partial[100_000] ^= 0xff;
    std::fs::write(out.join("c.bin"), &partial).unwrap();
    let (_seed, addr) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let mut c = bt(&[
        "download",
        "--timeout",
        "40s",
        "--peer",
        &addr.to_string(),
        "-o",
    ]);
    c.arg(&out).arg(&torrent);
    let mut dl = Proc::spawn("download", c, tmp.path());
    assert!(
        dl.wait_for(LIMIT).success(),
        "download failed:\n{}",
        dl.log()
    );
    assert!(dl.log().contains("15/32 verified on disk"), "{}", dl.log());
    assert_same_file(&src, &out.join("c.bin"));

    // Complete data: nothing to fetch, no peer needed.
    let mut again = bt(&["download", "--timeout", "10s", "-o"]);
    again.arg(&out).arg(&torrent);
    let mut dl = Proc::spawn("download-again", again, tmp.path());
    assert!(dl.wait_for(LIMIT).success(), "{}", dl.log());
}

#[test]
fn gives_up_at_timeout_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "d.bin",
        100_000,
        "16KiB",
        &dead_tracker(),
    );
    let mut c = bt(&["download", "--timeout", "2s", "-o"]);
    c.arg(tmp.path().join("dl")).arg(&torrent);
    let mut dl = Proc::spawn("download", c, tmp.path());
    let status = dl.wait_for(Duration::from_secs(20));
    assert!(!status.success());
    assert!(
        dl.log().contains("gave up after 2s: 0/7 pieces verified"),
        "{}",
        dl.log()
    );
}

#[test]
fn seed_refuses_incomplete_data() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "e.bin",
        100_000,
        "16KiB",
        &dead_tracker(),
    );
    std::fs::write(tmp.path().join("seed/e.bin"), b"short").unwrap();
    let mut c = bt(&["seed", "--listen", "127.0.0.1:0"]);
    c.arg(&torrent).arg(tmp.path().join("seed"));
    let mut s = Proc::spawn("seed", c, tmp.path());
    assert!(!s.wait_for(Duration::from_secs(20)).success());
    assert!(s.log().contains("only 0/7 pieces"), "{}", s.log());
}
