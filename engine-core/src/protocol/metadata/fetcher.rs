//! The [`Fetcher`]: which peer is asked for which metadata piece, retries after a reject,
//! timeout or disconnect, and blame after a hash mismatch.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use super::{
    answer, parse_extended, piece_count, piece_size, MetadataError, MetadataMsg, BACKOFF, EXT_NAME,
    LOCAL_ID, MAX_IN_FLIGHT, MAX_SIZE, MAX_STRIKES, REQUEST_TIMEOUT,
};
use crate::protocol::extension::ExtHandshake;
use crate::protocol::wire::Message;
use crate::time::Instant;
use crate::torrent::DisconnectReason;
use crate::PeerKey;

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
pub(super) struct Source {
    /// Its id for `ut_metadata`, once its extended handshake enabled it.
    pub(super) id: Option<u8>,
    /// The `metadata_size` it advertised.
    pub(super) size: Option<u64>,
    /// Our outstanding requests to it and when each was sent.
    pub(super) requests: BTreeMap<u32, Instant>,
    /// Not asked before this (after a reject or a timeout).
    pub(super) idle_until: Instant,
    /// Failed attempts it sent pieces for.
    pub(super) strikes: u32,
}

/// Fetches one info dictionary. See the module docs.
#[derive(Debug, Default)]
pub struct Fetcher {
    pub(super) peers: BTreeMap<PeerKey, Source>,
    /// The size this attempt assumes, taken from a peer's handshake.
    pub(super) size: Option<u64>,
    /// Received pieces of this attempt and who sent each.
    pub(super) pieces: Vec<Option<(Bytes, PeerKey)>>,
    /// The whole dictionary, waiting for [`Input::Verified`] or verified.
    pub(super) assembled: Option<Vec<u8>>,
    pub(super) complete: bool,
    /// After a failed attempt with several senders, fetch from one peer at a time, so the
    /// next failure names its culprit.
    pub(super) single_source: bool,
    pub(super) now: Instant,
    pub(super) out: VecDeque<Output>,
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
