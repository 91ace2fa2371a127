//! Interop with Debian's libtorrent (python3-libtorrent): bt downloads from a libtorrent
//! seeder, and a libtorrent leecher downloads from `bt seed`. Loopback only.

mod session_util;

use std::time::Duration;

use session_util::*;

#[test]
fn bt_downloads_from_libtorrent_seeder() {
    if skipped(missing_libtorrent()) {
        return;
    }
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
    if skipped(missing_libtorrent()) {
        return;
    }
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

/// The detection behind every interop skip: a program that is not there is named with its
/// package, one that is there is not, and `skipped` skips or (under CI's variable) fails.
#[test]
fn missing_programs_are_named_with_their_package() {
    assert_eq!(
        missing_program("bt-no-such-program", "bt-no-such-package").as_deref(),
        Some("bt-no-such-program is not on PATH (Debian package bt-no-such-package)")
    );
    assert_eq!(missing_program("sh", "dash"), None);
    assert_eq!(
        missing_libtorrent_in("/nonexistent/python3").as_deref(),
        Some("/nonexistent/python3 cannot import libtorrent (Debian package python3-libtorrent)")
    );
    assert!(!skipped(None));
    let required = std::env::var_os(REQUIRED_VAR).is_some_and(|v| v == "1");
    let outcome = std::panic::catch_unwind(|| {
        skipped(Some(
            "not a real skip, this test checks the SKIPPED line".into(),
        ))
    });
    match outcome {
        Ok(skip) => assert!(skip && !required),
        Err(_) => assert!(required, "skipped() panicked without {REQUIRED_VAR}=1"),
    }
}
