//! `sim bench --scale`: the flash crowd at growing swarm sizes.
//!
//! Each size runs in a child `sim` process (`sim bench --scale-child N`), so the peak resident
//! memory and CPU time `wait4` reports are that size's alone, not the largest run so far. User
//! CPU time is reported beside wall time because this tool is run on shared machines, where
//! wall time also counts other people's work.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::scenario::Role;
use crate::Scenario;

/// What a child run reports on its stdout (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildReport {
    pub peers: usize,
    pub sim_time_s: f64,
    /// The simulation alone (no loading or output), measured by the child.
    pub run_wall_s: f64,
    pub events: u64,
    pub recomputes: u64,
    pub leechers_done: usize,
    pub mean_completion_s: Option<f64>,
}

/// One row of the scale table: the child's report and what the kernel measured of it.
#[derive(Debug)]
pub struct ScaleRow {
    pub report: ChildReport,
    pub user_s: f64,
    pub peak_rss_mib: f64,
}

/// `path` resized to `peers` nodes: its last group, which must be leechers, takes up the
/// difference (`flash-crowd-1000.toml` at 10,000 peers is `--set group.2.count=9999`).
pub fn resize(path: &Path, peers: usize, sets: &[String]) -> anyhow::Result<Scenario> {
    let sc = crate::overrides::load(path, sets)?;
    let last = sc.groups.last().context("the scenario has no groups")?;
    anyhow::ensure!(
        last.role == Role::Leecher,
        "the last group of {} must be leechers to resize it",
        path.display()
    );
    let others = sc.nodes().len() - last.count.0 as usize;
    anyhow::ensure!(
        peers > others,
        "{peers} peers leave no room for leechers beside the {others} other nodes"
    );
    let mut all = sets.to_vec();
    all.push(format!(
        "group.{}.count={}",
        sc.groups.len(),
        peers - others
    ));
    crate::overrides::load(path, &all)
}

/// The child side: one run with a progress bar on stderr, its report as JSON on stdout.
pub fn child(path: &Path, peers: usize, sets: &[String]) -> anyhow::Result<()> {
    let sc = resize(path, peers, sets)?;
    let bar = crate::replicate::download_bar(&sc, 1);
    let t0 = Instant::now();
    let r = crate::run_observed(&sc, &|b| bar.inc(b));
    let run_wall_s = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let summary = r.summary();
    let report = ChildReport {
        peers: r.nodes.len(),
        sim_time_s: r.stats.sim_time_s,
        run_wall_s,
        events: r.stats.events,
        recomputes: r.stats.recomputes,
        leechers_done: summary.completed,
        mean_completion_s: summary.mean_s,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The parent side: runs `sim bench --scale-child peers` and measures it.
pub fn measure(path: &Path, peers: usize, sets: &[String]) -> anyhow::Result<ScaleRow> {
    let exe = std::env::current_exe().context("finding the sim executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("bench")
        .arg("--flash")
        .arg(path)
        .arg("--scale-child")
        .arg(peers.to_string());
    for s in sets {
        cmd.arg("--set").arg(s);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting a child sim")?;
    let mut out = String::new();
    child
        .stdout
        .take()
        .context("child stdout")?
        .read_to_string(&mut out)?;
    let (status, usage) = wait_with_usage(child.id())?;
    anyhow::ensure!(status == 0, "the {peers}-peer run failed (status {status})");
    let report: ChildReport = serde_json::from_str(out.trim())
        .with_context(|| format!("reading the {peers}-peer run's report: {out:?}"))?;
    let tv = usage.ru_utime;
    Ok(ScaleRow {
        report,
        user_s: tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6,
        // Linux reports ru_maxrss in KiB.
        peak_rss_mib: usage.ru_maxrss as f64 / 1024.0,
    })
}

/// Reaps child `pid`, returning its exit code and its own resource usage.
fn wait_with_usage(pid: u32) -> anyhow::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; `pid` is our own unreaped child.
    let got = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    anyhow::ensure!(
        got == pid as libc::pid_t,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage))
}

/// Prints the scale table, one size after another (each row as soon as it is measured).
pub fn table(path: &Path, sizes: &[usize], sets: &[String]) -> anyhow::Result<()> {
    println!(
        "{:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>12} {:>10} {:>9} {:>9}",
        "peers",
        "sim_s",
        "wall_s",
        "user_s",
        "sim/wall",
        "sim/user",
        "events",
        "Mev/user_s",
        "rss_MiB",
        "mean_s"
    );
    for &n in sizes {
        let row = measure(path, n, sets)?;
        let r = &row.report;
        println!(
            "{:>8} {:>8.0} {:>9.1} {:>9.1} {:>10.1} {:>10.1} {:>12} {:>10.2} {:>9.0} {:>9}",
            r.peers,
            r.sim_time_s,
            r.run_wall_s,
            row.user_s,
            r.sim_time_s / r.run_wall_s,
            r.sim_time_s / row.user_s,
            r.events,
            r.events as f64 / 1e6 / row.user_s,
            row.peak_rss_mib,
            r.mean_completion_s
                .map_or_else(|| "-".into(), |m| format!("{m:.1}"))
        );
    }
    println!(
        "(one child process per size, one core each; user_s and rss_MiB are the child's own \
         getrusage figures, wall_s times the simulation only)"
    );
    Ok(())
}
