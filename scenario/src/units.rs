//! Quantities with units as written in scenario files: sizes, rates and durations.
//!
//! Each parses from a string (`"64MiB"`, `"100KB/s"`, `"10s"`) and prints back canonically,
//! so the resolved configuration written beside a result reads like the input.
//! SI prefixes are powers of 1000 (`KB`), binary ones powers of 1024 (`KiB`), as in the
//! thesis's "100KB/s".

use std::fmt;
use std::str::FromStr;

use engine_core::time::Duration;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

const SIZE_UNITS: &[(&str, u64)] = &[
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("kB", 1_000),
    ("B", 1),
];

/// Splits `"12.5MiB"` into `(12.5, "MiB")`.
fn split_number(s: &str) -> Result<(f64, &str), String> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` does not start with a number"))?;
    if !v.is_finite() {
        return Err(format!("`{s}` is not a finite number"));
    }
    if v < 0.0 {
        return Err(format!("`{s}` is negative"));
    }
    Ok((v, unit.trim()))
}

fn size_factor(unit: &str) -> Option<u64> {
    SIZE_UNITS.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f)
}

/// A byte count (`"64MiB"`, `"16KiB"`, `"1000000"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (v, unit) = split_number(s)?;
        let f = if unit.is_empty() {
            1
        } else {
            size_factor(unit).ok_or_else(|| {
                format!("unknown size unit `{unit}` in `{s}` (use B, KB, MB, GB, KiB, MiB, GiB)")
            })?
        };
        // Whole numbers go through integers, so every byte count round-trips exactly.
        if let Ok(n) = s.trim().trim_end_matches(unit).trim().parse::<u64>() {
            return n
                .checked_mul(f)
                .map(ByteSize)
                .ok_or_else(|| format!("`{s}` is too large"));
        }
        let bytes = v * f as f64;
        if bytes.fract() != 0.0 || bytes > u64::MAX as f64 {
            return Err(format!("`{s}` is not a whole number of bytes"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, factor) in SIZE_UNITS {
            if self.0 >= *factor && self.0 % factor == 0 && *unit != "kB" {
                return write!(f, "{}{unit}", self.0 / factor);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// A rate in bytes per second (`"100KB/s"`, `"1MiB/s"`).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (v, unit) = split_number(s)?;
        let unit = unit
            .strip_suffix("/s")
            .or_else(|| unit.strip_suffix("ps"))
            .ok_or_else(|| format!("rate `{s}` needs a unit per second, e.g. `100KB/s`"))?;
        let f = size_factor(unit).ok_or_else(|| {
            format!("unknown rate unit `{unit}/s` in `{s}` (use B/s, KB/s, MB/s, KiB/s, MiB/s)")
        })?;
        Ok(Rate(v * f as f64))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.fract() == 0.0 && v > 0.0 {
            return write!(f, "{}/s", ByteSize(v as u64));
        }
        write!(f, "{v}B/s")
    }
}

/// A duration (`"10s"`, `"250ms"`, `"30min"`, `"2h"`, `"3days"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

const DURATION_UNITS: &[(&str, f64)] = &[
    ("us", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("min", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
    ("day", 86_400.0),
    ("days", 86_400.0),
];

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (v, unit) = split_number(s)?;
        let f = DURATION_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, f)| *f)
            .ok_or_else(|| format!("duration `{s}` needs a unit: us, ms, s, min, h or days"))?;
        Ok(Dur(Duration((v * f * 1e6).round() as u64)))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0 .0;
        for (unit, secs) in [("h", 3600u64), ("min", 60), ("s", 1)] {
            let factor = secs * 1_000_000;
            if us >= factor && us % factor == 0 {
                return write!(f, "{}{unit}", us / factor);
            }
        }
        if us % 1000 == 0 {
            write!(f, "{}ms", us / 1000)
        } else {
            write!(f, "{us}us")
        }
    }
}

macro_rules! serde_via_string {
    ($t:ty, $what:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$t, E> {
                        self.visit_str(&v.to_string())
                    }
                }
                d.deserialize_any(V)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

serde_via_string!(ByteSize, "a size such as \"64MiB\"");
serde_via_string!(Rate, "a rate such as \"100KB/s\"");
serde_via_string!(Dur, "a duration such as \"10s\"");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_canonically() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap(), ByteSize(64 << 20));
        assert_eq!(ByteSize(64 << 20).to_string(), "64MiB");
        assert_eq!("100KB/s".parse::<Rate>().unwrap(), Rate(100_000.0));
        assert_eq!(Rate(100_000.0).to_string(), "100KB/s");
        assert_eq!("30min".parse::<Dur>().unwrap().to_string(), "30min");
        assert_eq!("25ms".parse::<Dur>().unwrap(), Dur(Duration(25_000)));
        assert_eq!("1.5s".parse::<Dur>().unwrap().to_string(), "1500ms");
        assert_eq!("2days".parse::<Dur>().unwrap().to_string(), "48h");
    }

    #[test]
    fn rejects_bad_units_and_negatives() {
        assert!("-100KB/s".parse::<Rate>().unwrap_err().contains("negative"));
        assert!("100KB".parse::<Rate>().unwrap_err().contains("per second"));
        assert!("5 parsecs".parse::<ByteSize>().is_err());
        assert!("0.5B".parse::<ByteSize>().is_err());
        assert!("10".parse::<Dur>().is_err());
        assert!("".parse::<Dur>().is_err());
    }

    proptest! {
        #[test]
        fn parsers_are_total(s in "\\PC{0,20}") {
            let _ = s.parse::<ByteSize>();
            let _ = s.parse::<Rate>();
            let _ = s.parse::<Dur>();
        }

        #[test]
        fn sizes_round_trip(n in 0u64..u64::MAX / 2) {
            let b = ByteSize(n);
            prop_assert_eq!(b.to_string().parse::<ByteSize>().unwrap(), b);
        }

        #[test]
        fn durations_round_trip(n in 0u64..10_000_000_000_000) {
            let d = Dur(Duration(n));
            prop_assert_eq!(d.to_string().parse::<Dur>().unwrap(), d);
        }
    }
}
