//! `bt tracker` under abuse, in small: its caps hold under random announces, idle and
//! trickling connections are closed after the header timeout, one host cannot take every
//! connection, a good client is served meanwhile, and silent peers expire. (`bt bench
//! tracker-abuse` is the full-size version, with memory and rates.)

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{announce_query, get, wait_for, Http, TrackerProc};
use engine_core::protocol::bencode::{decode, Value};

/// `(torrents, peers per torrent)` from a full scrape.
fn scrape_all(addr: SocketAddr) -> Vec<i64> {
    let (_, body) = get(addr, "/scrape");
    let v = decode(&body).unwrap();
    let files = v.get("files").unwrap().as_dict().unwrap();
    files
        .values()
        .map(|f| {
            let n = |k| f.get(k).and_then(Value::as_int).unwrap();
            n("complete") + n("incomplete")
        })
        .collect()
}

#[test]
fn caps_hold_under_random_announces() {
    let mut t = TrackerProc::start(&[
        "--max-torrents",
        "20",
        "--max-peers-per-torrent",
        "5",
        "--max-peers",
        "60",
    ]);
    let mut c = Http::connect(t.addr);
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut rand = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut answered, mut refused) = (0, 0);
    for i in 0..3000 {
        let mut hash = [0u8; 20];
        hash[0] = (rand() % 40) as u8;
        let id: [u8; 20] = std::array::from_fn(|_| rand() as u8);
        let left = rand() % 2;
        let (status, body) = c.get(&announce_query(&hash, &id, 6881, left));
        assert_eq!(status, 200);
        let v = decode(&body).expect("bencoded reply");
        match v.get("failure reason").and_then(Value::as_str) {
            Some(r) => {
                assert!(r.contains("full"), "{r}");
                refused += 1;
            }
            None => answered += 1,
        }
        if i % 500 == 0 {
            let swarms = scrape_all(t.addr);
            assert!(swarms.len() <= 20, "{} torrents", swarms.len());
            assert!(swarms.iter().all(|&n| n <= 5), "{swarms:?}");
            assert!(swarms.iter().sum::<i64>() <= 60, "{swarms:?}");
        }
    }
    let swarms = scrape_all(t.addr);
    // Random peers fill every cap: the global one binds first (20 × 5 > 60).
    assert_eq!(swarms.iter().sum::<i64>(), 60, "{swarms:?}");
    assert!(swarms.len() <= 20 && swarms.iter().all(|&n| n <= 5));
    assert_eq!(answered, 60, "only the admitted peers got answers");
    assert_eq!(refused, 3000 - 60);
    t.assert_alive();
}

/// A connection from source address `ip` (any of 127/8 reaches the tracker).
fn connect_from(ip: [u8; 4], to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let s = rt
        .block_on(async {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), 0))?;
            s.connect(to).await
        })
        .unwrap()
        .into_std()
        .unwrap();
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// How long until the tracker closes `s` (reads until EOF or reset).
fn time_to_close(s: &mut TcpStream, trickle: bool) -> Duration {
    let t = Instant::now();
    let mut buf = [0u8; 1024];
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    loop {
        if trickle && s.write_all(b"G").is_err() {
            return t.elapsed();
        }
        match s.read(&mut buf) {
            Ok(0) => return t.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return t.elapsed(),
        }
        assert!(t.elapsed() < Duration::from_secs(5), "connection held open");
    }
}

/// How long one announce from 127.0.0.2 on a fresh connection takes to be answered; panics
/// if it is not.
fn good_announce(to: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut s = connect_from([127, 0, 0, 2], to);
    let q = announce_query(&[0x60; 20], b"-GOOD01-goodclient01", 6881, 1);
    s.write_all(format!("GET {q} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut chunk) {
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(10).any(|w| w == b"8:interval") {
            return start.elapsed();
        }
    }
    panic!("no answer: {}", String::from_utf8_lossy(&buf));
}

#[test]
fn idle_connections_time_out_and_cannot_lock_out_good_clients() {
    let mut t = TrackerProc::start(&[
        "--header-timeout",
        "1",
        "--max-connections",
        "40",
        "--max-connections-per-ip",
        "8",
    ]);
    // One host opens more than its share: the extra connection is closed at once.
    let mut idle: Vec<_> = (0..8)
        .map(|_| connect_from([127, 0, 0, 1], t.addr))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = connect_from([127, 0, 0, 1], t.addr);
    assert!(time_to_close(&mut extra, false) < Duration::from_millis(500));
    // Many hosts together, below the global cap: a good client is still served at once.
    idle.extend((0..30).map(|i| connect_from([127, 1, 0, 1 + i / 8], t.addr)));
    let took = good_announce(t.addr);
    assert!(took < Duration::from_millis(500), "{took:?}");
    // Idle and trickling connections are closed after the header timeout, not before.
    let waited = time_to_close(&mut idle[0], false);
    assert!(waited < Duration::from_secs(2), "idle for {waited:?}");
    let mut trickle = connect_from([127, 0, 0, 9], t.addr);
    let held = time_to_close(&mut trickle, true);
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(2)).contains(&held),
        "trickling connection held {held:?}"
    );
    // Every connection slot taken by idle hosts: a good client waits at most the timeout.
    let _hog: Vec<_> = (0..40)
        .map(|i| connect_from([127, 2, 0, 1 + i / 8], t.addr))
        .collect();
    let took = good_announce(t.addr);
    assert!(took < Duration::from_secs(3), "{took:?}");
    t.assert_alive();
}

#[test]
fn silent_peers_expire() {
    // Interval 1 s: a peer is dropped 3 s after its last announce (2 intervals + 1 s grace).
    let t = TrackerProc::start(&["--interval", "1"]);
    let (_, body) = get(
        t.addr,
        &announce_query(&[7; 20], b"-AA0001-aaaaaaaaaaaa", 7001, 1),
    );
    assert!(decode(&body).unwrap().get("interval").is_some());
    assert_eq!(scrape_all(t.addr), [1]);
    let start = Instant::now();
    assert!(wait_for(Duration::from_secs(8), || scrape_all(t.addr).is_empty()));
    assert!(start.elapsed() > Duration::from_secs(2), "expired early");
}
