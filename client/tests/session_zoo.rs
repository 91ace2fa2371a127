//! The zoo's pacing and lying policies on real sockets: a FairTorrent seed and leecher (the
//! controller parks connections and wakes them with `UploadReady`, which the session's pull
//! loop must act on) and a false-have leecher downloading from both; everyone finishes intact.

mod session_util;

use std::net::SocketAddr;
use std::time::Duration;

use session_util::*;

#[test]
fn fairtorrent_and_false_have_sessions_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "z.bin",
        4 << 20,
        "64KiB",
        &dead_tracker(),
    );
    let ft = ["--policy", "fairtorrent", "--up", "4MiB/s"];
    let (_seed, seed_addr) = seed(&torrent, &tmp.path().join("seed"), &ft, tmp.path());
    let download = |name: &str, policy: &str, peers: &[SocketAddr], listen: SocketAddr| {
        let mut c = bt(&["download", "-v", "--timeout", "60s", "--policy", policy]);
        c.args(["--up", "2MiB/s", "--listen", &listen.to_string()]);
        for p in peers {
            c.args(["--peer", &p.to_string()]);
        }
        c.arg("-o").arg(tmp.path().join(name)).arg(&torrent);
        Proc::spawn(name, c, tmp.path())
    };
    let port = || -> SocketAddr { format!("127.0.0.1:{}", free_port()).parse().unwrap() };
    let ft_addr = port();
    let mut fair = download("fair", "fairtorrent", &[seed_addr], ft_addr);
    let mut liar = download(
        "liar",
        "false-have:per_round=8",
        &[seed_addr, ft_addr],
        port(),
    );
    for (name, p) in [("fair", &mut fair), ("liar", &mut liar)] {
        assert!(
            p.wait_for(Duration::from_secs(70)).success(),
            "{name}: {}",
            p.log()
        );
        let got = tmp.path().join(name).join("z.bin");
        assert_same_file(&tmp.path().join("seed/z.bin"), &got);
    }
}
