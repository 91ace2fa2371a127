//! Heterogeneous capacities: a group's upload or download as one rate or a distribution of
//! rates (a discrete mix of classes, or an empirical table read from a CSV file), and the
//! deterministic assignment of classes to the group's nodes.
//!
//! Classes are *allotted*, not drawn independently: a group of `n` nodes gets the
//! largest-remainder counts of the mix (exactly `n · share` of each class when that is whole),
//! and which node gets which class follows a shuffle keyed by one draw from each node's own
//! stream. Small groups therefore realise the mix as closely as their size allows, and adding
//! a group elsewhere in the file changes no node's class.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::de::{self, value::MapAccessDeserializer, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::draws::{stream_seed, CLASS_STREAM_BASE};
use crate::spec::Bandwidth;
use crate::units::Rate;

/// How far the shares of a mix may sum from 1.
const SHARE_TOLERANCE: f64 = 1e-9;

/// One class of a capacity distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct RateClass {
    /// The rate as written (`"100KiB/s"`): the class's name in results.
    pub label: String,
    /// Bytes/s.
    pub rate: f64,
    pub share: f64,
}

/// A group's (or `[defaults]`') upload or download capacity.
#[derive(Clone, Debug, PartialEq)]
pub enum BandwidthSpec {
    /// `upload = "100KiB/s"`: every node the same (today's syntax).
    Fixed(Bandwidth),
    /// `upload = { classes = { "100KiB/s" = 0.5, "400KiB/s" = 0.5 } }`, sorted by rate.
    Classes(Vec<RateClass>),
    /// `upload = { file = "data/NAME.csv" }`: `rate,share` rows, relative to the scenario file.
    /// `classes` is empty until [`Scenario::load`](crate::Scenario::load) reads the file.
    File {
        file: String,
        classes: Vec<RateClass>,
    },
}

impl From<Bandwidth> for BandwidthSpec {
    fn from(b: Bandwidth) -> Self {
        BandwidthSpec::Fixed(b)
    }
}

impl BandwidthSpec {
    /// The rate, if every node gets the same one.
    pub fn fixed(&self) -> Option<f64> {
        match self {
            BandwidthSpec::Fixed(b) => Some(b.0),
            _ => None,
        }
    }

    /// The classes of a distribution (empty for a fixed rate or an unread file).
    pub fn classes(&self) -> &[RateClass] {
        match self {
            BandwidthSpec::Fixed(_) => &[],
            BandwidthSpec::Classes(c) | BandwidthSpec::File { classes: c, .. } => c,
        }
    }

    /// Reads a `{ file = ... }` table relative to `dir` (a no-op for the other forms).
    pub fn read_file(&mut self, dir: &Path) -> Result<(), String> {
        if let BandwidthSpec::File { file, classes } = self {
            let path = dir.join(&*file);
            // A device such as /dev/zero would never end: only regular files are tables.
            if path.exists() && !path.is_file() {
                return Err(format!("bandwidth table {}: not a file", path.display()));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("bandwidth table {}: cannot read: {e}", path.display()))?;
            *classes = parse_table(&text)
                .map_err(|e| format!("bandwidth table {}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// Every node's `(rate, class label)` for a group of `ids` (1-based node ids, in order):
    /// the largest-remainder counts of the mix, dealt in the order of one key per node drawn
    /// from stream `CLASS_STREAM_BASE + id` (`draw` picks which of the node's draws: upload
    /// and download are allotted independently). A fixed rate has no label.
    pub fn assign(&self, ids: &[u32], seed: u64, draw: usize) -> Vec<(f64, Option<String>)> {
        let classes = match self {
            BandwidthSpec::Fixed(b) => return vec![(b.0, None); ids.len()],
            _ => self.classes(),
        };
        let counts = largest_remainder(classes, ids.len());
        let mut deal: Vec<&RateClass> = Vec::with_capacity(ids.len());
        for (c, &k) in classes.iter().zip(&counts) {
            deal.extend(std::iter::repeat_n(c, k));
        }
        let mut order: Vec<(u64, usize)> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let mut rng =
                    ChaCha8Rng::from_seed(stream_seed(seed, CLASS_STREAM_BASE + id as u64));
                ((0..=draw).map(|_| rng.next_u64()).last().unwrap_or(0), i)
            })
            .collect();
        order.sort_unstable();
        let mut out = vec![(0.0, None); ids.len()];
        for ((_, i), c) in order.into_iter().zip(deal) {
            out[i] = (c.rate, Some(c.label.clone()));
        }
        out
    }
}

/// How many of `n` nodes get each class: `⌊n·share⌋`, then one more for the largest
/// remainders (ties to the earlier class) until the counts sum to `n`.
pub fn largest_remainder(classes: &[RateClass], n: usize) -> Vec<usize> {
    let exact: Vec<f64> = classes.iter().map(|c| c.share * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..classes.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let short = n.saturating_sub(counts.iter().sum());
    for &i in by_remainder.iter().cycle().take(short) {
        counts[i] += 1;
    }
    counts
}

/// Checks a mix (positive finite shares summing to 1) and orders it by rate.
fn mix(pairs: impl IntoIterator<Item = (String, f64)>) -> Result<Vec<RateClass>, String> {
    let mut out = Vec::new();
    for (label, share) in pairs {
        let rate = Bandwidth::try_from(label.parse::<Rate>()?)?.0;
        if !share.is_finite() || share <= 0.0 {
            return Err(format!(
                "class {label}: share must be positive, got {share}"
            ));
        }
        out.push(RateClass { label, rate, share });
    }
    if out.is_empty() {
        return Err("a bandwidth distribution needs at least one class".into());
    }
    let sum: f64 = out.iter().map(|c| c.share).sum();
    if (sum - 1.0).abs() > SHARE_TOLERANCE {
        return Err(format!("class shares sum to {sum}, not 1"));
    }
    out.sort_by(|a, b| a.rate.total_cmp(&b.rate).then(a.label.cmp(&b.label)));
    if let Some(w) = out.windows(2).find(|w| w[0].rate == w[1].rate) {
        return Err(format!(
            "classes {} and {} are the same rate",
            w[0].label, w[1].label
        ));
    }
    Ok(out)
}

/// A `rate,share` table: a header row, `#` comments, rates in the units grammar.
fn parse_table(text: &str) -> Result<Vec<RateClass>, String> {
    let mut rows = Vec::new();
    for (line, record) in data_rows(text, &["rate", "share"])? {
        let share: f64 = record[1]
            .parse()
            .map_err(|_| format!("line {line}: share `{}` is not a number", &record[1]))?;
        rows.push((record[0].to_string(), share));
    }
    mix(rows)
}

/// The rows of a small data file (`#` comments, fields trimmed) under the header `columns`,
/// each with its line number; the bandwidth tables' and arrival traces' shared format.
pub(crate) fn data_rows(
    text: &str,
    columns: &[&str],
) -> Result<Vec<(u64, csv::StringRecord)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    if headers.iter().collect::<Vec<_>>() != columns {
        return Err(format!(
            "the header must be `{}`, got `{}`",
            columns.join(","),
            headers.iter().collect::<Vec<_>>().join(",")
        ));
    }
    reader
        .records()
        .map(|r| {
            let record = r.map_err(|e| e.to_string())?;
            Ok((record.position().map_or(0, |p| p.line()), record))
        })
        .collect()
}

/// The table form's keys; exactly one is set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    classes: Option<BTreeMap<String, f64>>,
    file: Option<String>,
}

impl<'de> Deserialize<'de> for BandwidthSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BandwidthSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a rate such as \"100KB/s\", { classes = { RATE = SHARE, ... } } \
                     or { file = \"data/NAME.csv\" }",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<BandwidthSpec, E> {
                let rate: Rate = s.parse().map_err(E::custom)?;
                Bandwidth::try_from(rate)
                    .map(BandwidthSpec::Fixed)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BandwidthSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BandwidthSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<BandwidthSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<BandwidthSpec, A::Error> {
                let t = Table::deserialize(MapAccessDeserializer::new(map))?;
                match (t.classes, t.file) {
                    (Some(c), None) => mix(c).map(BandwidthSpec::Classes),
                    (None, Some(file)) => Ok(BandwidthSpec::File {
                        file,
                        classes: Vec::new(),
                    }),
                    _ => Err("set one of `classes` or `file`".to_string()),
                }
                .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A distribution prints as its classes, so `scenario.resolved.toml` is self-contained (a
/// file's table is inlined).
impl Serialize for BandwidthSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Classes<'a> {
            classes: BTreeMap<&'a str, f64>,
        }
        #[derive(Serialize)]
        struct File<'a> {
            file: &'a str,
        }
        match self {
            BandwidthSpec::Fixed(b) => b.serialize(s),
            BandwidthSpec::File { file, classes } if classes.is_empty() => {
                File { file }.serialize(s)
            }
            _ => Classes {
                classes: self
                    .classes()
                    .iter()
                    .map(|c| (c.label.as_str(), c.share))
                    .collect(),
            }
            .serialize(s),
        }
    }
}
