//! The UDP tracker client (BEP 15): engine-core's [`UdpAnnouncer`] driven over a tokio
//! socket connected to the tracker, so stray senders' datagrams never reach it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use engine_core::protocol::tracker_proto::Announce;
use engine_core::protocol::udp_tracker::client::{Backoff, Step, UdpAnnouncer};
use engine_core::protocol::udp_tracker::MAX_DATAGRAM;
use engine_core::time::{Duration as CoreDuration, Instant as CoreInstant};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::net::UdpSocket;

use super::{Request, Response};

/// BEP 15's 15·2ⁿ s, but given up after n = 2 (105 s): the session's own retry (30 s later,
/// at the next tracker) beats waiting the full two hours on a tracker that is gone.
const BACKOFF: Backoff = Backoff {
    base: CoreDuration::from_secs(15),
    max_n: 2,
};

/// Announces `req` to the `udp://host:port[/path]` tracker at `url`.
pub async fn announce(url: &str, req: &Request) -> Result<Response> {
    let (host, port) = split_url(url)?;
    let addr = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{host} has no address"))?;
    exchange(addr, req, BACKOFF)
        .await
        .with_context(|| format!("announce to {url}"))
}

async fn exchange(addr: SocketAddr, req: &Request, backoff: Backoff) -> Result<Response> {
    let local: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(addr).await?;
    let start = tokio::time::Instant::now();
    let now = || CoreInstant(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
    let mut rng = ChaCha8Rng::from_entropy();
    let mut m = UdpAnnouncer::new(backoff, addr.is_ipv6());
    // The key identifies us across address changes; the peer id's random tail is as stable.
    let key = u32::from_be_bytes(req.peer_id[16..].try_into()?);
    let mut out = m.start(now(), announce_of(req), key, &mut rng);
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        if !out.is_empty() {
            sock.send(&out).await?;
        }
        let deadline = m
            .deadline()
            .map_or(start, |t| start + Duration::from_micros(t.0));
        let step = tokio::select! {
            r = sock.recv(&mut buf) => {
                // An ICMP "port unreachable" arrives here: nobody is listening.
                let n = r.context("no UDP tracker at that address")?;
                m.on_datagram(now(), &buf[..n], &mut rng)
            }
            _ = tokio::time::sleep_until(deadline) => m.on_timeout(now(), &mut rng),
        };
        out = match step {
            Step::Send(d) => d,
            Step::Wait => Vec::new(),
            Step::Done(Ok(r)) => {
                return Ok(Response {
                    interval: Duration::from_micros(r.interval.0),
                    peers: r.peers,
                    warning: None,
                })
            }
            Step::Done(Err(e)) => bail!(e),
        };
    }
}

fn announce_of(r: &Request) -> Announce {
    Announce {
        uploaded: r.uploaded,
        downloaded: r.downloaded,
        numwant: Some(r.numwant as usize),
        ..Announce::new(r.info_hash, r.peer_id, r.port, r.left, r.event)
    }
}

/// `udp://host:port[/anything]` → (host, port); IPv6 hosts come in brackets.
fn split_url(url: &str) -> Result<(&str, u16)> {
    let rest = url
        .strip_prefix("udp://")
        .ok_or_else(|| anyhow!("{url:?} is not a udp:// URL"))?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (host, port) = authority
        .rsplit_once(':')
        .filter(|(h, _)| !h.contains(':') || h.starts_with('['))
        .ok_or_else(|| anyhow!("{url:?} has no port"))?;
    let port = port.parse().with_context(|| format!("port in {url:?}"))?;
    Ok((host.trim_start_matches('[').trim_end_matches(']'), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine_core::tracker::AnnounceEvent;

    #[test]
    fn splits_udp_urls() {
        assert_eq!(
            split_url("udp://t.example:1337").unwrap(),
            ("t.example", 1337)
        );
        assert_eq!(split_url("udp://t:80/announce").unwrap(), ("t", 80));
        assert_eq!(split_url("udp://[::1]:6969/x").unwrap(), ("::1", 6969));
        for bad in ["udp://t", "udp://[::1]", "http://t:1", "udp://t:x"] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    /// A tracker that answers nothing: the driver retransmits on the schedule (scaled down
    /// to milliseconds here) and then gives up, over a real socket.
    #[tokio::test]
    async fn gives_up_after_the_last_retransmission() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let req = Request {
            info_hash: [1; 20],
            peer_id: [2; 20],
            port: 1,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: AnnounceEvent::Started,
            numwant: 1,
        };
        let fast = Backoff {
            base: CoreDuration::from_millis(10),
            max_n: 2,
        };
        let e = exchange(silent.local_addr().unwrap(), &req, fast)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "no answer after 3 tries");
        let mut buf = [0; 64];
        for _ in 0..3 {
            let (n, _) = silent.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, 16, "three connect requests");
        }
    }
}
