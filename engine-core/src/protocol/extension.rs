//! BEP 10 extended handshake, and the payload of our seniority incentive extension.
//!
//! The seniority weight is a float in `[1, e]`. Bencode has no floats, so it travels as the
//! decimal text Rust's `{}` produces for an `f64`, which parses back to the identical value.

use crate::protocol::bencode::{self, Options, Value};
use std::collections::BTreeMap;

/// Name under which the seniority extension is advertised in the handshake's `m` dictionary.
pub const SENIORITY_EXT_NAME: &str = "bt_seniority";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtError {
    #[error(transparent)]
    Bencode(#[from] bencode::BencodeError),
    #[error("extension payload is not a dictionary")]
    NotADict,
    #[error("extension field {key:?}: {reason}")]
    BadField { key: String, reason: &'static str },
    #[error("seniority value {0:?} is not a finite non-negative number")]
    BadSeniority(String),
}

fn bad(key: &str, reason: &'static str) -> ExtError {
    ExtError::BadField {
        key: key.to_owned(),
        reason,
    }
}

/// The extended handshake (extended message id 0). Unknown keys are ignored, as BEP 10 asks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtHandshake {
    /// Extension name → the message id the sender wants to receive it under; 0 disables it.
    pub m: BTreeMap<String, u8>,
    /// Client name and version.
    pub v: Option<String>,
    /// The sender's listen port.
    pub p: Option<u16>,
    /// How many outstanding requests the sender accepts.
    pub reqq: Option<u32>,
    /// Size of the info dictionary (BEP 9), for fetching metadata from peers.
    pub metadata_size: Option<u64>,
    /// The sender's seniority weight (our extension).
    pub seniority: Option<f64>,
}

impl ExtHandshake {
    /// The id the peer asked us to use for extension `name`, if it enabled it.
    pub fn id_of(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    pub fn to_payload(&self) -> Vec<u8> {
        let m = Value::dict(
            self.m
                .iter()
                .map(|(k, &id)| (k.as_bytes(), Value::Int(id.into()))),
        );
        let mut d = vec![("m", m)];
        if let Some(v) = &self.v {
            d.push(("v", Value::bytes(v.as_bytes())));
        }
        if let Some(p) = self.p {
            d.push(("p", Value::Int(p.into())));
        }
        if let Some(reqq) = self.reqq {
            d.push(("reqq", Value::Int(reqq.into())));
        }
        if let Some(size) = self.metadata_size {
            // Sizes beyond i64 are not real; saturate rather than wrap to a negative size.
            d.push((
                "metadata_size",
                Value::Int(i64::try_from(size).unwrap_or(i64::MAX)),
            ));
        }
        if let Some(s) = self.seniority {
            d.push(("seniority", Value::bytes(s.to_string())));
        }
        Value::dict(d).to_bytes()
    }

    /// Parses a peer's handshake. Key order is not enforced: real clients get it wrong.
    pub fn from_payload(payload: &[u8]) -> Result<Self, ExtError> {
        let top = bencode::decode_with(payload, &Options::lenient())?;
        let d = top.as_dict().ok_or(ExtError::NotADict)?;
        let mut hs = ExtHandshake::default();
        if let Some(m) = d.get(&b"m"[..]) {
            let m = m.as_dict().ok_or_else(|| bad("m", "not a dictionary"))?;
            for (name, id) in m {
                let name = std::str::from_utf8(name).map_err(|_| bad("m", "name is not UTF-8"))?;
                let id = id
                    .as_int()
                    .and_then(|i| u8::try_from(i).ok())
                    .ok_or_else(|| bad(&format!("m.{name}"), "not an id in 0..=255"))?;
                hs.m.insert(name.to_owned(), id);
            }
        }
        let int = |key: &'static str| match d.get(key.as_bytes()) {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .map(Some)
                .ok_or_else(|| bad(key, "not an integer")),
        };
        let range =
            |key: &'static str| move |_: std::num::TryFromIntError| bad(key, "out of range");
        // The client name is informational, so tolerate non-UTF-8 rather than drop the peer.
        hs.v = match d.get(&b"v"[..]) {
            None => None,
            Some(v) => {
                let b = v.as_bytes().ok_or_else(|| bad("v", "not a string"))?;
                Some(String::from_utf8_lossy(b).into_owned())
            }
        };
        hs.p = int("p")?
            .map(u16::try_from)
            .transpose()
            .map_err(range("p"))?;
        hs.reqq = int("reqq")?
            .map(u32::try_from)
            .transpose()
            .map_err(range("reqq"))?;
        hs.metadata_size = int("metadata_size")?
            .map(u64::try_from)
            .transpose()
            .map_err(range("metadata_size"))?;
        hs.seniority = match d.get(&b"seniority"[..]) {
            None => None,
            Some(v) => Some(parse_seniority(v, "seniority")?),
        };
        Ok(hs)
    }
}

/// Payload of a `bt_seniority` message: `{"v": "<decimal>"}`. The caller passes a finite,
/// non-negative weight; anything else is rejected by the receiver.
pub fn seniority_payload(value: f64) -> Vec<u8> {
    Value::dict([("v", Value::bytes(value.to_string()))]).to_bytes()
}

pub fn parse_seniority_payload(payload: &[u8]) -> Result<f64, ExtError> {
    let top = bencode::decode_with(payload, &Options::lenient())?;
    let v = top.get("v").ok_or_else(|| bad("v", "missing"))?;
    parse_seniority(v, "v")
}

/// Range checks beyond sign and finiteness belong to the incentive policy, not the codec.
fn parse_seniority(v: &Value<'_>, key: &'static str) -> Result<f64, ExtError> {
    let text = v.as_str().ok_or_else(|| bad(key, "not a UTF-8 string"))?;
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x.is_sign_positive() => Ok(x),
        _ => Err(ExtError::BadSeniority(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_typical_handshake() {
        // Unsorted keys and unknown fields, as real clients send.
        let payload = b"d1:v13:qBittorrent 41:md11:ut_metadatai3e6:ut_pexi1e12:bt_seniorityi7ee\
                        4:reqqi500e1:pi6881e6:yourip4:\x7f\0\0\x0113:metadata_sizei31235e\
                        9:seniority17:2.718281828459045e";
        let hs = ExtHandshake::from_payload(payload).expect("valid");
        assert_eq!(hs.v.as_deref(), Some("qBittorrent 4"));
        assert_eq!(hs.id_of("ut_metadata"), Some(3));
        assert_eq!(hs.id_of(SENIORITY_EXT_NAME), Some(7));
        assert_eq!(hs.id_of("lt_donthave"), None);
        assert_eq!(
            (hs.p, hs.reqq, hs.metadata_size),
            (Some(6881), Some(500), Some(31235))
        );
        assert_eq!(hs.seniority, Some(std::f64::consts::E));
    }

    #[test]
    fn zero_id_means_disabled() {
        let hs = ExtHandshake::from_payload(b"d1:md6:ut_pexi0eee").expect("valid");
        assert_eq!(hs.m.get("ut_pex"), Some(&0));
        assert_eq!(hs.id_of("ut_pex"), None);
    }

    #[test]
    fn bad_types_are_errors() {
        let err = |p: &[u8]| ExtHandshake::from_payload(p).expect_err("should fail");
        assert_eq!(err(b"le"), ExtError::NotADict);
        assert_eq!(err(b"d1:mi1ee"), bad("m", "not a dictionary"));
        assert_eq!(
            err(b"d1:md6:ut_pexi256eee"),
            bad("m.ut_pex", "not an id in 0..=255")
        );
        assert_eq!(
            err(b"d1:md6:ut_pex1:xee"),
            bad("m.ut_pex", "not an id in 0..=255")
        );
        assert_eq!(err(b"d1:pi65536ee"), bad("p", "out of range"));
        assert_eq!(err(b"d1:p4:6881e"), bad("p", "not an integer"));
        assert_eq!(
            err(b"d13:metadata_sizei-1ee"),
            bad("metadata_size", "out of range")
        );
        assert_eq!(err(b"d1:vi1ee"), bad("v", "not a string"));
        assert_eq!(
            err(b"d9:seniority3:NaNe"),
            ExtError::BadSeniority("NaN".into())
        );
        assert!(matches!(err(b"d1:m"), ExtError::Bencode(_)));
    }

    #[test]
    fn seniority_message() {
        assert_eq!(seniority_payload(1.5), b"d1:v3:1.5e");
        assert_eq!(parse_seniority_payload(b"d1:v3:1.5e"), Ok(1.5));
        for bad_text in ["NaN", "inf", "-inf", "-1", "-0", "1.5x", ""] {
            let p = Value::dict([("v", Value::bytes(bad_text))]).to_bytes();
            assert!(
                parse_seniority_payload(&p).is_err(),
                "{bad_text:?} accepted"
            );
        }
        assert_eq!(parse_seniority_payload(b"de"), Err(bad("v", "missing")));
        assert_eq!(
            parse_seniority_payload(b"d1:vi1ee"),
            Err(bad("v", "not a UTF-8 string"))
        );
    }

    fn arb_handshake() -> impl Strategy<Value = ExtHandshake> {
        (
            proptest::collection::btree_map("[a-z_]{1,12}", any::<u8>(), 0..5),
            proptest::option::of(".{0,20}"),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(0..=i64::MAX as u64),
            proptest::option::of(0.0f64..1e300),
        )
            .prop_map(|(m, v, p, reqq, metadata_size, seniority)| ExtHandshake {
                m,
                v,
                p,
                reqq,
                metadata_size,
                seniority,
            })
    }

    proptest! {
        #[test]
        fn handshake_round_trips(hs in arb_handshake()) {
            prop_assert_eq!(ExtHandshake::from_payload(&hs.to_payload()), Ok(hs));
        }

        /// The handshake as it travels: extended message 0 in a wire frame.
        #[test]
        fn framed_handshake_round_trips(hs in arb_handshake()) {
            use crate::protocol::wire::{self, Message, DEFAULT_MAX_MESSAGE_LEN};
            let mut frame = Vec::new();
            Message::Extended { id: 0, payload: hs.to_payload().into() }.encode(&mut frame);
            let Ok(Some((Message::Extended { id: 0, payload }, used))) =
                wire::decode(&frame, DEFAULT_MAX_MESSAGE_LEN)
            else {
                return Err(TestCaseError::fail("not an extended handshake frame"));
            };
            prop_assert_eq!(used, frame.len());
            prop_assert_eq!(ExtHandshake::from_payload(&payload), Ok(hs));
        }

        #[test]
        fn seniority_round_trips_exactly(x in 1.0f64..=std::f64::consts::E) {
            prop_assert_eq!(parse_seniority_payload(&seniority_payload(x)), Ok(x));
        }

        #[test]
        fn parsers_are_total(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ExtHandshake::from_payload(&bytes);
            let _ = parse_seniority_payload(&bytes);
        }
    }
}
