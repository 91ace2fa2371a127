//! HTTP tracker protocol parsing, free of I/O so both the tracker and the client (and the
//! fuzzers) share it: announce and scrape query strings, and BEP 23 / BEP 7 compact peers.
//!
//! `info_hash` and `peer_id` are arbitrary binary, percent-encoded byte by byte, so the query
//! is decoded as bytes and never as UTF-8. Every input yields a value or a [`QueryError`] whose
//! text becomes the bencoded `failure reason`; nothing here panics.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::tracker::AnnounceEvent;

/// Most info-hashes one scrape may ask for; bounds the work and the response size.
pub const MAX_SCRAPE_HASHES: usize = 64;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{field} must be 20 bytes, got {len}")]
    BadLength { field: &'static str, len: usize },
    #[error("invalid percent-escape in query")]
    BadEscape,
    #[error("{0} is not a valid number")]
    BadNumber(&'static str),
    #[error("port must be 1-65535")]
    BadPort,
    #[error("unknown event {0:?}")]
    BadEvent(String),
    #[error("{0} given more than once")]
    Duplicate(&'static str),
    #[error("too many info_hash values (at most {MAX_SCRAPE_HASHES})")]
    TooManyHashes,
}

use QueryError as E;

/// One `/announce` request (BEP 3, with BEP 23 `compact` and `no_peer_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: AnnounceEvent,
    pub numwant: Option<usize>,
    /// Compact peer strings unless the client sent `compact=0`.
    pub compact: bool,
    pub no_peer_id: bool,
}

impl Announce {
    /// A compact announce of nothing transferred yet, at the tracker's default numwant; other
    /// fields by struct update.
    pub fn new(
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        port: u16,
        left: u64,
        event: AnnounceEvent,
    ) -> Announce {
        Announce {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left,
            event,
            numwant: None,
            compact: true,
            no_peer_id: true,
        }
    }

    /// Parses the raw query (the bytes after `?`). Unknown keys (`key`, `supportcrypto`, ...)
    /// are ignored as every tracker does; `uploaded` and `downloaded` default to 0.
    pub fn parse(query: &[u8]) -> Result<Announce, QueryError> {
        let mut info_hash = None;
        let mut peer_id = None;
        let mut port = None;
        let (mut uploaded, mut downloaded, mut left) = (None, None, None);
        let mut event = None;
        let mut numwant = None;
        let mut compact = true;
        let mut no_peer_id = false;
        for (k, v) in pairs(query) {
            match &*decode(k)? {
                b"info_hash" => set(&mut info_hash, "info_hash", id20("info_hash", v)?)?,
                b"peer_id" => set(&mut peer_id, "peer_id", id20("peer_id", v)?)?,
                b"port" => {
                    let p = number("port", v)?;
                    let p = u16::try_from(p)
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or(E::BadPort)?;
                    set(&mut port, "port", p)?;
                }
                b"uploaded" => set(&mut uploaded, "uploaded", number("uploaded", v)?)?,
                b"downloaded" => set(&mut downloaded, "downloaded", number("downloaded", v)?)?,
                b"left" => set(&mut left, "left", number("left", v)?)?,
                b"event" => set(&mut event, "event", parse_event(v)?)?,
                b"numwant" => {
                    let n = number("numwant", v)?;
                    set(
                        &mut numwant,
                        "numwant",
                        usize::try_from(n).unwrap_or(usize::MAX),
                    )?;
                }
                b"compact" => compact = &*decode(v)? != b"0",
                b"no_peer_id" => no_peer_id = &*decode(v)? != b"0",
                _ => {}
            }
        }
        Ok(Announce {
            info_hash: info_hash.ok_or(E::Missing("info_hash"))?,
            peer_id: peer_id.ok_or(E::Missing("peer_id"))?,
            port: port.ok_or(E::Missing("port"))?,
            uploaded: uploaded.unwrap_or(0),
            downloaded: downloaded.unwrap_or(0),
            left: left.ok_or(E::Missing("left"))?,
            event: event.unwrap_or(AnnounceEvent::Update),
            numwant,
            compact,
            no_peer_id,
        })
    }
}

/// The info-hashes of a `/scrape` query, sorted and deduplicated; empty means "all".
pub fn scrape_hashes(query: &[u8]) -> Result<Vec<[u8; 20]>, QueryError> {
    let mut out = Vec::new();
    for (k, v) in pairs(query) {
        if &*decode(k)? == b"info_hash" {
            if out.len() == MAX_SCRAPE_HASHES {
                return Err(E::TooManyHashes);
            }
            out.push(id20("info_hash", v)?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `key=value` pairs split on `&`, still percent-encoded; a pair without `=` has an empty value.
fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &p[p.len()..]),
        })
}

/// Percent-decodes `raw`. `+` stays `+`: clients escape binary bytes, and reading `+` as a
/// space would corrupt a hash sent by a client that left it unescaped.
fn decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, QueryError> {
    if !raw.contains(&b'%') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = raw.get(i + 1).and_then(|&c| hex_val(c));
            let lo = raw.get(i + 2).and_then(|&c| hex_val(c));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(E::BadEscape);
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(Cow::Owned(out))
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn id20(field: &'static str, raw: &[u8]) -> Result<[u8; 20], QueryError> {
    let v = decode(raw)?;
    <[u8; 20]>::try_from(&*v).map_err(|_| E::BadLength {
        field,
        len: v.len(),
    })
}

/// A decimal `u64`; some clients send a leading `-` for "unknown" uploaded counts, which is
/// refused like any other non-number.
fn number(field: &'static str, raw: &[u8]) -> Result<u64, QueryError> {
    let v = decode(raw)?;
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return Err(E::BadNumber(field));
    }
    v.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(E::BadNumber(field))
}

/// The `event` query value a client sends for `e` (none for a periodic update); the inverse
/// of what [`Announce::parse`] accepts.
pub fn event_query_value(e: AnnounceEvent) -> Option<&'static str> {
    match e {
        AnnounceEvent::Started => Some("started"),
        AnnounceEvent::Completed => Some("completed"),
        AnnounceEvent::Stopped => Some("stopped"),
        AnnounceEvent::Update => None,
    }
}

fn parse_event(raw: &[u8]) -> Result<AnnounceEvent, QueryError> {
    match &*decode(raw)? {
        b"started" => Ok(AnnounceEvent::Started),
        b"stopped" => Ok(AnnounceEvent::Stopped),
        b"completed" => Ok(AnnounceEvent::Completed),
        b"" | b"empty" | b"paused" => Ok(AnnounceEvent::Update),
        other => Err(E::BadEvent(
            String::from_utf8_lossy(other).chars().take(32).collect(),
        )),
    }
}

fn set<T>(slot: &mut Option<T>, field: &'static str, v: T) -> Result<(), QueryError> {
    if slot.replace(v).is_some() {
        return Err(E::Duplicate(field));
    }
    Ok(())
}

/// A compact peer string whose length is not a whole number of entries.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("compact {field} are {len} bytes, not a multiple of {stride}")]
pub struct CompactPeersError {
    pub field: &'static str,
    pub len: usize,
    pub stride: usize,
}

/// BEP 23 `peers`: 4 address bytes and a big-endian port per peer.
pub fn parse_compact_peers(b: &[u8]) -> Result<Vec<SocketAddr>, CompactPeersError> {
    Ok(compact_entries(b, "peers", 6)?
        .map(|c| {
            let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
            SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be_bytes([c[4], c[5]])))
        })
        .collect())
}

/// BEP 7 `peers6`: 16 address bytes and a big-endian port per peer.
pub fn parse_compact_peers6(b: &[u8]) -> Result<Vec<SocketAddr>, CompactPeersError> {
    Ok(compact_entries(b, "peers6", 18)?
        .map(|c| {
            let mut ip = [0; 16];
            ip.copy_from_slice(&c[..16]);
            let port = u16::from_be_bytes([c[16], c[17]]);
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0))
        })
        .collect())
}

fn compact_entries<'a>(
    b: &'a [u8],
    field: &'static str,
    stride: usize,
) -> Result<std::slice::ChunksExact<'a, u8>, CompactPeersError> {
    if b.len() % stride != 0 {
        return Err(CompactPeersError {
            field,
            len: b.len(),
            stride,
        });
    }
    Ok(b.chunks_exact(stride))
}

/// The compact `peers` and `peers6` strings for `peers`, in their order; IPv6 flow info and
/// scope ids are not part of the format and are dropped.
pub fn encode_compact_peers(peers: impl IntoIterator<Item = SocketAddr>) -> (Vec<u8>, Vec<u8>) {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for addr in peers {
        match addr {
            SocketAddr::V4(s) => {
                v4.extend_from_slice(&s.ip().octets());
                v4.extend_from_slice(&s.port().to_be_bytes());
            }
            SocketAddr::V6(s) => {
                v6.extend_from_slice(&s.ip().octets());
                v6.extend_from_slice(&s.port().to_be_bytes());
            }
        }
    }
    (v4, v6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escape(b: &[u8]) -> String {
        b.iter().map(|b| format!("%{b:02X}")).collect()
    }

    fn query(extra: &str) -> Vec<u8> {
        format!(
            "info_hash={}&peer_id=-BT0001-abcdefghijkl&port=6881&uploaded=0&downloaded=5&left=100{extra}",
            escape(&[0xff; 20])
        )
        .into_bytes()
    }

    #[test]
    fn parses_a_typical_announce() {
        let a = Announce::parse(&query(
            "&event=started&numwant=30&compact=1&key=x&corrupt=0",
        ))
        .unwrap();
        assert_eq!(a.info_hash, [0xff; 20]);
        assert_eq!(&a.peer_id, b"-BT0001-abcdefghijkl");
        assert_eq!((a.port, a.downloaded, a.left), (6881, 5, 100));
        assert_eq!(a.event, AnnounceEvent::Started);
        assert_eq!(a.numwant, Some(30));
        assert!(a.compact && !a.no_peer_id);
        let a = Announce::parse(&query("&compact=0&no_peer_id=1&event=")).unwrap();
        assert!(!a.compact && a.no_peer_id);
        assert_eq!(a.event, AnnounceEvent::Update);
    }

    #[test]
    fn mixed_escaping_and_plus_are_bytes() {
        let q =
            b"info_hash=abcdefghij%00%01%02+%2B56789&peer_id=01234567890123456789&port=1&left=0";
        let a = Announce::parse(q).unwrap();
        assert_eq!(&a.info_hash, b"abcdefghij\0\x01\x02++56789");
    }

    #[test]
    fn rejects_malformed_fields() {
        let cases: &[(&[u8], QueryError)] = &[
            (b"", E::Missing("info_hash")),
            (
                b"info_hash=short",
                E::BadLength {
                    field: "info_hash",
                    len: 5,
                },
            ),
            (b"info_hash=%zz", E::BadEscape),
            (b"info_hash=%4", E::BadEscape),
        ];
        for (q, want) in cases {
            assert_eq!(Announce::parse(q).as_ref(), Err(want), "{q:?}");
        }
        for (extra, want) in [
            ("&port=7", E::Duplicate("port")),
            ("&left=5", E::Duplicate("left")),
        ] {
            assert_eq!(Announce::parse(&query(extra)), Err(want));
        }
        let base = String::from_utf8(query("")).unwrap();
        let without = |k: &str| {
            base.split('&')
                .filter(|p| !p.starts_with(k))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(
            Announce::parse(without("port").as_bytes()),
            Err(E::Missing("port"))
        );
        assert_eq!(
            Announce::parse(without("left").as_bytes()),
            Err(E::Missing("left"))
        );
        let with = |k: &str, v: &str| format!("{}&{k}={v}", without(k)).into_bytes();
        assert_eq!(Announce::parse(&with("port", "0")), Err(E::BadPort));
        assert_eq!(Announce::parse(&with("port", "65536")), Err(E::BadPort));
        assert_eq!(
            Announce::parse(&with("left", "-1")),
            Err(E::BadNumber("left"))
        );
        assert_eq!(
            Announce::parse(&with("left", "99999999999999999999999")),
            Err(E::BadNumber("left"))
        );
        assert_eq!(
            Announce::parse(&with("event", "exploded")),
            Err(E::BadEvent("exploded".into()))
        );
    }

    #[test]
    fn scrape_hashes_sorted_deduplicated_and_capped() {
        let a = escape(&[2; 20]);
        let b = escape(&[1; 20]);
        let q = format!("info_hash={a}&info_hash={b}&info_hash={a}");
        assert_eq!(scrape_hashes(q.as_bytes()), Ok(vec![[1; 20], [2; 20]]));
        assert_eq!(scrape_hashes(b""), Ok(vec![]));
        let many = vec![format!("info_hash={a}"); MAX_SCRAPE_HASHES + 1].join("&");
        assert_eq!(scrape_hashes(many.as_bytes()), Err(E::TooManyHashes));
    }

    #[test]
    fn compact_peers_known_bytes_and_bad_lengths() {
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:6881".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        ];
        let bytes = b"\x7f\0\0\x01\x1a\xe1\x0a\0\0\x02\0\x50";
        assert_eq!(parse_compact_peers(bytes), Ok(want.clone()));
        assert_eq!(encode_compact_peers(want), (bytes.to_vec(), vec![]));
        let e = parse_compact_peers6(&[0; 19]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "compact peers6 are 19 bytes, not a multiple of 18"
        );
        assert_eq!(parse_compact_peers(b""), Ok(vec![]));
    }

    fn arb_addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            any::<([u8; 4], u16)>().prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            any::<([u8; 16], u16)>().prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        ]
    }

    proptest! {
        /// decode ∘ encode = id, with the IPv4 and IPv6 peers split apart in order.
        #[test]
        fn compact_peers_round_trip(peers in proptest::collection::vec(arb_addr(), 0..20)) {
            let (v4, v6) = encode_compact_peers(peers.iter().copied());
            let mut back = parse_compact_peers(&v4).unwrap();
            back.extend(parse_compact_peers6(&v6).unwrap());
            let (mut want4, want6): (Vec<_>, Vec<_>) = peers.into_iter().partition(SocketAddr::is_ipv4);
            want4.extend(want6);
            prop_assert_eq!(back, want4);
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(q in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Announce::parse(&q);
            let _ = scrape_hashes(&q);
        }

        #[test]
        fn never_panics_on_query_like_input(
            parts in proptest::collection::vec(
                ("(info_hash|peer_id|port|left|uploaded|event|numwant|compact|x)",
                 "[%0-9a-fA-F=&+a-z]{0,70}"),
                0..12,
            )
        ) {
            let q: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let q = q.join("&");
            if let Ok(a) = Announce::parse(q.as_bytes()) {
                prop_assert!(a.port != 0);
            }
            let _ = scrape_hashes(q.as_bytes());
        }

        #[test]
        fn escaped_ids_round_trip(hash in any::<[u8; 20]>(), id in any::<[u8; 20]>(), left in any::<u64>()) {
            let q = format!("info_hash={}&peer_id={}&port=1&left={left}", escape(&hash), escape(&id));
            let a = Announce::parse(q.as_bytes()).unwrap();
            prop_assert_eq!((a.info_hash, a.peer_id, a.left), (hash, id, left));
        }
    }
}
