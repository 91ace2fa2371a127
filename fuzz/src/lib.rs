//! The properties the fuzz targets check, one function per target, each panicking on a
//! violation. They live apart from `libfuzzer-sys` so the stable regression test
//! (`tests/tests/fuzz_regressions.rs`, which includes this file) replays saved inputs
//! through exactly the same checks.

use std::fmt::Write as _;
use std::net::SocketAddr;

use ::scenario::Scenario;
use bytes::BytesMut;
use engine_core::policy::spec::PolicySpec;
use engine_core::protocol::bencode::{self, Options};
use engine_core::protocol::extension::{parse_seniority_payload, seniority_payload, ExtHandshake};
use engine_core::protocol::magnet::MagnetLink;
use engine_core::protocol::metadata::{self, MetadataMsg};
use engine_core::protocol::metainfo::Metainfo;
use engine_core::protocol::tracker_proto::{self, event_query_value, Announce, MAX_SCRAPE_HASHES};
use engine_core::protocol::udp_tracker;
use engine_core::protocol::wire::{
    self, Handshake, Message, DEFAULT_MAX_MESSAGE_LEN, HANDSHAKE_LEN,
};

/// A property: panics if `data` shows a parser breaking it.
pub type Property = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/` file and corpus directory.
pub const TARGETS: &[(&str, Property)] = &[
    ("bencode", bencode),
    ("metainfo", metainfo),
    ("wire", wire),
    ("extension", extension),
    ("metadata", metadata),
    ("magnet", magnet),
    ("tracker_query", tracker_query),
    ("compact_peers", compact_peers),
    ("udp_tracker", udp_tracker),
    ("scenario", scenario),
    ("policy", policy),
];

/// An accepted policy spec prints canonically (every parameter, fixed order) to a string
/// that parses to the same spec and prints the same again.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = text.parse::<PolicySpec>() else {
        return;
    };
    let printed = spec.to_string();
    let again: PolicySpec = printed
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
    assert_eq!(again, spec, "{text:?} → {printed:?}");
    assert_eq!(again.to_string(), printed);
}

/// Accepted input re-encodes to a value that decodes back to itself; strict decoding accepts
/// only canonical bytes; a prefix parse claims no more than it was given and agrees with a
/// full parse of what it claimed; dictionary spans decode to their values.
pub fn bencode(data: &[u8]) {
    for opts in [Options::default(), Options::lenient()] {
        if let Ok(v) = bencode::decode_with(data, &opts) {
            let enc = v.to_bytes();
            assert_eq!(bencode::decode(&enc).as_ref(), Ok(&v));
            if !opts.allow_unsorted_keys {
                assert_eq!(enc, data, "strict decoding accepted non-canonical input");
            }
        }
        if let Ok((v, used)) = bencode::decode_prefix(data, &opts) {
            assert!(used <= data.len());
            assert_eq!(bencode::decode_with(&data[..used], &opts), Ok(v));
        }
        if let Ok(d) = bencode::decode_dict_with_spans(data, &opts) {
            for (v, raw) in d.values() {
                assert_eq!(bencode::decode_with(raw, &opts).as_ref(), Ok(v));
            }
        }
    }
}

/// A parsed torrent survives writing out, both as read (original info bytes) and rebuilt
/// from the typed [`engine_core::protocol::metainfo::Info`]; its geometry is computable.
pub fn metainfo(data: &[u8]) {
    let Ok(m) = Metainfo::from_bytes(data) else {
        return;
    };
    assert_eq!(Metainfo::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    let rebuilt = Metainfo::new(m.info.clone(), m.announce.clone(), m.announce_list.clone());
    let again = Metainfo::from_bytes(&rebuilt.to_bytes()).expect("rebuilt torrent parses");
    assert_eq!(again.info, m.info);
    let from_info = Metainfo::from_info(&m.info_raw, &[]).expect("info alone parses");
    assert_eq!(
        (from_info.info, from_info.info_hash),
        (m.info.clone(), m.info_hash)
    );
    let pieces = m.info.geometry().num_pieces();
    assert_eq!(pieces as usize, m.info.pieces.len());
}

/// The first byte picks the frame limit (so small limits get exercised), the rest is a byte
/// stream decoded greedily as a connection would. Every decoded message re-encodes to exactly
/// the bytes it consumed, `decode_bytes` agrees with `decode`, and a stream that stalls
/// (`None`) is a true prefix of a frame. A handshake decodes only from its 68 bytes.
pub fn wire(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let max = if sel & 0x80 == 0 {
        DEFAULT_MAX_MESSAGE_LEN
    } else {
        u32::from(sel & 0x7f)
    };
    if let Ok(Some((hs, used))) = Handshake::decode(rest) {
        assert_eq!(used, HANDSHAKE_LEN);
        assert_eq!(hs.encode()[..], rest[..used]);
    }
    // One shared buffer for `decode_bytes`, consumed alongside `rest`: copying the rest per
    // message would make long streams of tiny frames quadratic.
    let mut buf = BytesMut::from(rest);
    loop {
        let res = wire::decode(rest, max);
        let shared = wire::decode_bytes(&mut buf, max);
        match res {
            Ok(Some((m, used))) => {
                assert!(used <= rest.len() && used == m.encoded_len());
                let mut enc = Vec::new();
                m.encode(&mut enc);
                assert_eq!(enc, rest[..used]);
                assert_eq!(shared, Ok(Some(m.clone())));
                assert_eq!(buf.len(), rest.len() - used);
                if let Message::Extended { id: 0, payload } = &m {
                    extension(payload);
                }
                rest = &rest[used..];
            }
            Ok(None) => {
                assert_eq!(shared, Ok(None));
                assert_eq!(buf[..], rest[..]);
                // The header said more is coming: it must fit the limit.
                if let Some(len) = rest.get(..4) {
                    let len = u32::from_be_bytes(len.try_into().expect("4 bytes"));
                    assert!(len <= max && 4 + len as usize > rest.len());
                }
                return;
            }
            Err(e) => {
                assert_eq!(shared, Err(e));
                return;
            }
        }
    }
}

/// A parsed extended handshake or seniority payload writes out to one that parses equal.
pub fn extension(data: &[u8]) {
    if let Ok(hs) = ExtHandshake::from_payload(data) {
        assert_eq!(ExtHandshake::from_payload(&hs.to_payload()), Ok(hs));
    }
    if let Ok(x) = parse_seniority_payload(data) {
        assert!(x.is_finite() && x >= 0.0);
        assert_eq!(parse_seniority_payload(&seniority_payload(x)), Ok(x));
    }
}

/// The first byte is the extended message id: only ours is parsed. An accepted message
/// respects the BEP 9 bounds and round-trips through `encode`.
pub fn metadata(data: &[u8]) {
    let Some((&id, payload)) = data.split_first() else {
        return;
    };
    let Some(res) = metadata::parse_extended(id, payload) else {
        assert_ne!(id, metadata::LOCAL_ID);
        return;
    };
    let Ok(msg) = res else {
        return;
    };
    if let MetadataMsg::Data {
        total_size, data, ..
    } = &msg
    {
        assert!((1..=metadata::MAX_SIZE).contains(total_size));
        assert!(data.len() <= metadata::PIECE_LEN as usize);
    }
    assert_eq!(MetadataMsg::decode(&msg.encode()), Ok(msg));
}

/// A parsed link prints to a URI that parses to the same link.
pub fn magnet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(link) = MagnetLink::parse(text) {
        assert_eq!(MagnetLink::parse(&link.to_uri()), Ok(link));
    }
}

/// An accepted announce has a usable port and prints, fully escaped, to a query that parses
/// to the same announce; an accepted scrape is sorted, deduplicated and bounded.
pub fn tracker_query(data: &[u8]) {
    if let Ok(a) = Announce::parse(data) {
        assert_ne!(a.port, 0);
        assert_eq!(Announce::parse(announce_query(&a).as_bytes()), Ok(a));
    }
    if let Ok(hashes) = tracker_proto::scrape_hashes(data) {
        assert!(hashes.len() <= MAX_SCRAPE_HASHES);
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
    }
}

/// Every field of `a`, binary ones escaped byte by byte.
fn announce_query(a: &Announce) -> String {
    let esc = |b: &[u8]| {
        b.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "%{b:02x}");
            s
        })
    };
    // The spelling `bt`'s announce client sends, so the property also checks it parses back.
    let event = event_query_value(a.event).unwrap_or("");
    let fields = [
        ("info_hash", esc(&a.info_hash)),
        ("peer_id", esc(&a.peer_id)),
        ("port", a.port.to_string()),
        ("uploaded", a.uploaded.to_string()),
        ("downloaded", a.downloaded.to_string()),
        ("left", a.left.to_string()),
        ("event", event.to_string()),
        ("compact", u8::from(a.compact).to_string()),
        ("no_peer_id", u8::from(a.no_peer_id).to_string()),
    ];
    let numwant = a.numwant.map(|n| ("numwant", n.to_string()));
    let pairs: Vec<String> = fields
        .into_iter()
        .chain(numwant)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.join("&")
}

/// Both compact forms accept exactly the whole multiples of their entry size, one peer per
/// entry, and encoding gives back the input in the right field.
pub fn compact_peers(data: &[u8]) {
    type Parse = fn(&[u8]) -> Result<Vec<SocketAddr>, tracker_proto::CompactPeersError>;
    let forms: [(Parse, usize); 2] = [
        (tracker_proto::parse_compact_peers, 6),
        (tracker_proto::parse_compact_peers6, 18),
    ];
    for (parse, stride) in forms {
        let parsed = parse(data);
        assert_eq!(parsed.is_ok(), data.len() % stride == 0);
        if let Ok(peers) = parsed {
            assert_eq!(peers.len(), data.len() / stride);
            let (v4, v6) = tracker_proto::encode_compact_peers(peers);
            let (own, other) = if stride == 6 { (v4, v6) } else { (v6, v4) };
            assert_eq!((own.as_slice(), other.len()), (data, 0));
        }
    }
}

/// A datagram decodes as a BEP 15 request, or a response in either address family, or is
/// refused; what decodes re-encodes to bytes that decode to the same message, and a request
/// re-encodes to a prefix of the input but for the fields decoding normalises (the ignored
/// `ip`, and negative `num_want`s all meaning "default").
pub fn udp_tracker(data: &[u8]) {
    use udp_tracker::{Request, Response};
    if let Ok(r) = Request::decode(data) {
        let again = r.encode();
        assert_eq!(Request::decode(&again).as_ref(), Ok(&r));
        let normalised = |i: usize| match &r {
            Request::Announce { announce, .. } => {
                (84..88).contains(&i) || announce.numwant.is_none() && (92..96).contains(&i)
            }
            _ => false,
        };
        assert!(again.len() <= data.len());
        assert!((0..again.len()).all(|i| again[i] == data[i] || normalised(i)));
    }
    for v6 in [false, true] {
        if let Ok(r) = Response::decode(data, v6) {
            assert_eq!(Response::decode(&r.encode(v6), v6), Ok(r));
        }
    }
}

/// Loading returns Ok or Err, never panics. A loaded scenario expands to a bounded number
/// of nodes with positive capacities, and its resolved TOML loads back to the same
/// configuration.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sc) = Scenario::parse("fuzz", text, &[]) else {
        return;
    };
    let toml = sc.to_toml();
    let again = Scenario::parse("resolved", &toml, &[]).expect("resolved scenario loads");
    assert_eq!(again.to_toml(), toml);
    let nodes = sc.nodes();
    assert!(nodes.len() <= 200_000);
    // Every node gets a real capacity, whatever distribution its group names.
    assert!(nodes
        .iter()
        .all(|n| n.upload.is_finite() && n.upload > 0.0 && n.download > 0.0));
}
