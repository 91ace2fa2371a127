//! A UDP tracker client's announce as a sans-IO state machine (BEP 15): connect when there is
//! no connection id younger than a minute, announce, and retransmit an unanswered request
//! after 15·2ⁿ s, n = 0, 1, … up to a cap. The driver passes `now` and datagrams in and
//! sends what comes out; a reply that does not fit (malformed, other transaction, wrong
//! action) is ignored and counted, as an off-path sender cannot then end the exchange.

use std::net::SocketAddr;

use rand::Rng;

use super::{Request, Response};
use crate::protocol::tracker_proto::Announce;
use crate::time::{Duration, Instant};
use crate::tracker::AnnounceReply;

/// How long a client may use a connection id (BEP 15: one minute).
pub const CONN_ID_LIFETIME: Duration = Duration::from_secs(60);

/// The retransmit schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retransmission (BEP 15: 15 s).
    pub base: Duration,
    /// The largest n in base·2ⁿ (BEP 15: 8); the request sent with it is the last.
    pub max_n: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(15),
            max_n: 8,
        }
    }
}

impl Backoff {
    /// The wait after the request sent with exponent `n`.
    pub fn wait(self, n: u32) -> Duration {
        Duration(self.base.0.saturating_mul(1 << n.min(32)))
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    #[error("tracker refused: {0}")]
    Refused(String),
    #[error("no answer after {0} tries")]
    TimedOut(u32),
}

/// What the driver does next.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Send this datagram, then wait until [`UdpAnnouncer::deadline`].
    Send(Vec<u8>),
    /// Nothing to do; keep waiting.
    Wait,
    /// The announce ended; the machine is idle (and keeps its connection id for the next).
    Done(Result<AnnounceReply<SocketAddr>, AnnounceError>),
}

#[derive(Debug)]
struct Pending {
    announce: Announce,
    key: u32,
    /// `None` while connecting.
    conn_id: Option<u64>,
    tid: u32,
    n: u32,
    deadline: Instant,
}

/// One tracker's announces, one at a time.
#[derive(Debug)]
pub struct UdpAnnouncer {
    backoff: Backoff,
    /// Whether we talk to the tracker over IPv6, which fixes the size of its peers.
    v6: bool,
    conn: Option<(u64, Instant)>,
    pending: Option<Pending>,
    ignored: u64,
}

impl UdpAnnouncer {
    pub fn new(backoff: Backoff, v6: bool) -> Self {
        UdpAnnouncer {
            backoff,
            v6,
            conn: None,
            pending: None,
            ignored: 0,
        }
    }

    /// Starts announcing `announce` (replacing any unfinished one); returns the first datagram.
    pub fn start(
        &mut self,
        now: Instant,
        announce: Announce,
        key: u32,
        rng: &mut impl Rng,
    ) -> Vec<u8> {
        let conn_id = self
            .conn
            .filter(|&(_, at)| now - at < CONN_ID_LIFETIME)
            .map(|(id, _)| id);
        let p = Pending {
            announce,
            key,
            conn_id,
            tid: rng.gen(),
            n: 0,
            deadline: now + self.backoff.wait(0),
        };
        let out = p.request().encode();
        self.pending = Some(p);
        out
    }

    /// When the driver must call [`Self::on_timeout`]; `None` when idle.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// Datagrams from the tracker's address that did not advance an announce.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    pub fn on_datagram(&mut self, now: Instant, data: &[u8], rng: &mut impl Rng) -> Step {
        let Some(p) = self.pending.as_mut() else {
            return self.ignore();
        };
        let resp = match Response::decode(data, self.v6) {
            Ok(r) if r.tid() == p.tid => r,
            Ok(_) | Err(_) => return self.ignore(),
        };
        match (resp, p.conn_id) {
            (Response::Connect { conn_id, .. }, None) => {
                self.conn = Some((conn_id, now));
                p.conn_id = Some(conn_id);
                p.tid = rng.gen();
                p.n = 0;
                p.deadline = now + self.backoff.wait(0);
                Step::Send(p.request().encode())
            }
            (Response::Announce { reply, .. }, Some(_)) => {
                self.pending = None;
                Step::Done(Ok(reply))
            }
            (Response::Error { message, .. }, _) => {
                self.pending = None;
                Step::Done(Err(AnnounceError::Refused(message)))
            }
            _ => self.ignore(),
        }
    }

    /// Retransmits an unanswered request (reconnecting if the connection id has expired
    /// meanwhile), or gives up after the request sent with `max_n`.
    pub fn on_timeout(&mut self, now: Instant, rng: &mut impl Rng) -> Step {
        let Some(p) = self.pending.as_mut().filter(|p| now >= p.deadline) else {
            return Step::Wait;
        };
        if p.n >= self.backoff.max_n {
            let tries = p.n + 1;
            self.pending = None;
            return Step::Done(Err(AnnounceError::TimedOut(tries)));
        }
        p.n += 1;
        let expired = self.conn.is_none_or(|(_, at)| now - at >= CONN_ID_LIFETIME);
        if p.conn_id.is_some() && expired {
            self.conn = None;
            p.conn_id = None;
            p.tid = rng.gen();
        }
        p.deadline = now + self.backoff.wait(p.n);
        Step::Send(p.request().encode())
    }

    fn ignore(&mut self) -> Step {
        self.ignored += 1;
        Step::Wait
    }
}

impl Pending {
    fn request(&self) -> Request {
        match self.conn_id {
            None => Request::Connect { tid: self.tid },
            Some(conn_id) => Request::Announce {
                conn_id,
                tid: self.tid,
                announce: self.announce.clone(),
                key: self.key,
            },
        }
    }
}
