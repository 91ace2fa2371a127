//! `bt tracker` over real loopback HTTP: announces, scrapes, and hostile input.

mod common;

use common::{announce_query, esc, get, Http, TrackerProc};
use engine_core::protocol::bencode::{decode, Value};

fn field<'a>(v: &'a Value<'a>, k: &str) -> &'a Value<'a> {
    v.get(k).unwrap_or_else(|| panic!("no {k:?} in {v:?}"))
}

fn failure_reason(body: &[u8]) -> String {
    let v = decode(body).unwrap_or_else(|e| panic!("not bencode ({e}): {body:?}"));
    field(&v, "failure reason").as_str().unwrap().to_owned()
}

const HASH: [u8; 20] = *b"\x00\x01\xfe\xff%&=+ ?#abcdefghi";

#[test]
fn announce_and_scrape_with_compact_and_dict_peers() {
    let t = TrackerProc::start(&["--interval", "120"]);
    let mut c = Http::connect(t.addr);
    let (status, body) = c.get(&announce_query(&HASH, b"-AA0001-aaaaaaaaaaaa", 7001, 0));
    assert_eq!(status, 200);
    let v = decode(&body).unwrap();
    assert_eq!(field(&v, "interval").as_int(), Some(120));
    assert_eq!(field(&v, "complete").as_int(), Some(1));
    assert_eq!(field(&v, "peers").as_bytes(), Some(&b""[..]));

    // Same keep-alive connection: the leecher sees the seed in compact form (BEP 23).
    let (_, body) =
        c.get(&(announce_query(&HASH, b"-BB0001-bbbbbbbbbbbb", 7002, 500) + "&event=started"));
    let v = decode(&body).unwrap();
    assert_eq!(
        field(&v, "peers").as_bytes(),
        Some(&[127, 0, 0, 1, 0x1b, 0x59][..])
    );
    assert_eq!(field(&v, "incomplete").as_int(), Some(1));

    let (_, body) =
        c.get(&(announce_query(&HASH, b"-BB0001-bbbbbbbbbbbb", 7002, 500) + "&compact=0"));
    let v = decode(&body).unwrap();
    let peers = field(&v, "peers").as_list().unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(field(&peers[0], "ip").as_str(), Some("127.0.0.1"));
    assert_eq!(field(&peers[0], "port").as_int(), Some(7001));
    assert_eq!(
        field(&peers[0], "peer id").as_bytes(),
        Some(&b"-AA0001-aaaaaaaaaaaa"[..])
    );
    let (_, body) = c.get(
        &(announce_query(&HASH, b"-BB0001-bbbbbbbbbbbb", 7002, 500) + "&compact=0&no_peer_id=1"),
    );
    let v = decode(&body).unwrap();
    assert!(field(&v, "peers").as_list().unwrap()[0]
        .get("peer id")
        .is_none());

    let other = [7u8; 20];
    get(
        t.addr,
        &announce_query(&other, b"-CC0001-cccccccccccc", 7003, 1),
    );
    let (_, body) = get(
        t.addr,
        &format!(
            "/scrape?info_hash={}&info_hash={}",
            esc(&HASH),
            esc(&[9; 20])
        ),
    );
    let v = decode(&body).unwrap();
    let files = field(&v, "files").as_dict().unwrap();
    let ours = &files[&HASH[..]];
    assert_eq!(field(ours, "complete").as_int(), Some(1));
    assert_eq!(field(ours, "incomplete").as_int(), Some(1));
    assert_eq!(field(&files[&[9u8; 20][..]], "complete").as_int(), Some(0));
    assert!(!files.contains_key(&other[..]));
    // No info_hash: every torrent.
    let (_, body) = get(t.addr, "/scrape");
    assert_eq!(
        field(&decode(&body).unwrap(), "files")
            .as_dict()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn stopped_removes_the_peer_and_completed_counts_a_download() {
    let t = TrackerProc::start(&[]);
    let a = b"-AA0001-aaaaaaaaaaaa";
    let b = b"-BB0001-bbbbbbbbbbbb";
    get(
        t.addr,
        &(announce_query(&HASH, a, 7001, 10) + "&event=started"),
    );
    get(
        t.addr,
        &(announce_query(&HASH, b, 7002, 10) + "&event=started"),
    );
    get(
        t.addr,
        &(announce_query(&HASH, a, 7001, 0) + "&event=completed"),
    );
    let (_, body) = get(
        t.addr,
        &(announce_query(&HASH, b, 7002, 10) + "&event=stopped"),
    );
    let v = decode(&body).unwrap();
    assert_eq!(field(&v, "peers").as_bytes(), Some(&b""[..]));
    let (_, body) = get(t.addr, &format!("/scrape?info_hash={}", esc(&HASH)));
    let v = decode(&body).unwrap();
    let counts = &field(&v, "files").as_dict().unwrap()[&HASH[..]];
    assert_eq!(field(counts, "complete").as_int(), Some(1));
    assert_eq!(field(counts, "incomplete").as_int(), Some(0));
    assert_eq!(field(counts, "downloaded").as_int(), Some(1));
    // A new leecher gets only the remaining seed.
    let (_, body) = get(
        t.addr,
        &announce_query(&HASH, b"-CC0001-cccccccccccc", 7003, 10),
    );
    let v = decode(&body).unwrap();
    assert_eq!(
        field(&v, "peers").as_bytes(),
        Some(&[127, 0, 0, 1, 0x1b, 0x59][..])
    );
}

#[test]
fn malformed_requests_get_bencoded_failures_and_the_server_keeps_serving() {
    let mut t = TrackerProc::start(&[]);
    let good = announce_query(&HASH, b"-AA0001-aaaaaaaaaaaa", 7001, 1);
    let cases: Vec<(String, &str)> = vec![
        (
            "/announce?peer_id=-AA0001-aaaaaaaaaaaa&port=1&left=0".into(),
            "missing info_hash",
        ),
        (
            good.replace(&esc(&HASH), "tooshort"),
            "info_hash must be 20 bytes, got 8",
        ),
        (
            good.replace(&esc(&HASH), &(esc(&HASH) + "%00")),
            "info_hash must be 20 bytes, got 21",
        ),
        (
            good.replace(&esc(&HASH), "%G1%ZZ"),
            "invalid percent-escape",
        ),
        (
            good.replace("port=7001", "port=99999"),
            "port must be 1-65535",
        ),
        (
            good.replace("left=1", "left=lots"),
            "left is not a valid number",
        ),
        (good.clone() + "&event=exploded", "unknown event"),
        (
            good.clone() + "&info_hash=" + &esc(&HASH),
            "info_hash given more than once",
        ),
        (
            format!("/announce?{}", "%FF%00garbage&&&==&".repeat(30)),
            "missing info_hash",
        ),
        ("/unknown?x=1".into(), "unknown path"),
        (
            format!(
                "/scrape?{}",
                vec![format!("info_hash={}", esc(&HASH)); 65].join("&")
            ),
            "too many info_hash",
        ),
        (
            format!("{good}&pad={}", "x".repeat(20_000)),
            "request too large",
        ),
    ];
    let mut c = Http::connect(t.addr);
    for (target, want) in &cases {
        let (status, body) = c.get(target);
        assert_eq!(status, 200, "{target}");
        let reason = failure_reason(&body);
        assert!(reason.contains(want), "{target}: {reason:?} lacks {want:?}");
    }
    let (status, body) = c
        .send_raw(b"POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert_eq!(
        (status, failure_reason(&body).as_str()),
        (200, "only GET is supported")
    );

    // Not HTTP at all, or heads beyond the size cap: the connection is refused or closed
    // (hyper answers 4xx or hangs up), and the server carries on.
    let raw: [&[u8]; 3] = [
        b"GET /announce?info_hash=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        &[b'A'; 200_000],
    ];
    for req in raw {
        if let Some((status, _)) = Http::connect(t.addr).send_raw(req) {
            assert!((400..500).contains(&status), "{status}");
        }
    }
    let huge = format!("/announce?{}", "a".repeat(100_000));
    if let Some((status, _)) = Http::connect(t.addr).get_raw(huge.as_bytes()) {
        assert!((400..500).contains(&status), "{status}");
    }

    t.assert_alive();
    let (status, body) = get(t.addr, &good);
    assert_eq!(status, 200);
    assert!(decode(&body).unwrap().get("interval").is_some());
}

#[test]
fn allow_list_and_caps() {
    let dir = tempfile::TempDir::new().unwrap();
    let list = dir.path().join("allow.txt");
    std::fs::write(
        &list,
        format!("# allowed\n{}\n\n", common::hex(&HASH).to_uppercase()),
    )
    .unwrap();
    let t = TrackerProc::start(&[
        "--allow-list",
        list.to_str().unwrap(),
        "--max-peers-per-torrent",
        "2",
    ]);
    let (_, body) = get(
        t.addr,
        &announce_query(&[1; 20], b"-AA0001-aaaaaaaaaaaa", 7001, 1),
    );
    assert!(failure_reason(&body).contains("allow-list"));
    for (i, id) in [b"-AA0001-aaaaaaaaaaaa", b"-BB0001-bbbbbbbbbbbb"]
        .iter()
        .enumerate()
    {
        let (_, body) = get(t.addr, &announce_query(&HASH, id, 7001 + i as u16, 1));
        assert!(decode(&body).unwrap().get("failure reason").is_none());
    }
    let (_, body) = get(
        t.addr,
        &announce_query(&HASH, b"-CC0001-cccccccccccc", 7003, 1),
    );
    assert_eq!(failure_reason(&body), "swarm is full (2 peers)");

    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "not-a-hash\n").unwrap();
    let err = common::bt_err(&["tracker", "--allow-list", bad.to_str().unwrap()]);
    assert!(err.contains("bad.txt:1"), "{err}");
}
