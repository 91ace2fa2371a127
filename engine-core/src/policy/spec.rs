//! Policy names and parameters: one grammar for scenario files and `bt --policy`.
//!
//! A policy is written `NAME` or `NAME:key=value,key=value` (`bittyrant:selfish=true`), or in
//! TOML as a table `{ name = "bittyrant", selfish = true }`; both go through [`Params`], so a
//! parameter means the same everywhere, unknown names and keys are errors that list what is
//! accepted, and every spec prints back canonically with all its parameters
//! (`seniority:variant=thesis-code`), which is what resolved configurations record.
//!
//! Adding a mechanism: a variant here (its parameters with the papers' defaults, parsed in
//! [`PolicySpec::from_parts`], printed in [`PolicySpec::params`], built in
//! [`PolicySpec::build`]) and one file beside this one.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::bittyrant::{BitTyrant, BitTyrantParams};
use super::choker::ChokerConfig;
use super::fairtorrent::FairTorrent;
use super::false_have::FalseClaims;
use super::free_rider::FreeRider;
use super::large_view::LargeView;
use super::peer_set::PeerSetConfig;
use super::propshare::{PropShare, DEFAULT_F};
use super::seniority::{Contribution, Seniority, SeniorityVariant};
use super::tft::Tft;
use super::whitewash::Whitewash;
use super::Policy;
use crate::protocol::block::BLOCK_LEN;
use crate::time::Duration;
use crate::units::ByteSize;

/// An incentive policy and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    /// Mainline tit-for-tat.
    Tft,
    /// The thesis's seniority incentive; `variant: None` takes the driver's default
    /// (a scenario's `engine.seniority`).
    Seniority { variant: Option<SeniorityVariant> },
    /// Seniority that reports the largest weight the mechanism allows.
    SeniorityLiar { variant: Option<SeniorityVariant> },
    /// Downloads, never uploads.
    FreeRider,
    /// FairTorrent: each next block to the waiting peer with the smallest deficit
    /// (`slack`: bytes above the smallest still served).
    FairTorrent { slack: u64 },
    /// Tit-for-tat that announces `per_round` pieces it lacks at every rechoke.
    FalseHave { per_round: u32 },
    /// Piatek et al.'s strategic client (NSDI 2007).
    BitTyrant(BitTyrantParams),
    /// Levin et al.'s proportional-share auction (SIGCOMM 2008); `f`: optimistic share.
    PropShare { f: f64 },
    /// A free-rider asking for and connecting to as many peers as it can (BitThief).
    LargeView(LargeView),
    /// Changes identity every `every`, running `base` in between.
    Whitewash(Whitewash),
}

/// Every policy name, in the order `--help` and errors list them.
pub const NAMES: &[&str] = &[
    "tft",
    "seniority",
    "seniority-liar",
    "free-rider",
    "fairtorrent",
    "false-have",
    "bittyrant",
    "propshare",
    "large-view",
    "whitewash",
];

/// Why a policy spec was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("unknown policy {name:?}; known policies: {}", NAMES.join(", "))]
    UnknownPolicy { name: String },
    #[error("policy {policy} has no parameter {key:?}; it accepts: {accepted}")]
    UnknownParam {
        policy: String,
        key: String,
        accepted: String,
    },
    #[error("policy {policy}: {key} = {value:?}: {why}")]
    BadValue {
        policy: String,
        key: String,
        value: String,
        why: String,
    },
    #[error("policy {policy}: parameter {key:?} given twice")]
    Duplicate { policy: String, key: String },
    #[error("{0}")]
    Syntax(String),
}

/// The `key=value` pairs of one spec, consumed as the policy reads them; what is left over is
/// an unknown key.
pub struct Params {
    policy: String,
    given: BTreeMap<String, String>,
    accepted: Vec<&'static str>,
}

impl Params {
    pub fn new(policy: &str) -> Self {
        Params {
            policy: policy.to_string(),
            given: BTreeMap::new(),
            accepted: Vec::new(),
        }
    }

    pub fn insert(&mut self, key: &str, value: String) -> Result<(), PolicyError> {
        if self.given.insert(key.to_string(), value).is_some() {
            return Err(PolicyError::Duplicate {
                policy: self.policy.clone(),
                key: key.to_string(),
            });
        }
        Ok(())
    }

    /// Parameter `key` parsed as `T`, or `default` when not given.
    pub fn get<T: FromStr>(&mut self, key: &'static str, default: T) -> Result<T, PolicyError>
    where
        T::Err: fmt::Display,
    {
        Ok(self.opt(key)?.unwrap_or(default))
    }

    /// Parameter `key` parsed as `T`, if given.
    pub fn opt<T: FromStr>(&mut self, key: &'static str) -> Result<Option<T>, PolicyError>
    where
        T::Err: fmt::Display,
    {
        self.accepted.push(key);
        let Some(value) = self.given.remove(key) else {
            return Ok(None);
        };
        value
            .parse()
            .map(Some)
            .map_err(|e: T::Err| PolicyError::BadValue {
                policy: self.policy.clone(),
                key: key.to_string(),
                value,
                why: e.to_string(),
            })
    }

    /// A value that parsed but is out of range.
    pub fn invalid(&self, key: &str, value: impl fmt::Display, why: &str) -> PolicyError {
        PolicyError::BadValue {
            policy: self.policy.clone(),
            key: key.to_string(),
            value: value.to_string(),
            why: why.to_string(),
        }
    }

    fn finish(self) -> Result<(), PolicyError> {
        match self.given.into_keys().next() {
            None => Ok(()),
            Some(key) => Err(PolicyError::UnknownParam {
                policy: self.policy,
                key,
                accepted: if self.accepted.is_empty() {
                    "no parameters".to_string()
                } else {
                    self.accepted.join(", ")
                },
            }),
        }
    }
}

impl FromStr for SeniorityVariant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "formula" => Ok(SeniorityVariant::Formula),
            "thesis-code" => Ok(SeniorityVariant::ThesisCode),
            "work-conserving" => Ok(SeniorityVariant::WorkConserving),
            _ => Err("expected formula, thesis-code or work-conserving".to_string()),
        }
    }
}

impl fmt::Display for SeniorityVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SeniorityVariant::Formula => "formula",
            SeniorityVariant::ThesisCode => "thesis-code",
            SeniorityVariant::WorkConserving => "work-conserving",
        })
    }
}

/// What a node brings to the policy it runs, beyond the spec.
#[derive(Clone, Debug)]
pub struct PolicyEnv {
    /// The choker settings of the tit-for-tat-based policies (slots, intervals, seed mode).
    pub choker: ChokerConfig,
    /// The seniority counter's inputs.
    pub contribution: Contribution,
}

impl PolicySpec {
    /// Reads the spec of policy `name` from its parameters.
    pub fn from_parts(name: &str, mut p: Params) -> Result<PolicySpec, PolicyError> {
        let spec = match name {
            "tft" => PolicySpec::Tft,
            "seniority" => PolicySpec::Seniority {
                variant: p.opt("variant")?,
            },
            "seniority-liar" => PolicySpec::SeniorityLiar {
                variant: p.opt("variant")?,
            },
            "free-rider" => PolicySpec::FreeRider,
            "fairtorrent" => PolicySpec::FairTorrent {
                slack: p.get("slack", ByteSize(u64::from(BLOCK_LEN)))?.0,
            },
            "false-have" => PolicySpec::FalseHave {
                per_round: p.get("per_round", 4)?,
            },
            "bittyrant" => PolicySpec::BitTyrant(bittyrant_params(&mut p)?),
            "propshare" => PolicySpec::PropShare {
                f: fraction(&mut p, "f", DEFAULT_F, 0.0, 1.0)?,
            },
            "large-view" => PolicySpec::LargeView(LargeView::from_params(&mut p)?),
            "whitewash" => PolicySpec::Whitewash(Whitewash::from_params(&mut p)?),
            _ => {
                return Err(PolicyError::UnknownPolicy {
                    name: name.to_string(),
                })
            }
        };
        p.finish()?;
        Ok(spec)
    }

    pub fn name(&self) -> &'static str {
        match self {
            PolicySpec::Tft => "tft",
            PolicySpec::Seniority { .. } => "seniority",
            PolicySpec::SeniorityLiar { .. } => "seniority-liar",
            PolicySpec::FreeRider => "free-rider",
            PolicySpec::FairTorrent { .. } => "fairtorrent",
            PolicySpec::FalseHave { .. } => "false-have",
            PolicySpec::BitTyrant(_) => "bittyrant",
            PolicySpec::PropShare { .. } => "propshare",
            PolicySpec::LargeView(_) => "large-view",
            PolicySpec::Whitewash(_) => "whitewash",
        }
    }

    /// Every parameter with its value, as [`fmt::Display`] prints them.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            PolicySpec::Tft | PolicySpec::FreeRider => Vec::new(),
            PolicySpec::Seniority { variant } | PolicySpec::SeniorityLiar { variant } => {
                variant.iter().map(|v| ("variant", v.to_string())).collect()
            }
            PolicySpec::FairTorrent { slack } => vec![("slack", ByteSize(*slack).to_string())],
            PolicySpec::FalseHave { per_round } => vec![("per_round", per_round.to_string())],
            PolicySpec::BitTyrant(b) => vec![
                ("delta", b.delta.to_string()),
                ("gamma", b.gamma.to_string()),
                ("r", b.r.to_string()),
                ("selfish", b.selfish.to_string()),
            ],
            PolicySpec::PropShare { f } => vec![("f", f.to_string())],
            PolicySpec::LargeView(lv) => lv.params(),
            PolicySpec::Whitewash(w) => w.params(),
        }
    }

    /// Fills in what the spec leaves to the driver: the seniority variant.
    pub fn with_default_variant(self, default: SeniorityVariant) -> PolicySpec {
        match self {
            PolicySpec::Seniority { variant } => PolicySpec::Seniority {
                variant: Some(variant.unwrap_or(default)),
            },
            PolicySpec::SeniorityLiar { variant } => PolicySpec::SeniorityLiar {
                variant: Some(variant.unwrap_or(default)),
            },
            PolicySpec::Whitewash(w) => PolicySpec::Whitewash(Whitewash {
                base: Box::new(w.base.with_default_variant(default)),
                ..w
            }),
            other => other,
        }
    }

    /// Whether the node answers the seniority query (the mechanism's extension and port).
    pub fn serves_seniority(&self) -> bool {
        match self {
            PolicySpec::Seniority { .. } | PolicySpec::SeniorityLiar { .. } => true,
            PolicySpec::Whitewash(w) => w.base.serves_seniority(),
            _ => false,
        }
    }

    /// The policy for one torrent.
    pub fn build(&self, env: &PolicyEnv) -> Box<dyn Policy> {
        let variant = |v: &Option<SeniorityVariant>| v.unwrap_or(SeniorityVariant::ThesisCode);
        match self {
            PolicySpec::Tft => Box::new(Tft::new(env.choker.clone())),
            PolicySpec::Seniority { variant: v } => Box::new(Seniority::new(
                env.choker.clone(),
                variant(v),
                &env.contribution,
                false,
            )),
            PolicySpec::SeniorityLiar { variant: v } => Box::new(Seniority::new(
                env.choker.clone(),
                variant(v),
                &env.contribution,
                true,
            )),
            PolicySpec::FreeRider | PolicySpec::LargeView(_) => Box::new(FreeRider),
            PolicySpec::FairTorrent { slack } => Box::new(FairTorrent::new(*slack)),
            PolicySpec::FalseHave { per_round } => {
                Box::new(Tft::new(env.choker.clone()).claiming(FalseClaims::new(*per_round)))
            }
            PolicySpec::BitTyrant(b) => Box::new(BitTyrant::new(env.choker.clone(), *b)),
            PolicySpec::PropShare { f } => Box::new(PropShare::new(env.choker.clone(), *f)),
            PolicySpec::Whitewash(w) => w.base.build(env),
        }
    }

    /// The node's peer-set rules: the driver's `base`, adjusted by a policy whose behaviour
    /// is whom it knows (`large-view`); the same for every other policy. Both drivers call
    /// this, so the rule lives once.
    pub fn peer_set(&self, base: PeerSetConfig) -> PeerSetConfig {
        match self {
            PolicySpec::LargeView(lv) => lv.peer_set(base),
            PolicySpec::Whitewash(w) => w.base.peer_set(base),
            _ => base,
        }
    }

    /// How often the node drops its identity and rejoins as a new peer (`whitewash`), a
    /// driver's action.
    pub fn whitewash_every(&self) -> Option<Duration> {
        match self {
            PolicySpec::Whitewash(w) => Some(w.every.0),
            _ => None,
        }
    }

    /// The spec with its own durations divided by `k`, for a driver that runs time `k`
    /// times faster (`bt swarm`; the engine's intervals are scaled with its settings).
    pub fn time_compressed(&self, k: f64) -> PolicySpec {
        match self {
            PolicySpec::LargeView(lv) => PolicySpec::LargeView(lv.time_compressed(k)),
            PolicySpec::Whitewash(w) => PolicySpec::Whitewash(w.time_compressed(k)),
            other => other.clone(),
        }
    }
}

/// BitTyrant's `delta`, `gamma`, `r`, `selfish` with the paper's defaults.
fn bittyrant_params(p: &mut Params) -> Result<BitTyrantParams, PolicyError> {
    let d = BitTyrantParams::default();
    let delta = fraction(p, "delta", d.delta, 0.0, f64::INFINITY)?;
    let gamma = fraction(p, "gamma", d.gamma, 0.0, 1.0)?;
    let r = p.get("r", d.r)?;
    if r == 0 {
        return Err(p.invalid("r", r, "must be at least 1 round"));
    }
    Ok(BitTyrantParams {
        delta,
        gamma,
        r,
        selfish: p.get("selfish", d.selfish)?,
    })
}

/// Parameter `key`, a number in `[low, high)` (default `default`).
fn fraction(
    p: &mut Params,
    key: &'static str,
    default: f64,
    low: f64,
    high: f64,
) -> Result<f64, PolicyError> {
    let v: f64 = p.get(key, default)?;
    if !(low..high).contains(&v) {
        let why = if high.is_finite() {
            format!("must be in [{low}, {high})")
        } else {
            format!("must be a finite number ≥ {low}")
        };
        return Err(p.invalid(key, v, &why));
    }
    Ok(v)
}

impl FromStr for PolicySpec {
    type Err = PolicyError;

    /// `NAME` or `NAME:key=value,key=value`.
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let (name, rest) = match s.split_once(':') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (s.trim(), None),
        };
        let mut p = Params::new(name);
        for pair in rest.into_iter().flat_map(|r| r.split(',')) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(PolicyError::Syntax(format!(
                    "policy {name}: expected key=value, got {pair:?} (write NAME:key=value,key=value)"
                )));
            };
            p.insert(k.trim(), v.trim().to_string())?;
        }
        PolicySpec::from_parts(name, p)
    }
}

impl fmt::Display for PolicySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        for (i, (k, v)) in self.params().into_iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { ':' } else { ',' })?;
        }
        Ok(())
    }
}

impl Serialize for PolicySpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicySpec {
    /// A string in the `NAME:key=value` grammar, or a table with `name` and the parameters.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = PolicySpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a policy: \"NAME\", \"NAME:key=value,...\" or { name = \"NAME\", key = value }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PolicySpec, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<PolicySpec, A::Error> {
                let mut name = None;
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: ParamValue = map.next_value()?;
                    if key == "name" {
                        name = Some(value.0);
                    } else {
                        pairs.push((key, value.0));
                    }
                }
                let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
                let mut p = Params::new(&name);
                for (k, v) in pairs {
                    p.insert(&k, v).map_err(de::Error::custom)?;
                }
                PolicySpec::from_parts(&name, p).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A parameter value from a TOML table, as the text the `NAME:key=value` form would carry.
struct ParamValue(String);

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ParamValue, E> {
                Ok(ParamValue(s.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parameters_round_trip() {
        for s in [
            "tft",
            "free-rider",
            "seniority:variant=formula",
            "seniority-liar",
            "fairtorrent:slack=16KiB",
            "false-have:per_round=4",
            "large-view:numwant=300,reannounce=1min,max_connections=500",
            "whitewash:every=30min,base=tft",
        ] {
            let spec: PolicySpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
            assert_eq!(spec.to_string().parse::<PolicySpec>().unwrap(), spec);
        }
        for name in NAMES {
            assert_eq!(name.parse::<PolicySpec>().unwrap().name(), *name);
        }
    }

    #[test]
    fn errors_name_what_is_accepted() {
        let e = "titfortat".parse::<PolicySpec>().unwrap_err().to_string();
        assert!(e.contains("known policies: tft, seniority"), "{e}");
        let e = "seniority:varient=formula"
            .parse::<PolicySpec>()
            .unwrap_err();
        assert!(e.to_string().contains("accepts: variant"), "{e}");
        let e = "seniority:variant=wrong".parse::<PolicySpec>().unwrap_err();
        assert!(e.to_string().contains("expected formula"), "{e}");
        let e = "tft:x".parse::<PolicySpec>().unwrap_err();
        assert!(matches!(e, PolicyError::Syntax(_)), "{e}");
        let e = "tft:x=1".parse::<PolicySpec>().unwrap_err().to_string();
        assert!(e.contains("no parameters"), "{e}");
        let e = "seniority:variant=formula,variant=formula".parse::<PolicySpec>();
        assert!(matches!(e, Err(PolicyError::Duplicate { .. })));
    }

    #[test]
    fn rate_policies_take_the_papers_defaults_and_reject_out_of_range_values() {
        let b: PolicySpec = "bittyrant:selfish=true,delta=0.3".parse().unwrap();
        assert_eq!(
            b.to_string(),
            "bittyrant:delta=0.3,gamma=0.1,r=3,selfish=true"
        );
        assert_eq!(b.to_string().parse::<PolicySpec>().unwrap(), b);
        assert_eq!(
            "propshare".parse::<PolicySpec>().unwrap().to_string(),
            "propshare:f=0.1"
        );
        for bad in [
            "bittyrant:delta=-0.1",
            "bittyrant:delta=inf",
            "bittyrant:gamma=1",
            "bittyrant:r=0",
            "propshare:f=1.5",
            "propshare:f=NaN",
        ] {
            let e = bad.parse::<PolicySpec>().unwrap_err();
            assert!(matches!(e, PolicyError::BadValue { .. }), "{bad}: {e}");
        }
        let e = "bittyrant:selfish=maybe".parse::<PolicySpec>().unwrap_err();
        assert!(matches!(e, PolicyError::BadValue { .. }), "{e}");
        let e = "bittyrant:f=0.1"
            .parse::<PolicySpec>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("accepts: delta, gamma, r, selfish"), "{e}");
    }

    #[test]
    fn the_default_variant_fills_only_what_is_unset() {
        let s: PolicySpec = "seniority".parse().unwrap();
        let filled = s.with_default_variant(SeniorityVariant::Formula);
        assert_eq!(filled.to_string(), "seniority:variant=formula");
        let set: PolicySpec = "seniority:variant=work-conserving".parse().unwrap();
        assert_eq!(
            set.clone().with_default_variant(SeniorityVariant::Formula),
            set
        );
    }
}
