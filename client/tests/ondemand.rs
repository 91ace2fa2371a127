//! `bt ondemand` against `bt tracker`, `bt seed` and rate-limited `bt download` leechers on
//! loopback: it adds seeders while the swarm is short of them, exits by the seed's rules, and
//! fails clearly on bad input.

mod session_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use session_util::*;

const LEECHERS: usize = 4;

/// (complete, incomplete) of the tracker's only torrent, by a raw scrape of all torrents.
fn scrape(announce: &str) -> (u64, u64) {
    let addr = announce
        .trim_start_matches("http://")
        .trim_end_matches("/announce");
    let mut s = TcpStream::connect(addr).expect("connect to the tracker");
    write!(s, "GET /scrape HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let body = String::from_utf8_lossy(&raw);
    let int = |key: &str| {
        body.split(key)
            .nth(1)
            .and_then(|r| r.strip_prefix('i')?.split('e').next()?.parse().ok())
            .unwrap_or(0)
    };
    (int("8:complete"), int("10:incomplete"))
}

fn wait_for_scrape(announce: &str, what: &str, ok: impl Fn((u64, u64)) -> bool) {
    let end = Instant::now() + Duration::from_secs(15);
    while !ok(scrape(announce)) {
        assert!(Instant::now() < end, "tracker never showed {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ondemand(torrent: &Path, dir: &Path, args: &[&str]) -> std::process::Command {
    let mut c = bt(&["ondemand"]);
    c.arg(torrent).arg(dir).args(args);
    c
}

#[test]
fn adds_seeders_until_the_leechers_are_done() {
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, url) = tracker(tmp.path());
    let data = tmp.path().join("seed");
    let torrent = make_torrent(&data, "a.bin", 2 << 20, "64KiB", &url);
    let (_seed, _) = seed(&torrent, &data, &["--up", "100KB/s"], tmp.path());
    wait_for_scrape(&url, "the seeder", |(c, _)| c == 1);
    let mut leechers: Vec<Proc> = (0..LEECHERS)
        .map(|k| {
            let mut c = bt(&["download", "--down", "200KB/s", "--timeout", "45s", "-o"]);
            c.arg(tmp.path().join(format!("l{k}"))).arg(&torrent);
            Proc::spawn(&format!("leecher{k}"), c, tmp.path())
        })
        .collect();
    wait_for_scrape(&url, "the leechers", |(_, i)| i == LEECHERS as u64);
    let args = [
        "--ratio", "1", "--pool", "3", "--check", "500ms", "--up", "100KB/s",
    ];
    let mut ctl = Proc::spawn(
        "ondemand",
        ondemand(
            &torrent,
            &data,
            &[&args[..], &["--max-time", "50s"]].concat(),
        ),
        tmp.path(),
    );
    // The added seeders show in the scrape while no leecher has finished yet.
    wait_for_scrape(&url, "four seeders for four leechers", |(c, i)| {
        c == 4 && i == LEECHERS as u64
    });
    for (k, l) in leechers.iter_mut().enumerate() {
        let status = l.wait_for(Duration::from_secs(50));
        assert!(status.success(), "leecher {k} failed:\n{}", l.log());
        assert_same_file(&data.join("a.bin"), &tmp.path().join(format!("l{k}/a.bin")));
    }
    let status = ctl.wait_for(Duration::from_secs(15));
    let log = ctl.log();
    assert!(status.success(), "ondemand failed:\n{log}");
    assert!(
        log.contains("seeders=1 leechers=4 ratio=0.25 target=1 action=add 3 seeders"),
        "{log}"
    );
    assert!(log.contains("action=exit:"), "{log}");
    assert!(log.contains("3 seeders added"), "{log}");
    // They stopped with `stopped` announces: only the original seeder is left.
    wait_for_scrape(&url, "the added seeders leaving", |(c, i)| c == 1 && i == 0);
}

#[test]
fn exits_at_once_when_the_ratio_is_already_met() {
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, url) = tracker(tmp.path());
    let data = tmp.path().join("seed");
    let torrent = make_torrent(&data, "b.bin", 64 << 10, "16KiB", &url);
    let args = ["--ratio", "0.5", "--seeders", "3", "--leechers", "1"];
    let out = ondemand(&torrent, &data, &args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "seeders=3 leechers=1 ratio=3.00 target=0.5 action=exit: ratio already sufficient"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 seeders added"), "{stdout}");
}

/// Runs `bt ondemand` expecting failure; returns its stderr.
fn fails(torrent: &Path, dir: &Path, args: &[&str]) -> String {
    let out = ondemand(torrent, dir, args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded:\n{err}");
    err
}

#[test]
fn fails_clearly_on_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("seed");
    let torrent = make_torrent(&data, "c.bin", 64 << 10, "16KiB", &dead_tracker());
    let err = fails(&torrent, &data, &["--ratio", "1"]);
    assert!(err.contains("the tracker must answer scrapes"), "{err}");
    assert!(err.contains("connecting to 127.0.0.1"), "{err}");
    for bad in ["1.5", "-0.1", "NaN", "x"] {
        let err = fails(&torrent, &data, &[&format!("--ratio={bad}")]);
        assert!(
            err.contains("not a seeder/leecher ratio in [0, 1]"),
            "{err}"
        );
    }
    let err = fails(&torrent, &tmp.path().join("nowhere"), &["--ratio", "1"]);
    assert!(
        err.contains("cannot seed") || err.contains("data of"),
        "{err}"
    );
    let odd = make_torrent(&data, "d.bin", 1024, "16KiB", "http://127.0.0.1:1/tracker");
    let err = fails(&odd, &data, &["--ratio", "1"]);
    assert!(err.contains("does not support scrape"), "{err}");
}
