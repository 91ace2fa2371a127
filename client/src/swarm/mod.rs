//! `bt swarm`: a simulator scenario run as a real swarm — every node an in-process `bt`
//! session on loopback, with the scenario's rates, policies and join/leave times — reported
//! in exactly `sim run`'s format, so the two can be compared file for file.
//!
//! Time is compressed by a factor K (`--scale`): rates × K; engine intervals, join times and
//! seeding durations ÷ K; measured times × K, so every reported time is in scenario seconds.
//! Seniority (online days) is not a duration of the run and stays as written. `auto` picks K
//! from the simulator's own run of the scenario (tens of milliseconds) so the swarm takes
//! about [`AUTO_WALL`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use engine_core::torrent::EngineSettings;
use scenario::draws::{join_order, replicate_seed, resolve_nodes};
use scenario::result::{node_table, NodeResult, PairBytes, ProgressPoint, RunResult, RunStats};
use scenario::{Leave, NodeSpec, Role, Scenario};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

mod fidelity;
mod predict;

use crate::experiment::bt_swarm::{verify, Swarm};
use crate::experiment::{make_torrent, test_data};
use crate::session::{self, Options};
use limits::Limits;

mod limits;

/// Wall time `--scale auto` aims for.
pub const AUTO_WALL: Duration = Duration::from_secs(45);
/// The largest K at which the thesis swarms' seniority ordering on sockets matched the
/// simulator's (G1T2 and G1T3, 10 replicates each; at K = 36 G1T3's ρ was weaker by 0.115).
const FAITHFUL_K: f64 = 8.0;
/// Real sessions on one machine: beyond this, sockets and CPU, not the protocol, set the pace.
const MAX_NODES: usize = 64;
/// Interval of the swarm progress samples, in scenario seconds (the simulator's).
const SAMPLE_EVERY_S: f64 = 10.0;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Writes results.csv, pairs.csv, progress.csv, run.json and
scenario.resolved.toml into --out, exactly as `sim run` does, only once every leecher's data
has verified against the source.

Examples:
  bt swarm scenarios/g1t2.toml
  bt swarm scenarios/g1t2.toml --scale 40 --set torrent.size=8MiB --out out/g1t2-bt
  bt swarm scenarios/g1t2.toml --replicates 10 --scale 36 --out out/g1t2-bt10")]
pub struct SwarmArgs {
    /// Scenario file (TOML), e.g. scenarios/g1t2.toml.
    scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override any key, e.g. `--set torrent.size=8MiB --set group.2.count=6`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Time compression K (the swarm runs K× faster than the scenario), or `auto`: K such
    /// that the simulator's run of the scenario would take about 45 s.
    #[arg(long, default_value = "auto", value_parser = parse_scale)]
    scale: Scale,
    /// Output folder [default: out/<scenario name>-bt].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Node k listens on 127.0.0.1:(PORT + k − 1) [default: ports the OS picks].
    #[arg(long, value_name = "PORT")]
    ports: Option<u16>,
    /// The `sim` binary that predicts the run (and picks `auto`'s K) [default: the one beside
    /// `bt`, else on PATH]. Without one, `--scale K` still runs the swarm, uncompared.
    #[arg(long, value_name = "PATH")]
    sim: Option<PathBuf>,
    /// Wall-clock limit [default: 3× the simulator's duration ÷ K, plus 30 s; without a
    /// simulator, the scenario's max_time ÷ K].
    #[arg(long, value_parser = crate::units::parse_duration)]
    timeout: Option<Duration>,
    /// Print only the summary.
    #[arg(short, long)]
    quiet: bool,
    /// Run this many replicates (seeds as `sim run --replicates`: the first is the scenario's)
    /// one after another, each beside the simulator's run of the same seed, and report their
    /// agreement: mean completion, Spearman rho, slope (s/day), thirds gap and two allocation
    /// statistics from pairs.csv, each with a 95% CI per side and the paired difference
    /// (agreement.csv, replicates.csv). Each replicate's outputs go to --out/replicate-NN/.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    replicates: u32,
}

#[derive(Clone, Copy, Debug)]
enum Scale {
    Auto,
    Factor(f64),
}

fn parse_scale(s: &str) -> Result<Scale, String> {
    if s == "auto" {
        return Ok(Scale::Auto);
    }
    match s.parse::<f64>() {
        Ok(k) if k.is_finite() && k >= 1.0 => Ok(Scale::Factor(k)),
        _ => Err(format!("{s:?}: use auto or a factor ≥ 1, e.g. 20")),
    }
}

pub fn run(args: SwarmArgs) -> Result<()> {
    let mut sets = args.set.clone();
    sets.extend(args.seed.map(|s| format!("seed={s}")));
    let sc = Scenario::load(&args.scenario, &sets)?;
    ensure!(
        sc.ondemand.is_none(),
        "{}: [ondemand] scenarios are not supported by bt swarm (bt ondemand runs that controller)",
        args.scenario.display()
    );
    let open = sc.open_keys();
    ensure!(
        open.is_empty(),
        "{}: open-swarm keys are not supported by bt swarm (it starts a fixed set of sessions \
         and stops seeders only at the end): {}; run it with sim",
        args.scenario.display(),
        open.join(", ")
    );
    let nodes = resolve_nodes(&sc);
    ensure!(
        nodes.len() <= MAX_NODES,
        "{}: {} nodes; bt swarm runs every node as a real session on this machine and supports at most {MAX_NODES}",
        args.scenario.display(),
        nodes.len()
    );
    if let Some(p) = args.ports {
        ensure!(
            p > 0 && usize::from(p) + nodes.len() - 1 <= usize::from(u16::MAX),
            "--ports {p}: {} nodes need ports {p}..{} (1..=65535)",
            nodes.len(),
            usize::from(p) + nodes.len() - 1
        );
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{}-bt", sc.name)));
    check_writable(&out)?;
    let sim = predict::find_sim(args.sim.as_deref())?;
    if args.replicates == 1 {
        return run_once(&args, &sc, sim.as_deref(), args.scale, &out, true).map(|_| ());
    }
    // Replicate r is the simulator's replicate r (same seed); K is picked once, from the first,
    // so every replicate runs at the same compression.
    let mut scale = args.scale;
    let mut reps = Vec::new();
    for r in 0..args.replicates {
        let mut sc_r = sc.clone();
        sc_r.seed = replicate_seed(sc.seed, r);
        eprintln!(
            "bt swarm: replicate {}/{} (seed {})",
            r + 1,
            args.replicates,
            sc_r.seed
        );
        let dir = out.join(format!("replicate-{r:02}"));
        let (real, predicted, k) = run_once(&args, &sc_r, sim.as_deref(), scale, &dir, r == 0)?;
        scale = Scale::Factor(k);
        reps.push(fidelity::Replicate::new(
            sc_r.seed,
            &real,
            predicted.as_ref(),
        ));
    }
    let rows = fidelity::agreement(&reps);
    println!("\n{}", fidelity::text(&rows));
    fidelity::write(&out, &reps, &rows)?;
    println!(
        "wrote {} (replicate-NN/ per replicate, replicates.csv, agreement.csv)",
        out.display()
    );
    Ok(())
}

/// One real run of `sc` (and the simulator's, when there is a `sim`), written to `out`.
/// Returns both results and the K it ran at; `header` prints the resolved configuration.
fn run_once(
    args: &SwarmArgs,
    sc: &Scenario,
    sim: Option<&Path>,
    scale: Scale,
    out: &Path,
    header: bool,
) -> Result<(RunResult, Option<RunResult>, f64)> {
    let nodes = resolve_nodes(sc);
    // The simulator's run: picks `auto`'s K and the deadline, and is the comparison printed.
    let (predicted, k) = match (sim, scale) {
        (Some(sim), scale) => {
            let p = predict::predict(sim, sc)?;
            let end = p.stats.sim_time_s.max(1.0);
            let k = match scale {
                Scale::Factor(k) => k,
                Scale::Auto => (end / AUTO_WALL.as_secs_f64()).max(1.0).round(),
            };
            (Some(p), k)
        }
        (None, Scale::Auto) => bail!(
            "no `sim` binary beside bt or on PATH: --scale auto needs the simulator's run to pick K; \
             give --sim PATH, or --scale K to run without the comparison"
        ),
        (None, Scale::Factor(k)) => {
            eprintln!("bt swarm: no `sim` binary beside bt or on PATH (--sim PATH): running without the simulator's comparison");
            (None, k)
        }
    };
    let sim_end = predicted.as_ref().map(|p| p.stats.sim_time_s.max(1.0));
    let timeout = args.timeout.unwrap_or_else(|| match sim_end {
        Some(end) => Duration::from_secs_f64(3.0 * end / k + 30.0),
        None => Duration::from_secs_f64(sc.max_time.0.as_secs_f64() / k),
    });
    let limits = Limits::new(sc, k);
    if header && !args.quiet {
        println!("# resolved configuration\n{}", sc.to_toml());
        println!("{}", limits.to_toml());
    }
    if header {
        for w in limits.warnings() {
            eprintln!("{w}");
        }
        if k > FAITHFUL_K {
            eprintln!(
                "note: K = {k}: completion times agree within a few percent at any K measured, but the seniority \
                 ordering (rho, slope) matched the simulator only up to K = {FAITHFUL_K} on the \
                 thesis swarms (README, \"sim versus sockets\"); use --scale {FAITHFUL_K} when \
                 the ordering is the question"
            );
        }
    }
    let expect = sim_end.map_or_else(String::new, |end| {
        format!(
            "the simulator's run: {end:.0} s, so about {:.0} s wall; ",
            end / k
        )
    });
    eprintln!(
        "bt swarm: {} nodes on loopback, scale K = {k} ({expect}limit {:.0} s)",
        nodes.len(),
        timeout.as_secs_f64()
    );
    let t0 = Instant::now();
    let real = Run::new(sc, &limits, args.ports)?.run(nodes, timeout)?;
    let wall = t0.elapsed();
    if !args.quiet {
        println!("{}", node_table(&real));
    }
    println!("{}", real.summary().text());
    if let Some(predicted) = &predicted {
        println!("{}", predict::agreement(predicted, &real).text());
    }
    real.write(out)?;
    std::fs::write(out.join("bt-limits.toml"), limits.to_toml())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({:.1} s wall at scale {k}; every leecher's data verified)",
        out.display(),
        wall.as_secs_f64()
    );
    Ok((real, predicted, k))
}

/// Fails before the run, not after a minute of it, if results could not be written.
fn check_writable(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating --out {}", out.display()))?;
    let probe = out.join(".bt-swarm-probe");
    std::fs::write(&probe, b"")
        .with_context(|| format!("--out {} is not writable", out.display()))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// One node's session as the run sees it.
struct Node {
    spec: NodeSpec,
    /// Scenario seconds at which it joins.
    join_s: Option<f64>,
    received: Arc<AtomicU64>,
    completed: Arc<Notify>,
    stop: Arc<Notify>,
    task: Option<JoinHandle<Result<session::Report>>>,
    /// When its session started, completed (set by a waiter task the moment the session
    /// reports it) and ended, each set once by the node's tasks.
    joined: Arc<OnceLock<Instant>>,
    completed_at: Arc<OnceLock<Instant>>,
    left: Arc<OnceLock<Instant>>,
    /// Still running when the run ended: it never left, as the simulator reports it.
    stopped_at_end: bool,
    report: session::Report,
}

/// The loopback swarm of one scenario.
struct Run<'a> {
    sc: &'a Scenario,
    k: f64,
    /// The sessions' floor on the announce interval ([`Limits`]).
    min_announce_interval: Duration,
    ports: Option<u16>,
    /// The scenario's engine settings with every interval ÷ K.
    engine: EngineSettings,
    swarm: Swarm,
    /// Holds the seeders' data, the torrent and every leecher's folder.
    work: tempfile::TempDir,
    torrent: PathBuf,
    file_name: String,
    source: Vec<u8>,
}

impl<'a> Run<'a> {
    fn new(sc: &'a Scenario, limits: &Limits, ports: Option<u16>) -> Result<Run<'a>> {
        let k = limits.scale();
        let swarm = Swarm::start(limits.tracker_interval)?;
        let work = tempfile::Builder::new()
            .prefix("bt-swarm-")
            .tempdir()
            .context("creating a temp dir")?;
        let size = usize::try_from(sc.torrent.size.0).context("file size")?;
        let source = test_data(size, sc.seed);
        let file_name = format!("{}.bin", sc.name);
        let seed_dir = work.path().join("seed");
        std::fs::create_dir_all(&seed_dir)?;
        std::fs::write(seed_dir.join(&file_name), &source)?;
        let torrent = work.path().join(format!("{}.torrent", sc.name));
        make_torrent(
            &seed_dir.join(&file_name),
            &torrent,
            &swarm.announce_url(),
            Some(sc.torrent.piece_length.0),
        )?;
        Ok(Run {
            sc,
            k,
            min_announce_interval: limits.min_announce_interval,
            ports,
            engine: scaled(sc.engine.settings(), k),
            swarm,
            work,
            torrent,
            file_name,
            source,
        })
    }

    /// Scenario time → wall time.
    fn wall(&self, d: engine_core::time::Duration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() / self.k)
    }

    /// A node's session options: the scenario's policy, rates × K and intervals ÷ K.
    fn options(&self, node: &Node) -> Options {
        let spec = &node.spec;
        let e = &self.sc.engine;
        let seed = spec.role == Role::Seeder;
        let dir = match spec.role {
            Role::Seeder => self.work.path().join("seed"),
            Role::Leecher => self.work.path().join(format!("node-{}", spec.id)),
        };
        let port = self
            .ports
            .map_or(0, |p| p.saturating_add(spec.id as u16 - 1));
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        Options {
            up: Some(spec.upload * self.k),
            down: Some(spec.download * self.k),
            max_peers: e.max_connections as usize,
            numwant: self.sc.tracker.numwant,
            engine: self.engine.clone(),
            policy: spec.policy.time_compressed(self.k),
            contribution: spec.contribution(),
            min_announce_interval: self.min_announce_interval,
            received: node.received.clone(),
            stop: Some(node.stop.clone()),
            exit_on_complete: spec.leave == Leave::Immediately,
            completed: Some(node.completed.clone()),
            quiet: true,
            burst: crate::ratelimit::DEFAULT_BURST.div_f64(self.k),
            peer_id: Some(node_peer_id(spec.id)),
            ..Options::in_process(&self.torrent, &dir, seed, listen)
        }
    }

    /// Starts every node at its join time and runs until every leecher has the file.
    fn run(
        self,
        specs: Vec<(NodeSpec, Option<engine_core::time::Instant>)>,
        timeout: Duration,
    ) -> Result<RunResult> {
        let mut nodes: Vec<Node> = specs
            .into_iter()
            .map(|(spec, join)| Node {
                spec,
                join_s: join.map(|t| t.as_secs_f64()),
                received: Default::default(),
                completed: Arc::new(Notify::new()),
                stop: Arc::new(Notify::new()),
                task: None,
                joined: Default::default(),
                completed_at: Default::default(),
                left: Default::default(),
                stopped_at_end: false,
                report: session::Report::default(),
            })
            .collect();
        let start = Instant::now();
        // Same-instant joins start in the simulator's seeded order, so node index (online
        // days, in the thesis scenarios) gives no head start, and the same one gets it there.
        for i in join_order(self.sc) {
            self.spawn(&mut nodes[i], start);
        }
        let leechers = nodes
            .iter()
            .filter(|n| n.spec.role == Role::Leecher)
            .count();
        let total = leechers as u64 * self.source.len() as u64;
        let bar = crate::progress::bytes_bar("swarm", total);
        let deadline = start + timeout;
        let mut progress = Vec::new();
        let mut next_sample = 0.0;
        let res = loop {
            let now = Instant::now();
            let t = now.duration_since(start).as_secs_f64() * self.k;
            if let Err(e) = self.reap(&mut nodes) {
                break Err(e);
            }
            let done = nodes.iter().filter(|n| is_done_leecher(n)).count();
            if t >= next_sample || done == leechers {
                progress.push(sample(&nodes, t));
                next_sample += SAMPLE_EVERY_S;
            }
            let got: u64 = leecher_bytes(&nodes);
            bar.set_position(got.min(total));
            bar.set_message(format!("swarm {done}/{leechers} done"));
            if done == leechers {
                break Ok(t);
            }
            if now > deadline {
                let stalled: Vec<String> = nodes
                    .iter()
                    .filter(|n| n.spec.role == Role::Leecher && n.completed_at.get().is_none())
                    .map(|n| n.spec.id.to_string())
                    .collect();
                break Err(anyhow!(
                    "gave up after {timeout:.0?} wall: leecher(s) {} did not finish",
                    stalled.join(", ")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        bar.finish_and_clear();
        let stopped = self.stop_all(&mut nodes);
        let end_s = res?;
        stopped?;
        for n in nodes.iter().filter(|n| n.spec.role == Role::Leecher) {
            let at = format!("node {}", n.spec.id);
            let file = self
                .work
                .path()
                .join(format!("node-{}", n.spec.id))
                .join(&self.file_name);
            verify(&file, &self.source, &at)?;
        }
        Ok(self.result(&nodes, start, end_s, progress))
    }

    /// Starts a node's session at its join time (÷ K), recording when it joins, completes and
    /// leaves; a leecher with `leave = "<duration>"` is stopped after seeding that long.
    fn spawn(&self, node: &mut Node, start: Instant) {
        let Some(join_s) = node.join_s else { return };
        let opts = self.options(node);
        let at = start + Duration::from_secs_f64(join_s / self.k);
        let leecher = node.spec.role == Role::Leecher;
        let leave_after = match node.spec.leave {
            Leave::After(d) if leecher => Some(self.wall(d.0)),
            _ => None,
        };
        let (joined, left) = (node.joined.clone(), node.left.clone());
        let (completed, completed_at, stop) = (
            node.completed.clone(),
            node.completed_at.clone(),
            node.stop.clone(),
        );
        node.task = Some(self.swarm.runtime().spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let _ = joined.set(Instant::now());
            if leecher {
                tokio::spawn(async move {
                    completed.notified().await;
                    let _ = completed_at.set(Instant::now());
                    if let Some(seed_for) = leave_after {
                        tokio::time::sleep(seed_for).await;
                        stop.notify_one();
                    }
                });
            }
            let res = session::run(opts).await;
            let _ = left.set(Instant::now());
            res
        }));
    }

    /// Collects the counters of sessions that ended; a failed one fails the run.
    fn reap(&self, nodes: &mut [Node]) -> Result<()> {
        for n in nodes.iter_mut() {
            if !n.task.as_ref().is_some_and(|t| t.is_finished()) {
                continue;
            }
            let task = n.task.take().expect("checked above");
            let id = n.spec.id;
            n.report = self
                .swarm
                .runtime()
                .block_on(task)
                .with_context(|| format!("node {id}: the session panicked"))?
                .with_context(|| format!("node {id}"))?;
        }
        Ok(())
    }

    /// Ends every session still running (a `stopped` announce each) and collects counters.
    fn stop_all(&self, nodes: &mut [Node]) -> Result<()> {
        let rt = self.swarm.runtime();
        let mut res = Ok(());
        for n in nodes.iter_mut() {
            let Some(task) = n.task.take() else { continue };
            if n.joined.get().is_none() {
                // Still waiting for its join time: nothing to stop gracefully.
                task.abort();
                continue;
            }
            n.stop.notify_one();
            n.stopped_at_end = true;
            let id = n.spec.id;
            let ended =
                rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
            match ended {
                Ok(Ok(Ok(report))) => n.report = report,
                Ok(Ok(Err(e))) => res = res.and(Err(e.context(format!("node {id}")))),
                Ok(Err(join)) => res = res.and(Err(anyhow!("node {id} panicked: {join}"))),
                Err(_) => res = res.and(Err(anyhow!("node {id} did not stop within 10 s"))),
            }
        }
        res
    }

    /// The measurements as a simulator result, times × K (scenario seconds).
    fn result(
        &self,
        nodes: &[Node],
        start: Instant,
        end_s: f64,
        progress: Vec<ProgressPoint>,
    ) -> RunResult {
        let secs = |t: Instant| t.duration_since(start).as_secs_f64() * self.k;
        let pairs = pair_bytes(nodes);
        let whitewashes = nodes
            .iter()
            .map(|n| n.report.peer_ids.len().saturating_sub(1) as u64);
        let whitewash_discarded_bytes = nodes.iter().map(|n| n.report.whitewash_discarded_bytes);
        let stats = RunStats {
            sim_time_s: end_s,
            whitewashes: whitewashes.sum(),
            whitewash_discarded_bytes: whitewash_discarded_bytes.sum(),
            ..RunStats::default()
        };
        let nodes = nodes
            .iter()
            .map(|n| NodeResult {
                join_s: n.joined.get().copied().map(secs),
                completion_s: match (n.spec.role, n.joined.get(), n.completed_at.get()) {
                    (Role::Leecher, Some(&j), Some(&c)) => Some(secs(c) - secs(j)),
                    _ => None,
                },
                left_s: n
                    .left
                    .get()
                    .filter(|_| !n.stopped_at_end)
                    .copied()
                    .map(secs),
                bytes_up: n.report.stats.uploaded,
                bytes_down: n.report.stats.downloaded,
                duplicate_bytes: n.report.stats.duplicate_bytes,
                ..NodeResult::of(&n.spec)
            })
            .collect();
        RunResult {
            scenario: self.sc.clone(),
            file_size: self.source.len() as u64,
            nodes,
            pairs,
            progress,
            series: Vec::new(),
            stats,
        }
    }
}

/// Engine settings for a swarm K times faster: every choker interval ÷ K (the core's clock is
/// wall time), hence the rate window too, which follows the new-peer age.
fn scaled(mut e: EngineSettings, k: f64) -> EngineSettings {
    let wall = |d: engine_core::time::Duration| {
        engine_core::time::Duration((d.0 as f64 / k).round().max(1.0) as u64)
    };
    let c = &mut e.choker;
    c.rechoke_interval = wall(c.rechoke_interval);
    c.optimistic_interval = wall(c.optimistic_interval);
    c.snub_timeout = wall(c.snub_timeout);
    c.new_peer_age = wall(c.new_peer_age);
    e
}

/// Node `id`'s first peer id, `-BT0001-0000` and the id in 8 digits: fixed, so the logs
/// name nodes (a `whitewash` node's later identities number the `0000`).
fn node_peer_id(id: u32) -> [u8; 20] {
    let mut pid = *b"-BT0001-000000000000";
    pid[12..].copy_from_slice(format!("{id:08}").as_bytes());
    pid
}

/// Bytes each node sent each other node, as the simulator's pairs.csv counts them: bytes
/// sent to any of a node's identities (each session reports its peer ids) count for it, as
/// the simulator counts a whitewasher's flows for its node.
fn pair_bytes(nodes: &[Node]) -> Vec<PairBytes> {
    let by_pid: BTreeMap<[u8; 20], u32> = nodes
        .iter()
        .flat_map(|n| n.report.peer_ids.iter().map(|&pid| (pid, n.spec.id)))
        .collect();
    let mut pairs: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for n in nodes {
        for (pid, &bytes) in &n.report.uploaded_to {
            if let Some(&to) = by_pid.get(pid) {
                *pairs.entry((n.spec.id, to)).or_default() += bytes;
            }
        }
    }
    pairs
        .into_iter()
        .map(|((from, to), bytes)| PairBytes { from, to, bytes })
        .collect()
}

fn is_done_leecher(n: &Node) -> bool {
    n.spec.role == Role::Leecher && n.completed_at.get().is_some()
}

/// Bytes the leechers read from peers (protocol messages included).
fn leecher_bytes(nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .filter(|n| n.spec.role == Role::Leecher)
        .map(|n| n.received.load(Ordering::Relaxed))
        .sum()
}

/// A progress sample; `bytes_downloaded` counts everything leechers read from peers, the
/// simulator's only block bytes, so it runs a fraction of a percent higher.
fn sample(nodes: &[Node], t: f64) -> ProgressPoint {
    let leechers = nodes.iter().filter(|n| n.spec.role == Role::Leecher);
    let online = leechers
        .filter(|n| n.joined.get().is_some() && n.left.get().is_none())
        .count();
    ProgressPoint {
        time_s: t,
        leechers_done: nodes.iter().filter(|n| is_done_leecher(n)).count() as u32,
        leechers_online: online as u32,
        bytes_downloaded: leecher_bytes(nodes),
    }
}
