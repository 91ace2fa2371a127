//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=NAME&tr=URL&x.pe=HOST:PORT`.
//!
//! Only what a v1 download needs is kept: the info-hash (40 hex digits or 32 base32 letters),
//! the display name, trackers and peer addresses. Unknown parameters are ignored, as the format
//! is open-ended; values are percent-decoded (`+` is a space, as libtorrent reads it).

/// A parsed magnet link. Peers stay `HOST:PORT` text: resolving names is the driver's job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MagnetLink {
    pub info_hash: [u8; 20],
    /// `dn`: a name to show until the metadata arrives.
    pub name: Option<String>,
    /// `tr` (and numbered `tr.N`), in order.
    pub trackers: Vec<String>,
    /// `x.pe`: peers to dial directly.
    pub peers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    #[error("not a magnet link (expected \"magnet:?\")")]
    NotAMagnet,
    #[error("magnet link has no xt=urn:btih: parameter")]
    MissingHash,
    #[error("magnet link has more than one xt=urn:btih: parameter")]
    DuplicateHash,
    #[error("info-hash {0:?} is neither 40 hex digits nor 32 base32 letters")]
    BadHash(String),
    #[error("bad percent escape in parameter {0:?}")]
    BadEscape(String),
    #[error("parameter {0:?} is not UTF-8 after percent-decoding")]
    NotUtf8(String),
    #[error("more than one dn parameter")]
    DuplicateName,
}

const BTIH: &str = "urn:btih:";

impl MagnetLink {
    pub fn parse(uri: &str) -> Result<MagnetLink, MagnetError> {
        let query = uri
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
            .map(|_| &uri[8..])
            .ok_or(MagnetError::NotAMagnet)?;
        let mut link = MagnetLink::default();
        let mut hash = None;
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = param.split_once('=').unwrap_or((param, ""));
            let value = || decode_value(key, raw);
            match key {
                "xt" => {
                    let v = value()?;
                    let Some(h) = v
                        .get(..BTIH.len())
                        .filter(|p| p.eq_ignore_ascii_case(BTIH))
                        .map(|_| &v[BTIH.len()..])
                    else {
                        continue; // another URN (btmh: BEP 52, ed2k…): not ours
                    };
                    if hash.is_some() {
                        return Err(MagnetError::DuplicateHash);
                    }
                    hash = Some(parse_hash(h).ok_or_else(|| MagnetError::BadHash(h.to_owned()))?);
                }
                "dn" if link.name.is_some() => return Err(MagnetError::DuplicateName),
                "dn" => link.name = Some(value()?),
                "x.pe" => link.peers.push(value()?),
                k if k == "tr" || k.starts_with("tr.") => link.trackers.push(value()?),
                _ => {}
            }
        }
        link.info_hash = hash.ok_or(MagnetError::MissingHash)?;
        Ok(link)
    }

    /// The link as text, hex info-hash and every value percent-encoded, so that
    /// [`MagnetLink::parse`] gives it back.
    pub fn to_uri(&self) -> String {
        let hex: String = self.info_hash.iter().map(|b| format!("{b:02x}")).collect();
        let mut s = format!("magnet:?xt={BTIH}{hex}");
        let params = self
            .name
            .iter()
            .map(|n| ("dn", n))
            .chain(self.trackers.iter().map(|t| ("tr", t)))
            .chain(self.peers.iter().map(|p| ("x.pe", p)));
        for (key, value) in params {
            s.push('&');
            s.push_str(key);
            s.push('=');
            for &b in value.as_bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    s.push(b as char);
                } else {
                    s.push_str(&format!("%{b:02X}"));
                }
            }
        }
        s
    }
}

fn decode_value(key: &str, raw: &str) -> Result<String, MagnetError> {
    let bytes = percent_decode(raw).ok_or_else(|| MagnetError::BadEscape(key.to_owned()))?;
    String::from_utf8(bytes).map_err(|_| MagnetError::NotUtf8(key.to_owned()))
}

/// `%XX` escapes and `+` as space; `None` on a truncated or non-hex escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'%' => {
                let hi = (bytes.next()? as char).to_digit(16)?;
                let lo = (bytes.next()? as char).to_digit(16)?;
                (hi * 16 + lo) as u8
            }
            b'+' => b' ',
            b => b,
        });
    }
    Some(out)
}

/// 40 hex digits, or 32 letters of RFC 4648 base32 (case-insensitive, no padding).
fn parse_hash(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    match s.len() {
        40 => {
            for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
                let pair = std::str::from_utf8(pair).ok()?;
                // from_str_radix accepts a leading '+', which is not a hex digit.
                if !pair.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                *o = u8::from_str_radix(pair, 16).ok()?;
            }
        }
        32 => {
            // 32 letters × 5 bits = 160 bits, exactly 20 bytes.
            let mut acc: u64 = 0;
            let mut bits = 0;
            let mut at = 0;
            for c in s.bytes() {
                let v = match c.to_ascii_uppercase() {
                    c @ b'A'..=b'Z' => c - b'A',
                    c @ b'2'..=b'7' => c - b'2' + 26,
                    _ => return None,
                };
                acc = (acc << 5) | u64::from(v);
                bits += 5;
                if bits >= 8 {
                    bits -= 8;
                    out[at] = (acc >> bits) as u8;
                    at += 1;
                }
            }
        }
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEX: &str = "d53b157ccc637a6bfd2c1c82fba54261e34eb5af";

    fn hash() -> [u8; 20] {
        parse_hash(HEX).unwrap()
    }

    fn base32(h: &[u8; 20]) -> String {
        const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut bits = 0u64;
        let mut n = 0;
        let mut s = String::new();
        for &b in h {
            bits = (bits << 8) | u64::from(b);
            n += 8;
            while n >= 5 {
                n -= 5;
                s.push(A[((bits >> n) & 31) as usize] as char);
            }
        }
        s
    }

    #[test]
    fn parses_a_full_link() {
        let uri = format!(
            "magnet:?xt=urn:btih:{HEX}&dn=My+File%20%C3%A9.bin&tr=http%3A%2F%2Ft.example%2Fann\
             &tr.1=udp://u.example:80&x.pe=127.0.0.1:6881&x.pe=[::1]:7000&ws=http://x&so=0-1"
        );
        let m = MagnetLink::parse(&uri).expect("valid");
        assert_eq!(m.info_hash, hash());
        assert_eq!(m.name.as_deref(), Some("My File é.bin"));
        assert_eq!(m.trackers, ["http://t.example/ann", "udp://u.example:80"]);
        assert_eq!(m.peers, ["127.0.0.1:6881", "[::1]:7000"]);
    }

    #[test]
    fn base32_and_case() {
        let b32 = base32(&hash());
        assert_eq!(b32.len(), 32);
        for uri in [
            format!("magnet:?xt=urn:btih:{b32}"),
            format!("MAGNET:?xt=URN:BTIH:{}", b32.to_lowercase()),
            format!("magnet:?xt=urn:btih:{}", HEX.to_uppercase()),
        ] {
            assert_eq!(MagnetLink::parse(&uri).map(|m| m.info_hash), Ok(hash()));
        }
    }

    #[test]
    fn errors() {
        let err = |s: &str| MagnetLink::parse(s).expect_err(s);
        assert_eq!(err("http://x"), MagnetError::NotAMagnet);
        assert_eq!(err("magnet:"), MagnetError::NotAMagnet);
        assert_eq!(err("magnet:?dn=x"), MagnetError::MissingHash);
        assert_eq!(
            err("magnet:?xt=urn:btmh:1220abcd"),
            MagnetError::MissingHash
        );
        assert_eq!(
            err(&format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{HEX}")),
            MagnetError::DuplicateHash
        );
        assert_eq!(
            err("magnet:?xt=urn:btih:abc"),
            MagnetError::BadHash("abc".into())
        );
        let plus = format!("+{}", &HEX[1..]);
        assert!(matches!(
            err(&format!("magnet:?xt=urn:btih:{plus}")),
            MagnetError::BadHash(_)
        ));
        assert!(matches!(
            err(&format!("magnet:?xt=urn:btih:{}", "1".repeat(32))),
            MagnetError::BadHash(_)
        ));
        assert_eq!(
            err(&format!("magnet:?xt=urn:btih:{HEX}&dn=%4")),
            MagnetError::BadEscape("dn".into())
        );
        assert_eq!(
            err(&format!("magnet:?xt=urn:btih:{HEX}&tr=%zz")),
            MagnetError::BadEscape("tr".into())
        );
        assert_eq!(
            err(&format!("magnet:?xt=urn:btih:{HEX}&dn=%FF")),
            MagnetError::NotUtf8("dn".into())
        );
        assert_eq!(
            err(&format!("magnet:?xt=urn:btih:{HEX}&dn=a&dn=b")),
            MagnetError::DuplicateName
        );
    }

    proptest! {
        #[test]
        fn parse_is_total(s in ".{0,200}") {
            let _ = MagnetLink::parse(&s);
            let _ = MagnetLink::parse(&format!("magnet:?{s}"));
            let _ = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{s}"));
        }

        #[test]
        fn round_trips(
            info_hash in any::<[u8; 20]>(),
            name in proptest::option::of(".{0,30}"),
            trackers in proptest::collection::vec(".{0,40}", 0..4),
            peers in proptest::collection::vec("[a-z0-9.:\\[\\]]{1,30}", 0..4),
        ) {
            let link = MagnetLink { info_hash, name, trackers, peers };
            prop_assert_eq!(MagnetLink::parse(&link.to_uri()), Ok(link.clone()));
            let b32 = link.to_uri().replacen(
                &link.to_uri()[20..60],
                &base32(&info_hash),
                1,
            );
            prop_assert_eq!(MagnetLink::parse(&b32), Ok(link));
        }
    }
}
