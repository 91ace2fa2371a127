//! Open swarms (issue #14): a group whose leechers arrive over time — a Poisson process or a
//! trace — seed for a fixed or exponential time after completing, and may abort before.
//!
//! Arrivals are expanded into ordinary nodes with fixed join times when the scenario is
//! expanded ([`Scenario::nodes`]), so both drivers and every per-node stream see plain nodes;
//! the exponential seeding and abort times are drawn per node in
//! [`draws::resolve_nodes`](crate::draws::resolve_nodes). An open group's `count` caps its
//! arrivals: the process stops at `count` nodes or at `max_time`, whichever comes first.

use std::fmt;
use std::path::Path;

use engine_core::time::Duration;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use serde::de::{self, value::MapAccessDeserializer, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::bandwidth::data_rows;
use crate::draws::{stream_seed, ARRIVAL_STREAM_BASE};
use crate::spec::{Group, Leave, Role, Scenario};
use crate::units::Dur;

/// How an open group's nodes arrive; exactly one of the three is set.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// A Poisson process of this many arrivals per second (λ), from time 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// A file of arrival times (header `time_s`, one number of seconds per row), relative to
    /// the scenario's folder; [`Scenario::load`] reads it into `times`.
    #[serde(default, skip_serializing)]
    pub trace: Option<String>,
    /// Arrival times in seconds, non-decreasing (written inline, or read from `trace`; the
    /// resolved configuration inlines them so it stands alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Vec<f64>>,
}

impl Arrivals {
    /// Reads a `trace` file relative to `dir` into `times` (a no-op for the other forms).
    pub(crate) fn read_trace(&mut self, dir: &Path) -> Result<(), String> {
        let Some(file) = &self.trace else {
            return Ok(());
        };
        let path = dir.join(file);
        if path.exists() && !path.is_file() {
            return Err(format!("arrival trace {}: not a file", path.display()));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("arrival trace {}: cannot read: {e}", path.display()))?;
        let times =
            parse_trace(&text).map_err(|e| format!("arrival trace {}: {e}", path.display()))?;
        if self.times.replace(times).is_some() {
            return Err("arrivals: set one of `rate`, `trace` or `times`".into());
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        match (self.rate, &self.times) {
            (Some(r), None) if r.is_finite() && r > 0.0 => Ok(()),
            (Some(r), None) => Err(format!(
                "arrivals.rate must be a positive number per second, got {r}"
            )),
            (None, Some(t)) => check_times(t),
            _ => Err("arrivals: set one of `rate`, `trace` or `times`".into()),
        }
    }

    /// The arrival instants of group `group` (0-based), at most `cap` and all before `end`:
    /// trace times as given, or a Poisson process drawn from the group's own stream.
    pub(crate) fn times(&self, seed: u64, group: usize, cap: u32, end: Duration) -> Vec<Dur> {
        let before_end = |t: f64| t < end.as_secs_f64();
        let secs: Vec<f64> = match (&self.times, self.rate) {
            (Some(t), _) => t.iter().copied().take_while(|&t| before_end(t)).collect(),
            (None, Some(rate)) => {
                let mut rng =
                    ChaCha8Rng::from_seed(stream_seed(seed, ARRIVAL_STREAM_BASE + group as u64));
                let gap = Exp::new(rate).expect("validated positive rate");
                std::iter::successors(Some(gap.sample(&mut rng)), |t| {
                    Some(t + gap.sample(&mut rng))
                })
                .take_while(|&t| before_end(t))
                .collect()
            }
            (None, None) => Vec::new(),
        };
        secs.into_iter()
            .take(cap as usize)
            .map(|s| Dur(Duration((s * 1e6).round() as u64)))
            .collect()
    }
}

/// Non-negative, finite and non-decreasing.
fn check_times(t: &[f64]) -> Result<(), String> {
    if let Some((i, v)) = t
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0)
    {
        return Err(format!(
            "arrival {} is {v}: times must be non-negative seconds",
            i + 1
        ));
    }
    if let Some(i) = t.windows(2).position(|w| w[1] < w[0]) {
        return Err(format!(
            "arrival {} ({}) is before arrival {} ({}): times must not decrease",
            i + 2,
            t[i + 1],
            i + 1,
            t[i]
        ));
    }
    Ok(())
}

/// A `time_s` table: a header row, `#` comments, seconds per row.
fn parse_trace(text: &str) -> Result<Vec<f64>, String> {
    let out = data_rows(text, &["time_s"])?
        .into_iter()
        .map(|(line, record)| {
            record[0]
                .parse()
                .map_err(|_| format!("line {line}: `{}` is not a number of seconds", &record[0]))
        })
        .collect::<Result<Vec<f64>, String>>()?;
    check_times(&out)?;
    Ok(out)
}

/// When a leecher that has not finished gives up: after a fixed time (`abort = "30min"`) or an
/// exponential one (`abort = { mean = "30min" }`, rate θ = 1/mean), counted from its join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Written", into = "Written")]
pub enum Abort {
    After(Dur),
    Exponential(Dur),
}

/// A time as written: a string (a duration, or `leave`'s words) or `{ mean = DURATION }`.
#[derive(Clone, Debug)]
pub(crate) enum Written {
    Text(String),
    Mean(Dur),
}

impl Serialize for Written {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Mean<'a> {
            mean: &'a Dur,
        }
        match self {
            Written::Text(t) => s.serialize_str(t),
            Written::Mean(mean) => Mean { mean }.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Mean {
            mean: Dur,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Written;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"30min\" or { mean = \"30min\" }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Written, E> {
                Ok(Written::Text(s.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Written, A::Error> {
                let m = Mean::deserialize(MapAccessDeserializer::new(map))?;
                if m.mean.0 == Duration::ZERO {
                    return Err(de::Error::custom("mean must be positive"));
                }
                Ok(Written::Mean(m.mean))
            }
        }
        d.deserialize_any(V)
    }
}

impl TryFrom<Written> for Abort {
    type Error = String;
    fn try_from(w: Written) -> Result<Self, String> {
        match w {
            Written::Mean(m) => Ok(Abort::Exponential(m)),
            Written::Text(t) => t
                .parse()
                .map(Abort::After)
                .map_err(|e| format!("abort must be a duration or {{ mean = DURATION }}: {e}")),
        }
    }
}

impl From<Abort> for Written {
    fn from(a: Abort) -> Written {
        match a {
            Abort::After(d) => Written::Text(d.to_string()),
            Abort::Exponential(m) => Written::Mean(m),
        }
    }
}

impl TryFrom<Written> for Leave {
    type Error = String;
    fn try_from(w: Written) -> Result<Self, String> {
        match w {
            Written::Mean(m) => Ok(Leave::Exponential(m)),
            Written::Text(t) => match t.as_str() {
                "stay" => Ok(Leave::Stay),
                "immediately" => Ok(Leave::Immediately),
                other => other.parse().map(Leave::After).map_err(|e| {
                    format!(
                        "leave must be \"stay\", \"immediately\", a seeding duration or \
                         {{ mean = DURATION }}: {e}"
                    )
                }),
            },
        }
    }
}

impl From<Leave> for Written {
    fn from(l: Leave) -> Written {
        match l {
            Leave::Stay => Written::Text("stay".into()),
            Leave::Immediately => Written::Text("immediately".into()),
            Leave::After(d) => Written::Text(d.to_string()),
            Leave::Exponential(m) => Written::Mean(m),
        }
    }
}

/// Draws a time from `mean`'s exponential distribution with `rng`.
pub(crate) fn exponential(mean: Dur, rng: &mut ChaCha8Rng) -> Dur {
    let rate = 1.0 / mean.0.as_secs_f64();
    let secs = Exp::new(rate).expect("validated positive mean").sample(rng);
    Dur(Duration((secs * 1e6).round() as u64))
}

impl Scenario {
    /// Whether nodes arrive over time (some group has `arrivals`): such a run lasts until
    /// `max_time` rather than ending when the last leecher finishes.
    pub fn is_open(&self) -> bool {
        self.groups.iter().any(|g| g.arrivals.is_some())
    }

    /// The time series' step, if the run records one (see `series_every`).
    pub fn series_step(&self) -> Option<Duration> {
        let default = self.is_open().then_some(Duration::from_secs(10));
        self.series_every.map(|d| d.0).or(default)
    }

    /// The open-swarm keys the file uses (`group N arrivals`, …), for drivers that cannot run
    /// them to name what they refuse.
    pub fn open_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        if matches!(self.defaults.leave, Leave::Exponential(_)) {
            out.push("defaults.leave = { mean = ... }".to_string());
        }
        for (i, g) in self.groups.iter().enumerate() {
            let at = |k: &str| format!("group {} {k}", i + 1);
            if g.arrivals.is_some() {
                out.push(at("arrivals"));
            }
            if g.abort.is_some() {
                out.push(at("abort"));
            }
            match (g.role, g.leave) {
                (_, Some(Leave::Exponential(_))) => out.push(at("leave = { mean = ... }")),
                (Role::Seeder, Some(Leave::After(_))) => out.push(at("leave (a seeder's)")),
                _ => {}
            }
        }
        out
    }

    /// Reads every group's arrival trace, relative to the scenario's folder.
    pub(crate) fn read_arrival_traces(&mut self, dir: &Path) -> Result<(), String> {
        for (i, g) in self.groups.iter_mut().enumerate() {
            if let Some(a) = &mut g.arrivals {
                a.read_trace(dir)
                    .map_err(|e| format!("group {}: {e}", i + 1))?;
            }
        }
        Ok(())
    }
}

/// Checks one group's open-swarm keys; `at` names the group in messages.
pub(crate) fn validate_group(at: &str, g: &Group) -> Result<(), String> {
    if let Some(a) = &g.arrivals {
        a.validate().map_err(|e| format!("{at}: {e}"))?;
        if g.role != Role::Leecher {
            return Err(format!(
                "{at}: arrivals are for leechers (seeds of an open swarm are leechers that \
                 finished)"
            ));
        }
        if g.join.is_some() {
            return Err(format!(
                "{at}: set join or arrivals, not both (arrivals are the join times)"
            ));
        }
        if matches!(g.online_days, Some(crate::spec::PerNode::List(_))) {
            return Err(format!(
                "{at}: online_days cannot be a list when the number of arrivals is drawn"
            ));
        }
    }
    if g.abort.is_some() && g.role != Role::Leecher {
        return Err(format!("{at}: abort is for leechers"));
    }
    if g.role == Role::Seeder && g.leave == Some(Leave::Immediately) {
        return Err(format!(
            "{at}: a seeder cannot leave immediately (a seeder's leave is how long it seeds \
             from its join)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: &str = "name = \"o\"\nmax_time = \"1000s\"\n[torrent]\nsize = \"1MiB\"\n\
        [[group]]\nrole = \"seeder\"\ncount = 1\nleave = \"100s\"\n\
        [[group]]\nrole = \"leecher\"\ncount = 5000\narrivals = { rate = 0.5 }\n\
        leave = { mean = \"50s\" }\nabort = { mean = \"400s\" }\n";

    #[test]
    fn poisson_arrivals_have_the_asked_rate_and_stop_at_max_time() {
        let sc = Scenario::parse("o", OPEN, &[]).unwrap();
        let joins: Vec<f64> = sc.nodes()[1..]
            .iter()
            .map(|n| match n.join {
                crate::spec::JoinTime::At(d) => d.0.as_secs_f64(),
                other => panic!("open nodes join at fixed times, got {other:?}"),
            })
            .collect();
        // 500 expected in 1000 s; a Poisson count's sd is √500 ≈ 22.
        assert!((430..=570).contains(&joins.len()), "{}", joins.len());
        assert!(joins.windows(2).all(|w| w[0] <= w[1]));
        assert!(*joins.last().unwrap() < 1000.0);
        assert_eq!(
            sc.nodes().len(),
            joins.len() + 1,
            "same seed, same arrivals"
        );
        let capped = Scenario::parse("o", OPEN, &["group.2.count=7".into()]).unwrap();
        assert_eq!(capped.nodes().len(), 8, "count caps the arrivals");
    }

    #[test]
    fn seeding_and_abort_times_are_drawn_with_their_means() {
        let sc = Scenario::parse("o", OPEN, &[]).unwrap();
        let nodes = crate::draws::resolve_nodes(&sc);
        let (mut seed, mut abort) = (Vec::new(), Vec::new());
        for (n, _) in &nodes[1..] {
            match (n.leave, n.abort) {
                (Leave::After(s), Some(Abort::After(a))) => {
                    seed.push(s.0.as_secs_f64());
                    abort.push(a.0.as_secs_f64());
                }
                other => panic!("unresolved draws {other:?}"),
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        // ~500 exponential draws: the mean's sd is mean/√500 ≈ 4.5%.
        assert!((mean(&seed) / 50.0 - 1.0).abs() < 0.15, "{}", mean(&seed));
        assert!(
            (mean(&abort) / 400.0 - 1.0).abs() < 0.15,
            "{}",
            mean(&abort)
        );
        assert_eq!(nodes[0].0.leave, Leave::After("100s".parse().unwrap()));
    }

    #[test]
    fn open_keys_are_validated_with_their_place() {
        let bad = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            Scenario::parse("o.toml", OPEN, &sets)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(&["group.2.arrivals.rate=-1"]).contains("positive"));
        assert!(bad(&["group.2.arrivals={ times = [1.0, 0.5] }"]).contains("must not decrease"));
        assert!(bad(&["group.2.join=5s"]).contains("join or arrivals"));
        assert!(bad(&["group.1.leave=immediately"]).contains("seeder cannot leave"));
        assert!(bad(&["group.1.abort=5s"]).contains("abort is for leechers"));
        assert!(bad(&["group.2.abort.mean=0s"]).contains("mean must be positive"));
        let e = Scenario::parse("o.toml", &OPEN.replace("rate = 0.5", "rte = 0.5"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `rte`") && e.contains("line 12, column 14"),
            "{e}"
        );
    }

    #[test]
    fn traces_are_read_checked_and_inlined() {
        let dir = tempfile::tempdir().unwrap();
        let text = OPEN.replace("rate = 0.5", "trace = \"a.csv\"");
        std::fs::write(dir.path().join("o.toml"), &text).unwrap();
        std::fs::write(dir.path().join("a.csv"), "time_s\n# two\n1.5\n2\n2000\n").unwrap();
        let sc = Scenario::load(&dir.path().join("o.toml"), &[]).unwrap();
        assert_eq!(sc.nodes().len(), 3, "the arrival after max_time is dropped");
        let again = Scenario::parse("resolved", &sc.to_toml(), &[]).unwrap();
        assert_eq!(
            again.nodes(),
            sc.nodes(),
            "the resolved file inlines the trace"
        );
        std::fs::write(dir.path().join("a.csv"), "time_s\n1\nsoon\n").unwrap();
        let e = Scenario::load(&dir.path().join("o.toml"), &[]).unwrap_err();
        assert!(e.to_string().contains("line 3: `soon`"), "{e}");
    }

    /// What `bt swarm` names when it refuses a file.
    #[test]
    fn open_keys_name_every_open_key() {
        let sc = Scenario::parse("o", OPEN, &[]).unwrap();
        assert_eq!(
            sc.open_keys(),
            [
                "group 1 leave (a seeder's)",
                "group 2 arrivals",
                "group 2 abort",
                "group 2 leave = { mean = ... }",
            ]
        );
        let closed = "name = \"c\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\n\
            count = 1\n[[group]]\nrole = \"leecher\"\ncount = 2\nleave = \"5s\"\n";
        assert!(Scenario::parse("c", closed, &[])
            .unwrap()
            .open_keys()
            .is_empty());
    }
}
