//! Loading scenario files: `--set` overrides, TOML parsing with unknown-key rejection and
//! line/column errors, validation, and expansion into one concrete spec per node.

use std::path::Path;

use engine_core::policy::spec::PolicySpec;
use engine_core::time::Duration;

use crate::bandwidth::BandwidthSpec;
use crate::spec::*;
use crate::units::Dur;

/// Scenario loading and validation errors, formatted for people.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The I/O error is part of the message, not a `source`, so `{:#}` chains print it once.
    #[error("{path}: cannot read: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("--set {arg}: {message}")]
    Override { arg: String, message: String },
}

impl Scenario {
    /// Reads, overrides (`key=value`, dotted paths, `group.1.count=5`) and validates a file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.display().to_string(),
            error: e,
        })?;
        Self::parse(&path.display().to_string(), &text, overrides)
    }

    pub fn parse(
        origin: &str,
        text: &str,
        overrides: &[String],
    ) -> Result<Scenario, ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            path: origin.to_string(),
            message,
        };
        let merged = if overrides.is_empty() {
            text.to_string()
        } else {
            apply_overrides(text, overrides).map_err(|e| match e {
                ScenarioError::Invalid { message, .. } => invalid(message),
                other => other,
            })?
        };
        let mut sc: Scenario = match toml::from_str(&merged) {
            Ok(sc) => sc,
            Err(e) if overrides.is_empty() => return Err(invalid(e.to_string())),
            Err(e) => return Err(blame_override(text, overrides, e).map_err(invalid)?),
        };
        let dir = Path::new(origin).parent().unwrap_or(Path::new(""));
        sc.read_bandwidth_files(dir).map_err(invalid)?;
        sc.read_arrival_traces(dir).map_err(invalid)?;
        sc.validate().map_err(invalid)?;
        Ok(sc)
    }

    /// Reads every `{ file = ... }` bandwidth table, relative to the scenario's folder.
    fn read_bandwidth_files(&mut self, dir: &Path) -> Result<(), String> {
        let d = &mut self.defaults;
        let groups = self
            .groups
            .iter_mut()
            .flat_map(|g| [&mut g.upload, &mut g.download]);
        [&mut d.upload, &mut d.download]
            .into_iter()
            .chain(groups.flatten())
            .try_for_each(|b| b.read_file(dir))
    }

    fn validate(&self) -> Result<(), String> {
        if self.groups.is_empty() {
            return Err(
                "no [[group]]: a scenario needs at least one seeder and one leecher".into(),
            );
        }
        if !self.groups.iter().any(|g| g.role == Role::Seeder) {
            return Err(
                "no seeder group: nobody starts with the data, so no download can finish".into(),
            );
        }
        if let Some(i) = self
            .groups
            .iter()
            .position(|g| g.policy.is_some() && g.incentive.is_some())
        {
            return Err(format!(
                "group {} sets both policy and incentive: keep one (incentive = \"seniority\" \
                 is policy = \"seniority\")",
                i + 1
            ));
        }
        let total: u64 = self.groups.iter().map(|g| g.count.0 as u64).sum();
        if total < 2 {
            return Err("a swarm needs at least 2 nodes".into());
        }
        if total > 100_000 {
            return Err(format!("{total} nodes is more than the 100000 supported"));
        }
        let j = self.network.latency_jitter;
        if !(0.0..=1.0).contains(&j) {
            return Err(format!(
                "network.latency_jitter must be between 0 and 1, got {j}"
            ));
        }
        let e = &self.engine;
        if e.pipeline_depth == 0 || e.pipeline_depth > 1000 {
            return Err("engine.pipeline_depth must be between 1 and 1000".into());
        }
        if e.regular_slots + e.optimistic_slots == 0 {
            return Err("engine.regular_slots + engine.optimistic_slots must be at least 1".into());
        }
        if e.rechoke_interval.0 .0 == 0 || e.optimistic_interval.0 .0 == 0 {
            return Err("engine rechoke and optimistic intervals must be positive".into());
        }
        if e.max_connections == 0 {
            return Err("engine.max_connections must be at least 1".into());
        }
        if self.series_every.is_some_and(|d| d.0 == Duration::ZERO) {
            return Err("series_every must be positive".into());
        }
        if self.tracker.interval.0 .0 == 0 {
            return Err("tracker.interval must be positive".into());
        }
        if let Some(od) = &self.ondemand {
            if !(0.0..=1.0).contains(&od.ratio) {
                return Err(format!(
                    "ondemand.ratio must be in [0, 1], got {}",
                    od.ratio
                ));
            }
            if od.check_every.0 .0 == 0 {
                return Err("ondemand.check_every must be positive".into());
            }
        }
        let spreads = self.groups.iter().enumerate().filter_map(|(i, g)| {
            g.bandwidth_spread
                .map(|s| (format!("group {} bandwidth_spread", i + 1), s))
        });
        let default = (
            "defaults.bandwidth_spread".to_string(),
            self.defaults.bandwidth_spread,
        );
        for (what, spread) in std::iter::once(default).chain(spreads) {
            if !(0.0..1.0).contains(&spread) {
                return Err(format!("{what} must be in [0, 1), got {spread}"));
            }
        }
        if self.defaults.files_seeding == 0 {
            return Err("defaults.files_seeding must be at least 1".into());
        }
        for (gi, g) in self.groups.iter().enumerate() {
            let at = format!("group {} ({})", gi + 1, g.role);
            if let Some(PerNode::List(v)) = &g.online_days {
                if v.len() != g.count.0 as usize {
                    return Err(format!(
                        "{at}: online_days lists {} values for {} nodes",
                        v.len(),
                        g.count.0
                    ));
                }
            }
            if let Some(od) = &g.online_days {
                for i in 0..g.count.0 as usize {
                    let d = od.value(i);
                    if !d.is_finite() || d < 0.0 {
                        return Err(format!(
                            "{at}: online_days of node {} is {d}, must be ≥ 0",
                            i + 1
                        ));
                    }
                }
            }
            crate::open::validate_group(&at, g)?;
            if let Some(JoinSpec::Uniform { from, to }) = &g.join {
                if from > to {
                    return Err(format!("{at}: join.from {from} is after join.to {to}"));
                }
            }
        }
        Ok(())
    }

    /// The policy of nodes that set none: `defaults.policy`, else `defaults.incentive`'s.
    fn default_policy(&self) -> PolicySpec {
        let d = &self.defaults;
        let p = d.policy.clone().unwrap_or_else(|| d.incentive.policy());
        p.with_default_variant(self.engine.seniority)
    }

    /// A group's policy: its `policy`, else its `incentive`'s, else the default.
    fn policy_of(&self, g: &Group) -> PolicySpec {
        match (&g.policy, g.incentive) {
            (Some(p), _) => p.clone().with_default_variant(self.engine.seniority),
            (None, Some(i)) => i.policy().with_default_variant(self.engine.seniority),
            (None, None) => self.default_policy(),
        }
    }

    /// Every node, numbered from 1 in group order, with its class drawn if its group's
    /// capacities are distributions (see [`crate::bandwidth`]).
    pub fn nodes(&self) -> Vec<NodeSpec> {
        let d = &self.defaults;
        let mut out: Vec<NodeSpec> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let arrivals = g
                .arrivals
                .as_ref()
                .map(|a| a.times(self.seed, gi, g.count.0, self.max_time.0));
            let count = arrivals.as_ref().map_or(g.count.0, |a| a.len() as u32);
            let ids: Vec<u32> = (1..=count).map(|i| out.len() as u32 + i).collect();
            let up = g
                .upload
                .as_ref()
                .unwrap_or(&d.upload)
                .assign(&ids, self.seed, 0);
            let down = g
                .download
                .as_ref()
                .unwrap_or(&d.download)
                .assign(&ids, self.seed, 1);
            for (i, ((upload, upload_class), (download, _))) in up.into_iter().zip(down).enumerate()
            {
                let join = match (&arrivals, &g.join) {
                    (Some(times), _) => JoinTime::At(times[i]),
                    (None, None) => JoinTime::At(Dur(engine_core::time::Duration::ZERO)),
                    (None, Some(JoinSpec::At(t))) => JoinTime::At(*t),
                    (None, Some(JoinSpec::Staggered { from, every })) => JoinTime::At(Dur(
                        engine_core::time::Duration(from.0 .0 + every.0 .0 * i as u64),
                    )),
                    (None, Some(JoinSpec::Uniform { from, to })) => JoinTime::Uniform(*from, *to),
                };
                out.push(NodeSpec {
                    id: out.len() as u32 + 1,
                    role: g.role,
                    online_days: g.online_days.as_ref().map_or(0.0, |o| o.value(i)),
                    policy: self.policy_of(g),
                    upload,
                    download,
                    upload_class,
                    bandwidth_spread: g.bandwidth_spread.unwrap_or(d.bandwidth_spread),
                    join,
                    // `defaults.leave` says what leechers do once done; a seeder has
                    // nothing to finish, so only its own group's `leave` times its seeding.
                    leave: g.leave.unwrap_or(match g.role {
                        Role::Seeder => Leave::Stay,
                        Role::Leecher => d.leave,
                    }),
                    abort: g.abort,
                    files_seeding: d.files_seeding,
                });
            }
        }
        if let Some(od) = &self.ondemand {
            let ids: Vec<u32> = (1..=od.pool.0).map(|i| out.len() as u32 + i).collect();
            let pool_upload = od.upload.map(BandwidthSpec::Fixed);
            let up = pool_upload
                .as_ref()
                .unwrap_or(&d.upload)
                .assign(&ids, self.seed, 0);
            let down = d.download.assign(&ids, self.seed, 1);
            for ((upload, upload_class), (download, _)) in up.into_iter().zip(down) {
                out.push(NodeSpec {
                    id: out.len() as u32 + 1,
                    role: Role::Seeder,
                    online_days: 0.0,
                    policy: self.default_policy(),
                    upload,
                    download,
                    upload_class,
                    bandwidth_spread: d.bandwidth_spread,
                    join: JoinTime::OnDemand,
                    leave: Leave::Stay,
                    abort: None,
                    files_seeding: d.files_seeding,
                });
            }
        }
        out
    }

    /// The resolved configuration as TOML, seed and all defaults included.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

/// The error for a merged text that does not parse. The file's own errors keep their lines;
/// otherwise the first override that breaks the file is named without a line, since the lines
/// overrides add or move are not the user's. `Err` carries the file's own message.
fn blame_override(
    text: &str,
    overrides: &[String],
    merged: toml::de::Error,
) -> Result<ScenarioError, String> {
    if let Err(e) = toml::from_str::<Scenario>(text) {
        return Err(e.to_string());
    }
    let breaks = |n: usize| {
        apply_overrides(text, &overrides[..n])
            .ok()
            .and_then(|t| toml::from_str::<Scenario>(&t).err())
    };
    let (arg, e) = (1..=overrides.len())
        .find_map(|n| breaks(n).map(|e| (overrides[n - 1].clone(), e)))
        .unwrap_or_else(|| (overrides.join(" "), merged));
    Ok(ScenarioError::Override {
        arg,
        message: e.message().to_string(),
    })
}

/// Applies `key=value` overrides to the TOML text. Values parse as TOML (`5`, `true`,
/// `"x"`, `[1, 2]`); anything else is taken as a string, so `torrent.size=64MiB` works.
pub fn apply_overrides(text: &str, overrides: &[String]) -> Result<String, ScenarioError> {
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| ScenarioError::Invalid {
                path: String::new(),
                message: e.to_string(),
            })?;
    for arg in overrides {
        let err = |message: String| ScenarioError::Override {
            arg: arg.clone(),
            message,
        };
        let (key, raw) = arg
            .split_once('=')
            .ok_or_else(|| err("expected key=value".into()))?;
        let value: toml_edit::Value = raw.parse().unwrap_or_else(|_| toml_edit::Value::from(raw));
        let parts: Vec<&str> = key.trim().split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(err(format!("bad key `{key}`")));
        }
        set_path(doc.as_table_mut(), &parts, value).map_err(err)?;
    }
    Ok(doc.to_string())
}

fn set_path(
    table: &mut dyn toml_edit::TableLike,
    parts: &[&str],
    value: toml_edit::Value,
) -> Result<(), String> {
    let (first, rest) = parts.split_first().ok_or("empty key")?;
    if rest.is_empty() {
        table.insert(first, toml_edit::Item::Value(value));
        return Ok(());
    }
    if let Ok(idx) = rest[0].parse::<usize>() {
        let arr = table
            .get_mut(first)
            .and_then(|i| i.as_array_of_tables_mut())
            .ok_or_else(|| format!("`{first}` is not a list of tables such as [[{first}]]"))?;
        let len = arr.len();
        let t = arr
            .get_mut(idx.wrapping_sub(1))
            .ok_or_else(|| format!("`{first}` index {idx} is outside 1..={len}"))?;
        if rest.len() == 1 {
            return Err(format!("name a key inside `{first}.{idx}`"));
        }
        return set_path(t, &rest[1..], value);
    }
    if table.get(first).is_none() {
        table.insert(first, toml_edit::Item::Table(toml_edit::Table::new()));
    }
    let inner = table
        .get_mut(first)
        .and_then(|i| i.as_table_like_mut())
        .ok_or_else(|| format!("`{first}` is not a table"))?;
    set_path(inner, rest, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine_core::policy::seniority::SeniorityVariant;
    use proptest::prelude::*;

    const BASE: &str = "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 3\n";

    #[test]
    fn overrides_reach_nested_keys_and_groups() {
        let sc = Scenario::parse(
            "t",
            BASE,
            &[
                "torrent.size=64MiB".into(),
                "group.2.count=7".into(),
                "engine.seniority=formula".into(),
            ],
        )
        .unwrap();
        assert_eq!(sc.torrent.size.0, 64 << 20);
        assert_eq!(sc.nodes().len(), 8);
        assert_eq!(sc.engine.seniority, SeniorityVariant::Formula);
        let e = Scenario::parse("t", BASE, &["group.3.count=1".into()]).unwrap_err();
        assert!(e.to_string().contains("outside 1..=2"), "{e}");
    }

    /// Replicate seeds use all 64 bits; TOML integers stop at i64::MAX, so a large seed travels
    /// as a string — through `--seed`/`--set` and through the resolved configuration.
    #[test]
    fn every_u64_seed_round_trips() {
        for seed in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            let sc = Scenario::parse("t", BASE, &[format!("seed={seed}")]).unwrap();
            assert_eq!(sc.seed, seed);
            let again = Scenario::parse("t", &sc.to_toml(), &[]).unwrap();
            assert_eq!(again.seed, seed, "{}", sc.to_toml());
        }
        // Small seeds stay TOML integers, as every resolved configuration so far wrote them.
        assert!(Scenario::parse("t", BASE, &[])
            .unwrap()
            .to_toml()
            .contains("seed = 1\n"));
        for bad in ["seed=-1", "seed=\"x\"", "seed=18446744073709551616"] {
            let e = Scenario::parse("t", BASE, &[bad.into()])
                .unwrap_err()
                .to_string();
            assert!(e.contains("seed") || e.contains("integer"), "{bad}: {e}");
        }
    }

    /// Every `[engine]` knob reaches the engine-core configuration both drivers build.
    #[test]
    fn engine_knobs_reach_the_torrent_config() {
        use engine_core::policy::choker::SeedChoke;
        use engine_core::policy::spec::PolicySpec;
        use engine_core::protocol::block::Geometry;
        use engine_core::torrent::TorrentConfig;
        let sets = [
            "engine.pipeline_depth=7",
            "engine.random_first=2",
            "engine.end_game=false",
            "engine.regular_slots=3",
            "engine.optimistic_slots=2",
            "engine.rechoke_interval=5s",
            "engine.optimistic_interval=15s",
            "engine.snub_timeout=45s",
            "engine.seed_choke=round-robin",
            "engine.seniority=work-conserving",
            "group.2.online_days=[1, 2, 3]",
            "defaults.incentive=seniority",
        ]
        .map(String::from);
        let sc = Scenario::parse("t", BASE, &sets).unwrap();
        let node = &sc.nodes()[2];
        let e = &sc.engine;
        let cfg = TorrentConfig::for_node(
            Geometry::new(1 << 20, 1 << 16),
            &e.settings(),
            node.policy.clone(),
            node.contribution(),
            Some(node.upload),
        );
        assert_eq!(cfg.pipeline_depth, 7);
        assert_eq!((cfg.picker.random_first, cfg.picker.end_game), (2, false));
        let c = &cfg.choker;
        assert_eq!((c.regular_slots, c.optimistic_slots), (3, 2));
        assert_eq!(c.rechoke_interval.as_secs_f64(), 5.0);
        assert_eq!(c.optimistic_interval.as_secs_f64(), 15.0);
        assert_eq!(c.snub_timeout.as_secs_f64(), 45.0);
        assert_eq!(c.seed_choke, SeedChoke::RoundRobin);
        assert_eq!(
            cfg.policy,
            PolicySpec::Seniority {
                variant: Some(SeniorityVariant::WorkConserving)
            }
        );
        assert_eq!(cfg.contribution.online_secs, 2.0 * 86_400.0);
        assert_eq!(cfg.upload_limit, Some(100_000.0));
    }

    /// An override's bad value is blamed on the override, never on a line of the file that
    /// the override added (the file has 9 lines; the merged text puts `upload` on line 10).
    #[test]
    fn override_errors_name_the_override_not_a_line() {
        let e = Scenario::parse(
            "t.toml",
            BASE,
            &["seed=3".into(), "group.2.upload=100kb/s".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--set group.2.upload=100kb/s: `100kb/s` is ambiguous"),
            "{e}"
        );
        assert!(!e.contains("line"), "{e}");
        let e = Scenario::parse("t.toml", BASE, &["torrent.sise=1MiB".into()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--set torrent.sise=1MiB: unknown field `sise`"),
            "{e}"
        );
        // The file's own error keeps its line, overrides or not.
        let bad = BASE.replace("count = 3", "count = -3");
        let e = Scenario::parse("t.toml", &bad, &["seed=3".into()]).unwrap_err();
        assert!(e.to_string().contains("line 9"), "{e}");
    }

    #[test]
    fn resolved_config_round_trips() {
        let sc = Scenario::parse("t", BASE, &["seed=42".into()]).unwrap();
        let again = Scenario::parse("t", &sc.to_toml(), &[]).unwrap();
        assert_eq!(again.to_toml(), sc.to_toml());
        assert_eq!(again.seed, 42);
    }

    proptest! {
        /// No input text, however broken, makes loading panic.
        #[test]
        fn parse_is_total(text in "\\PC{0,200}") {
            let _ = Scenario::parse("fuzz", &text, &[]);
        }

        #[test]
        fn mutated_scenarios_never_panic(pos in 0usize..120, byte in any::<u8>()) {
            let mut b = BASE.as_bytes().to_vec();
            let i = pos % b.len();
            b[i] = byte;
            if let Ok(text) = String::from_utf8(b) {
                let _ = Scenario::parse("fuzz", &text, &[]);
            }
        }

        #[test]
        fn overrides_never_panic(key in "[a-z0-9.]{0,20}", value in "\\PC{0,10}") {
            let _ = Scenario::parse("fuzz", BASE, &[format!("{key}={value}")]);
        }
    }
}
