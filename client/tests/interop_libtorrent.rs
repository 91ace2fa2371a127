//! Interop with Debian's libtorrent (python3-libtorrent): bt downloads from a libtorrent
//! seeder, and a libtorrent leecher downloads from `bt seed`. Loopback only.

mod session_util;

use std::time::Duration;

use session_util::*;

#[test]
fn bt_downloads_from_libtorrent_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let LtSeed {
        proc: lt,
        src,
        torrent,
        port,
    } = lt_seed(tmp.path(), 5 << 20, 7, 65536);
    let out = tmp.path().join("dl");
    let mut c = bt(&[
        "download",
        "-v",
        "--timeout",
        "40s",
        "--peer",
        &format!("127.0.0.1:{port}"),
        "-o",
    ]);
    c.arg(&out).arg(&torrent);
    let mut dl = Proc::spawn("download", c, tmp.path());
    let status = dl.wait_for(Duration::from_secs(50));
    assert!(
        status.success(),
        "bt download failed:\n{}\nlibtorrent:\n{}",
        dl.log(),
        lt.log()
    );
    assert_same_file(&src, &out.join("lt.bin"));
}

#[test]
fn libtorrent_downloads_from_bt_seed() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "bt.bin",
        5 << 20,
        "64KiB",
        &dead_tracker(),
    );
    let (_seed, addr) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let out = tmp.path().join("lt");
    std::fs::create_dir_all(&out).unwrap();
    let port = addr.port().to_string();
    let mut lt = Proc::spawn(
        "lt-leech",
        python(
            "lt_leech.py",
            &[
                torrent.to_str().unwrap(),
                out.to_str().unwrap(),
                &port,
                "40",
            ],
        ),
        tmp.path(),
    );
    let status = lt.wait_for(Duration::from_secs(50));
    assert!(status.success(), "libtorrent leecher failed:\n{}", lt.log());
    assert_same_file(&tmp.path().join("seed/bt.bin"), &out.join("bt.bin"));
}
