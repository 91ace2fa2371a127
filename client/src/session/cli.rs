//! Command-line arguments of `bt seed` and `bt download`, turned into session [`Options`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use engine_core::policy::seniority::{Contribution, SeniorityVariant};
use engine_core::policy::spec::{PolicyError, PolicySpec};
use engine_core::protocol::magnet::MagnetLink;
use engine_core::torrent::EngineSettings;

use super::{seniority, Options};
use crate::units::{parse_duration, parse_rate};

#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// Directory holding the torrent's file (or top folder) under its name.
    pub dir: PathBuf,
    /// Address to accept peers on.
    #[arg(long, default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub common: Common,
}

#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// The .torrent file, or a magnet link (`magnet:?xt=urn:btih:…`; quote it in the shell).
    pub torrent: PathBuf,
    /// Directory to save into (the torrent's file or top folder is created under it).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub out: PathBuf,
    /// Address to accept peers on (port 0: any free port, announced to the tracker).
    #[arg(long, default_value = "0.0.0.0:0")]
    pub listen: SocketAddr,
    /// With a magnet link: also write the fetched metadata as a .torrent file.
    #[arg(long, value_name = "FILE")]
    pub save_torrent: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(clap::Args, Debug)]
pub struct Common {
    /// Upload limit, e.g. 500KB/s or 2MiB/s (also the seniority allocator's L).
    #[arg(long, value_parser = parse_rate)]
    pub up: Option<f64>,
    /// Download limit, e.g. 500KB/s or 2MiB/s.
    #[arg(long, value_parser = parse_rate)]
    pub down: Option<f64>,
    /// A peer to connect to besides the tracker's (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,
    /// Most open connections.
    #[arg(long, default_value_t = 50)]
    pub max_peers: usize,
    /// Peers to ask the tracker for in each announce.
    #[arg(long, default_value_t = 50)]
    pub numwant: u32,
    /// Give up (exit non-zero) after this long, e.g. 90s, 5min.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Outstanding block requests per peer (64 keeps a loopback link busy; the thesis used 5).
    #[arg(long, default_value_t = super::DEFAULT_PIPELINE)]
    pub pipeline: usize,
    /// Log connections and protocol errors to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Incentive policy: `NAME[:key=value,...]`, one of tft (mainline, the default),
    /// seniority[:variant=formula|thesis-code|work-conserving], seniority-liar, free-rider,
    /// fairtorrent[:slack=SIZE], false-have[:per_round=N],
    /// large-view[:numwant=N,reannounce=DUR,max_connections=N],
    /// whitewash[:every=DUR,base=NAME,variant=V] (every DUR, default 10min, a new peer id and
    /// port, keeping its pieces; in between it runs base, default free-rider).
    #[arg(long, value_parser = parse_policy, conflicts_with = "incentive")]
    pub policy: Option<PolicySpec>,
    /// The thesis's shorthand: `none` (= --policy tft) or `seniority[=formula|thesis-code|
    /// work-conserving]` (bare `seniority` is `thesis-code`, what the thesis experiments ran).
    #[arg(long, value_parser = parse_incentive)]
    pub incentive: Option<PolicySpec>,
    /// Days this node has been online seeding (the seniority counter's S).
    #[arg(long, conflicts_with = "online_secs")]
    pub online_days: Option<f64>,
    /// Seconds this node has been online seeding (the seniority counter's S).
    #[arg(long)]
    pub online_secs: Option<f64>,
    /// Files this node seeds (the seniority counter's F).
    #[arg(long, default_value_t = 1)]
    pub files_seeding: u32,
    /// Port of our seniority line-protocol server (runs with --incentive seniority).
    #[arg(long, default_value_t = seniority::DEFAULT_PORT)]
    pub seniority_port: u16,
    /// Port to query on peers' IPs for their seniority [default: --seniority-port].
    #[arg(long)]
    pub seniority_query_port: Option<u16>,
}

impl SeedArgs {
    pub fn into_options(self) -> Result<Options> {
        self.common
            .options(self.torrent, self.dir, true, self.listen)
    }
}

impl DownloadArgs {
    pub fn into_options(self) -> Result<Options> {
        let magnet = match self.torrent.to_str() {
            Some(s) if s.starts_with("magnet:") => Some(MagnetLink::parse(s)?),
            _ => None,
        };
        if magnet.is_none() && self.save_torrent.is_some() {
            bail!("--save-torrent needs a magnet link");
        }
        let mut opts = self
            .common
            .options(self.torrent, self.out, false, self.listen)?;
        for p in magnet.iter().flat_map(|m| &m.peers) {
            // Someone else's link: a peer we cannot resolve is skipped, not fatal.
            match resolve(p) {
                Ok(a) => opts.peers.push(a),
                Err(e) => eprintln!("warning: magnet x.pe={p}: {e:#}"),
            }
        }
        opts.magnet = magnet;
        opts.save_torrent = self.save_torrent;
        Ok(opts)
    }
}

/// The first address `HOST:PORT` resolves to.
fn resolve(p: &str) -> Result<SocketAddr> {
    p.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("{p}: not a HOST:PORT"))
}

impl Common {
    fn options(
        self,
        torrent: PathBuf,
        dir: PathBuf,
        seed: bool,
        listen: SocketAddr,
    ) -> Result<Options> {
        let peers = self
            .peers
            .iter()
            .map(|p| resolve(p).context("--peer"))
            .collect::<Result<_>>()?;
        Ok(Options {
            up: self.up,
            down: self.down,
            peers,
            max_peers: self.max_peers,
            numwant: self.numwant,
            timeout: self.timeout,
            policy: self
                .policy
                .clone()
                .or_else(|| self.incentive.clone())
                .unwrap_or(PolicySpec::Tft),
            contribution: Contribution {
                online_secs: self
                    .online_secs
                    .or(self.online_days.map(|d| d * 86_400.0))
                    .unwrap_or(0.0),
                files_seeding: self.files_seeding,
            },
            seniority_port: self.seniority_port,
            seniority_query_port: self.seniority_query_port.unwrap_or(self.seniority_port),
            verbose: self.verbose,
            engine: EngineSettings {
                pipeline_depth: self.pipeline,
                ..EngineSettings::default()
            },
            ..Options::in_process(&torrent, &dir, seed, listen)
        })
    }
}

/// `--policy`: the scenario files' policy grammar.
fn parse_policy(s: &str) -> Result<PolicySpec, String> {
    s.parse().map_err(|e: PolicyError| e.to_string())
}

/// `none`, `seniority`, `seniority=formula|thesis-code|work-conserving`.
pub fn parse_incentive(s: &str) -> Result<PolicySpec, String> {
    let variant = match s {
        "none" => return Ok(PolicySpec::Tft),
        "seniority" | "seniority=thesis-code" => SeniorityVariant::ThesisCode,
        "seniority=formula" => SeniorityVariant::Formula,
        "seniority=work-conserving" => SeniorityVariant::WorkConserving,
        _ => {
            return Err(format!(
                "{s:?}: use none or seniority[=formula|thesis-code|work-conserving]"
            ))
        }
    };
    Ok(PolicySpec::Seniority {
        variant: Some(variant),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags take the scenario files' grammar: the same input gives the same answer, or
    /// the same error (saying what to type), as `scenario::units` does for a scenario.
    #[test]
    fn size_rate_and_duration_flags_use_the_one_grammar() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            common: Common,
        }
        let parse = |args: &[&str]| {
            use clap::Parser;
            Cli::try_parse_from([&["bt"], args].concat())
                .map(|c| c.common)
                .map_err(|e| e.to_string())
        };
        for input in [
            "100KB/s", "2MiB/s", "1.5MB/s", "256k/s", "500KB", "100000", "0B/s",
        ] {
            let want = scenario::units::parse_rate(input);
            for flag in ["--up", "--down"] {
                match (parse(&[flag, input]), &want) {
                    (Ok(c), Ok(w)) => {
                        assert_eq!(if flag == "--up" { c.up } else { c.down }, Some(*w))
                    }
                    (Err(e), Err(w)) => assert!(e.contains(w.as_str()), "{flag} {input}: {e}"),
                    (got, _) => panic!("{flag} {input}: {got:?} vs {want:?}"),
                }
            }
        }
        for input in ["90s", "5min", "250ms", "2h", "5m", "90", "soon"] {
            match (parse(&["--timeout", input]), parse_duration(input)) {
                (Ok(c), Ok(w)) => assert_eq!(c.timeout, Some(w)),
                (Err(e), Err(w)) => assert!(e.contains(&w), "--timeout {input}: {e}"),
                (got, want) => panic!("--timeout {input}: {got:?} vs {want:?}"),
            }
        }
        let e = parse(&["--timeout", "5m"]).unwrap_err();
        assert!(e.contains("write `5min` for minutes"), "{e}");
        let e = parse(&["--up", "256k/s"]).unwrap_err();
        assert!(
            e.contains("write `256KiB/s` (powers of 1024) or `256KB/s`"),
            "{e}"
        );
    }

    #[test]
    fn incentives() {
        let s = |v| Ok(PolicySpec::Seniority { variant: Some(v) });
        assert_eq!(parse_incentive("none"), Ok(PolicySpec::Tft));
        assert_eq!(
            parse_incentive("seniority"),
            s(SeniorityVariant::ThesisCode)
        );
        assert_eq!(
            parse_incentive("seniority=formula"),
            s(SeniorityVariant::Formula)
        );
        assert_eq!(
            parse_incentive("seniority=work-conserving"),
            s(SeniorityVariant::WorkConserving)
        );
        assert!(parse_incentive("seniority=x").is_err());
    }

    #[test]
    fn policies_use_the_scenario_grammar() {
        assert_eq!(parse_policy("free-rider"), Ok(PolicySpec::FreeRider));
        assert_eq!(
            parse_policy("seniority:variant=formula"),
            parse_incentive("seniority=formula")
        );
        let w = parse_policy("whitewash:every=5min").unwrap();
        let five_min = engine_core::time::Duration::from_secs(300);
        assert_eq!(w.whitewash_every(), Some(five_min));
        assert!(matches!(
            parse_policy("large-view"),
            Ok(PolicySpec::LargeView(_))
        ));
        let e = parse_policy("tyrant").unwrap_err();
        assert!(e.contains("known policies"), "{e}");
    }
}
