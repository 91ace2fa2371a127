//! The tracker's HTTP/1.1 front end: keep-alive connections, one bounded handler per request.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
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
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::state::{failure, Tracker};

/// Request heads larger than this make hyper close the connection. It is well above
/// [`MAX_QUERY`] so that oversized queries up to here still get a bencoded refusal.
const MAX_HEAD: usize = 64 * 1024;
/// Queries above this get a bencoded refusal without being parsed: a real announce is a few
/// hundred bytes, a 64-hash scrape under 5 KiB.
const MAX_QUERY: usize = 8 * 1024;
/// Time a client gets to send a request head before the connection is dropped (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// Accepts connections on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    tracker: Arc<Tracker>,
    max_connections: usize,
) -> Result<()> {
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
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
        let _ = stream.set_nodelay(true);
        let ip = peer.ip().to_canonical();
        let tracker = tracker.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let resp = respond(&tracker, &req, ip);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), svc);
            // Client resets and timeouts end the connection; nothing to report.
            let _ = conn.await;
            drop(permit);
        });
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
