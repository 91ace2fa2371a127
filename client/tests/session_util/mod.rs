//! Helpers for the session and interop tests: child processes killed on drop, free ports,
//! deterministic test data and torrents made with `bt create`.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BT: &str = env!("CARGO_BIN_EXE_bt");

/// A child process that is killed (and reaped) when dropped, so a failing test leaves
/// nothing running.
pub struct Proc {
    pub child: Child,
    pub name: String,
    stderr_path: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stdout/stderr captured into `log_dir/<name>.log`.
    pub fn spawn(name: &str, mut cmd: Command, log_dir: &Path) -> Proc {
        let stderr_path = log_dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&stderr_path).expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({cmd:?}): {e}"));
        Proc {
            child,
            name: name.to_owned(),
            stderr_path,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits up to `limit` for the process to exit; panics with its log if it does not.
    pub fn wait_for(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {limit:?}; log:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn bt(args: &[&str]) -> Command {
    let mut c = Command::new(BT);
    c.args(args);
    c
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, limit: Duration) {
    let end = Instant::now() + limit;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < end,
            "nothing listening on {addr} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `len` deterministic pseudo-random bytes (xorshift), different for each `seed`.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `dir/name` with test data and makes `dir/../name.torrent` with `bt create`.
pub fn make_torrent(dir: &Path, name: &str, len: usize, piece_len: &str, tracker: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("data dir");
    let file = dir.join(name);
    std::fs::write(&file, data(len, len as u64)).expect("write data");
    let torrent = dir
        .parent()
        .expect("parent")
        .join(format!("{name}.torrent"));
    let out = bt(&["create", "--piece-length", piece_len, "-t", tracker, "-o"])
        .arg(&torrent)
        .arg(&file)
        .output()
        .expect("run bt create");
    assert!(
        out.status.success(),
        "bt create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    torrent
}

/// Asserts two files are byte-identical without printing megabytes on failure.
pub fn assert_same_file(a: &Path, b: &Path) {
    let read = |p: &Path| {
        let mut v = Vec::new();
        std::fs::File::open(p)
            .and_then(|mut f| f.read_to_end(&mut v))
            .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
        v
    };
    let (x, y) = (read(a), read(b));
    assert_eq!(
        x.len(),
        y.len(),
        "{} and {} differ in length",
        a.display(),
        b.display()
    );
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

/// Starts `bt tracker` on a free port; returns it and its announce URL.
pub fn tracker(log_dir: &Path) -> (Proc, String) {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let p = Proc::spawn(
        "tracker",
        bt(&["tracker", "--listen", &addr.to_string(), "--interval", "60"]),
        log_dir,
    );
    wait_for_port(addr, Duration::from_secs(10));
    (p, format!("http://{addr}/announce"))
}

/// Starts `bt seed` for `torrent` over `dir` on a free port and waits until it listens.
pub fn seed(torrent: &Path, dir: &Path, extra: &[&str], log_dir: &Path) -> (Proc, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut cmd = bt(&["seed"]);
    cmd.arg(torrent)
        .arg(dir)
        .args(["--listen", &addr.to_string(), "-v"])
        .args(extra);
    let p = Proc::spawn(&format!("seed-{}", addr.port()), cmd, log_dir);
    wait_for_port(addr, Duration::from_secs(20));
    (p, addr)
}

/// A tracker URL nobody listens on: announces fail fast and peers come from `--peer`.
pub fn dead_tracker() -> String {
    format!("http://127.0.0.1:{}/announce", free_port())
}

/// Set to `1` (as `.ci/run` does after installing the packages) to make a missing third-party
/// program fail its interop test; otherwise the test is skipped with one `SKIPPED` line.
pub const REQUIRED_VAR: &str = "BT_INTEROP_REQUIRED";

/// Why `program` cannot run (not on PATH, with the Debian package that provides it), or `None`.
pub fn missing_program(program: &str, package: &str) -> Option<String> {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    (!found).then(|| format!("{program} is not on PATH (Debian package {package})"))
}

/// Debian's interpreter, the only one that can import `python3-libtorrent` (DESIGN §9).
pub const PY: &str = "/usr/bin/python3";

/// Why Debian's libtorrent binding cannot be used, or `None`.
pub fn missing_libtorrent() -> Option<String> {
    missing_libtorrent_in(PY)
}

pub fn missing_libtorrent_in(python: &str) -> Option<String> {
    let ok = Command::new(python)
        .args(["-c", "import libtorrent"])
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| format!("{python} cannot import libtorrent (Debian package python3-libtorrent)"))
}

/// `true` when the calling test must return because of `missing` (from [`missing_program`] or
/// [`missing_libtorrent`]): it prints `SKIPPED <test binary>::<test>: <why>`, written past
/// the test harness's output capture so it shows in `cargo test`'s output. With
/// `BT_INTEROP_REQUIRED=1` a missing program panics instead, since CI installed them all.
pub fn skipped(missing: Option<String>) -> bool {
    let Some(why) = missing else { return false };
    assert!(
        std::env::var_os(REQUIRED_VAR).is_none_or(|v| v != "1"),
        "{why}; {REQUIRED_VAR}=1 requires it (install: see .ci/run and the README)"
    );
    let binary = module_path!().split("::").next().unwrap_or("?");
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let _ = writeln!(std::io::stderr(), "SKIPPED {binary}::{test}: {why}");
    true
}

/// `/usr/bin/python3 client/tests/interop_py/<script> args...`.
pub fn python(script: &str, args: &[&str]) -> Command {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop_py");
    let mut c = Command::new(PY);
    c.arg(format!("{dir}/{script}"))
        .args(args)
        .env("PYTHONPATH", dir);
    c
}

/// A libtorrent seeder of `lt/lt.bin` (`len` bytes of `data(len, seed)`) under `dir`, with
/// the torrent it made at `lt.torrent` (pieces of `piece_len` bytes); ready to serve.
pub struct LtSeed {
    pub proc: Proc,
    pub src: PathBuf,
    pub torrent: PathBuf,
    pub port: u16,
}

/// Callers first check [`missing_libtorrent`].
pub fn lt_seed(dir: &Path, len: usize, seed: u64, piece_len: u32) -> LtSeed {
    let src_dir = dir.join("lt");
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = src_dir.join("lt.bin");
    std::fs::write(&src, data(len, seed)).unwrap();
    let torrent = dir.join("lt.torrent");
    let port = free_port();
    let args = [
        src.to_str().unwrap(),
        torrent.to_str().unwrap(),
        &port.to_string(),
        &piece_len.to_string(),
    ];
    let mut proc = Proc::spawn("lt-seed", python("lt_seed.py", &args), dir);
    wait_for_log(&mut proc, "ready", Duration::from_secs(30));
    LtSeed {
        proc,
        src,
        torrent,
        port,
    }
}

/// Waits until `p`'s log contains `needle`; panics with the log after `limit`.
pub fn wait_for_log(p: &mut Proc, needle: &str, limit: Duration) {
    let end = Instant::now() + limit;
    while !p.log().contains(needle) {
        assert!(p.is_running(), "{} exited early; log:\n{}", p.name, p.log());
        assert!(
            Instant::now() < end,
            "{} did not print {needle:?} within {limit:?}; log:\n{}",
            p.name,
            p.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
