//! The scenario schema: what a scenario file may say, with its defaults.

use std::fmt;

use engine_core::policy::choker::{ChokerConfig, SeedChoke};
use engine_core::policy::picker::PickerConfig;
use engine_core::policy::seniority::{Contribution, SeniorityVariant};
use engine_core::policy::spec::PolicySpec;
use engine_core::torrent::EngineSettings;
use serde::{Deserialize, Serialize};

use crate::bandwidth::BandwidthSpec;
use crate::open::{Abort, Arrivals};
use crate::units::{ByteSize, Dur, Rate};

/// A whole scenario as written (after overrides). Unknown keys are rejected.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Any u64. TOML integers stop at i64::MAX, so larger seeds (half of the replicate seeds)
    /// are written and read as decimal strings: every seed a run reports can be run again.
    #[serde(default = "default_seed", with = "seed_repr")]
    pub seed: u64,
    /// Safety stop: nodes not done by then are reported incomplete.
    #[serde(default = "default_max_time")]
    pub max_time: Dur,
    /// Step of the time series (`series.csv`); open swarms record one every 10 s unless
    /// this says otherwise, closed ones only when it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_every: Option<Dur>,
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

/// The seed as a TOML integer when it fits, else as a decimal string.
mod seed_repr {
    use serde::{de, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(*seed) {
            Ok(v) => s.serialize_i64(v),
            Err(_) => s.serialize_str(&seed.to_string()),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Seed)
    }

    struct Seed;

    impl de::Visitor<'_> for Seed {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an integer 0..={} (as a number or a string)", u64::MAX)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
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
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Which seniority variant nodes with `incentive = "seniority"` (or a seniority policy
    /// that names no variant) run.
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
    /// The engine-core settings every node of the scenario runs (the simulator's nodes and
    /// `bt swarm`'s sessions alike; `bt swarm` then divides the intervals by its time scale).
    pub fn settings(&self) -> EngineSettings {
        EngineSettings {
            picker: PickerConfig {
                random_first: self.random_first,
                end_game: self.end_game,
            },
            choker: ChokerConfig {
                regular_slots: self.regular_slots as usize,
                optimistic_slots: self.optimistic_slots as usize,
                rechoke_interval: self.rechoke_interval.0,
                optimistic_interval: self.optimistic_interval.0,
                snub_timeout: self.snub_timeout.0,
                seed_choke: self.seed_choke,
                ..ChokerConfig::default()
            },
            pipeline_depth: self.pipeline_depth as usize,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerSpec {
    pub numwant: u32,
    /// Re-announce interval (engine-core's `peer_set` re-announces on this schedule only; no early
    /// announce when peers run low, in the simulator or in `bt`).
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

/// Whether a node runs the thesis's incentive mechanism: the thesis scenarios' shorthand for
/// `policy = "tft"` or `policy = "seniority"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncentiveSpec {
    None,
    Seniority,
}

impl IncentiveSpec {
    pub fn policy(self) -> PolicySpec {
        match self {
            IncentiveSpec::None => PolicySpec::Tft,
            IncentiveSpec::Seniority => PolicySpec::Seniority { variant: None },
        }
    }
}

/// What a node does once it has the whole file; for a seeder, how long it seeds from its join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "crate::open::Written", into = "crate::open::Written")]
pub enum Leave {
    /// Keep seeding until the run ends.
    Stay,
    /// Leave as soon as the download completes.
    Immediately,
    /// Seed for this long, then leave.
    After(Dur),
    /// Seed for an exponential time of this mean (`{ mean = "5min" }`, rate γ = 1/mean),
    /// drawn per node by [`draws::resolve_nodes`](crate::draws::resolve_nodes).
    Exponential(Dur),
}

impl Leave {
    /// How long a node seeds before leaving, if it ever leaves: `After`'s time, or the mean
    /// of an exponential the draws have not resolved.
    pub fn seeding_time(self) -> Option<Dur> {
        match self {
            Leave::Stay => None,
            Leave::Immediately => Some(Dur(engine_core::time::Duration::ZERO)),
            Leave::After(d) | Leave::Exponential(d) => Some(d),
        }
    }
}

/// Values every group inherits unless it sets its own.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeDefaults {
    /// A rate, or a distribution (see [`BandwidthSpec`]).
    pub upload: BandwidthSpec,
    pub download: BandwidthSpec,
    pub incentive: IncentiveSpec,
    /// The incentive policy (`NAME[:key=value,...]` or a table); overrides `incentive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySpec>,
    pub leave: Leave,
    /// Files each node seeds (the counter's `F`).
    pub files_seeding: u32,
    /// Heterogeneous bandwidths: each node's upload and download are scaled by a factor drawn
    /// uniformly from `[1 − s, 1 + s]` (its own RNG stream), after any class assignment.
    /// 0 = everyone as configured. A group may set its own.
    pub bandwidth_spread: f64,
}

impl Default for NodeDefaults {
    fn default() -> Self {
        NodeDefaults {
            upload: Bandwidth(100_000.0).into(),
            download: Bandwidth(200_000.0).into(),
            incentive: IncentiveSpec::None,
            policy: None,
            leave: Leave::Stay,
            files_seeding: 1,
            bandwidth_spread: 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
    pub(crate) fn value(&self, i: usize) -> f64 {
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
    /// The incentive policy; a group sets this or `incentive`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<BandwidthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<BandwidthSpec>,
    /// This group's `bandwidth_spread` [default: defaults.bandwidth_spread].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_spread: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave: Option<Leave>,
    /// Open swarms: the group's leechers arrive over time (see [`crate::open`]); `count`
    /// then caps the arrivals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<Arrivals>,
    /// When a leecher that has not finished gives up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
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
    /// The policy it runs, with the scenario's seniority variant filled in.
    pub policy: PolicySpec,
    /// Capacities in bytes/s: the group's rate or the node's class, before any spread.
    pub upload: f64,
    pub download: f64,
    /// The upload class label, when the group's upload is a distribution.
    pub upload_class: Option<String>,
    /// The spread [`draws::resolve_nodes`](crate::draws::resolve_nodes) scales capacities by.
    pub bandwidth_spread: f64,
    pub join: JoinTime,
    pub leave: Leave,
    /// When it gives up unfinished (a leecher of an open group), counted from its join.
    pub abort: Option<Abort>,
    pub files_seeding: u32,
}

impl NodeSpec {
    /// Its [`class_key`].
    pub fn class_key(&self) -> String {
        class_key(self.upload_class.as_deref(), self.upload)
    }

    /// The seniority counter's inputs: time online (S) and files seeding (F).
    pub fn contribution(&self) -> Contribution {
        Contribution {
            online_secs: self.online_days * 86_400.0,
            files_seeding: self.files_seeding,
        }
    }
}

/// The class clustering and the per-policy summary group nodes by: the upload class label,
/// else the upload rate itself (so nodes without classes group by equal rates).
pub fn class_key(upload_class: Option<&str>, upload: f64) -> String {
    upload_class.map_or_else(|| Rate(upload).to_string(), str::to_string)
}

/// A join time, possibly to be drawn from the node's RNG stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JoinTime {
    At(Dur),
    Uniform(Dur, Dur),
    /// A pool seeder: joins when the on-demand controller starts it.
    OnDemand,
}
