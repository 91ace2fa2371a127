//! BitTorrent peer wire codec: the handshake and length-prefixed messages of BEP 3, the Fast
//! extension (BEP 6) and the extension protocol envelope (BEP 10).
//!
//! Decoding is total and bounded: every input yields a message, "need more bytes" or an error,
//! and an oversized or malformed frame is rejected from its header, before its payload arrives,
//! so a hostile peer cannot make us buffer more than [`DEFAULT_MAX_MESSAGE_LEN`] (or the chosen
//! limit) per connection.

use crate::protocol::block::BlockRequest;
use bytes::{Bytes, BytesMut};

/// The protocol string that opens every handshake, after its length byte (19).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// Length of a handshake: 1 + 19 + 8 reserved + 20 info-hash + 20 peer id.
pub const HANDSHAKE_LEN: usize = 68;

/// Default limit on a frame's length prefix: a 128 KiB block (the largest request any client
/// serves; 16 KiB is the norm) plus 16 bytes, which covers the 9-byte `piece` header. It also
/// fits the bitfield of a million-piece torrent and any BEP 9 metadata piece.
pub const DEFAULT_MAX_MESSAGE_LEN: u32 = (1 << 17) + 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("handshake does not start with \"\\x13BitTorrent protocol\"")]
    BadProtocol,
    #[error("message length {len} exceeds limit {max}")]
    TooLong { len: u32, max: u32 },
    #[error("unknown message id {0}")]
    UnknownId(u8),
    #[error("{name} message has length {len}, expected {want}")]
    WrongLength {
        name: &'static str,
        len: u32,
        want: u32,
    },
    #[error("{name} message has length {len}, expected at least {min}")]
    TooShort {
        name: &'static str,
        len: u32,
        min: u32,
    },
}

/// The 68-byte connection preamble.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handshake {
    pub reserved: [u8; 8],
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
}

impl Handshake {
    /// A handshake advertising the Fast extension (BEP 6) and the extension protocol (BEP 10),
    /// both of which we implement.
    pub fn with_fast_and_extensions(info_hash: [u8; 20], peer_id: [u8; 20]) -> Self {
        let mut reserved = [0; 8];
        reserved[5] |= 0x10;
        reserved[7] |= 0x04;
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// BEP 6: reserved bit 0x04 of the last byte.
    pub fn supports_fast(&self) -> bool {
        self.reserved[7] & 0x04 != 0
    }

    /// BEP 10: reserved bit 0x10 of byte 5.
    pub fn supports_extensions(&self) -> bool {
        self.reserved[5] & 0x10 != 0
    }

    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0; HANDSHAKE_LEN];
        out[0] = 19;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash);
        out[48..68].copy_from_slice(&self.peer_id);
        out
    }

    /// Parses a handshake from the start of `buf`, returning it and the bytes used, or `None`
    /// if more bytes are needed. A wrong protocol prefix fails as soon as it is visible.
    pub fn decode(buf: &[u8]) -> Result<Option<(Handshake, usize)>, WireError> {
        let seen = buf.len().min(20);
        let mut want = [19; 20];
        want[1..].copy_from_slice(PROTOCOL);
        if buf[..seen] != want[..seen] {
            return Err(WireError::BadProtocol);
        }
        let Some(head) = buf.first_chunk::<HANDSHAKE_LEN>() else {
            return Ok(None);
        };
        let mut hs = Handshake {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: [0; 20],
        };
        hs.reserved.copy_from_slice(&head[20..28]);
        hs.info_hash.copy_from_slice(&head[28..48]);
        hs.peer_id.copy_from_slice(&head[48..68]);
        Ok(Some((hs, HANDSHAKE_LEN)))
    }
}

/// A peer wire message after the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have {
        index: u32,
    },
    /// Raw BEP 3 bitfield; validate with [`crate::protocol::bitfield::Bitfield::from_bytes`], which knows
    /// the piece count.
    Bitfield(Bytes),
    Request(BlockRequest),
    Piece {
        index: u32,
        begin: u32,
        data: Bytes,
    },
    Cancel(BlockRequest),
    /// DHT port (BEP 5).
    Port(u16),
    SuggestPiece {
        index: u32,
    },
    HaveAll,
    HaveNone,
    RejectRequest(BlockRequest),
    AllowedFast {
        index: u32,
    },
    /// BEP 10: `id` 0 is the extended handshake, others are ids the receiver assigned in it.
    Extended {
        id: u8,
        payload: Bytes,
    },
}

mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST_PIECE: u8 = 0x0D;
    pub const HAVE_ALL: u8 = 0x0E;
    pub const HAVE_NONE: u8 = 0x0F;
    pub const REJECT_REQUEST: u8 = 0x10;
    pub const ALLOWED_FAST: u8 = 0x11;
    pub const EXTENDED: u8 = 20;
}

/// Permitted frame length (id byte included) for a message id.
enum Shape {
    Exact(u32),
    AtLeast(u32),
}

/// Name and permitted length of message `id`, or `UnknownId`.
fn shape(id: u8) -> Result<(&'static str, Shape), WireError> {
    use Shape::*;
    Ok(match id {
        id::CHOKE => ("choke", Exact(1)),
        id::UNCHOKE => ("unchoke", Exact(1)),
        id::INTERESTED => ("interested", Exact(1)),
        id::NOT_INTERESTED => ("not_interested", Exact(1)),
        id::HAVE => ("have", Exact(5)),
        id::BITFIELD => ("bitfield", AtLeast(1)),
        id::REQUEST => ("request", Exact(13)),
        id::PIECE => ("piece", AtLeast(9)),
        id::CANCEL => ("cancel", Exact(13)),
        id::PORT => ("port", Exact(3)),
        id::SUGGEST_PIECE => ("suggest_piece", Exact(5)),
        id::HAVE_ALL => ("have_all", Exact(1)),
        id::HAVE_NONE => ("have_none", Exact(1)),
        id::REJECT_REQUEST => ("reject_request", Exact(13)),
        id::ALLOWED_FAST => ("allowed_fast", Exact(5)),
        id::EXTENDED => ("extended", AtLeast(2)),
        other => return Err(WireError::UnknownId(other)),
    })
}

/// Validates a frame header (length prefix and id) before any of its payload is buffered.
fn check_header(len: u32, id: u8) -> Result<(), WireError> {
    match shape(id)? {
        (name, Shape::Exact(want)) if len != want => {
            Err(WireError::WrongLength { name, len, want })
        }
        (name, Shape::AtLeast(min)) if len < min => Err(WireError::TooShort { name, len, min }),
        _ => Ok(()),
    }
}

impl Message {
    /// The message id, or `None` for keep-alive (which has no id).
    fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have { .. } => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece { .. } => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::SuggestPiece { .. } => id::SUGGEST_PIECE,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::RejectRequest(_) => id::REJECT_REQUEST,
            Message::AllowedFast { .. } => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
        })
    }

    /// A stable lowercase name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self.id().map(shape) {
            Some(Ok((name, _))) => name,
            _ => "keep_alive",
        }
    }

    /// Bytes after the length prefix.
    fn frame_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Port(_) => 3,
            Message::Have { .. } | Message::SuggestPiece { .. } | Message::AllowedFast { .. } => 5,
            Message::Request(_) | Message::Cancel(_) | Message::RejectRequest(_) => 13,
            Message::Bitfield(b) => 1 + b.len(),
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
        }
    }

    /// Encoded size including the 4-byte length prefix.
    pub fn encoded_len(&self) -> usize {
        4 + self.frame_len()
    }

    /// Appends the length-prefixed encoding. Payloads must fit a `u32` prefix; peers will
    /// reject anything near that size anyway.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(&(self.frame_len() as u32).to_be_bytes());
        let Some(id) = self.id() else { return };
        out.push(id);
        match self {
            Message::Have { index }
            | Message::SuggestPiece { index }
            | Message::AllowedFast { index } => out.extend_from_slice(&index.to_be_bytes()),
            Message::Request(r) | Message::Cancel(r) | Message::RejectRequest(r) => {
                for n in [r.index, r.begin, r.length] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
            Message::Piece { index, begin, data } => {
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(&begin.to_be_bytes());
                out.extend_from_slice(data);
            }
            Message::Port(port) => out.extend_from_slice(&port.to_be_bytes()),
            Message::Bitfield(bits) => out.extend_from_slice(bits),
            Message::Extended { id, payload } => {
                out.push(*id);
                out.extend_from_slice(payload);
            }
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
        }
    }
}

/// Length prefix and, when present, the id byte at the start of `buf`, validated against
/// `max_len` and the id's shape. `Ok(None)` means more bytes are needed to judge.
fn header(buf: &[u8], max_len: u32) -> Result<Option<u32>, WireError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*prefix);
    if len > max_len {
        return Err(WireError::TooLong { len, max: max_len });
    }
    if len > 0 {
        let Some(&id) = buf.get(4) else {
            return Ok(None);
        };
        check_header(len, id)?;
    }
    Ok(Some(len))
}

/// Decodes one message from the start of `buf`, returning it and the bytes used, or `None`
/// if more bytes are needed. Variable-size payloads are copied into exactly-sized [`Bytes`].
pub fn decode(buf: &[u8], max_len: u32) -> Result<Option<(Message, usize)>, WireError> {
    let Some(len) = header(buf, max_len)? else {
        return Ok(None);
    };
    let end = (len as usize).saturating_add(4);
    let Some(frame) = buf.get(4..end) else {
        return Ok(None);
    };
    Ok(Some((parse_frame(frame, Bytes::copy_from_slice)?, end)))
}

/// Decodes one message from the front of `buf` and removes its bytes. Variable-size payloads
/// share `buf`'s allocation instead of being copied: for drivers that read into a [`BytesMut`].
pub fn decode_bytes(buf: &mut BytesMut, max_len: u32) -> Result<Option<Message>, WireError> {
    let Some(len) = header(buf, max_len)? else {
        return Ok(None);
    };
    let end = (len as usize).saturating_add(4);
    if buf.len() < end {
        return Ok(None);
    }
    let frame = buf.split_to(end).freeze().slice(4..);
    parse_frame(&frame, |s| frame.slice_ref(s)).map(Some)
}

/// Parses a complete frame (id and payload, without the length prefix); `to_bytes` turns a
/// sub-slice of `frame` into the message's owned payload.
fn parse_frame(frame: &[u8], to_bytes: impl Fn(&[u8]) -> Bytes) -> Result<Message, WireError> {
    let Some((&id, payload)) = frame.split_first() else {
        return Ok(Message::KeepAlive);
    };
    // `header` has already checked this for complete frames; repeat it so this stays total.
    check_header(frame.len() as u32, id)?;
    let u32_at = |i: usize| {
        payload
            .get(i..)
            .and_then(|s| s.first_chunk())
            .map_or(0, |b| u32::from_be_bytes(*b))
    };
    let block = || BlockRequest {
        index: u32_at(0),
        begin: u32_at(4),
        length: u32_at(8),
    };
    Ok(match id {
        id::CHOKE => Message::Choke,
        id::UNCHOKE => Message::Unchoke,
        id::INTERESTED => Message::Interested,
        id::NOT_INTERESTED => Message::NotInterested,
        id::HAVE => Message::Have { index: u32_at(0) },
        id::BITFIELD => Message::Bitfield(to_bytes(payload)),
        id::REQUEST => Message::Request(block()),
        id::PIECE => Message::Piece {
            index: u32_at(0),
            begin: u32_at(4),
            data: to_bytes(payload.get(8..).unwrap_or_default()),
        },
        id::CANCEL => Message::Cancel(block()),
        id::PORT => Message::Port(payload.first_chunk().map_or(0, |b| u16::from_be_bytes(*b))),
        id::SUGGEST_PIECE => Message::SuggestPiece { index: u32_at(0) },
        id::HAVE_ALL => Message::HaveAll,
        id::HAVE_NONE => Message::HaveNone,
        id::REJECT_REQUEST => Message::RejectRequest(block()),
        id::ALLOWED_FAST => Message::AllowedFast { index: u32_at(0) },
        id::EXTENDED => Message::Extended {
            id: payload.first().copied().unwrap_or_default(),
            payload: to_bytes(payload.get(1..).unwrap_or_default()),
        },
        other => return Err(WireError::UnknownId(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_block() -> impl Strategy<Value = BlockRequest> {
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| BlockRequest {
            index,
            begin,
            length,
        })
    }

    fn arb_bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from)
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        prop_oneof![
            Just(Message::KeepAlive),
            Just(Message::Choke),
            Just(Message::Unchoke),
            Just(Message::Interested),
            Just(Message::NotInterested),
            any::<u32>().prop_map(|index| Message::Have { index }),
            arb_bytes().prop_map(Message::Bitfield),
            arb_block().prop_map(Message::Request),
            (any::<u32>(), any::<u32>(), arb_bytes())
                .prop_map(|(index, begin, data)| Message::Piece { index, begin, data }),
            arb_block().prop_map(Message::Cancel),
            any::<u16>().prop_map(Message::Port),
            any::<u32>().prop_map(|index| Message::SuggestPiece { index }),
            Just(Message::HaveAll),
            Just(Message::HaveNone),
            arb_block().prop_map(Message::RejectRequest),
            any::<u32>().prop_map(|index| Message::AllowedFast { index }),
            (any::<u8>(), arb_bytes()).prop_map(|(id, payload)| Message::Extended { id, payload }),
        ]
    }

    fn encode_all(msgs: &[Message]) -> Vec<u8> {
        let mut out = Vec::new();
        msgs.iter().for_each(|m| m.encode(&mut out));
        out
    }

    /// Feeds `stream` in the given chunks, as a socket driver would, decoding greedily.
    fn decode_chunked(stream: &[u8], cuts: &[usize]) -> Result<Vec<Message>, WireError> {
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([&stream.len()]) {
            buf.extend_from_slice(&stream[from..to]);
            from = to;
            while let Some((m, used)) = decode(&buf, DEFAULT_MAX_MESSAGE_LEN)? {
                got.push(m);
                buf.drain(..used);
            }
        }
        assert!(buf.is_empty(), "leftover bytes");
        Ok(got)
    }

    fn sample_messages() -> Vec<Message> {
        vec![
            Message::KeepAlive,
            Message::Have { index: 7 },
            Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
            Message::Request(BlockRequest {
                index: 1,
                begin: 16384,
                length: 16384,
            }),
            Message::Piece {
                index: 1,
                begin: 0,
                data: Bytes::from_static(b"hello"),
            },
            Message::Port(6881),
            Message::HaveAll,
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            Message::Unchoke,
        ]
    }

    #[test]
    fn known_encodings() {
        let cases: [(Message, &[u8]); 6] = [
            (Message::KeepAlive, &[0, 0, 0, 0]),
            (Message::Interested, &[0, 0, 0, 1, 2]),
            (
                Message::Have { index: 0x0102_0304 },
                &[0, 0, 0, 5, 4, 1, 2, 3, 4],
            ),
            (
                Message::RejectRequest(BlockRequest {
                    index: 1,
                    begin: 2,
                    length: 3,
                }),
                &[0, 0, 0, 13, 0x10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (Message::Port(0x1ae1), &[0, 0, 0, 3, 9, 0x1a, 0xe1]),
            (
                Message::Extended {
                    id: 3,
                    payload: Bytes::from_static(b"x"),
                },
                &[0, 0, 0, 3, 20, 3, b'x'],
            ),
        ];
        for (m, bytes) in cases {
            let mut out = Vec::new();
            m.encode(&mut out);
            assert_eq!(out, bytes, "{}", m.name());
            assert_eq!(m.encoded_len(), bytes.len());
        }
    }

    #[test]
    fn handshake_round_trip_and_flags() {
        let hs = Handshake::with_fast_and_extensions([1; 20], [2; 20]);
        assert!(hs.supports_fast() && hs.supports_extensions());
        let bytes = hs.encode();
        assert_eq!(&bytes[..20], b"\x13BitTorrent protocol");
        assert_eq!(bytes[20..28], [0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        assert_eq!(Handshake::decode(&bytes), Ok(Some((hs, 68))));
        let plain = Handshake {
            reserved: [0; 8],
            ..hs
        };
        assert!(!plain.supports_fast() && !plain.supports_extensions());
        for n in 0..68 {
            assert_eq!(Handshake::decode(&bytes[..n]), Ok(None), "prefix {n}");
        }
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(Handshake::decode(&longer), Ok(Some((hs, 68))));
    }

    #[test]
    fn handshake_wrong_protocol_fails_early() {
        assert_eq!(
            Handshake::decode(b"\x13BitTorrent protocoX"),
            Err(WireError::BadProtocol)
        );
        assert_eq!(
            Handshake::decode(b"GET / HTTP/1.1"),
            Err(WireError::BadProtocol)
        );
        assert_eq!(Handshake::decode(b"\x12"), Err(WireError::BadProtocol));
    }

    #[test]
    fn oversized_prefix_rejected_before_payload_arrives() {
        let e = decode(&[0xff, 0xff, 0xff, 0xff], DEFAULT_MAX_MESSAGE_LEN);
        assert_eq!(
            e,
            Err(WireError::TooLong {
                len: u32::MAX,
                max: DEFAULT_MAX_MESSAGE_LEN
            })
        );
        assert_eq!(
            e.expect_err("too long").to_string(),
            "message length 4294967295 exceeds limit 131088"
        );
        let just_over = (DEFAULT_MAX_MESSAGE_LEN + 1).to_be_bytes();
        assert!(matches!(
            decode(&just_over, DEFAULT_MAX_MESSAGE_LEN),
            Err(WireError::TooLong { .. })
        ));
        // A maximal piece message is fine, and waits for its payload.
        let mut max_piece = DEFAULT_MAX_MESSAGE_LEN.to_be_bytes().to_vec();
        max_piece.push(7);
        assert_eq!(decode(&max_piece, DEFAULT_MAX_MESSAGE_LEN), Ok(None));
        assert_eq!(
            decode(&[0, 0, 0, 9], 8),
            Err(WireError::TooLong { len: 9, max: 8 })
        );
    }

    #[test]
    fn bad_ids_and_lengths_rejected_from_header() {
        assert_eq!(
            decode(&[0, 0, 0, 1, 10], 100),
            Err(WireError::UnknownId(10))
        );
        assert_eq!(
            decode(&[0, 0, 0, 1, 0xff], 100),
            Err(WireError::UnknownId(0xff))
        );
        // Header alone is enough: no payload bytes are present yet.
        assert_eq!(
            decode(&[0, 0, 0, 6, 4], 100),
            Err(WireError::WrongLength {
                name: "have",
                len: 6,
                want: 5
            })
        );
        assert_eq!(
            decode(&[0, 0, 0, 2, 0], 100),
            Err(WireError::WrongLength {
                name: "choke",
                len: 2,
                want: 1
            })
        );
        assert_eq!(
            decode(&[0, 0, 0, 12, 6], 100),
            Err(WireError::WrongLength {
                name: "request",
                len: 12,
                want: 13
            })
        );
        assert_eq!(
            decode(&[0, 0, 0, 8, 7], 100),
            Err(WireError::TooShort {
                name: "piece",
                len: 8,
                min: 9
            })
        );
        assert_eq!(
            decode(&[0, 0, 0, 1, 20], 100),
            Err(WireError::TooShort {
                name: "extended",
                len: 1,
                min: 2
            })
        );
        assert_eq!(
            decode(&[0, 0, 0, 2, 0x0e, 0], 100),
            Err(WireError::WrongLength {
                name: "have_all",
                len: 2,
                want: 1
            })
        );
    }

    #[test]
    fn bitfield_is_carried_raw_and_validated_by_bitfield() {
        use crate::protocol::bitfield::{Bitfield, BitfieldError};
        let (m, used) = decode(&[0, 0, 0, 2, 5, 0xff], 100)
            .expect("ok")
            .expect("complete");
        assert_eq!(used, 6);
        let Message::Bitfield(bits) = m else {
            panic!("not a bitfield: {m:?}")
        };
        assert_eq!(
            Bitfield::from_bytes(&bits, 7),
            Err(BitfieldError::SpareBitsSet { pieces: 7 })
        );
        assert!(Bitfield::from_bytes(&bits, 8).is_ok());
        // An empty bitfield is well-formed on the wire; it is the piece count that rejects it.
        assert_eq!(
            decode(&[0, 0, 0, 1, 5], 100),
            Ok(Some((Message::Bitfield(Bytes::new()), 5)))
        );
    }

    #[test]
    fn chunked_at_every_boundary() {
        let msgs = sample_messages();
        let stream = encode_all(&msgs);
        for cut in 0..=stream.len() {
            assert_eq!(
                decode_chunked(&stream, &[cut]),
                Ok(msgs.clone()),
                "cut at {cut}"
            );
        }
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(decode_chunked(&stream, &every_byte), Ok(msgs));
    }

    #[test]
    fn decode_bytes_shares_the_buffer() {
        let msgs = sample_messages();
        let mut buf = BytesMut::from(&encode_all(&msgs)[..]);
        let mut got = Vec::new();
        while let Some(m) = decode_bytes(&mut buf, DEFAULT_MAX_MESSAGE_LEN).expect("valid") {
            got.push(m);
        }
        assert_eq!(got, msgs);
        assert!(buf.is_empty());
        let mut bad = BytesMut::from(&[0xff, 0, 0, 0][..]);
        assert!(matches!(
            decode_bytes(&mut bad, 1000),
            Err(WireError::TooLong { .. })
        ));
    }

    #[test]
    fn names() {
        assert_eq!(Message::KeepAlive.name(), "keep_alive");
        let r = BlockRequest {
            index: 0,
            begin: 0,
            length: 0,
        };
        assert_eq!(Message::RejectRequest(r).name(), "reject_request");
        assert_eq!(
            Message::Extended {
                id: 1,
                payload: Bytes::new()
            }
            .name(),
            "extended"
        );
    }

    proptest! {
        #[test]
        fn message_round_trips(m in arb_message(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut bytes = Vec::new();
            m.encode(&mut bytes);
            prop_assert_eq!(bytes.len(), m.encoded_len());
            let n = bytes.len();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(decode(&bytes, DEFAULT_MAX_MESSAGE_LEN), Ok(Some((m.clone(), n))));
            for short in 0..n {
                prop_assert_eq!(decode(&bytes[..short], DEFAULT_MAX_MESSAGE_LEN), Ok(None));
            }
            let mut buf = BytesMut::from(&bytes[..]);
            prop_assert_eq!(decode_bytes(&mut buf, DEFAULT_MAX_MESSAGE_LEN), Ok(Some(m)));
            prop_assert_eq!(&buf[..], &tail[..]);
        }

        #[test]
        fn stream_round_trips_in_chunks(
            msgs in proptest::collection::vec(arb_message(), 0..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let stream = encode_all(&msgs);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(decode_chunked(&stream, &cuts), Ok(msgs));
        }

        /// Any input yields a message, "need more" or an error; a message never claims more
        /// bytes than were given, and re-encodes to exactly the bytes it consumed.
        #[test]
        fn decoder_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 0u32..64) {
            if let Ok(Some((m, used))) = decode(&bytes, max) {
                prop_assert!(used <= bytes.len());
                let mut re = Vec::new();
                m.encode(&mut re);
                prop_assert_eq!(&re[..], &bytes[..used]);
            }
            let _ = decode_bytes(&mut BytesMut::from(&bytes[..]), max);
            let _ = Handshake::decode(&bytes);
        }

        #[test]
        fn handshake_round_trips(
            reserved in any::<[u8; 8]>(),
            info_hash in any::<[u8; 20]>(),
            peer_id in any::<[u8; 20]>(),
        ) {
            let hs = Handshake { reserved, info_hash, peer_id };
            prop_assert_eq!(Handshake::decode(&hs.encode()), Ok(Some((hs, HANDSHAKE_LEN))));
        }

        /// Same, starting from valid frames with a corrupted prefix region.
        #[test]
        fn corrupted_headers_are_total(m in arb_message(), at in 0usize..6, byte in any::<u8>()) {
            let mut bytes = Vec::new();
            m.encode(&mut bytes);
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
            if let Ok(Some((m, used))) = decode(&bytes, DEFAULT_MAX_MESSAGE_LEN) {
                prop_assert_eq!(m.encoded_len(), used);
            }
        }
    }
}
