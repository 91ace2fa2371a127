//! Scenario files: the TOML schema, `--set` overrides, validation with line/column errors,
//! and expansion into one concrete spec per node.

use std::fmt;
use std::path::Path;

use engine_core::allocator::SeniorityVariant;
use engine_core::choker::{ChokerConfig, SeedChoke};
use engine_core::picker::PickerConfig;
use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, Dur, Rate};

/// A whole scenario as written (after overrides). Unknown keys are rejected.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Safety stop: nodes not done by then are reported incomplete.
    #[serde(default = "default_max_time")]
    pub max_time: Dur,
    pub torrent: TorrentSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub engine: EngineSpec,
    #[serde(default)]
    pub tracker: TrackerSpec,
    #[serde(default)]
    pub defaults: NodeDefaults,
    #[serde(rename = "group")]
    pub groups: Vec<Group>,
    /// On-demand seeding (seed 001): extra seeders started while seeders/leechers < ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ondemand: Option<OnDemandSpec>,
}

/// A controller that scrapes the tracker every `check_every` and starts seeders from a pool of
/// `pool` while seeders/leechers < `ratio`. It stops (and its seeders leave) when no leechers
/// remain or when the swarm reaches the ratio without its seeders; if the ratio holds at the
/// first check it never starts any.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnDemandSpec {
    pub ratio: f64,
    pub pool: NodeCount,
    #[serde(default = "default_check_every")]
    pub check_every: Dur,
    /// Upload of each pool seeder [default: defaults.upload].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Bandwidth>,
}

fn default_check_every() -> Dur {
    "30s".parse().expect("valid literal")
}

fn default_seed() -> u64 {
    1
}
fn default_max_time() -> Dur {
    "24h".parse().expect("valid literal")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorrentSpec {
    pub size: FileSize,
    #[serde(default = "default_piece_length")]
    pub piece_length: PieceLength,
}

fn default_piece_length() -> PieceLength {
    PieceLength(256 * 1024)
}

/// A positive file size.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(try_from = "ByteSize", into = "ByteSize")]
pub struct FileSize(pub u64);

impl TryFrom<ByteSize> for FileSize {
    type Error = String;
    fn try_from(b: ByteSize) -> Result<Self, String> {
        if b.0 == 0 {
            return Err("file size must be positive".into());
        }
        Ok(FileSize(b.0))
    }
}
impl From<FileSize> for ByteSize {
    fn from(f: FileSize) -> ByteSize {
        ByteSize(f.0)
    }
}

/// A piece length: a power of two between 16 KiB and 16 MiB (BEP 3 practice).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(try_from = "ByteSize", into = "ByteSize")]
pub struct PieceLength(pub u32);

impl TryFrom<ByteSize> for PieceLength {
    type Error = String;
    fn try_from(b: ByteSize) -> Result<Self, String> {
        if !b.0.is_power_of_two() || b.0 < 16 * 1024 || b.0 > 16 << 20 {
            return Err(format!(
                "piece length must be a power of two from 16KiB to 16MiB, got {b}"
            ));
        }
        Ok(PieceLength(b.0 as u32))
    }
}
impl From<PieceLength> for ByteSize {
    fn from(p: PieceLength) -> ByteSize {
        ByteSize(p.0 as u64)
    }
}

/// A positive rate.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(try_from = "Rate", into = "Rate")]
pub struct Bandwidth(pub f64);

impl TryFrom<Rate> for Bandwidth {
    type Error = String;
    fn try_from(r: Rate) -> Result<Self, String> {
        if r.0 <= 0.0 {
            return Err("bandwidth must be positive".into());
        }
        Ok(Bandwidth(r.0))
    }
}
impl From<Bandwidth> for Rate {
    fn from(b: Bandwidth) -> Rate {
        Rate(b.0)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Mean one-way latency of a link.
    #[serde(default = "default_latency")]
    pub latency: Dur,
    /// Each node's access latency is `latency/2 · U(1−j, 1+j)`, a link's the sum of its two
    /// ends': heterogeneous like PlanetLab, and it breaks same-instant ties between nodes
    /// randomly instead of by node index.
    #[serde(default = "default_jitter")]
    pub latency_jitter: f64,
}

fn default_jitter() -> f64 {
    0.5
}

fn default_latency() -> Dur {
    "25ms".parse().expect("valid literal")
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: default_latency(),
            latency_jitter: default_jitter(),
        }
    }
}

/// engine-core policy knobs; defaults are the thesis's (mainline BitTorrent's).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSpec {
    pub pipeline_depth: u32,
    pub random_first: u32,
    pub end_game: bool,
    pub regular_slots: u32,
    pub optimistic_slots: u32,
    pub rechoke_interval: Dur,
    pub optimistic_interval: Dur,
    pub snub_timeout: Dur,
    /// How seeds choose whom to serve. Default `upload-rate`: the thesis ran Deluge 1.3 on
    /// libtorrent 0.14/0.15, whose seeds unchoke the peers they upload to fastest
    /// (round-robin seeding arrived in libtorrent 0.16). See ARCHITECTURE.md.
    pub seed_choke: SeedChoke,
    /// Which seniority variant nodes with `incentive = "seniority"` run.
    pub seniority: SeniorityVariant,
    /// Connections a node keeps at most.
    pub max_connections: u32,
}

impl Default for EngineSpec {
    fn default() -> Self {
        EngineSpec {
            pipeline_depth: 5,
            random_first: 4,
            end_game: true,
            regular_slots: 4,
            optimistic_slots: 1,
            rechoke_interval: "10s".parse().expect("valid literal"),
            optimistic_interval: "30s".parse().expect("valid literal"),
            snub_timeout: "60s".parse().expect("valid literal"),
            seed_choke: SeedChoke::UploadRate,
            seniority: SeniorityVariant::ThesisCode,
            max_connections: 80,
        }
    }
}

impl EngineSpec {
    /// The choker every node runs (the simulator's and `bt swarm`'s sessions alike).
    pub fn choker(&self) -> ChokerConfig {
        ChokerConfig {
            regular_slots: self.regular_slots as usize,
            optimistic_slots: self.optimistic_slots as usize,
            rechoke_interval: self.rechoke_interval.0,
            optimistic_interval: self.optimistic_interval.0,
            snub_timeout: self.snub_timeout.0,
            seed_choke: self.seed_choke,
            ..ChokerConfig::default()
        }
    }

    pub fn picker(&self) -> PickerConfig {
        PickerConfig {
            random_first: self.random_first,
            end_game: self.end_game,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerSpec {
    pub numwant: u32,
    /// Re-announce interval (a node also re-announces when it has few peers).
    pub interval: Dur,
}

impl Default for TrackerSpec {
    fn default() -> Self {
        TrackerSpec {
            numwant: 50,
            interval: "5min".parse().expect("valid literal"),
        }
    }
}

/// Whether a node runs the incentive mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncentiveSpec {
    None,
    Seniority,
}

/// What a node does once it has the whole file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leave {
    /// Keep seeding until the run ends.
    Stay,
    /// Leave as soon as the download completes.
    Immediately,
    /// Seed for this long, then leave.
    After(Dur),
}

impl Serialize for Leave {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Leave::Stay => s.serialize_str("stay"),
            Leave::Immediately => s.serialize_str("immediately"),
            Leave::After(d) => s.collect_str(d),
        }
    }
}

impl<'de> Deserialize<'de> for Leave {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "stay" => Ok(Leave::Stay),
            "immediately" => Ok(Leave::Immediately),
            other => other.parse().map(Leave::After).map_err(|e| {
                serde::de::Error::custom(format!(
                    "leave must be \"stay\", \"immediately\" or a seeding duration: {e}"
                ))
            }),
        }
    }
}

/// Values every group inherits unless it sets its own.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeDefaults {
    pub upload: Bandwidth,
    pub download: Bandwidth,
    pub incentive: IncentiveSpec,
    pub leave: Leave,
    /// Files each node seeds (the counter's `F`).
    pub files_seeding: u32,
    /// Heterogeneous bandwidths: each node's upload and download are scaled by a factor drawn
    /// uniformly from `[1 − s, 1 + s]` (its own RNG stream). 0 = everyone as configured.
    pub bandwidth_spread: f64,
}

impl Default for NodeDefaults {
    fn default() -> Self {
        NodeDefaults {
            upload: Bandwidth(100_000.0),
            download: Bandwidth(200_000.0),
            incentive: IncentiveSpec::None,
            leave: Leave::Stay,
            files_seeding: 1,
            bandwidth_spread: 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Seeder,
    Leecher,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Seeder => "seeder",
            Role::Leecher => "leecher",
        })
    }
}

/// A number per node of a group: one value, a list, or an arithmetic sequence.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerNode {
    Same(f64),
    List(Vec<f64>),
    Sequence { from: f64, step: f64 },
}

impl PerNode {
    fn value(&self, i: usize) -> f64 {
        match self {
            PerNode::Same(v) => *v,
            PerNode::List(v) => v[i],
            PerNode::Sequence { from, step } => from + step * i as f64,
        }
    }
}

/// When the nodes of a group join.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum JoinSpec {
    At(Dur),
    /// Node `i` joins at `from + i·every`.
    Staggered {
        from: Dur,
        every: Dur,
    },
    /// Uniformly at random in `[from, to]`, from the node's own RNG stream.
    Uniform {
        from: Dur,
        to: Dur,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub role: Role,
    pub count: NodeCount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_days: Option<PerNode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incentive: Option<IncentiveSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Bandwidth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<Bandwidth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave: Option<Leave>,
}

/// A group size: 1 to 100,000 nodes.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct NodeCount(pub u32);

impl TryFrom<i64> for NodeCount {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if !(1..=100_000).contains(&v) {
            return Err(format!("count must be between 1 and 100000, got {v}"));
        }
        Ok(NodeCount(v as u32))
    }
}
impl From<NodeCount> for i64 {
    fn from(c: NodeCount) -> i64 {
        c.0 as i64
    }
}

/// One node, fully resolved from its group and the defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    /// 1-based, in group order (seeders of the thesis are nodes 1..s).
    pub id: u32,
    pub role: Role,
    pub online_days: f64,
    pub incentive: IncentiveSpec,
    pub upload: f64,
    pub download: f64,
    pub join: JoinTime,
    pub leave: Leave,
    pub files_seeding: u32,
}

/// A join time, possibly to be drawn from the node's RNG stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JoinTime {
    At(Dur),
    Uniform(Dur, Dur),
    /// A pool seeder: joins when the on-demand controller starts it.
    OnDemand,
}

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
        let text = if overrides.is_empty() {
            text.to_string()
        } else {
            apply_overrides(text, overrides).map_err(|e| match e {
                ScenarioError::Invalid { message, .. } => invalid(message),
                other => other,
            })?
        };
        let sc: Scenario = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        sc.validate().map_err(invalid)?;
        Ok(sc)
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
        let spread = self.defaults.bandwidth_spread;
        if !(0.0..1.0).contains(&spread) {
            return Err(format!(
                "defaults.bandwidth_spread must be in [0, 1), got {spread}"
            ));
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
            if let Some(JoinSpec::Uniform { from, to }) = &g.join {
                if from > to {
                    return Err(format!("{at}: join.from {from} is after join.to {to}"));
                }
            }
        }
        Ok(())
    }

    /// Every node, numbered from 1 in group order.
    pub fn nodes(&self) -> Vec<NodeSpec> {
        let d = &self.defaults;
        let mut out = Vec::new();
        for g in &self.groups {
            for i in 0..g.count.0 as usize {
                let join = match &g.join {
                    None => JoinTime::At(Dur(engine_core::time::Duration::ZERO)),
                    Some(JoinSpec::At(t)) => JoinTime::At(*t),
                    Some(JoinSpec::Staggered { from, every }) => JoinTime::At(Dur(
                        engine_core::time::Duration(from.0 .0 + every.0 .0 * i as u64),
                    )),
                    Some(JoinSpec::Uniform { from, to }) => JoinTime::Uniform(*from, *to),
                };
                out.push(NodeSpec {
                    id: out.len() as u32 + 1,
                    role: g.role,
                    online_days: g.online_days.as_ref().map_or(0.0, |o| o.value(i)),
                    incentive: g.incentive.unwrap_or(d.incentive),
                    upload: g.upload.unwrap_or(d.upload).0,
                    download: g.download.unwrap_or(d.download).0,
                    join,
                    leave: g.leave.unwrap_or(d.leave),
                    files_seeding: d.files_seeding,
                });
            }
        }
        if let Some(od) = &self.ondemand {
            for _ in 0..od.pool.0 {
                out.push(NodeSpec {
                    id: out.len() as u32 + 1,
                    role: Role::Seeder,
                    online_days: 0.0,
                    incentive: d.incentive,
                    upload: od.upload.unwrap_or(d.upload).0,
                    download: d.download.0,
                    join: JoinTime::OnDemand,
                    leave: Leave::Stay,
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
