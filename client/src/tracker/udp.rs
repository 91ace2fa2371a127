//! The tracker's UDP front end (BEP 15): the same [`Tracker`] core as HTTP, reached through
//! engine-core's datagram codec.
//!
//! Connection ids are stateless: the first 8 bytes of SHA-1(secret, source ip, source port,
//! minute), where the secret is drawn at start. An id is accepted in its minute and the
//! next (so 1–2 minutes, as BEP 15 allows), only from the address it was issued to, and
//! cannot be guessed by an off-path sender who never sees our replies.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine_core::protocol::udp_tracker::{is_v6, Request, Response, MAX_DATAGRAM};
use engine_core::tracker::AnnounceReply;
use rand::RngCore;
use sha1::{Digest, Sha1};
use tokio::net::UdpSocket;

use super::state::Tracker;

/// How long one connection-id key is current.
const BUCKET: Duration = Duration::from_secs(60);

/// Datagrams by fate, for `bt tracker`'s operator and the tests.
#[derive(Debug, Default)]
pub struct UdpStats {
    pub answered: AtomicU64,
    /// Too short, unknown action or malformed fields.
    pub malformed: AtomicU64,
    /// A connection id that is expired, forged, or issued to another address.
    pub bad_conn_id: AtomicU64,
}

impl std::fmt::Display for UdpStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "{} answered, {} malformed, {} with a bad connection id",
            n(&self.answered),
            n(&self.malformed),
            n(&self.bad_conn_id)
        )
    }
}

pub struct UdpFront {
    tracker: Arc<Tracker>,
    secret: [u8; 32],
    pub stats: UdpStats,
}

impl UdpFront {
    pub fn new(tracker: Arc<Tracker>) -> Self {
        let mut secret = [0; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        UdpFront {
            tracker,
            secret,
            stats: UdpStats::default(),
        }
    }

    /// The reply to `data` from `src` at `now` (time since the front end started), or `None`
    /// for datagrams too broken to name a transaction.
    pub fn respond(&self, now: Duration, src: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
        let ip = src.ip().to_canonical();
        let v6 = is_v6(ip);
        let bucket = now.as_secs() / BUCKET.as_secs();
        let req = match Request::decode(data) {
            Ok(r) => r,
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                // With a transaction id to answer to, say what was wrong.
                let tid = u32::from_be_bytes(data.get(12..16)?.try_into().ok()?);
                let message = e.to_string();
                return Some(Response::Error { tid, message }.encode(v6));
            }
        };
        let tid = req.tid();
        let resp = match req {
            Request::Connect { .. } => Response::Connect {
                tid,
                conn_id: self.conn_id(ip, src.port(), bucket),
            },
            Request::Announce { conn_id, .. } | Request::Scrape { conn_id, .. }
                if !self.valid(conn_id, ip, src.port(), bucket) =>
            {
                self.stats.bad_conn_id.fetch_add(1, Ordering::Relaxed);
                let message = "connection id expired or not issued to this address".into();
                Response::Error { tid, message }
            }
            Request::Announce { announce, .. } => match self.tracker.announce_parsed(&announce, ip)
            {
                Ok(r) => Response::Announce {
                    tid,
                    reply: AnnounceReply {
                        peers: r.peers.into_iter().map(|p| p.addr).collect(),
                        interval: r.interval,
                        complete: r.complete,
                        incomplete: r.incomplete,
                    },
                },
                Err(message) => Response::Error { tid, message },
            },
            Request::Scrape { hashes, .. } => Response::Scrape {
                tid,
                counts: hashes
                    .iter()
                    .map(|h| self.tracker.counts(h).unwrap_or_default())
                    .collect(),
            },
        };
        self.stats.answered.fetch_add(1, Ordering::Relaxed);
        Some(resp.encode(v6))
    }

    fn conn_id(&self, ip: IpAddr, port: u16, bucket: u64) -> u64 {
        let ip = match ip {
            IpAddr::V4(a) => a.to_ipv6_mapped(),
            IpAddr::V6(a) => a,
        };
        let h = Sha1::new()
            .chain_update(self.secret)
            .chain_update(ip.octets())
            .chain_update(port.to_be_bytes())
            .chain_update(bucket.to_be_bytes())
            .finalize();
        u64::from_be_bytes(h[..8].try_into().expect("SHA-1 is 20 bytes"))
    }

    fn valid(&self, id: u64, ip: IpAddr, port: u16, bucket: u64) -> bool {
        id == self.conn_id(ip, port, bucket)
            || bucket > 0 && id == self.conn_id(ip, port, bucket - 1)
    }
}

/// Answers datagrams on `socket` until the task is dropped.
pub async fn serve_udp(socket: UdpSocket, front: Arc<UdpFront>) {
    let start = std::time::Instant::now();
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        // Errors here are ICMP reports about earlier replies' destinations: not ours to fix.
        let Ok((n, src)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(reply) = front.respond(start.elapsed(), src, &buf[..n]) {
            let _ = socket.send_to(&reply, src).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Limits;
    use engine_core::protocol::tracker_proto::Announce;
    use engine_core::tracker::{AnnounceEvent, ScrapeCounts};

    fn front() -> UdpFront {
        let limits = Limits {
            interval: Duration::from_secs(900),
            max_torrents: 10,
            max_peers_per_torrent: 10,
            max_peers: 100,
        };
        UdpFront::new(Arc::new(Tracker::new(&limits, None)))
    }

    fn conn_id(f: &UdpFront, now: u64, src: SocketAddr) -> u64 {
        let req = Request::Connect { tid: 1 }.encode();
        let reply = f.respond(Duration::from_secs(now), src, &req).unwrap();
        match Response::decode(&reply, src.is_ipv6()).unwrap() {
            Response::Connect { tid: 1, conn_id } => conn_id,
            other => panic!("{other:?}"),
        }
    }

    fn announce(conn_id: u64, port: u16, left: u64) -> Vec<u8> {
        let announce = Announce::new(
            [5; 20],
            [port as u8; 20],
            port,
            left,
            AnnounceEvent::Started,
        );
        Request::Announce {
            conn_id,
            tid: 2,
            announce,
            key: 0,
        }
        .encode()
    }

    fn answer(f: &UdpFront, now: u64, src: SocketAddr, req: &[u8]) -> Response {
        let reply = f.respond(Duration::from_secs(now), src, req).unwrap();
        Response::decode(&reply, src.is_ipv6()).unwrap()
    }

    #[test]
    fn ids_are_bound_to_the_source_and_expire_after_two_minutes() {
        let f = front();
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let id = conn_id(&f, 59, a);
        let Response::Announce { reply, .. } = answer(&f, 119, a, &announce(id, 7000, 0)) else {
            panic!("a 60 s old id from its own address is refused")
        };
        assert_eq!(reply.complete, 1);
        // Another port or host, or the right one too late: refused and counted.
        for (now, src) in [
            (60, "10.0.0.1:5001"),
            (60, "10.0.0.2:5000"),
            (120, "10.0.0.1:5000"),
        ] {
            let src: SocketAddr = src.parse().unwrap();
            let r = answer(&f, now, src, &announce(id, 7000, 0));
            assert!(matches!(r, Response::Error { tid: 2, .. }), "{r:?}");
        }
        assert_eq!(f.stats.bad_conn_id.load(Ordering::Relaxed), 3);
        assert_eq!(f.tracker.stats(), (1, 1));
    }

    #[test]
    fn peers_follow_the_family_of_the_source() {
        let f = front();
        let v4: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.3]:5000".parse().unwrap();
        answer(&f, 0, v6, &announce(conn_id(&f, 0, v6), 7006, 0));
        answer(&f, 0, v4, &announce(conn_id(&f, 0, v4), 7004, 0));
        let Response::Announce { reply, .. } =
            answer(&f, 0, v6, &announce(conn_id(&f, 0, v6), 7006, 1))
        else {
            panic!()
        };
        assert!(reply.peers.is_empty(), "{:?}", reply.peers);
        assert_eq!((reply.complete, reply.incomplete), (1, 1));
        // A v4-mapped source is an IPv4 client: 6-byte peers.
        let reply = f
            .respond(
                Duration::ZERO,
                mapped,
                &announce(conn_id(&f, 0, mapped), 7003, 1),
            )
            .unwrap();
        let Ok(Response::Announce { reply, .. }) = Response::decode(&reply, false) else {
            panic!()
        };
        assert_eq!(
            reply.peers,
            ["10.0.0.1:7004".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!((reply.complete, reply.incomplete), (1, 2));
    }

    #[test]
    fn broken_datagrams_are_counted_and_answered_when_they_name_a_transaction() {
        let f = front();
        let src: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        assert_eq!(f.respond(Duration::ZERO, src, b"short"), None);
        let mut bad = announce(conn_id(&f, 0, src), 7000, 0);
        bad[96..98].copy_from_slice(&[0, 0]);
        let r = answer(&f, 0, src, &bad);
        assert_eq!(
            r,
            Response::Error {
                tid: 2,
                message: "port must be 1-65535".into()
            }
        );
        assert_eq!(f.stats.malformed.load(Ordering::Relaxed), 2);
        let mut scrape = Request::Scrape {
            conn_id: conn_id(&f, 0, src),
            tid: 3,
            hashes: vec![[5; 20], [6; 20]],
        };
        answer(&f, 0, src, &announce(conn_id(&f, 0, src), 7000, 0));
        let Response::Scrape { counts, .. } = answer(&f, 0, src, &scrape.encode()) else {
            panic!()
        };
        assert_eq!(counts[0].complete, 1);
        assert_eq!(counts[1], ScrapeCounts::default());
        if let Request::Scrape { conn_id, .. } = &mut scrape {
            *conn_id ^= 1;
        }
        assert!(matches!(
            answer(&f, 0, src, &scrape.encode()),
            Response::Error { .. }
        ));
    }
}
