//! `bt tracker` over real loopback UDP (BEP 15): a download whose only tracker is
//! `udp://`, and connection ids that only work from the address they were issued to.

mod session_util;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use engine_core::protocol::tracker_proto::Announce;
use engine_core::protocol::udp_tracker::{Request, Response};
use engine_core::tracker::AnnounceEvent;
use session_util::*;

#[test]
fn download_through_a_udp_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, http) = tracker(tmp.path());
    let url = http.replace("http://", "udp://");
    let torrent = make_torrent(&tmp.path().join("seed"), "u.bin", 2 << 20, "64KiB", &url);
    let (seeder, _) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let out = tmp.path().join("dl");
    let mut c = bt(&["download", "--timeout", "40s", "-v", "-o"]);
    c.arg(&out).arg(&torrent);
    let mut dl = Proc::spawn("download", c, tmp.path());
    let status = dl.wait_for(Duration::from_secs(45));
    assert!(status.success(), "download failed:\n{}", dl.log());
    assert_same_file(&tmp.path().join("seed/u.bin"), &out.join("u.bin"));
    for log in [dl.log(), seeder.log()] {
        assert!(!log.contains("skipping tracker"), "{log}");
    }
}

fn exchange(sock: &UdpSocket, to: SocketAddr, req: &Request) -> Response {
    sock.send_to(&req.encode(), to).unwrap();
    let mut buf = [0; 2048];
    let (n, from) = sock.recv_from(&mut buf).expect("an answer within 5 s");
    assert_eq!(from, to);
    Response::decode(&buf[..n], false).unwrap()
}

fn announce(conn_id: u64, port: u16) -> Request {
    let announce = Announce::new([3; 20], [port as u8; 20], port, 0, AnnounceEvent::Started);
    Request::Announce {
        conn_id,
        tid: 8,
        announce,
        key: 0,
    }
}

#[test]
fn connection_ids_work_only_from_their_own_address() {
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, http) = tracker(tmp.path());
    let to: SocketAddr = http["http://".len()..http.len() - "/announce".len()]
        .parse()
        .unwrap();
    let socket = || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    let (victim, spoofer) = (socket(), socket());
    let Response::Connect { tid: 7, conn_id } = exchange(&victim, to, &Request::Connect { tid: 7 })
    else {
        panic!("no connect reply")
    };
    let Response::Error { tid: 8, message } = exchange(&spoofer, to, &announce(conn_id, 7001))
    else {
        panic!("another address's id accepted")
    };
    assert!(message.contains("connection id"), "{message}");
    let Response::Announce { tid: 8, reply } = exchange(&victim, to, &announce(conn_id, 7002))
    else {
        panic!("own id refused")
    };
    // Only the rightful announce counts: one seed, and nobody else to hand out.
    assert_eq!(
        (reply.complete, reply.incomplete, reply.peers.len()),
        (1, 0, 0)
    );
}
