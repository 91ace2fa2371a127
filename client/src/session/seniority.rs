//! The thesis's seniority side channel on TCP port 59500: a line `online time` is answered with
//! `ip:value` (this node's weight, formatted like Python's `str(float)`), anything else with
//! `You said: <line>`. The client half asks a peer's IP on that port and hands the value to the
//! core as if it came through the BEP 10 extension.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The thesis's port.
pub const DEFAULT_PORT: u16 = 59500;
const QUERY: &str = "online time";
/// Longest line we read: the protocol's lines are a few dozen bytes.
const MAX_LINE: usize = 1024;
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// The weight the server answers with; a `whitewash` identity change, which restarts the
/// seniority counter, replaces it while the server runs.
pub struct Weight(AtomicU64);

impl Weight {
    pub fn new(w: f64) -> Weight {
        Weight(AtomicU64::new(w.to_bits()))
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, w: f64) {
        self.0.store(w.to_bits(), Ordering::Relaxed);
    }
}

/// Serves `weight` on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, weight: Arc<Weight>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let weight = weight.clone();
        tokio::spawn(async move {
            // A client that misbehaves only loses its own connection.
            let _ = tokio::time::timeout(Duration::from_secs(30), answer(stream, &weight)).await;
        });
    }
}

async fn answer(stream: TcpStream, weight: &Weight) -> Result<()> {
    let ip = stream.local_addr()?.ip();
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).take(MAX_LINE as u64 * 16).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = reply_to(line.trim_end_matches('\r'), ip, weight.get());
        wr.write_all(reply.as_bytes()).await?;
        wr.write_all(b"\n").await?;
    }
    Ok(())
}

fn reply_to(line: &str, ip: IpAddr, weight: f64) -> String {
    if line.trim() == QUERY {
        format!("{ip}:{}", py_float(weight))
    } else {
        format!("You said: {line}")
    }
}

/// Asks the seniority server at `addr` for its weight.
pub async fn query(addr: SocketAddr) -> Result<f64> {
    tokio::time::timeout(QUERY_TIMEOUT, async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(format!("{QUERY}\n").as_bytes()).await?;
        let mut line = String::new();
        BufReader::new(s)
            .take(MAX_LINE as u64)
            .read_line(&mut line)
            .await?;
        parse_reply(line.trim_end())
    })
    .await
    .map_err(|_| anyhow!("no answer within {QUERY_TIMEOUT:?}"))?
    .with_context(|| format!("seniority query to {addr}"))
}

/// `ip:value` → value; the IP may itself contain colons (IPv6), so split at the last one.
fn parse_reply(line: &str) -> Result<f64> {
    let (_, v) = line
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("reply {line:?} is not ip:value"))?;
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(anyhow!("reply {line:?} has no positive value")),
    }
}

/// Python's `str(float)`: shortest round-trip digits, `.0` on integral values, and exponent
/// form (`1e+16`, `1e-05`) outside `[1e-4, 1e16)`.
pub fn py_float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{x:e}"); // e.g. "1.5e16", "1e-5"
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let s = format!("{x}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python() {
        assert_eq!(py_float(2.0), "2.0");
        assert_eq!(py_float(1.4831), "1.4831");
        assert_eq!(py_float(std::f64::consts::E), "2.718281828459045");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(1.5e-5), "1.5e-05");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(0.0), "0.0");
    }

    #[test]
    fn line_protocol() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(reply_to("online time", ip, 2.0), "10.1.2.3:2.0");
        assert_eq!(reply_to("hello", ip, 2.0), "You said: hello");
        assert_eq!(parse_reply("10.1.2.3:1.5").unwrap(), 1.5);
        assert_eq!(parse_reply("::1:2.25").unwrap(), 2.25);
        assert!(parse_reply("You said: x").is_err());
        assert!(parse_reply("1.2.3.4:nan").is_err());
    }

    #[tokio::test]
    async fn server_answers_queries() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let weight = Arc::new(Weight::new(1.75));
        let server = tokio::spawn(serve(l, weight.clone()));
        assert_eq!(query(addr).await.unwrap(), 1.75);
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"hi there\nonline time\n").await.unwrap();
        let mut r = BufReader::new(s).lines();
        assert_eq!(r.next_line().await.unwrap().unwrap(), "You said: hi there");
        assert_eq!(r.next_line().await.unwrap().unwrap(), "127.0.0.1:1.75");
        // A new identity's weight is served from the next query on.
        weight.set(1.0);
        assert_eq!(query(addr).await.unwrap(), 1.0);
        server.abort();
    }
}
