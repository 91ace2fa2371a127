//! The UDP tracker protocol (BEP 15, with its IPv6 extension): datagram encode/decode here,
//! the client's connect/announce/retransmit state machine in [`client`].
//!
//! Announces reuse the HTTP model ([`Announce`], [`AnnounceReply`], [`ScrapeCounts`]) so a
//! tracker core and a client's session see one shape whichever transport carried it. Every
//! input decodes to a value or a [`DecodeError`]; nothing here panics.

pub mod client;

use std::net::{IpAddr, SocketAddr};

use crate::protocol::tracker_proto::{
    encode_compact_peers, parse_compact_peers, parse_compact_peers6, Announce, MAX_SCRAPE_HASHES,
};
use crate::time::Duration;
use crate::tracker::{AnnounceEvent, AnnounceReply, ScrapeCounts};

/// The magic constant a connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// Longest error message we send or keep: a datagram must stay well under any MTU.
pub const MAX_MESSAGE: usize = 256;
/// Largest datagram either side needs to receive: a full scrape or ~200 IPv6 peers.
pub const MAX_DATAGRAM: usize = 4096;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const SCRAPE: u32 = 2;
const ERROR: u32 = 3;

/// A datagram a client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Connect {
        tid: u32,
    },
    /// `announce.compact` and `no_peer_id` are always true (UDP has only compact peers); the
    /// packet's `ip` field is neither sent nor read, since honouring it would let anyone
    /// announce someone else's address.
    Announce {
        conn_id: u64,
        tid: u32,
        announce: Announce,
        key: u32,
    },
    Scrape {
        conn_id: u64,
        tid: u32,
        hashes: Vec<[u8; 20]>,
    },
}

/// A datagram a tracker sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    Connect {
        tid: u32,
        conn_id: u64,
    },
    /// `reply.peers` all have the address family of the request's source (BEP 15 IPv6):
    /// [`Response::encode`] writes only those, [`Response::decode`] is told which it is.
    Announce {
        tid: u32,
        reply: AnnounceReply<SocketAddr>,
    },
    /// One entry per requested hash, in request order.
    Scrape {
        tid: u32,
        counts: Vec<ScrapeCounts>,
    },
    Error {
        tid: u32,
        message: String,
    },
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("datagram of {len} bytes is shorter than the {need} its action needs")]
    Short { len: usize, need: usize },
    #[error("connect request without the BEP 15 protocol id")]
    BadProtocolId,
    #[error("unknown action {0}")]
    UnknownAction(u32),
    #[error("unknown event {0}")]
    BadEvent(u32),
    #[error("port must be 1-65535")]
    BadPort,
    #[error("scrape of no or too many info-hashes (1-{MAX_SCRAPE_HASHES})")]
    BadScrape,
    #[error("trailing {0} bytes are not whole peers or counts")]
    Ragged(usize),
}

impl Request {
    pub fn tid(&self) -> u32 {
        match *self {
            Request::Connect { tid }
            | Request::Announce { tid, .. }
            | Request::Scrape { tid, .. } => tid,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(98);
        match self {
            Request::Connect { tid } => head(&mut out, PROTOCOL_ID, CONNECT, *tid),
            Request::Announce {
                conn_id,
                tid,
                announce: a,
                key,
            } => {
                head(&mut out, *conn_id, ANNOUNCE, *tid);
                out.extend_from_slice(&a.info_hash);
                out.extend_from_slice(&a.peer_id);
                for n in [a.downloaded, a.left, a.uploaded] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
                out.extend_from_slice(&event_code(a.event).to_be_bytes());
                out.extend_from_slice(&0u32.to_be_bytes()); // ip: the source address
                out.extend_from_slice(&key.to_be_bytes());
                let numwant = a
                    .numwant
                    .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
                out.extend_from_slice(&numwant.to_be_bytes());
                out.extend_from_slice(&a.port.to_be_bytes());
            }
            Request::Scrape {
                conn_id,
                tid,
                hashes,
            } => {
                head(&mut out, *conn_id, SCRAPE, *tid);
                hashes.iter().for_each(|h| out.extend_from_slice(h));
            }
        }
        out
    }

    /// Bytes after a complete request (BEP 41 options) are ignored.
    pub fn decode(b: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader::new(b, 16)?;
        let (conn_id, action, tid) = (r.u64(), r.u32(), r.u32());
        match action {
            CONNECT if conn_id != PROTOCOL_ID => Err(DecodeError::BadProtocolId),
            CONNECT => Ok(Request::Connect { tid }),
            ANNOUNCE => {
                r.need(98)?;
                let (info_hash, peer_id) = (r.id20(), r.id20());
                let (downloaded, left, uploaded) = (r.u64(), r.u64(), r.u64());
                let event = r.u32();
                let event = event_from_code(event).ok_or(DecodeError::BadEvent(event))?;
                let _ip = r.u32();
                let key = r.u32();
                let numwant = usize::try_from(r.u32() as i32).ok();
                let port = r.u16();
                if port == 0 {
                    return Err(DecodeError::BadPort);
                }
                let announce = Announce {
                    uploaded,
                    downloaded,
                    numwant,
                    ..Announce::new(info_hash, peer_id, port, left, event)
                };
                Ok(Request::Announce {
                    conn_id,
                    tid,
                    announce,
                    key,
                })
            }
            SCRAPE => {
                let n = r.rest().len() / 20;
                if n == 0 || n > MAX_SCRAPE_HASHES || r.rest().len() % 20 != 0 {
                    return Err(DecodeError::BadScrape);
                }
                let hashes = (0..n).map(|_| r.id20()).collect();
                Ok(Request::Scrape {
                    conn_id,
                    tid,
                    hashes,
                })
            }
            other => Err(DecodeError::UnknownAction(other)),
        }
    }
}

impl Response {
    pub fn tid(&self) -> u32 {
        match *self {
            Response::Connect { tid, .. }
            | Response::Announce { tid, .. }
            | Response::Scrape { tid, .. }
            | Response::Error { tid, .. } => tid,
        }
    }

    /// `v6`: the family of the request's source; announce peers of the other are left out.
    pub fn encode(&self, v6: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        match self {
            Response::Connect { tid, conn_id } => {
                action_tid(&mut out, CONNECT, *tid);
                out.extend_from_slice(&conn_id.to_be_bytes());
            }
            Response::Announce { tid, reply } => {
                action_tid(&mut out, ANNOUNCE, *tid);
                let secs = u32::try_from(reply.interval.0 / 1_000_000).unwrap_or(u32::MAX);
                for n in [secs, saturate(reply.incomplete), saturate(reply.complete)] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
                let (v4, v6s) = encode_compact_peers(reply.peers.iter().copied());
                out.extend_from_slice(if v6 { &v6s } else { &v4 });
            }
            Response::Scrape { tid, counts } => {
                action_tid(&mut out, SCRAPE, *tid);
                for c in counts {
                    let downloaded = u32::try_from(c.downloaded).unwrap_or(u32::MAX);
                    for n in [saturate(c.complete), downloaded, saturate(c.incomplete)] {
                        out.extend_from_slice(&n.to_be_bytes());
                    }
                }
            }
            Response::Error { tid, message } => {
                action_tid(&mut out, ERROR, *tid);
                out.extend_from_slice(truncate(message).as_bytes());
            }
        }
        out
    }

    /// `v6`: whether the request went out over IPv6, which fixes the peers' size.
    pub fn decode(b: &[u8], v6: bool) -> Result<Response, DecodeError> {
        let mut r = Reader::new(b, 8)?;
        let (action, tid) = (r.u32(), r.u32());
        match action {
            CONNECT => {
                r.need(16)?;
                Ok(Response::Connect {
                    tid,
                    conn_id: r.u64(),
                })
            }
            ANNOUNCE => {
                r.need(20)?;
                let interval = Duration::from_secs(r.u32().into());
                let (incomplete, complete) = (r.u32() as usize, r.u32() as usize);
                let peers = if v6 {
                    parse_compact_peers6(r.rest())
                } else {
                    parse_compact_peers(r.rest())
                };
                let peers = peers.map_err(|e| DecodeError::Ragged(e.len % e.stride))?;
                let reply = AnnounceReply {
                    peers,
                    interval,
                    complete,
                    incomplete,
                };
                Ok(Response::Announce { tid, reply })
            }
            SCRAPE => {
                let rest = r.rest().len();
                if rest % 12 != 0 {
                    return Err(DecodeError::Ragged(rest % 12));
                }
                let counts = (0..rest / 12)
                    .map(|_| {
                        let (complete, downloaded, incomplete) = (r.u32(), r.u32(), r.u32());
                        ScrapeCounts {
                            complete: complete as usize,
                            incomplete: incomplete as usize,
                            downloaded: downloaded.into(),
                        }
                    })
                    .collect();
                Ok(Response::Scrape { tid, counts })
            }
            ERROR => {
                let message = truncate(&String::from_utf8_lossy(r.rest())).to_owned();
                Ok(Response::Error { tid, message })
            }
            other => Err(DecodeError::UnknownAction(other)),
        }
    }
}

/// Whether `ip` is IPv6 for BEP 15's purposes: IPv4-mapped addresses from a dual-stack socket
/// are IPv4 clients.
pub fn is_v6(ip: IpAddr) -> bool {
    ip.to_canonical().is_ipv6()
}

fn head(out: &mut Vec<u8>, conn_id: u64, action: u32, tid: u32) {
    out.extend_from_slice(&conn_id.to_be_bytes());
    action_tid(out, action, tid);
}

fn action_tid(out: &mut Vec<u8>, action: u32, tid: u32) {
    out.extend_from_slice(&action.to_be_bytes());
    out.extend_from_slice(&tid.to_be_bytes());
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// At most [`MAX_MESSAGE`] bytes, cut at a character boundary.
fn truncate(s: &str) -> &str {
    let mut end = s.len().min(MAX_MESSAGE);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn event_code(e: AnnounceEvent) -> u32 {
    match e {
        AnnounceEvent::Update => 0,
        AnnounceEvent::Completed => 1,
        AnnounceEvent::Started => 2,
        AnnounceEvent::Stopped => 3,
    }
}

fn event_from_code(c: u32) -> Option<AnnounceEvent> {
    Some(match c {
        0 => AnnounceEvent::Update,
        1 => AnnounceEvent::Completed,
        2 => AnnounceEvent::Started,
        3 => AnnounceEvent::Stopped,
        _ => return None,
    })
}

/// Big-endian fields off the front of a datagram whose length was checked first.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8], need: usize) -> Result<Self, DecodeError> {
        let r = Reader { b, at: 0 };
        r.need(need)?;
        Ok(r)
    }

    fn need(&self, need: usize) -> Result<(), DecodeError> {
        if self.b.len() < need {
            return Err(DecodeError::Short {
                len: self.b.len(),
                need,
            });
        }
        Ok(())
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&self.b[self.at..self.at + N]);
        self.at += N;
        out
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }
    fn id20(&mut self) -> [u8; 20] {
        self.take()
    }
    fn rest(&self) -> &'a [u8] {
        &self.b[self.at..]
    }
}

#[cfg(test)]
mod tests;
