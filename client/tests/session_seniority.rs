//! Seniority on real sockets: the port-59500 line protocol (here on free ports) and a
//! download where both sides run the mechanism and learn each other's weight.

mod session_util;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use engine_core::policy::seniority::{own_weight, Contribution, SeniorityVariant};
use session_util::*;

fn days(d: f64) -> f64 {
    let c = Contribution {
        online_secs: d * 86_400.0,
        files_seeding: 1,
    };
    own_weight(SeniorityVariant::ThesisCode, &c)
}

#[test]
fn seniority_server_and_side_channel_download() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "s.bin",
        2 << 20,
        "64KiB",
        &dead_tracker(),
    );
    let (p_seed, p_dl) = (free_port().to_string(), free_port().to_string());
    let args = [
        "--incentive",
        "seniority=thesis-code",
        "--online-days",
        "19",
        "--up",
        "8MiB/s",
    ];
    let mut extra = args.to_vec();
    extra.extend(["--seniority-port", &p_seed, "--seniority-query-port", &p_dl]);
    let (_seed, addr) = seed(&torrent, &tmp.path().join("seed"), &extra, tmp.path());

    // The thesis's line protocol. Its server starts beside the BitTorrent listener, so it may
    // not accept yet when that one does.
    let seniority_addr = format!("127.0.0.1:{p_seed}").parse().unwrap();
    wait_for_port(seniority_addr, Duration::from_secs(10));
    let mut s = TcpStream::connect(seniority_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"hello\nonline time\n").unwrap();
    let mut lines = BufReader::new(s).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "You said: hello");
    let reply = lines.next().unwrap().unwrap();
    let (ip, value) = reply.rsplit_once(':').unwrap();
    assert_eq!(ip, "127.0.0.1");
    // The seed's own weight, exactly as engine-core computes it, which is the thesis's
    // ≈ 2.47 at 19 days (DESIGN.md §5).
    let weight: f64 = value.parse().unwrap();
    assert_eq!(weight, days(19.0), "{reply}");
    assert!((weight - 2.4698).abs() < 2e-3, "{reply}");
    assert!(value.contains('.'), "Python float formatting: {reply}");

    let out = tmp.path().join("dl");
    let mut c = bt(&[
        "download",
        "-v",
        "--timeout",
        "40s",
        "--peer",
        &addr.to_string(),
    ]);
    c.args(["--incentive", "seniority", "--online-days", "1"]);
    c.args([
        "--seniority-port",
        &p_dl,
        "--seniority-query-port",
        &p_seed,
        "-o",
    ]);
    c.arg(&out).arg(&torrent);
    let mut dl = Proc::spawn("download", c, tmp.path());
    assert!(
        dl.wait_for(Duration::from_secs(50)).success(),
        "{}",
        dl.log()
    );
    assert_same_file(&tmp.path().join("seed/s.bin"), &out.join("s.bin"));
    let learned = format!("seniority {} (side channel)", days(19.0));
    assert!(
        dl.log().contains(&learned),
        "{learned:?} not in:\n{}",
        dl.log()
    );
}
