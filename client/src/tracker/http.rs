//! The tracker's HTTP/1.1 front end: keep-alive connections, one bounded handler per request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

use super::state::{failure, Tracker};

/// Request heads larger than this make hyper close the connection. It is well above
/// [`MAX_QUERY`] so that oversized queries up to here still get a bencoded refusal.
const MAX_HEAD: usize = 64 * 1024;
/// Queries above this get a bencoded refusal without being parsed: a real announce is a few
/// hundred bytes, a 64-hash scrape under 5 KiB.
const MAX_QUERY: usize = 8 * 1024;

/// Bounds on connections, so that idle or slow clients cannot keep others out.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    /// Open connections at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Open connections from one IP address: without it one host holding `max_connections`
    /// idle sockets (slowloris) locks everyone else out.
    pub max_per_ip: usize,
    /// Time a client gets to send each request head, from the connection's start or the end
    /// of its previous response: idle and trickling connections are closed after it.
    pub header_timeout: Duration,
}

impl ConnLimits {
    /// `max_connections` with the command line's other defaults.
    pub fn new(max_connections: usize) -> ConnLimits {
        ConnLimits {
            max_connections,
            max_per_ip: 64,
            header_timeout: Duration::from_secs(15),
        }
    }
}

/// Connections the kernel queues for us to accept. Tokio's default of 1024 overflowed when
/// 2000 slow clients reconnected at once: the kernel then drops SYNs, and a good client's
/// connect waits for its retransmission (1 s, then 3 s). The kernel caps it at somaxconn.
const BACKLOG: u32 = 8192;

/// A listener on `addr` with a deep accept queue.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(BACKLOG)
}

/// Accepts connections on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, tracker: Arc<Tracker>, limits: ConnLimits) -> Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip = Arc::new(PerIp::default());
    loop {
        let permit = permits.clone().acquire_owned().await?;
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors or similar: wait instead of spinning.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ip = peer.ip().to_canonical();
        let Some(slot) = PerIp::take(&per_ip, ip, limits.max_per_ip) else {
            continue; // dropping the stream closes it
        };
        let _ = stream.set_nodelay(true);
        let tracker = tracker.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let resp = respond(&tracker, &req, ip);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_HEAD)
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), svc);
            // Client resets and timeouts end the connection; nothing to report.
            let _ = conn.await;
            drop((permit, slot));
        });
    }
}

/// Open connections per IP address; only addresses with some are stored.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerIp`], given back on drop.
struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(table: &Arc<PerIp>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut m = table.lock();
        let n = m.entry(ip).or_default();
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: table.clone(),
            ip,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Counts only, each consistent after every statement: usable after a panic.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.table.lock();
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

fn respond(tracker: &Tracker, req: &Request<Incoming>, ip: IpAddr) -> Response<Full<Bytes>> {
    let query = req.uri().query().unwrap_or("").as_bytes();
    let body = if req.method() != Method::GET {
        failure("only GET is supported")
    } else if query.len() > MAX_QUERY {
        failure("request too large")
    } else {
        match req.uri().path() {
            "/announce" => tracker.announce(query, ip),
            "/scrape" => tracker.scrape(query),
            _ => failure("unknown path: use /announce or /scrape"),
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}
