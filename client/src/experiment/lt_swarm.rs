//! libtorrent's seeder and leechers (Debian's python3-libtorrent, run by `/usr/bin/python3`,
//! DESIGN §9) on our tracker: one `lt_swarm.py` process per file size.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use super::{Measured, SizeRun};

/// Debian's interpreter: the only one that can import python3-libtorrent.
const PY: &str = "/usr/bin/python3";
const SCRIPT: &str = include_str!("lt_swarm.py");
const COMMON: &str = include_str!("../../tests/interop_py/lt_common.py");

/// Fails with an install hint when python3-libtorrent is missing.
pub fn require() -> Result<()> {
    let ok = Command::new(PY)
        .args(["-c", "import libtorrent"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        bail!("--client libtorrent: {PY} cannot import libtorrent; install it with `apt-get install python3-libtorrent`");
    }
    Ok(())
}

/// One line of the script's output.
#[derive(Deserialize)]
struct Line {
    ready: Option<bool>,
    error: Option<String>,
    iteration: Option<usize>,
    leecher: Option<usize>,
    time_s: Option<f64>,
    bytes: Option<u64>,
    same: Option<bool>,
}

pub fn run(sr: &SizeRun, work: &Path) -> Result<Vec<Measured>> {
    std::fs::write(work.join("lt_swarm.py"), SCRIPT)?;
    std::fs::write(work.join("lt_common.py"), COMMON)?;
    let log = work.join("lt_swarm.log");
    let mut child = Command::new(PY)
        .arg(work.join("lt_swarm.py"))
        .arg(sr.torrent)
        .arg(sr.seed_dir)
        .arg(work)
        .arg(sr.size.iterations.to_string())
        .arg(sr.limit.as_secs_f64().to_string())
        .env("PYTHONPATH", work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("starting {PY}"))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let res = collect(sr, &rx);
    let _ = child.kill();
    let _ = child.wait();
    res.map_err(|e| {
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        anyhow!("libtorrent, {e:#}\n{}", stderr.trim())
    })
}

/// Reads the script's lines; each iteration must report within the limit (plus start-up).
fn collect(sr: &SizeRun, rx: &mpsc::Receiver<std::io::Result<String>>) -> Result<Vec<Measured>> {
    let wait = sr.limit + Duration::from_secs(30);
    let mut out = Vec::new();
    let mut ready = false;
    while out.len() < sr.size.iterations * super::LEECHERS {
        let next = out.len() / super::LEECHERS + 1;
        let line = match rx.recv_timeout(wait) {
            Ok(l) => l.context("reading the script's output")?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!(
                    "{}: no result within {wait:?}",
                    sr.at(next, out.len() % 3 + 1)
                )
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!(
                    "size {}, iteration {next}: the script exited early",
                    sr.size.label
                )
            }
        };
        let l: Line = serde_json::from_str(&line)
            .with_context(|| format!("unexpected script output {line:?}"))?;
        if let Some(e) = l.error {
            bail!("size {}, {e}", sr.size.label);
        }
        if l.ready.is_some() {
            ready = true;
            continue;
        }
        let (Some(iteration), Some(leecher), Some(secs), Some(bytes), Some(same), true) =
            (l.iteration, l.leecher, l.time_s, l.bytes, l.same, ready)
        else {
            bail!("unexpected script output {line:?}");
        };
        if !same {
            bail!(
                "{}: downloaded data differs from the source",
                sr.at(iteration, leecher)
            );
        }
        out.push(Measured {
            iteration,
            leecher,
            secs,
            bytes_received: bytes,
        });
    }
    Ok(out)
}
