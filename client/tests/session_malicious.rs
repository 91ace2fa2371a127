//! Hostile peers against `bt`: wrong piece data, oversized frames, garbage, request floods.
//! The client must drop bad data, close bad connections and stay bounded, never panic.

mod session_util;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine_core::protocol::block::BlockRequest;
use engine_core::protocol::metainfo::Metainfo;
use engine_core::protocol::wire::{self, Handshake, Message};
use session_util::*;

fn info_hash(torrent: &Path) -> [u8; 20] {
    Metainfo::from_bytes(&std::fs::read(torrent).unwrap())
        .unwrap()
        .info_hash
}

/// A blocking wire connection for playing a hostile peer.
struct Wire {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    fn new(s: TcpStream) -> Wire {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Wire { s, buf: Vec::new() }
    }
    fn send(&mut self, msgs: &[Message]) {
        let mut out = Vec::new();
        msgs.iter().for_each(|m| m.encode(&mut out));
        self.s.write_all(&out).unwrap();
    }
    fn handshake(&mut self, info_hash: [u8; 20]) {
        let hs = Handshake::with_fast_and_extensions(info_hash, *b"-XX0000-hostile-peer");
        self.s.write_all(&hs.encode()).unwrap();
        let mut theirs = [0; 68];
        self.s.read_exact(&mut theirs).unwrap();
        assert_eq!(
            Handshake::decode(&theirs).unwrap().unwrap().0.info_hash,
            info_hash
        );
    }
    /// The next message, or `None` once the other side closed the connection.
    fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some((m, n)) = wire::decode(&self.buf, wire::DEFAULT_MAX_MESSAGE_LEN).unwrap() {
                self.buf.drain(..n);
                return Some(m);
            }
            let mut chunk = [0; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// True if the peer closes the connection within `limit` (reads until EOF or reset).
fn closes_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let end = Instant::now() + limit;
    let mut buf = [0; 4096];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn wrong_piece_data_is_discarded_and_the_peer_banned() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "m.bin",
        2 << 20,
        "16KiB",
        &dead_tracker(),
    );
    let ih = info_hash(&torrent);
    let (_good, good) = seed(
        &torrent,
        &tmp.path().join("seed"),
        &["--up", "2MiB/s"],
        tmp.path(),
    );
    // The liar: claims every piece and answers every request with garbage.
    let liar = TcpListener::bind("127.0.0.1:0").unwrap();
    let liar_addr = liar.local_addr().unwrap();
    liar.set_nonblocking(true).unwrap();
    let (conns, closed, stop) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (c2, cl2, st2) = (conns.clone(), closed.clone(), stop.clone());
    let liar_thread = std::thread::spawn(move || {
        while !st2.load(Ordering::SeqCst) {
            let Ok((s, _)) = liar.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            s.set_nonblocking(false).unwrap();
            c2.fetch_add(1, Ordering::SeqCst);
            let mut w = Wire::new(s);
            let mut theirs = [0; 68];
            w.s.read_exact(&mut theirs).unwrap();
            w.s.write_all(
                &Handshake::with_fast_and_extensions(ih, *b"-XX0000-liar-liar-00").encode(),
            )
            .unwrap();
            w.send(&[Message::HaveAll, Message::Unchoke]);
            while let Some(m) = w.recv() {
                if let Message::Request(r) = m {
                    let data = vec![0x5a; r.length as usize].into();
                    let piece = Message::Piece {
                        index: r.index,
                        begin: r.begin,
                        data,
                    };
                    if w.s
                        .write_all(&{
                            let mut v = Vec::new();
                            piece.encode(&mut v);
                            v
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            }
            cl2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let out = tmp.path().join("dl");
    let mut c = bt(&[
        "download",
        "-v",
        "--timeout",
        "40s",
        "--peer",
        &liar_addr.to_string(),
        "--peer",
        &good.to_string(),
        "-o",
    ]);
    c.arg(&out).arg(&torrent);
    let mut dl = Proc::spawn("download", c, tmp.path());
    let status = dl.wait_for(Duration::from_secs(50));
    stop.store(true, Ordering::SeqCst);
    assert!(status.success(), "download failed:\n{}", dl.log());
    assert_same_file(&tmp.path().join("seed/m.bin"), &out.join("m.bin"));
    assert!(
        dl.log().contains("BadData"),
        "liar not disconnected for bad data:\n{}",
        dl.log()
    );
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "a banned peer was dialed again"
    );
    assert_eq!(closed.load(Ordering::SeqCst), 1);
    liar_thread.join().unwrap();
}

#[test]
fn oversized_frames_and_garbage_close_the_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "g.bin",
        256 << 10,
        "16KiB",
        &dead_tracker(),
    );
    let ih = info_hash(&torrent);
    let (mut seed_proc, addr) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());

    // A length prefix of ~4 GiB right after a valid handshake.
    let mut w = Wire::new(TcpStream::connect(addr).unwrap());
    w.handshake(ih);
    w.s.write_all(&0xffff_fff0u32.to_be_bytes()).unwrap();
    assert!(
        closes_within(&mut w.s, Duration::from_secs(5)),
        "oversized frame not rejected"
    );

    // An unknown message id with a plausible length.
    let mut w = Wire::new(TcpStream::connect(addr).unwrap());
    w.handshake(ih);
    w.s.write_all(&[0, 0, 0, 5, 0xee, 1, 2, 3, 4]).unwrap();
    assert!(
        closes_within(&mut w.s, Duration::from_secs(5)),
        "unknown id not rejected"
    );

    // Not BitTorrent at all.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(
        closes_within(&mut s, Duration::from_secs(5)),
        "garbage handshake not rejected"
    );

    // The seed survived and still serves.
    assert!(seed_proc.is_running(), "seed died:\n{}", seed_proc.log());
    let mut w = Wire::new(TcpStream::connect(addr).unwrap());
    w.handshake(ih);
    w.send(&[Message::Interested]);
    let first = BlockRequest {
        index: 0,
        begin: 0,
        length: 16384,
    };
    loop {
        match w.recv().expect("seed closed a well-behaved peer") {
            Message::Unchoke => w.send(&[Message::Request(first)]),
            Message::Piece {
                index: 0,
                begin: 0,
                data,
            } => {
                assert_eq!(data.len(), 16384);
                break;
            }
            _ => {}
        }
    }
}

#[test]
fn request_floods_are_rejected_and_memory_stays_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "f.bin",
        8 << 20,
        "64KiB",
        &dead_tracker(),
    );
    let ih = info_hash(&torrent);
    let (mut seed_proc, addr) = seed(
        &torrent,
        &tmp.path().join("seed"),
        &["--up", "4MiB/s"],
        tmp.path(),
    );
    let mut w = Wire::new(TcpStream::connect(addr).unwrap());
    w.handshake(ih);
    w.send(&[Message::Interested]);
    while !matches!(w.recv(), Some(Message::Unchoke) | None) {}
    // Every block of the torrent, 512 distinct requests, sent at once; the seed queues at most
    // 250 (engine-core's max_queued_requests) and rejects the rest (BEP 6).
    let reqs: Vec<Message> = (0..128u32)
        .flat_map(|i| {
            (0..4u32).map(move |b| {
                Message::Request(BlockRequest {
                    index: i,
                    begin: b * 16384,
                    length: 16384,
                })
            })
        })
        .collect();
    w.send(&reqs);
    let (mut pieces, mut rejects) = (0, 0);
    let end = Instant::now() + Duration::from_secs(20);
    while pieces + rejects < reqs.len() && Instant::now() < end {
        match w.recv() {
            Some(Message::Piece { .. }) => pieces += 1,
            Some(Message::RejectRequest(_)) => rejects += 1,
            Some(_) => {}
            None => break,
        }
    }
    assert!(rejects > 0, "no request rejected ({pieces} pieces)");
    assert_eq!(
        pieces + rejects,
        reqs.len(),
        "every request is served or rejected"
    );
    assert!(seed_proc.is_running());
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", seed_proc.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap())
        })
        .unwrap();
    assert!(rss_kib < 100 * 1024, "seed RSS {rss_kib} KiB");
}
