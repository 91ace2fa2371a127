//! Magnet links and BEP 9 `ut_metadata` on loopback: `bt download magnet:…` from a libtorrent
//! seeder, libtorrent fetching a magnet from `bt seed`, and hostile metadata peers.

mod session_util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine_core::protocol::extension::ExtHandshake;
use engine_core::protocol::metadata::{self, MetadataMsg};
use engine_core::protocol::metainfo::Metainfo;
use engine_core::protocol::wire::{self, Handshake, Message};
use session_util::*;

fn load(torrent: &Path) -> Metainfo {
    Metainfo::from_bytes(&std::fs::read(torrent).unwrap()).unwrap()
}

fn hex(h: &[u8; 20]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// `bt download LINK -o out --timeout T`, as a child process.
fn download_magnet(link: &str, out: &Path, timeout: &str, extra: &[&str], log_dir: &Path) -> Proc {
    let mut c = bt(&["download", "-v", "--timeout", timeout]);
    c.args(extra).arg("-o").arg(out).arg(link);
    Proc::spawn("magnet-download", c, log_dir)
}

#[test]
fn bt_downloads_a_magnet_from_libtorrent() {
    if skipped(missing_libtorrent()) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let LtSeed {
        proc: lt,
        src,
        torrent,
        port,
    } = lt_seed(tmp.path(), 20 << 20, 5, 16384);
    let meta = load(&torrent);
    // 1280 piece hashes: the metadata spans two BEP 9 pieces.
    assert!(meta.info_raw.len() > metadata::PIECE_LEN as usize);
    let link = format!(
        "magnet:?xt=urn:btih:{}&dn=lt.bin&x.pe=127.0.0.1:{port}",
        hex(&meta.info_hash)
    );
    let out = tmp.path().join("dl");
    let saved = tmp.path().join("saved.torrent");
    let save = ["--save-torrent", saved.to_str().unwrap()];
    let mut dl = download_magnet(&link, &out, "30s", &save, tmp.path());
    let status = dl.wait_for(Duration::from_secs(40));
    assert!(
        status.success(),
        "bt download failed:\n{}\nlibtorrent:\n{}",
        dl.log(),
        lt.log()
    );
    assert!(
        dl.log().contains("bt: metadata of \"lt.bin\""),
        "{}",
        dl.log()
    );
    assert_same_file(&src, &out.join("lt.bin"));
    let saved = load(&saved);
    assert_eq!(saved.info_hash, meta.info_hash);
    assert_eq!(saved.info, meta.info);
}

#[test]
fn libtorrent_downloads_a_magnet_from_bt_seed() {
    if skipped(missing_libtorrent()) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "bt.bin",
        3 << 20,
        "16KiB",
        &dead_tracker(),
    );
    let (mut seed, addr) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    wait_for_log(&mut seed, "magnet link ", Duration::from_secs(10));
    let log = seed.log();
    let link = log
        .split_whitespace()
        .find(|w| w.starts_with("magnet:?"))
        .expect("bt seed prints its magnet link");
    assert!(link.contains(&hex(&load(&torrent).info_hash)), "{link}");
    let out = tmp.path().join("lt");
    std::fs::create_dir_all(&out).unwrap();
    let port = addr.port().to_string();
    let args = [link, out.to_str().unwrap(), &port, "40"];
    let mut lt = Proc::spawn("lt-magnet", python("lt_magnet.py", &args), tmp.path());
    let status = lt.wait_for(Duration::from_secs(50));
    assert!(
        status.success(),
        "libtorrent failed:\n{}\nbt seed:\n{}",
        lt.log(),
        seed.log()
    );
    assert_same_file(&tmp.path().join("seed/bt.bin"), &out.join("bt.bin"));
}

/// How a fake metadata peer misbehaves.
#[derive(Clone, Copy)]
enum Lie {
    /// Serves metadata of the right size whose hash does not match.
    WrongMetadata,
    /// Answers requests with undecodable `ut_metadata` payloads.
    Garbage,
}

/// A hostile peer accepting connections for `info_hash` and advertising `ut_metadata` of
/// `size` bytes. Returns its address and how many of its connections the other side closed.
fn hostile_peer(info_hash: [u8; 20], size: usize, lie: Lie) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let closed = Arc::new(AtomicUsize::new(0));
    let counter = closed.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                if serve_lies(s, info_hash, size, lie).is_some() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (addr, closed)
}

/// Plays the hostile peer on one connection; `Some` once the other side closed it.
fn serve_lies(mut s: TcpStream, info_hash: [u8; 20], size: usize, lie: Lie) -> Option<()> {
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let mut theirs = [0; 68];
    s.read_exact(&mut theirs).ok()?;
    let hs = Handshake::with_fast_and_extensions(info_hash, *b"-XX0000-liar-liar-00");
    s.write_all(&hs.encode()).ok()?;
    let mut ext = ExtHandshake::default();
    ext.m.insert(metadata::EXT_NAME.into(), 3);
    ext.metadata_size = Some(size as u64);
    send(&mut s, 0, ext.to_payload())?;
    let wrong = vec![b'x'; size];
    let mut buf = Vec::new();
    while let Some(msg) = recv(&mut s, &mut buf) {
        let Message::Extended { id: 3, payload } = msg else {
            continue;
        };
        let Ok(MetadataMsg::Request { piece }) = MetadataMsg::decode(&payload) else {
            continue;
        };
        let reply = match lie {
            Lie::WrongMetadata => metadata::answer(Some(&wrong), piece, 0).encode(),
            Lie::Garbage => b"d8:msg_typei1e5:piece".to_vec(),
        };
        send(&mut s, metadata::LOCAL_ID, reply)?;
    }
    Some(())
}

fn send(s: &mut TcpStream, id: u8, payload: Vec<u8>) -> Option<()> {
    let mut out = Vec::new();
    let payload = payload.into();
    Message::Extended { id, payload }.encode(&mut out);
    s.write_all(&out).ok()
}

/// The next message, or `None` once the connection is closed (or silent past its timeout).
fn recv(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Message> {
    loop {
        if let Some((m, n)) = wire::decode(buf, wire::DEFAULT_MAX_MESSAGE_LEN).ok()? {
            buf.drain(..n);
            return Some(m);
        }
        let mut chunk = [0; 65536];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn wrong_metadata_is_rejected_and_its_sender_banned() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "m.bin",
        1 << 20,
        "16KiB",
        &dead_tracker(),
    );
    let meta = load(&torrent);
    let (liar, closed) = hostile_peer(meta.info_hash, meta.info_raw.len(), Lie::WrongMetadata);
    let link = format!("magnet:?xt=urn:btih:{}", hex(&meta.info_hash));
    let liar = liar.to_string();
    // The liar alone: bt discards what it sent, bans it and gives up at the timeout.
    let out = tmp.path().join("alone");
    let mut dl = download_magnet(&link, &out, "5s", &["--peer", &liar], tmp.path());
    let status = dl.wait_for(Duration::from_secs(20));
    let log = dl.log();
    assert!(!status.success(), "downloaded from a liar:\n{log}");
    assert!(log.contains("does not match the info-hash"), "{log}");
    assert!(log.contains("banned"), "{log}");
    assert!(log.contains("gave up after"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "one connection, closed, never retried"
    );
    // With an honest seed beside it, the download completes and verifies.
    let (_seed, good) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let out = tmp.path().join("both");
    let good = good.to_string();
    let args = ["--peer", &liar, "--peer", &good];
    let mut dl = download_magnet(&link, &out, "30s", &args, tmp.path());
    let status = dl.wait_for(Duration::from_secs(40));
    assert!(status.success(), "bt download failed:\n{}", dl.log());
    assert_same_file(&tmp.path().join("seed/m.bin"), &out.join("m.bin"));
}

#[test]
fn garbage_ut_metadata_closes_the_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_torrent(
        &tmp.path().join("seed"),
        "g.bin",
        1 << 20,
        "64KiB",
        &dead_tracker(),
    );
    let meta = load(&torrent);
    // Fetching: a peer answering with garbage is dropped.
    let (liar, closed) = hostile_peer(meta.info_hash, meta.info_raw.len(), Lie::Garbage);
    let link = format!("magnet:?xt=urn:btih:{}", hex(&meta.info_hash));
    let out = tmp.path().join("dl");
    let args = ["--peer", &liar.to_string()];
    let mut dl = download_magnet(&link, &out, "3s", &args, tmp.path());
    assert!(!dl.wait_for(Duration::from_secs(20)).success());
    assert!(closed.load(Ordering::SeqCst) >= 1, "{}", dl.log());
    assert!(dl.log().contains("ut_metadata"), "{}", dl.log());
    assert!(!dl.log().contains("panicked"), "{}", dl.log());
    // Serving: bt seed answers requests, rejects a piece that does not exist, and closes the
    // connection on garbage.
    let (_seed, addr) = seed(&torrent, &tmp.path().join("seed"), &[], tmp.path());
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let hs = Handshake::with_fast_and_extensions(meta.info_hash, *b"-XX0000-garbage-peer");
    s.write_all(&hs.encode()).unwrap();
    let mut theirs = [0; 68];
    s.read_exact(&mut theirs).unwrap();
    let mut buf = Vec::new();
    let ours = loop {
        match recv(&mut s, &mut buf).expect("extended handshake") {
            Message::Extended { id: 0, payload } => break ExtHandshake::from_payload(&payload),
            _ => continue,
        }
    }
    .unwrap();
    assert_eq!(ours.metadata_size, Some(meta.info_raw.len() as u64));
    let id = ours.id_of(metadata::EXT_NAME).expect("ut_metadata offered");
    let mut ext = ExtHandshake::default();
    ext.m.insert(metadata::EXT_NAME.into(), 7);
    send(&mut s, 0, ext.to_payload()).unwrap();
    let mut ask = |s: &mut TcpStream, piece| {
        send(s, id, MetadataMsg::Request { piece }.encode()).unwrap();
        loop {
            if let Message::Extended { id: 7, payload } = recv(s, &mut buf).expect("answer") {
                break MetadataMsg::decode(&payload).unwrap();
            }
        }
    };
    assert_eq!(ask(&mut s, 0), metadata::answer(Some(&meta.info_raw), 0, 0));
    assert_eq!(ask(&mut s, 9), MetadataMsg::Reject { piece: 9 });
    send(&mut s, id, b"\xff\xfe garbage".to_vec()).unwrap();
    while let Some(m) = recv(&mut s, &mut buf) {
        assert!(
            !matches!(m, Message::Extended { id: 7, .. }),
            "answered garbage"
        );
    }
}

/// Ctrl-C while no peer has answered yet ends the metadata phase with a message, not a kill.
#[test]
fn ctrl_c_during_the_metadata_phase_exits_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let nobody = format!("127.0.0.1:{}", free_port());
    let link = "magnet:?xt=urn:btih:86c9bb532b76ff2bad637e61f95bfbf0cd03bfd4";
    let out = tmp.path().join("out");
    let mut p = download_magnet(link, &out, "60s", &["--peer", &nobody], tmp.path());
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while !p.log().contains("fetching metadata") {
        assert!(
            std::time::Instant::now() < end,
            "no start line: {}",
            p.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = p.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = p.wait_for(Duration::from_secs(10));
    assert!(!status.success());
    assert!(
        p.log().contains("interrupted while fetching metadata"),
        "{}",
        p.log()
    );
}
