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

/// Why the [`Fetcher`] did not apply an input. A peer's protocol violation also produces an
/// [`Output::Disconnect`]; the other reasons change nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The metadata is verified: the fetcher is done and takes no more input.
    #[error("metadata already complete")]
    Complete,
    /// A peer-keyed input for a key not connected (never was, left, or was dropped by us).
    #[error("no connected peer has this key")]
    UnknownPeer,
    /// `Connected` for a key already connected: its requests and strikes are kept.
    #[error("peer is already connected")]
    DuplicateConnect,
    /// `Connected` without BEP 10: it cannot serve metadata (disconnect).
    #[error("peer lacks the extension protocol")]
    NoExtensions,
    /// A malformed handshake or `ut_metadata` message, or data of the wrong size (disconnect).
    #[error("malformed or inconsistent ut_metadata message")]
    BadMessage,
    /// Data or a reject for a piece not requested from this peer (e.g. after a timeout).
    #[error("answer to a piece not requested from this peer")]
    NotRequested,
    /// `Verified` while no assembled metadata awaits verification.
    #[error("no metadata awaiting verification")]
    NotAwaitingVerify,
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

    /// Applies one input or says why it was ignored (drivers may ignore the reason). Messages
    /// other than extended ones, unknown extension ids and `ut_metadata` types are applied
    /// as no-ops. A `now` earlier than one already seen is clamped to it, as in
    /// [`crate::torrent::Torrent::handle_input`].
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), Rejected> {
        let now = now.max(self.now);
        self.now = now;
        if self.complete {
            return Err(Rejected::Complete);
        }
        let applied = match input {
            Input::Connected { peer, extensions } => self.on_connected(now, peer, extensions),
            Input::Disconnected { peer } => self.forget(peer).ok_or(Rejected::UnknownPeer),
            Input::Message { peer, msg } => {
                if !self.peers.contains_key(&peer) {
                    Err(Rejected::UnknownPeer)
                } else if let Message::Extended { id, payload } = msg {
                    self.on_extended(now, peer, id, &payload)
                } else {
                    Ok(())
                }
            }
            Input::Verified { ok } => self.on_verified(ok),
            Input::Timeout => {
                self.on_timeout(now);
                Ok(())
            }
        };
        self.schedule(now);
        applied
    }

    fn on_connected(
        &mut self,
        now: Instant,
        peer: PeerKey,
        extensions: bool,
    ) -> Result<(), Rejected> {
        if self.peers.contains_key(&peer) {
            return Err(Rejected::DuplicateConnect);
        }
        if !extensions {
            self.drop_peer(
                peer,
                protocol("no extension protocol (BEP 10), so no metadata"),
            );
            return Err(Rejected::NoExtensions);
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
        Ok(())
    }

    fn on_extended(
        &mut self,
        now: Instant,
        peer: PeerKey,
        id: u8,
        payload: &[u8],
    ) -> Result<(), Rejected> {
        if id == 0 {
            return match ExtHandshake::from_payload(payload) {
                Ok(hs) => self.on_handshake(peer, &hs),
                Err(e) => self.reject_peer(peer, protocol(e)),
            };
        }
        match parse_extended(id, payload) {
            None | Some(Err(MetadataError::UnknownType(_))) => Ok(()),
            Some(Err(e)) => self.reject_peer(peer, protocol(e)),
            Some(Ok(msg)) => self.on_metadata(now, peer, msg),
        }
    }

    fn on_handshake(&mut self, peer: PeerKey, hs: &ExtHandshake) -> Result<(), Rejected> {
        let size = hs.metadata_size.filter(|&s| s > 0);
        if let Some(s) = size.filter(|&s| s > MAX_SIZE) {
            let why = protocol(format!("metadata_size {s} exceeds {MAX_SIZE}"));
            return self.reject_peer(peer, why);
        }
        let p = self.source(peer);
        p.id = hs.id_of(EXT_NAME);
        // A later handshake may repeat fields or leave them out; keep what we learned.
        p.size = size.or(p.size);
        Ok(())
    }

    fn on_metadata(
        &mut self,
        now: Instant,
        peer: PeerKey,
        msg: MetadataMsg,
    ) -> Result<(), Rejected> {
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
                p.requests.remove(&piece).ok_or(Rejected::NotRequested)?;
                p.idle_until = now + BACKOFF;
            }
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
                // Late answers to requests we gave up on are dropped: the piece went elsewhere.
                let sent = self.source(peer).requests.remove(&piece);
                sent.ok_or(Rejected::NotRequested)?;
                // Requests exist only while an attempt (with its size) is under way.
                let Some(size) = self.size else {
                    return Err(Rejected::NotRequested);
                };
                let want = piece_size(size, piece);
                if total_size != size || data.len() != want {
                    let why = format!(
                        "ut_metadata piece {piece}: {} of {total_size} bytes, expected {want} of {size}",
                        data.len()
                    );
                    return self.reject_peer(peer, protocol(why));
                }
                // In range: requests are only sent for pieces of the current attempt.
                let Some(slot) = self.pieces.get_mut(piece as usize) else {
                    return Err(Rejected::NotRequested);
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
        Ok(())
    }

    fn on_verified(&mut self, ok: bool) -> Result<(), Rejected> {
        if self.assembled.is_none() {
            return Err(Rejected::NotAwaitingVerify);
        }
        if ok {
            self.complete = true;
            return Ok(());
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
        Ok(())
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
    fn forget(&mut self, peer: PeerKey) -> Option<()> {
        self.peers.remove(&peer)?;
        if self.single_source && self.assembled.is_none() {
            for slot in &mut self.pieces {
                if slot.as_ref().is_some_and(|&(_, p)| p == peer) {
                    *slot = None;
                }
            }
        }
        Some(())
    }

    fn drop_peer(&mut self, peer: PeerKey, reason: DisconnectReason) {
        self.forget(peer);
        self.out.push_back(Output::Disconnect { peer, reason });
    }

    /// Drops a peer for a protocol violation in the input being handled.
    fn reject_peer(&mut self, peer: PeerKey, reason: DisconnectReason) -> Result<(), Rejected> {
        self.drop_peer(peer, reason);
        Err(Rejected::BadMessage)
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
mod model;
#[cfg(test)]
mod tests;
