//! Tracker client: BEP 3 announce over HTTP with BEP 23 compact peers (and dictionary
//! peers), and BEP 15 over UDP ([`udp`]), both answering with one [`Response`].
//!
//! A minimal HTTP/1.0 GET over tokio is enough for trackers and avoids a TLS/HTTP stack;
//! `https://` trackers are reported as unsupported so the caller can skip them.

mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use engine_core::protocol::bencode::{self, Options, Value};
use engine_core::protocol::tracker_proto::{
    event_query_value, parse_compact_peers, parse_compact_peers6,
};
use engine_core::tracker::AnnounceEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest tracker response we read: thousands of peers fit in far less.
const MAX_RESPONSE: u64 = 1 << 20;
/// A tracker that does not answer within this is skipped for this round.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Debug)]
pub struct Request {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: AnnounceEvent,
    pub numwant: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub interval: Duration,
    pub peers: Vec<SocketAddr>,
    pub warning: Option<String>,
}

/// Whether [`announce`] can use the tracker at `url`.
pub fn supported(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("udp://")
}

/// Announces to `url` (`http://` or `udp://`) and returns the tracker's answer.
pub async fn announce(url: &str, req: &Request) -> Result<Response> {
    if url.starts_with("udp://") {
        return udp::announce(url, req).await;
    }
    let full = announce_url(url, req);
    let body = tokio::time::timeout(HTTP_TIMEOUT, http_get(&full))
        .await
        .map_err(|_| anyhow!("no answer within {HTTP_TIMEOUT:?}"))?
        .with_context(|| format!("announce to {url}"))?;
    parse_response(&body).with_context(|| format!("tracker response from {url}"))
}

/// `url` with the announce parameters appended; binary values are percent-encoded byte-wise.
pub fn announce_url(url: &str, r: &Request) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut s = format!(
        "{url}{sep}info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&numwant={}",
        percent_encode(&r.info_hash),
        percent_encode(&r.peer_id),
        r.port,
        r.uploaded,
        r.downloaded,
        r.left,
        r.numwant
    );
    if let Some(e) = event_query_value(r.event) {
        s.push_str("&event=");
        s.push_str(e);
    }
    s
}

/// RFC 3986 unreserved bytes pass through; everything else becomes `%XX`.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Decodes a bencoded announce response (compact or dictionary `peers`, optional `peers6`).
pub fn parse_response(body: &[u8]) -> Result<Response> {
    let v = decode_reply(body)?;
    let interval = v
        .get("interval")
        .and_then(Value::as_int)
        .ok_or_else(|| anyhow!("missing \"interval\""))?;
    let mut peers = Vec::new();
    match v.get("peers") {
        Some(Value::Bytes(b)) => peers.extend(parse_compact_peers(b)?),
        Some(Value::List(list)) => peers.extend(list.iter().filter_map(dict_peer)),
        Some(_) => bail!("\"peers\" is neither a string nor a list"),
        None => {}
    }
    if let Some(b) = v.get("peers6").and_then(Value::as_bytes) {
        peers.extend(parse_compact_peers6(b)?);
    }
    Ok(Response {
        interval: Duration::from_secs(interval.clamp(0, 86_400) as u64),
        peers,
        warning: v
            .get("warning message")
            .and_then(Value::as_bytes)
            .map(|w| String::from_utf8_lossy(w).into_owned()),
    })
}

/// A tracker reply (announce or scrape) as a dictionary; a `failure reason` is an error.
pub fn decode_reply(body: &[u8]) -> Result<Value<'_>> {
    let v = bencode::decode_with(body, &Options::lenient()).context("not bencode")?;
    if v.as_dict().is_none() {
        bail!("response is not a dictionary");
    }
    if let Some(reason) = v.get("failure reason") {
        let text = String::from_utf8_lossy(reason.as_bytes().unwrap_or(b"?"));
        bail!("tracker refused: {text}");
    }
    Ok(v)
}

/// A BEP 3 dictionary peer `{ip, port, peer id}`; entries with a hostname or bad port are
/// skipped rather than failing the whole announce.
fn dict_peer(v: &Value<'_>) -> Option<SocketAddr> {
    let ip = v.get("ip")?.as_str()?.parse().ok()?;
    let port = u16::try_from(v.get("port")?.as_int()?).ok()?;
    Some(SocketAddr::new(ip, port))
}

/// `http://host[:port]/path?query` → (host, port, path-and-query).
fn split_url(url: &str) -> Result<(&str, u16, &str)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("unsupported tracker URL {url:?} (only http:// is supported)"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse().with_context(|| format!("port in {url:?}"))?)
        }
        _ => (authority, 80),
    };
    Ok((
        host.trim_start_matches('[').trim_end_matches(']'),
        port,
        path,
    ))
}

pub async fn http_get(url: &str) -> Result<Vec<u8>> {
    let (host, port, path) = split_url(url)?;
    let mut stream = TcpStream::connect((host, port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: bt/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE + 1)
        .read_to_end(&mut raw)
        .await?;
    if raw.len() as u64 > MAX_RESPONSE {
        bail!("response larger than {MAX_RESPONSE} bytes");
    }
    parse_http(&raw)
}

/// Status check and body extraction for an HTTP/1.x response read to EOF.
fn parse_http(raw: &[u8]) -> Result<Vec<u8>> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("truncated HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + 4..];
    let status = head.lines().next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        bail!("HTTP status {status:?}");
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        dechunk(body)
    } else {
        Ok(body.to_vec())
    }
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("bad chunk header"))?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = b.get(..size).ok_or_else(|| anyhow!("truncated chunk"))?;
        out.extend_from_slice(chunk);
        b = b.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request {
            info_hash: [0xab; 20],
            peer_id: *b"-BT0001-abcdefghijkl",
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: AnnounceEvent::Started,
            numwant: 50,
        }
    }

    #[test]
    fn url_encodes_binary_and_event() {
        let u = announce_url("http://t:1/announce", &req());
        assert!(u.starts_with("http://t:1/announce?info_hash=%AB%AB"), "{u}");
        assert!(u.contains("&peer_id=-BT0001-abcdefghijkl&port=6881"));
        assert!(u.contains("&left=3&compact=1&numwant=50&event=started"));
        let u = announce_url(
            "http://t/a?k=1",
            &Request {
                event: AnnounceEvent::Update,
                ..req()
            },
        );
        assert!(u.starts_with("http://t/a?k=1&info_hash=") && !u.contains("event="));
        assert_eq!(percent_encode(b"a b~\x00"), "a%20b~%00");
    }

    #[test]
    fn parses_compact_and_dict_peers() {
        let compact = b"d8:intervali900e5:peers12:\x7f\0\0\x01\x1a\xe1\x0a\0\0\x02\0\x50e";
        let r = parse_response(compact).unwrap();
        assert_eq!(r.interval, Duration::from_secs(900));
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:6881".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        ];
        assert_eq!(r.peers, want);
        let dict = b"d8:intervali60e5:peersld2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881eed2:ip4:host4:porti1eeee";
        let r = parse_response(dict).unwrap();
        assert_eq!(r.peers, want[..1]);
        let v6 = b"d8:intervali60e5:peers0:6:peers618:\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x1a\xe1e";
        assert_eq!(
            parse_response(v6).unwrap().peers,
            vec!["[::1]:6881".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn reports_failures() {
        let e = parse_response(b"d14:failure reason9:not founde").unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
        assert!(parse_response(b"d5:peers5:abcdee").is_err());
        assert!(parse_response(b"d8:intervali1e5:peers5:abcdee").is_err());
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn http_framing() {
        assert_eq!(split_url("http://h:81/a?b").unwrap(), ("h", 81, "/a?b"));
        assert_eq!(split_url("http://h").unwrap(), ("h", 80, "/"));
        assert_eq!(split_url("http://[::1]:7/x").unwrap(), ("::1", 7, "/x"));
        assert!(split_url("udp://h:1").is_err());
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nde";
        assert_eq!(parse_http(ok).unwrap(), b"de");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1;x\r\nf\r\n0\r\n\r\n";
        assert_eq!(parse_http(chunked).unwrap(), b"def");
        assert!(parse_http(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
    }
}
