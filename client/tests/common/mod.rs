//! Helpers for `bt` integration tests: running the binary with a deadline, a self-stopping
//! tracker process, and a minimal HTTP/1.1 client over loopback.

#![allow(dead_code)] // Each test file uses a different subset.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BT: &str = env!("CARGO_BIN_EXE_bt");

/// Runs `bt args...`, killing it after `limit`.
pub fn bt(args: &[&str]) -> Output {
    run_with_deadline(Command::new(BT).args(args), Duration::from_secs(60))
}

pub fn run_with_deadline(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// `bt args...` that must succeed; returns stdout.
pub fn bt_ok(args: &[&str]) -> String {
    let out = bt(args);
    assert!(
        out.status.success(),
        "bt {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// `bt args...` that must fail; returns stdout + stderr.
pub fn bt_err(args: &[&str]) -> String {
    let out = bt(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "bt {args:?} succeeded: {text}");
    text
}

/// A `bt tracker` on a free loopback port, killed on drop.
pub struct TrackerProc {
    child: Child,
    pub addr: SocketAddr,
    /// Kept open so the tracker's later output does not hit a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl TrackerProc {
    pub fn start(extra: &[&str]) -> TrackerProc {
        let mut child = Command::new(BT)
            .args(["tracker", "--listen", "127.0.0.1:0", "--threads", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bt tracker");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut line).expect("read tracker banner");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
            .parse()
            .expect("address");
        TrackerProc {
            child,
            addr,
            _stdout: stdout,
        }
    }

    pub fn announce_url(&self) -> String {
        format!("http://{}/announce", self.addr)
    }

    /// Panics if the tracker process has exited (it must survive every request).
    pub fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().expect("wait").is_none(),
            "tracker exited"
        );
    }
}

impl Drop for TrackerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive HTTP/1.1 connection with a read timeout.
pub struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    pub fn connect(addr: SocketAddr) -> Http {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Http {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends raw request-target bytes; returns `(status, body)`, or `None` if the server closed
    /// the connection without answering.
    pub fn get_raw(&mut self, target: &[u8]) -> Option<(u16, Vec<u8>)> {
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(target);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: test\r\n\r\n");
        self.send_raw(&req)
    }

    pub fn get(&mut self, target: &str) -> (u16, Vec<u8>) {
        self.get_raw(target.as_bytes())
            .unwrap_or_else(|| panic!("no response to {target}"))
    }

    pub fn send_raw(&mut self, req: &[u8]) -> Option<(u16, Vec<u8>)> {
        self.stream.write_all(req).ok()?;
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    let body = self.buf[end + 4..end + 4 + len].to_vec();
                    self.buf.drain(..end + 4 + len);
                    return Some((status, body));
                }
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// A fresh connection for one request.
pub fn get(addr: SocketAddr, target: &str) -> (u16, Vec<u8>) {
    Http::connect(addr).get(target)
}

/// Percent-encodes every byte, as careful clients do for binary values.
pub fn esc(b: &[u8]) -> String {
    b.iter().map(|b| format!("%{b:02X}")).collect()
}

pub fn announce_query(hash: &[u8; 20], peer: &[u8; 20], port: u16, left: u64) -> String {
    format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}",
        esc(hash),
        esc(peer)
    )
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Polls `cond` every 100 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
