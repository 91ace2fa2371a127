//! BEP 9 `ut_metadata`: fetching a torrent's info dictionary from peers (for magnet links) and
//! serving ours.
//!
//! Messages are a bencoded dictionary (`msg_type`, `piece`, `total_size`) followed, for `data`,
//! by up to 16 KiB of the info dictionary. The [`Fetcher`] is a sans-IO state machine in the
//! shape of [`crate::torrent::Torrent`]: it asks peers that advertise the extension for pieces,
//! retries elsewhere on reject, timeout or disconnect, and once every piece is in asks the
//! driver to hash the result ([`Output::Verify`]); on a mismatch it discards it and blames the
//! peers that sent it.

use bytes::Bytes;

use crate::protocol::bencode::{self, Options, Value};
use crate::time::Duration;

/// Name of the extension in the BEP 10 handshake's `m` dictionary.
pub const EXT_NAME: &str = "ut_metadata";
/// The id we ask peers to send `ut_metadata` messages under (seniority uses 1).
pub const LOCAL_ID: u8 = 2;
/// Every piece but the last is exactly this long (BEP 9).
pub const PIECE_LEN: u32 = 16 * 1024;
/// Largest info dictionary we fetch or accept: real ones are kilobytes to a few MiB, and the
/// limit bounds what a lying `metadata_size` can make us allocate.
pub const MAX_SIZE: u64 = 8 << 20;

/// A request we sent that is not answered within this is given to another peer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer that rejected or timed out is not asked again for this long.
pub const BACKOFF: Duration = Duration::from_secs(5);
/// Requests outstanding per peer.
const MAX_IN_FLIGHT: usize = 4;
/// Failed attempts a peer may share in before it is dropped as a source of bad data.
const MAX_STRIKES: u32 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataMsg {
    Request {
        piece: u32,
    },
    Data {
        piece: u32,
        total_size: u64,
        data: Bytes,
    },
    Reject {
        piece: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("ut_metadata: {0}")]
    Bencode(#[from] bencode::BencodeError),
    #[error("ut_metadata message is not a dictionary")]
    NotADict,
    #[error("ut_metadata field {0:?} is missing or not an integer")]
    Field(&'static str),
    /// BEP 9 asks receivers to ignore unknown types, for future extensions.
    #[error("unknown ut_metadata msg_type {0}")]
    UnknownType(i64),
    #[error("ut_metadata piece {0} is out of range")]
    BadPiece(i64),
    #[error("metadata size {0} is not in 1..={MAX_SIZE}")]
    BadSize(i64),
    #[error("ut_metadata data of {0} bytes exceeds one 16 KiB piece")]
    TooLong(usize),
    #[error("{0} bytes after a ut_metadata message that carries no data")]
    TrailingData(usize),
}

mod msg_type {
    pub const REQUEST: i64 = 0;
    pub const DATA: i64 = 1;
    pub const REJECT: i64 = 2;
}

/// Pieces of a `size`-byte info dictionary.
pub fn piece_count(size: u64) -> u32 {
    size.div_ceil(u64::from(PIECE_LEN)) as u32
}

/// Length of piece `piece` of a `size`-byte info dictionary (0 if out of range).
fn piece_size(size: u64, piece: u32) -> usize {
    let start = u64::from(piece) * u64::from(PIECE_LEN);
    size.saturating_sub(start).min(u64::from(PIECE_LEN)) as usize
}

impl MetadataMsg {
    /// The extended-message payload: the bencoded header, then the data of a `data` message.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, piece) = match self {
            MetadataMsg::Request { piece } => (msg_type::REQUEST, piece),
            MetadataMsg::Data { piece, .. } => (msg_type::DATA, piece),
            MetadataMsg::Reject { piece } => (msg_type::REJECT, piece),
        };
        let mut d = vec![
            ("msg_type", Value::Int(kind)),
            ("piece", Value::Int((*piece).into())),
        ];
        if let MetadataMsg::Data { total_size, .. } = self {
            d.push((
                "total_size",
                Value::Int(i64::try_from(*total_size).unwrap_or(i64::MAX)),
            ));
        }
        let mut out = Value::dict(d).to_bytes();
        if let MetadataMsg::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
        out
    }

    /// Parses a payload, checking only what holds whatever the metadata: piece numbers and
    /// sizes within [`MAX_SIZE`], data at most one piece. The [`Fetcher`] checks the rest.
    pub fn decode(payload: &[u8]) -> Result<MetadataMsg, MetadataError> {
        let (head, used) = bencode::decode_prefix(payload, &Options::lenient())?;
        if head.as_dict().is_none() {
            return Err(MetadataError::NotADict);
        }
        let int = |key: &'static str| {
            head.get(key)
                .and_then(Value::as_int)
                .ok_or(MetadataError::Field(key))
        };
        let kind = int("msg_type")?;
        if !(msg_type::REQUEST..=msg_type::REJECT).contains(&kind) {
            return Err(MetadataError::UnknownType(kind));
        }
        let raw_piece = int("piece")?;
        let piece = u32::try_from(raw_piece)
            .ok()
            .filter(|&p| p < piece_count(MAX_SIZE))
            .ok_or(MetadataError::BadPiece(raw_piece))?;
        let rest = &payload[used..];
        if kind != msg_type::DATA {
            if !rest.is_empty() {
                return Err(MetadataError::TrailingData(rest.len()));
            }
            return Ok(if kind == msg_type::REQUEST {
                MetadataMsg::Request { piece }
            } else {
                MetadataMsg::Reject { piece }
            });
        }
        let raw_size = int("total_size")?;
        let total_size = u64::try_from(raw_size)
            .ok()
            .filter(|s| (1..=MAX_SIZE).contains(s))
            .ok_or(MetadataError::BadSize(raw_size))?;
        if rest.len() > PIECE_LEN as usize {
            return Err(MetadataError::TooLong(rest.len()));
        }
        Ok(MetadataMsg::Data {
            piece,
            total_size,
            data: Bytes::copy_from_slice(rest),
        })
    }
}

/// Our answer to a request for `piece`: its data, or a reject when we have no metadata, the
/// piece does not exist, or the peer already had `served` pieces — twice the whole dictionary
/// is plenty, and the cap stops 30-byte requests from queueing unbounded 16 KiB answers.
pub fn answer(metadata: Option<&[u8]>, piece: u32, served: u32) -> MetadataMsg {
    let Some(m) = metadata else {
        return MetadataMsg::Reject { piece };
    };
    let size = m.len() as u64;
    let len = piece_size(size, piece);
    if len == 0 || served >= 2 * piece_count(size) {
        return MetadataMsg::Reject { piece };
    }
    let start = piece as usize * PIECE_LEN as usize;
    MetadataMsg::Data {
        piece,
        total_size: size,
        data: Bytes::copy_from_slice(&m[start..start + len]),
    }
}

/// Decodes an extended message sent under our `ut_metadata` id; `None` for other ids.
pub fn parse_extended(id: u8, payload: &[u8]) -> Option<Result<MetadataMsg, MetadataError>> {
    (id == LOCAL_ID).then(|| MetadataMsg::decode(payload))
}

mod fetcher;
pub use fetcher::{Fetcher, Input, Output, Rejected};

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
