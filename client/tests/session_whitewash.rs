//! `whitewash` on real sockets: a downloader that changes identity every second, watched
//! through the tracker. It must show up under several peer ids and ports, never two at once
//! (each `stopped` is answered before the next `started`, so the old identity is gone from
//! the swarm), drop its connections at each change (the seed sees each closed, which is when
//! engine-core forgets a peer), and still finish with the right data.

mod common;
mod session_util;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{announce_query, Http, TrackerProc};
use engine_core::protocol::bencode::decode;
use engine_core::protocol::metainfo::Metainfo;
use session_util::{assert_same_file, bt, free_port, make_torrent, seed, Proc};

/// The peer id and port of every swarm member but the seed, as the tracker lists them to a
/// poller announcing from a port nobody listens on.
fn listed(tracker: &mut Http, info_hash: &[u8; 20], poll_port: u16) -> Vec<(Vec<u8>, i64)> {
    let q = announce_query(info_hash, b"-PL0001-pollerpoller", poll_port, 1);
    let (status, body) = tracker.get(&(q + "&compact=0&numwant=50"));
    assert_eq!(status, 200);
    let v = decode(&body).unwrap();
    let peers = v.get("peers").and_then(|p| p.as_list()).unwrap_or_default();
    peers
        .iter()
        .map(|p| {
            let id = p.get("peer id").and_then(|x| x.as_bytes()).unwrap();
            (id.to_vec(), p.get("port").and_then(|x| x.as_int()).unwrap())
        })
        .collect()
}

#[test]
fn whitewasher_rejoins_under_new_ids_and_ports_and_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let tracker = TrackerProc::start(&["--interval", "60"]);
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "w.bin",
        2 << 20,
        "64KiB",
        &tracker.announce_url(),
    );
    let meta = Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    let (mut seeder, seed_addr) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let mut c = bt(&["download", "-v", "--timeout", "25s", "--down", "512KiB/s"]);
    c.args(["--policy", "whitewash:every=1s,base=tft", "-o"]);
    c.arg(tmp.path().join("ww")).arg(&torrent);
    let mut ww = Proc::spawn("whitewasher", c, tmp.path());

    let (mut http, poll_port) = (Http::connect(tracker.addr), free_port());
    let mut seen = BTreeSet::new();
    let end = Instant::now() + Duration::from_secs(30);
    while ww.is_running() {
        assert!(Instant::now() < end, "still running; log:\n{}", ww.log());
        let others: Vec<_> = listed(&mut http, &meta.info_hash, poll_port)
            .into_iter()
            .filter(|&(_, port)| port != i64::from(seed_addr.port()))
            .collect();
        assert!(
            others.len() <= 1,
            "two identities listed at once: {others:?}"
        );
        seen.extend(others);
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = ww.wait_for(Duration::from_secs(1));
    assert!(status.success(), "{}", ww.log());
    assert_same_file(&tmp.path().join("seed/w.bin"), &tmp.path().join("ww/w.bin"));

    let ids: BTreeSet<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    let ports: BTreeSet<_> = seen.iter().map(|&(_, port)| port).collect();
    assert!(
        ids.len() >= 2 && ports.len() >= 2,
        "identities seen: {seen:?}\n{}",
        ww.log()
    );
    assert!(ids.iter().all(|id| id.starts_with(b"-BT0001-")), "{ids:?}");
    assert!(ww.log().contains("whitewash: identity 2"), "{}", ww.log());
    // After its last `stopped`, no identity of it is left in the swarm.
    let left = listed(&mut http, &meta.info_hash, poll_port);
    assert!(
        left.iter()
            .all(|&(_, port)| port == i64::from(seed_addr.port())),
        "{left:?}"
    );
    // The seed served it over one connection per identity, each closed: its per-connection
    // state (rates, choking, the policy's memory) went with each.
    assert!(seeder.is_running());
    let seed_log = seeder.log();
    let closed = seed_log.matches("disconnected: closed by peer").count();
    assert!(closed >= 2, "{closed} connections closed:\n{seed_log}");
}
