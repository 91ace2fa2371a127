//! BEP 9 `ut_metadata`: fetching a torrent's info dictionary from peers (for magnet links) and
//! serving ours.
//!
//! Messages are a bencoded dictionary (`msg_type`, `piece`, `total_size`) followed, for `data`,
//! by up to 16 KiB of the info dictionary. The [`Fetcher`] is a sans-IO state machine in the
//! shape of [`crate::torrent::Torrent`]: it asks peers that advertise the extension for pieces,
//! retries elsewhere on reject, timeout or disconnect, and once every piece is in asks the
//! driver to hash the result ([`Output::Verify`]); on a mismatch it discards it and blames the
//! peers that sent it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::bencode::{self, Options, Value};
use crate::extension::ExtHandshake;
use crate::time::{Duration, Instant};
use crate::torrent::DisconnectReason;
use crate::wire::Message;
use crate::PeerKey;

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

/// What arrives at the [`Fetcher`].
#[derive(Clone, Debug)]
pub enum Input {
    /// A peer finished the BEP 3 handshake; `extensions`: both sides set the BEP 10 bit.
    Connected {
        peer: PeerKey,
        extensions: bool,
    },
    Disconnected {
        peer: PeerKey,
    },
    /// A message from the peer; all but extended ones are ignored.
    Message {
        peer: PeerKey,
        msg: Message,
    },
    /// The driver's verdict on [`Fetcher::metadata`]: does its SHA-1 equal the info-hash?
    Verified {
        ok: bool,
    },
    Timeout,
}

/// What the [`Fetcher`] wants done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Send {
        peer: PeerKey,
        msg: Message,
    },
    Disconnect {
        peer: PeerKey,
        reason: DisconnectReason,
    },
    /// Every piece is in: hash [`Fetcher::metadata`] and answer with [`Input::Verified`].
    Verify,
}

#[derive(Clone, Debug)]
struct Source {
    /// Its id for `ut_metadata`, once its extended handshake enabled it.
    id: Option<u8>,
    /// The `metadata_size` it advertised.
    size: Option<u64>,
    /// Our outstanding requests to it and when each was sent.
    requests: BTreeMap<u32, Instant>,
    /// Not asked before this (after a reject or a timeout).
    idle_until: Instant,
    /// Failed attempts it sent pieces for.
    strikes: u32,
}

/// Fetches one info dictionary. See the module docs.
#[derive(Debug, Default)]
pub struct Fetcher {
    peers: BTreeMap<PeerKey, Source>,
    /// The size this attempt assumes, taken from a peer's handshake.
    size: Option<u64>,
    /// Received pieces of this attempt and who sent each.
    pieces: Vec<Option<(Bytes, PeerKey)>>,
    /// The whole dictionary, waiting for [`Input::Verified`] or verified.
    assembled: Option<Vec<u8>>,
    complete: bool,
    /// After a failed attempt with several senders, fetch from one peer at a time, so the
    /// next failure names its culprit.
    single_source: bool,
    now: Instant,
    out: VecDeque<Output>,
}

impl Fetcher {
    pub fn new() -> Self {
        Fetcher::default()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When a request times out or a backed-off peer may be asked again.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.assembled.is_some() {
            return None;
        }
        let backoffs = self.peers.values().map(|p| p.idle_until);
        let timeouts = self
            .peers
            .values()
            .flat_map(|p| p.requests.values().map(|&t| t + REQUEST_TIMEOUT));
        backoffs.filter(|&t| t > self.now).chain(timeouts).min()
    }

    /// The assembled info dictionary: to hash after [`Output::Verify`], and the result once
    /// [`Fetcher::is_complete`].
    pub fn metadata(&self) -> Option<&[u8]> {
        self.assembled.as_deref()
    }

    /// The metadata arrived and the driver verified it.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Pieces received of the current attempt, and how many it needs (0 while no peer has
    /// told us the size): for progress reports.
    pub fn progress(&self) -> (u32, u32) {
        let got = self.pieces.iter().filter(|p| p.is_some()).count() as u32;
        (got, self.pieces.len() as u32)
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.now = now;
        if self.complete {
            return;
        }
        match input {
            Input::Connected { peer, extensions } => self.on_connected(now, peer, extensions),
            Input::Disconnected { peer } => self.forget(peer),
            Input::Message { peer, msg } => {
                if let Message::Extended { id, payload } = msg {
                    if self.peers.contains_key(&peer) {
                        self.on_extended(now, peer, id, &payload);
                    }
                }
            }
            Input::Verified { ok } => self.on_verified(ok),
            Input::Timeout => self.on_timeout(now),
        }
        self.schedule(now);
    }

    fn on_connected(&mut self, now: Instant, peer: PeerKey, extensions: bool) {
        if !extensions {
            self.drop_peer(
                peer,
                protocol("no extension protocol (BEP 10), so no metadata"),
            );
            return;
        }
        self.peers.insert(
            peer,
            Source {
                id: None,
                size: None,
                requests: BTreeMap::new(),
                idle_until: now,
                strikes: 0,
            },
        );
        let mut hs = ExtHandshake::default();
        hs.m.insert(EXT_NAME.to_owned(), LOCAL_ID);
        let payload = hs.to_payload().into();
        self.out.push_back(Output::Send {
            peer,
            msg: Message::Extended { id: 0, payload },
        });
    }

    fn on_extended(&mut self, now: Instant, peer: PeerKey, id: u8, payload: &[u8]) {
        if id == 0 {
            match ExtHandshake::from_payload(payload) {
                Ok(hs) => self.on_handshake(peer, &hs),
                Err(e) => self.drop_peer(peer, protocol(e)),
            }
            return;
        }
        match parse_extended(id, payload) {
            None | Some(Err(MetadataError::UnknownType(_))) => {}
            Some(Err(e)) => self.drop_peer(peer, protocol(e)),
            Some(Ok(msg)) => self.on_metadata(now, peer, msg),
        }
    }

    fn on_handshake(&mut self, peer: PeerKey, hs: &ExtHandshake) {
        let size = hs.metadata_size.filter(|&s| s > 0);
        if let Some(s) = size.filter(|&s| s > MAX_SIZE) {
            self.drop_peer(
                peer,
                protocol(format!("metadata_size {s} exceeds {MAX_SIZE}")),
            );
            return;
        }
        let p = self.source(peer);
        p.id = hs.id_of(EXT_NAME);
        // A later handshake may repeat fields or leave them out; keep what we learned.
        p.size = size.or(p.size);
    }

    fn on_metadata(&mut self, now: Instant, peer: PeerKey, msg: MetadataMsg) {
        match msg {
            MetadataMsg::Request { piece } => {
                // We have nothing to serve yet.
                if let Some(id) = self.source(peer).id {
                    let payload = answer(None, piece, 0).encode().into();
                    self.out.push_back(Output::Send {
                        peer,
                        msg: Message::Extended { id, payload },
                    });
                }
            }
            MetadataMsg::Reject { piece } => {
                let p = self.source(peer);
                if p.requests.remove(&piece).is_some() {
                    p.idle_until = now + BACKOFF;
                }
            }
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
                // Late answers to requests we gave up on are dropped: the piece went elsewhere.
                if self.source(peer).requests.remove(&piece).is_none() {
                    return;
                }
                let Some(size) = self.size else { return };
                let want = piece_size(size, piece);
                if total_size != size || data.len() != want {
                    let why = format!(
                        "ut_metadata piece {piece}: {} of {total_size} bytes, expected {want} of {size}",
                        data.len()
                    );
                    self.drop_peer(peer, protocol(why));
                    return;
                }
                let Some(slot) = self.pieces.get_mut(piece as usize) else {
                    return;
                };
                if slot.is_none() {
                    *slot = Some((data, peer));
                }
                if self.pieces.iter().all(Option::is_some) {
                    let whole = self.pieces.iter().flatten().map(|(d, _)| &d[..]);
                    self.assembled = Some(whole.collect::<Vec<_>>().concat());
                    self.out.push_back(Output::Verify);
                }
            }
        }
    }

    fn on_verified(&mut self, ok: bool) {
        if self.assembled.is_none() {
            return;
        }
        if ok {
            self.complete = true;
            return;
        }
        let senders: BTreeSet<PeerKey> = self
            .pieces
            .iter()
            .flatten()
            .map(|&(_, peer)| peer)
            .collect();
        self.assembled = None;
        self.restart();
        let alone = senders.len() == 1;
        for peer in senders {
            let Some(p) = self.peers.get_mut(&peer) else {
                continue; // already gone
            };
            p.strikes += 1;
            if alone || p.strikes >= MAX_STRIKES {
                self.drop_peer(peer, DisconnectReason::BadData);
            }
        }
        self.single_source |= !alone;
    }

    fn on_timeout(&mut self, now: Instant) {
        for p in self.peers.values_mut() {
            let before = p.requests.len();
            p.requests
                .retain(|_, &mut sent| now < sent + REQUEST_TIMEOUT);
            if p.requests.len() != before {
                p.idle_until = now + BACKOFF;
            }
        }
    }

    /// Discards the current attempt, so the next one may assume another size.
    fn restart(&mut self) {
        self.size = None;
        self.pieces.clear();
        for p in self.peers.values_mut() {
            p.requests.clear();
        }
    }

    /// Sends requests for every piece nobody is asked for, to idle peers that advertise the
    /// attempt's size, least busy first.
    fn schedule(&mut self, now: Instant) {
        if self.assembled.is_some() {
            return;
        }
        let usable = |p: &Source, size: u64| p.id.is_some() && p.size == Some(size);
        if let Some(size) = self.size {
            let received = self.pieces.iter().any(Option::is_some);
            if !received && !self.peers.values().any(|p| usable(p, size)) {
                self.restart();
            }
        }
        if self.size.is_none() {
            // Fewest strikes first, so a size nobody has failed with wins.
            let Some(size) = self
                .peers
                .values()
                .filter(|p| p.id.is_some())
                .filter_map(|p| Some((p.strikes, p.size?)))
                .min()
                .map(|(_, s)| s)
            else {
                return;
            };
            self.size = Some(size);
            self.pieces = vec![None; piece_count(size) as usize];
        }
        let Some(size) = self.size else { return };
        let asked: BTreeSet<u32> = self
            .peers
            .values()
            .flat_map(|p| p.requests.keys().copied())
            .collect();
        let missing: Vec<u32> = (0..self.pieces.len() as u32)
            .filter(|&i| self.pieces[i as usize].is_none() && !asked.contains(&i))
            .collect();
        // In single-source mode, the peer already serving this attempt keeps it to itself.
        let mut current = self.single_source.then(|| self.current_source()).flatten();
        for piece in missing {
            let Some((&peer, p)) = self
                .peers
                .iter_mut()
                .filter(|(k, p)| current.is_none_or(|c| c == **k) && usable(p, size))
                .filter(|(_, p)| p.idle_until <= now && p.requests.len() < MAX_IN_FLIGHT)
                .min_by_key(|(_, p)| (p.strikes, p.requests.len()))
            else {
                return;
            };
            p.requests.insert(piece, now);
            let id = p.id.unwrap_or(LOCAL_ID);
            let payload = MetadataMsg::Request { piece }.encode().into();
            self.out.push_back(Output::Send {
                peer,
                msg: Message::Extended { id, payload },
            });
            if self.single_source {
                current = Some(peer);
            }
        }
    }

    /// The peer that sent or is sending pieces of this attempt, if any.
    fn current_source(&self) -> Option<PeerKey> {
        let sender = self.pieces.iter().flatten().map(|&(_, peer)| peer).next();
        let asked = self
            .peers
            .iter()
            .find(|(_, p)| !p.requests.is_empty())
            .map(|(&k, _)| k);
        sender.or(asked)
    }

    /// Forgets a peer; in single-source mode its pieces go too, so an attempt never mixes
    /// senders.
    fn forget(&mut self, peer: PeerKey) {
        self.peers.remove(&peer);
        if self.single_source && self.assembled.is_none() {
            for slot in &mut self.pieces {
                if slot.as_ref().is_some_and(|&(_, p)| p == peer) {
                    *slot = None;
                }
            }
        }
    }

    fn drop_peer(&mut self, peer: PeerKey, reason: DisconnectReason) {
        self.forget(peer);
        self.out.push_back(Output::Disconnect { peer, reason });
    }

    /// Callers check membership first.
    fn source(&mut self, peer: PeerKey) -> &mut Source {
        self.peers.get_mut(&peer).expect("peer checked by caller")
    }
}

fn protocol(what: impl ToString) -> DisconnectReason {
    DisconnectReason::Protocol(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Instant = Instant::ZERO;

    fn meta(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn ext(id: u8, payload: Vec<u8>) -> Message {
        Message::Extended {
            id,
            payload: payload.into(),
        }
    }

    /// A peer's extended handshake offering ut_metadata under id 9.
    fn their_handshake(size: Option<u64>) -> Message {
        let mut hs = ExtHandshake::default();
        hs.m.insert(EXT_NAME.into(), 9);
        hs.metadata_size = size;
        ext(0, hs.to_payload())
    }

    fn join(f: &mut Fetcher, now: Instant, peer: PeerKey, size: u64) {
        f.handle_input(
            now,
            Input::Connected {
                peer,
                extensions: true,
            },
        );
        let msg = their_handshake(Some(size));
        f.handle_input(now, Input::Message { peer, msg });
    }

    fn outputs(f: &mut Fetcher) -> Vec<Output> {
        std::iter::from_fn(|| f.poll_output()).collect()
    }

    /// The pieces requested of each peer, from `outs`.
    fn requests(outs: &[Output]) -> Vec<(PeerKey, u32)> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Send {
                    peer,
                    msg: Message::Extended { id: 9, payload },
                } => match MetadataMsg::decode(payload) {
                    Ok(MetadataMsg::Request { piece }) => Some((*peer, piece)),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    fn reply(f: &mut Fetcher, now: Instant, peer: PeerKey, msg: MetadataMsg) {
        let msg = ext(LOCAL_ID, msg.encode());
        f.handle_input(now, Input::Message { peer, msg });
    }

    /// Answers every request in `outs` with pieces of `m`; returns the new outputs.
    fn serve(f: &mut Fetcher, outs: &[Output], m: &[u8]) -> Vec<Output> {
        for (peer, piece) in requests(outs) {
            reply(f, T0, peer, answer(Some(m), piece, 0));
        }
        outputs(f)
    }

    fn disconnects(outs: &[Output]) -> Vec<(PeerKey, DisconnectReason)> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Disconnect { peer, reason } => Some((*peer, reason.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn codec_examples_from_bep_9() {
        let req = MetadataMsg::Request { piece: 0 };
        assert_eq!(req.encode(), b"d8:msg_typei0e5:piecei0ee");
        let data = MetadataMsg::Data {
            piece: 0,
            total_size: 3425,
            data: Bytes::from_static(b"xyz"),
        };
        assert_eq!(
            data.encode(),
            b"d8:msg_typei1e5:piecei0e10:total_sizei3425eexyz"
        );
        assert_eq!(MetadataMsg::decode(&data.encode()), Ok(data));
        assert_eq!(
            MetadataMsg::decode(b"d8:msg_typei2e5:piecei0ee"),
            Ok(MetadataMsg::Reject { piece: 0 })
        );
    }

    #[test]
    fn codec_rejects_bad_messages() {
        let err = |p: &[u8]| MetadataMsg::decode(p).expect_err("should fail");
        assert_eq!(err(b"le"), MetadataError::NotADict);
        assert!(matches!(err(b"d8:msg_type"), MetadataError::Bencode(_)));
        assert_eq!(err(b"d5:piecei0ee"), MetadataError::Field("msg_type"));
        assert_eq!(err(b"d8:msg_typei0ee"), MetadataError::Field("piece"));
        assert_eq!(
            err(b"d8:msg_typei7e5:piecei0ee"),
            MetadataError::UnknownType(7)
        );
        assert_eq!(
            err(b"d8:msg_typei0e5:piecei-1ee"),
            MetadataError::BadPiece(-1)
        );
        assert_eq!(
            err(b"d8:msg_typei0e5:piecei512ee"),
            MetadataError::BadPiece(512)
        );
        assert_eq!(
            err(b"d8:msg_typei0e5:piecei0eexyz"),
            MetadataError::TrailingData(3)
        );
        assert_eq!(
            err(b"d8:msg_typei1e5:piecei0ee"),
            MetadataError::Field("total_size")
        );
        assert_eq!(
            err(b"d8:msg_typei1e5:piecei0e10:total_sizei8388609ee"),
            MetadataError::BadSize(8388609)
        );
        let mut long = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
        long.extend_from_slice(&[0; 16385]);
        assert_eq!(err(&long), MetadataError::TooLong(16385));
    }

    #[test]
    fn answers_pieces_and_rejects_the_rest() {
        let m = meta(40_000);
        let piece = |p, served| answer(Some(&m), p, served);
        assert!(
            matches!(piece(0, 0), MetadataMsg::Data { ref data, total_size: 40_000, .. } if data.len() == 16384)
        );
        assert!(
            matches!(piece(2, 0), MetadataMsg::Data { ref data, .. } if data[..] == m[32768..])
        );
        assert_eq!(piece(3, 0), MetadataMsg::Reject { piece: 3 });
        assert_eq!(piece(0, 6), MetadataMsg::Reject { piece: 0 });
        assert_eq!(answer(None, 0, 0), MetadataMsg::Reject { piece: 0 });
    }

    #[test]
    fn fetches_from_two_peers_and_verifies() {
        let m = meta(100_000);
        let mut f = Fetcher::new();
        join(&mut f, T0, 1, m.len() as u64);
        join(&mut f, T0, 2, m.len() as u64);
        let outs = outputs(&mut f);
        // Seven pieces: as many as peer 1 may have in flight, the rest from peer 2.
        let asked = requests(&outs);
        assert_eq!(asked.len(), 7);
        assert_eq!(asked.iter().filter(|r| r.0 == 1).count(), MAX_IN_FLIGHT);
        let outs = serve(&mut f, &outs, &m);
        assert_eq!(outs, [Output::Verify]);
        assert_eq!(f.metadata(), Some(&m[..]));
        assert!(!f.is_complete());
        f.handle_input(T0, Input::Verified { ok: true });
        assert!(f.is_complete());
        assert_eq!(f.poll_timeout(), None);
    }

    #[test]
    fn reject_timeout_and_disconnect_move_requests_elsewhere() {
        let m = meta(100);
        let mut f = Fetcher::new();
        join(&mut f, T0, 1, 100);
        assert_eq!(requests(&outputs(&mut f)), [(1, 0)]);
        join(&mut f, T0, 2, 100);
        join(&mut f, T0, 3, 100);
        assert!(requests(&outputs(&mut f)).is_empty(), "piece 0 is asked");
        // Peer 1 rejects: peer 2 is asked.
        reply(&mut f, T0, 1, MetadataMsg::Reject { piece: 0 });
        assert_eq!(requests(&outputs(&mut f)), [(2, 0)]);
        // Peer 2 stays silent: after the timeout, peer 1's backoff is over and it is asked.
        assert_eq!(f.poll_timeout(), Some(T0 + BACKOFF));
        let late = T0 + REQUEST_TIMEOUT;
        f.handle_input(late, Input::Timeout);
        assert_eq!(requests(&outputs(&mut f)), [(1, 0)]);
        // Peer 1 goes away: peer 3 is asked (peer 2 is backing off).
        f.handle_input(late, Input::Disconnected { peer: 1 });
        assert_eq!(requests(&outputs(&mut f)), [(3, 0)]);
        // Peer 2's late answer is ignored; peer 3's completes it.
        reply(&mut f, late, 2, answer(Some(&m), 0, 0));
        assert!(outputs(&mut f).is_empty());
        reply(&mut f, late, 3, answer(Some(&m), 0, 0));
        assert_eq!(outputs(&mut f), [Output::Verify]);
    }

    #[test]
    fn a_bad_sole_sender_is_dropped_and_another_peer_asked() {
        let good = meta(100);
        let bad = vec![0u8; 100];
        let mut f = Fetcher::new();
        join(&mut f, T0, 1, 100);
        let outs = outputs(&mut f);
        let outs = serve(&mut f, &outs, &bad);
        assert_eq!(outs, [Output::Verify]);
        join(&mut f, T0, 2, 100);
        f.handle_input(T0, Input::Verified { ok: false });
        let outs = outputs(&mut f);
        assert_eq!(disconnects(&outs), [(1, DisconnectReason::BadData)]);
        assert_eq!(requests(&outs), [(2, 0)]);
        assert_eq!(serve(&mut f, &outs, &good), [Output::Verify]);
        assert_eq!(f.metadata(), Some(&good[..]));
    }

    #[test]
    fn shared_blame_then_one_source_at_a_time() {
        let good = meta(70_000); // five pieces
        let mut bad = good.clone();
        bad[69_999] ^= 1;
        let mut f = Fetcher::new();
        join(&mut f, T0, 1, 70_000); // honest
        join(&mut f, T0, 2, 70_000); // lies in the last piece
        let outs = outputs(&mut f);
        assert_eq!(requests(&outs), [(1, 0), (1, 1), (1, 2), (1, 3), (2, 4)]);
        for (peer, piece) in requests(&outs) {
            let m = if peer == 1 { &good } else { &bad };
            reply(&mut f, T0, peer, answer(Some(m), piece, 0));
        }
        assert_eq!(outputs(&mut f), [Output::Verify]);
        f.handle_input(T0, Input::Verified { ok: false });
        // Nobody can be told apart yet: both get a strike, and now one peer serves it all.
        let outs = outputs(&mut f);
        assert!(disconnects(&outs).is_empty());
        assert_eq!(requests(&outs), [(1, 0), (1, 1), (1, 2), (1, 3)]);
        let outs = serve(&mut f, &outs, &good);
        assert_eq!(requests(&outs), [(1, 4)]);
        assert_eq!(serve(&mut f, &outs, &good), [Output::Verify]);
        f.handle_input(T0, Input::Verified { ok: true });
        assert!(f.is_complete());
        assert_eq!(f.metadata(), Some(&good[..]));
    }

    #[test]
    fn hostile_peers_are_disconnected() {
        let m = meta(100);
        let protocol_drop = |f: &mut Fetcher, peer| {
            let d = disconnects(&outputs(f));
            assert!(
                matches!(d[..], [(p, DisconnectReason::Protocol(_))] if p == peer),
                "{d:?}"
            );
        };
        let mut f = Fetcher::new();
        f.handle_input(
            T0,
            Input::Connected {
                peer: 1,
                extensions: false,
            },
        );
        protocol_drop(&mut f, 1);
        join(&mut f, T0, 2, MAX_SIZE + 1);
        protocol_drop(&mut f, 2);
        join(&mut f, T0, 3, 100);
        outputs(&mut f);
        let garbage = ext(LOCAL_ID, b"d8:msg_typei0e5:piece".to_vec());
        f.handle_input(
            T0,
            Input::Message {
                peer: 3,
                msg: garbage,
            },
        );
        protocol_drop(&mut f, 3);
        join(&mut f, T0, 4, 100);
        outputs(&mut f);
        // Data of the wrong length for the advertised size.
        let short = MetadataMsg::Data {
            piece: 0,
            total_size: 100,
            data: Bytes::from_static(b"short"),
        };
        reply(&mut f, T0, 4, short);
        protocol_drop(&mut f, 4);
        // Unknown types are ignored; requests to us are rejected.
        join(&mut f, T0, 5, 100);
        outputs(&mut f);
        let unknown = ext(LOCAL_ID, b"d8:msg_typei9e5:piecei0ee".to_vec());
        f.handle_input(
            T0,
            Input::Message {
                peer: 5,
                msg: unknown,
            },
        );
        reply(&mut f, T0, 5, MetadataMsg::Request { piece: 0 });
        let outs = outputs(&mut f);
        assert_eq!(
            outs,
            [Output::Send {
                peer: 5,
                msg: ext(9, MetadataMsg::Reject { piece: 0 }.encode()),
            }]
        );
        reply(&mut f, T0, 5, answer(Some(&m), 0, 0));
        assert_eq!(outputs(&mut f), [Output::Verify]);
    }

    fn arb_msg() -> impl Strategy<Value = MetadataMsg> {
        let piece = 0..piece_count(MAX_SIZE);
        prop_oneof![
            piece
                .clone()
                .prop_map(|piece| MetadataMsg::Request { piece }),
            piece
                .clone()
                .prop_map(|piece| MetadataMsg::Reject { piece }),
            (
                piece,
                1..=MAX_SIZE,
                proptest::collection::vec(any::<u8>(), 0..=PIECE_LEN as usize)
            )
                .prop_map(|(piece, total_size, data)| MetadataMsg::Data {
                    piece,
                    total_size,
                    data: data.into(),
                }),
        ]
    }

    proptest! {
        #[test]
        fn codec_round_trips(msg in arb_msg()) {
            prop_assert_eq!(MetadataMsg::decode(&msg.encode()), Ok(msg));
        }

        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = MetadataMsg::decode(&bytes);
            let mut prefixed = b"d8:msg_typei1e5:piecei0e10:total_sizei5ee".to_vec();
            prefixed.extend_from_slice(&bytes);
            let _ = MetadataMsg::decode(&prefixed);
        }

        /// Whatever peers send, the fetcher never panics and never asks the driver to verify
        /// more bytes than a size some peer advertised.
        #[test]
        fn fetcher_is_total(
            events in proptest::collection::vec(
                (1u64..4, any::<u8>(), proptest::collection::vec(any::<u8>(), 0..48)),
                0..40,
            )
        ) {
            let mut f = Fetcher::new();
            let mut now = T0;
            for peer in 1..4 {
                join(&mut f, now, peer, 20_000);
            }
            for (peer, kind, bytes) in events {
                now = now + Duration::from_secs(3);
                let msg = match kind % 4 {
                    0 => ext(LOCAL_ID, bytes),
                    1 => ext(0, bytes),
                    2 => ext(LOCAL_ID, MetadataMsg::Data {
                        piece: u32::from(kind % 3),
                        total_size: 20_000,
                        data: meta(if kind % 3 == 1 { 20_000 - 16384 } else { 16384 }).into(),
                    }.encode()),
                    _ => {
                        f.handle_input(now, Input::Timeout);
                        continue;
                    }
                };
                f.handle_input(now, Input::Message { peer, msg });
                for o in outputs(&mut f) {
                    if o == Output::Verify {
                        prop_assert_eq!(f.metadata().map(<[u8]>::len), Some(20_000));
                        f.handle_input(now, Input::Verified { ok: false });
                    }
                }
            }
        }
    }
}
